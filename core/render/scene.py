"""PyTorch3D scenes for bodies: cameras, lights, UV textures, RGBA and silhouette renders.

Conventions: world is SMPL's (metres, Y up, the body faces +Z). Images leave this module as float32
in [0, 1], shape (B, C, H, W), row 0 at the top. Azimuth 0 looks at the body's front, 90 at its
left side, 180 at its back; elevation > 0 looks down from above.

Rendering cost on a CPU grows with pixels x faces (PyTorch3D rasterises naively there), so a
:class:`Raster` (the rasteriser's fragments) can be kept and re-shaded with new textures; see
:meth:`BodyRenderer.rasterize` and :meth:`BodyRenderer.shade`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from pytorch3d.renderer import (
    BlendParams,
    DirectionalLights,
    FoVPerspectiveCameras,
    HardPhongShader,
    MeshRasterizer,
    RasterizationSettings,
    TexturesUV,
    look_at_view_transform,
)
from pytorch3d.renderer.mesh.rasterizer import Fragments
from pytorch3d.structures import Meshes


def _as_batch(value: float | torch.Tensor | list[float], batch: int) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
    return t.expand(batch) if t.numel() == 1 else t


def make_cameras(
    azimuth: float | torch.Tensor = 0.0,
    elevation: float | torch.Tensor = 0.0,
    distance: float | torch.Tensor = 3.0,
    look_at: tuple[float, float, float] = (0.0, 0.0, 0.0),
    fov: float = 30.0,
    batch: int = 1,
    device: str | torch.device = "cpu",
) -> FoVPerspectiveCameras:
    """Perspective cameras on a sphere around ``look_at``.

    Args:
        azimuth, elevation: degrees, scalars or (B,) tensors.
        distance: metres from ``look_at``.
        fov: vertical field of view in degrees (of the shorter image side).
        batch: number of cameras when all angles are scalars.
    """
    az, el, dist = (_as_batch(v, batch) for v in (azimuth, elevation, distance))
    n = max(len(az), len(el), len(dist))
    az, el, dist = az.expand(n), el.expand(n), dist.expand(n)
    at = torch.tensor([look_at], dtype=torch.float32).expand(n, 3)
    rot, trans = look_at_view_transform(dist=dist, elev=el, azim=az, at=at, device=device)
    return FoVPerspectiveCameras(R=rot, T=trans, fov=fov, znear=0.05, zfar=50.0, device=device)


def fit_distance(extent: float, fov: float, margin: float = 1.1) -> float:
    """Camera distance at which an object of ``extent`` metres fills the shorter image side."""
    return margin * 0.5 * extent / math.tan(math.radians(fov) / 2)


def make_lights(
    direction: tuple[float, float, float] = (0.3, 0.8, 1.0),
    color: tuple[float, float, float] = (1.0, 1.0, 1.0),
    intensity: float = 0.55,
    ambient: float = 0.5,
    device: str | torch.device = "cpu",
) -> DirectionalLights:
    """A directional light (towards ``direction`` from the scene) plus ambient light, no specular."""
    diffuse = tuple(intensity * c for c in color)
    amb = tuple(ambient * c for c in color)
    return DirectionalLights(
        direction=(direction,), diffuse_color=(diffuse,), ambient_color=(amb,),
        specular_color=((0.0, 0.0, 0.0),), device=device,
    )  # fmt: skip


def make_uv_textures(
    texture: torch.Tensor, verts_uvs: torch.Tensor, faces_uvs: torch.Tensor, batch: int
) -> TexturesUV:
    """TexturesUV from texture images.

    Args:
        texture: (H, W, 3) or (B, H, W, 3) float in [0, 1]; row 0 is the top (v = 1).
        verts_uvs: (T, 2) in [0, 1]; faces_uvs: (F, 3) indices into verts_uvs.
        batch: number of meshes.
    """
    maps = texture if texture.ndim == 4 else texture[None]
    if maps.shape[0] == 1 and batch > 1:
        maps = maps.expand(batch, -1, -1, -1)
    if maps.shape[0] != batch or maps.shape[-1] != 3:
        raise ValueError(f"texture must be (H, W, 3) or ({batch}, H, W, 3), got {tuple(texture.shape)}")
    return TexturesUV(
        maps=maps.float(),
        faces_uvs=faces_uvs[None].expand(batch, -1, -1),
        verts_uvs=verts_uvs[None].expand(batch, -1, -1),
    )


@dataclass
class Raster:
    """What the rasteriser produced for a batch of meshes and cameras; re-shade it many times."""

    meshes: Meshes
    cameras: FoVPerspectiveCameras
    fragments: Fragments

    @property
    def mask(self) -> torch.Tensor:
        """(B, 1, H, W) float, 1 where a face covers the pixel."""
        return (self.fragments.pix_to_face[..., 0] >= 0).float()[:, None]


class BodyRenderer:
    """Renders posed, textured bodies with PyTorch3D.

    Args:
        image_size: (H, W) in pixels.
        background: RGB in [0, 1] used where no face is hit.
    """

    def __init__(
        self,
        image_size: tuple[int, int] = (128, 64),
        background: tuple[float, float, float] = (1.0, 1.0, 1.0),
        device: str | torch.device = "cpu",
    ) -> None:
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.device = torch.device(device)
        self.settings = RasterizationSettings(
            image_size=self.image_size, blur_radius=0.0, faces_per_pixel=1,
            bin_size=None, cull_backfaces=False,
        )  # fmt: skip
        self.blend = BlendParams(background_color=background)

    def rasterize(
        self, vertices: torch.Tensor, faces: torch.Tensor, cameras: FoVPerspectiveCameras
    ) -> Raster:
        """Rasterise (B, V, 3) vertices with shared (F, 3) faces for B cameras (or one)."""
        batch = vertices.shape[0]
        meshes = Meshes(verts=vertices.to(self.device), faces=faces[None].expand(batch, -1, -1).to(self.device))
        rasterizer = MeshRasterizer(cameras=cameras, raster_settings=self.settings)
        return Raster(meshes=meshes, cameras=cameras, fragments=rasterizer(meshes))

    def shade(
        self,
        raster: Raster,
        textures: TexturesUV,
        lights: DirectionalLights | None = None,
    ) -> torch.Tensor:
        """Shade a kept raster with new textures -> RGBA (B, 4, H, W) in [0, 1]."""
        meshes = raster.meshes.clone()
        meshes.textures = textures
        shader = HardPhongShader(
            device=self.device, cameras=raster.cameras,
            lights=lights if lights is not None else make_lights(device=self.device),
            blend_params=self.blend,
        )  # fmt: skip
        images = shader(raster.fragments, meshes)  # (B, H, W, 4)
        return images.permute(0, 3, 1, 2).clamp(0.0, 1.0)

    def render(
        self,
        vertices: torch.Tensor,
        faces: torch.Tensor,
        textures: TexturesUV,
        cameras: FoVPerspectiveCameras,
        lights: DirectionalLights | None = None,
    ) -> torch.Tensor:
        """Rasterise and shade in one call -> RGBA (B, 4, H, W) in [0, 1]."""
        return self.shade(self.rasterize(vertices, faces, cameras), textures, lights)

    def silhouette(
        self, vertices: torch.Tensor, faces: torch.Tensor, cameras: FoVPerspectiveCameras
    ) -> torch.Tensor:
        """Binary silhouettes (B, 1, H, W) in {0, 1}."""
        return self.rasterize(vertices, faces, cameras).mask
