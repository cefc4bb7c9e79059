"""``python -m core bench render``: our render call vs the bare PyTorch3D rasteriser.

For each image size it reports, per image: the full render (rasterise + shade, what the app and
the dataset writers call), the bare ``MeshRasterizer`` on the same posed mesh and cameras (the
floor any PyTorch3D renderer pays), their ratio, and re-shading a kept raster with a new texture
(the fragment cache) against rendering from scratch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import torch
from pytorch3d.renderer import MeshRasterizer
from pytorch3d.structures import Meshes

from core.body import BodyModel, walk_pose
from core.render.scene import BodyRenderer, fit_distance, make_cameras
from core.render.textures import uv_checker, uv_grid

SIZES: tuple[tuple[int, int], ...] = ((128, 64), (256, 256))


def _best_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * min(times)


def bench_render(batch: int = 4, repeats: int = 3) -> list[dict[str, float]]:
    """Milliseconds per image for each size in SIZES."""
    body = BodyModel()
    with torch.no_grad():
        verts = body(body_pose=walk_pose(torch.linspace(0, 0.75, batch))).vertices
    faces = body.faces
    tex_a, tex_b = uv_checker(256), uv_grid(256)
    rows = []
    for size in SIZES:
        # frame the body as a dataset crop would: it fills the image height
        dist = fit_distance(1.8, fov=30.0, image_size=size)
        cams = make_cameras(azimuth=torch.linspace(0, 270, batch), elevation=5.0, distance=dist, look_at=(0, 0, 0))
        renderer = BodyRenderer.for_body(body, size)
        bare = MeshRasterizer(cameras=cams, raster_settings=renderer.settings)
        meshes = Meshes(verts=verts, faces=faces[None].expand(batch, -1, -1))
        with torch.no_grad():
            render_ms = _best_ms(partial(renderer.render, verts, cams, tex_a), repeats) / batch
            raster_ms = _best_ms(partial(bare, meshes), repeats) / batch
            raster = renderer.rasterize(verts, cams)
            shade_ms = _best_ms(partial(renderer.shade, raster, tex_b), repeats) / batch
        rows.append(
            {
                "size": f"{size[0]}x{size[1]}",
                "faces": len(faces),
                "render_ms": render_ms,
                "raster_ms": raster_ms,
                "ratio": render_ms / raster_ms,
                "retexture_ms": shade_ms,
                "cache_speedup": render_ms / shade_ms,
            }
        )
    return rows


def format_table(rows: list[dict[str, float]]) -> str:
    header = (
        "| size (HxW) | faces | render ms/img | bare rasteriser ms/img | render/raster | "
        "cached re-texture ms/img | cache speed-up |"
    )
    lines = [header, "|" + "---|" * 7]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['faces']} | {r['render_ms']:.1f} | {r['raster_ms']:.1f} | "
            f"{r['ratio']:.2f}x | {r['retexture_ms']:.1f} | {r['cache_speedup']:.1f}x |"
        )
    lines.append(f"threads: {torch.get_num_threads()}")
    return "\n".join(lines)
