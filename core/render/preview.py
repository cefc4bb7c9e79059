"""BodyStudio: what the Body & Renderer tab (and the CLI / Python API) does, without any UI.

Pose a body from SMPL betas and a named pose, frame it, render it with a UV texture, and export
it as GLB. The last raster is kept, so changing only the texture re-shades instead of
re-rasterising.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from core.body import BodyModel, a_pose, t_pose, walk_pose
from core.body.skeleton import NUM_BETAS
from core.checks import check_range
from core.render.export import export_glb
from core.render.scene import BodyRenderer, Raster, fit_distance, make_cameras, make_lights
from core.render.textures import TEXTURES, texture_from_image

POSES: tuple[str, ...] = ("T-pose", "A-pose", "Walk")
UPLOADED = "Uploaded image"
TEXTURE_CHOICES: tuple[str, ...] = (*TEXTURES, UPLOADED)
BETA_LIMIT = 3.0  # beyond about 3 standard deviations the 10-component body stops looking human
FOV = 30.0


def camera_light(azimuth: float, elevation: float, intensity: float = 0.6, ambient: float = 0.45):
    """A key light that moves with the camera: from 30 deg to the camera's left and 25 deg above it,
    so a body seen from behind or below is lit like one seen from the front."""
    az, el = math.radians(azimuth + 30.0), math.radians(min(elevation + 25.0, 85.0))
    towards_light = (math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el))
    return make_lights(direction=towards_light, intensity=intensity, ambient=ambient)


class BodyStudio:
    """Posing, rendering and GLB export for one body model.

    Args:
        body: the body model (default: the shipped one).
        image_size: (H, W) of rendered previews.
    """

    def __init__(self, body: BodyModel | None = None, image_size: tuple[int, int] = (400, 300)) -> None:
        self.body = body if body is not None else BodyModel()
        self.renderer = BodyRenderer.for_body(self.body, image_size)
        self._last: tuple[tuple, Raster] | None = None
        self.raster_reuses = 0  # how often a texture-only change skipped the rasteriser

    def body_pose(self, pose: str, phase: float = 0.0) -> torch.Tensor:
        """(1, 69) SMPL body pose for a named pose (see POSES)."""
        if pose == "T-pose":
            return t_pose()
        if pose == "A-pose":
            return a_pose()
        if pose == "Walk":
            return walk_pose(check_range("phase", phase, 0.0, 0.999))
        raise ValueError(f"unknown pose {pose!r}; choose one of {', '.join(POSES)}")

    def vertices(self, betas: Sequence[float], pose: str, phase: float = 0.0) -> torch.Tensor:
        """Posed vertices (1, V, 3) for 10 betas and a named pose."""
        values = [check_range(f"beta {i}", b, -BETA_LIMIT, BETA_LIMIT) for i, b in enumerate(betas)]
        if len(values) != NUM_BETAS:
            raise ValueError(f"expected {NUM_BETAS} shape values (betas), got {len(values)}")
        with torch.no_grad():
            return self.body(betas=torch.tensor([values]), body_pose=self.body_pose(pose, phase)).vertices

    def texture(self, choice: str, image: np.ndarray | str | Path | None = None) -> torch.Tensor:
        """Texture (H, W, 3) for a choice in TEXTURE_CHOICES; ``image`` is used for UPLOADED."""
        if choice == UPLOADED:
            if image is None:
                raise ValueError("upload a texture image first, or choose the UV checker or grid")
            return texture_from_image(image)
        if choice not in TEXTURES:
            raise ValueError(f"unknown texture {choice!r}; choose one of {', '.join(TEXTURE_CHOICES)}")
        return TEXTURES[choice]()

    def _raster(self, vertices: torch.Tensor, azimuth: float, elevation: float, key: tuple) -> Raster:
        last = self._last  # read once: another request may replace it meanwhile
        if last is not None and last[0] == key:
            self.raster_reuses += 1
            return last[1]
        v = vertices[0]
        lo, hi = v.min(0).values, v.max(0).values
        h, w = self.renderer.image_size
        # frame what the camera sees: the height, and the width across the view direction
        az = math.radians(azimuth)
        across = v[:, 0] * math.cos(az) - v[:, 2] * math.sin(az)
        extent = max(float(hi[1] - lo[1]), float(across.max() - across.min()) * h / w)
        cams = make_cameras(
            azimuth=azimuth, elevation=elevation, fov=FOV,
            distance=fit_distance(extent, FOV, (h, w), margin=1.15),
            look_at=tuple(float(x) for x in (lo + hi) / 2),
        )  # fmt: skip
        raster = self.renderer.rasterize(vertices, cams)
        self._last = (key, raster)
        return raster

    def render(
        self,
        betas: Sequence[float],
        pose: str,
        phase: float,
        azimuth: float,
        elevation: float,
        texture: torch.Tensor,
    ) -> np.ndarray:
        """RGB preview (H, W, 3) uint8 of the posed, textured body."""
        azimuth = check_range("azimuth", azimuth, -360.0, 360.0)
        elevation = check_range("elevation", elevation, -89.0, 89.0)
        key = (tuple(float(b) for b in betas), pose, float(phase), azimuth, elevation)
        raster = self._raster(self.vertices(betas, pose, phase), azimuth, elevation, key)
        with torch.no_grad():
            rgba = self.renderer.shade(raster, texture, camera_light(azimuth, elevation), srgb=True)
        return (rgba[0, :3].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)

    def export(self, path: str | Path, betas: Sequence[float], pose: str, phase: float, texture: torch.Tensor) -> Path:
        """Write the posed, textured body as GLB (for gr.Model3D or any glTF viewer)."""
        v = self.vertices(betas, pose, phase)[0]
        return export_glb(path, v, self.body.faces, self.body.verts_uvs, self.body.faces_uvs, texture)
