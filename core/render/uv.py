"""Differentiable UV texture rendering: rasterise a posed body once, re-shade forever (texture generation's renderer).

The paper renders through a precomputed sparse Jacobian of OpenDR's renderer (each foreground pixel
copies its texel). Here PyTorch3D rasterises the posed body (:class:`core.render.BodyRenderer`, banded
and culled for the CPU) and each pixel keeps the UV coordinate it sees (:class:`UVRaster`); shading a
texture is then one ``grid_sample``, differentiable in the texture, with unlit albedo (the texture takes
the light it was photographed in, as the paper's does). A training image's raster is computed once and
reused at every step; an optimisation rasterises once and re-shades at each of its steps.

Conventions: textures (B, 3, S, S) in [0, 1], row 0 = v 1 (as PyTorch3D's TexturesUV and image files
store them); images (B, 3, H, W) in [0, 1]; cameras and bodies as :mod:`core.data.annotations` says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from pytorch3d.renderer import FoVPerspectiveCameras
from torch import Tensor

from core.body import BodyModel
from core.data.annotations import Annotation
from core.render import BodyRenderer

__all__ = ["UVRaster", "annotation_cameras", "composite", "orbit_annotation", "pose_bodies", "rasterize_uv", "shade"]


@dataclass
class UVRaster:
    """Per-pixel texture coordinates of B rendered bodies.

    grid: (B, H, W, 2) ``grid_sample`` coordinates (x = 2u - 1, y = 1 - 2v); 0 where no body.
    mask: (B, 1, H, W) float, 1 where the body covers the pixel.
    """

    grid: Tensor
    mask: Tensor

    def __len__(self) -> int:
        return self.grid.shape[0]

    def __getitem__(self, index) -> UVRaster:
        index = [index] if isinstance(index, int) else index
        return UVRaster(self.grid[index], self.mask[index])

    @staticmethod
    def cat(rasters: Sequence[UVRaster]) -> UVRaster:
        return UVRaster(torch.cat([r.grid for r in rasters]), torch.cat([r.mask for r in rasters]))

    def half(self) -> UVRaster:
        """Stored compactly (float16 grid, uint8 mask) for caching a whole training set."""
        return UVRaster(self.grid.half(), self.mask.to(torch.uint8))

    def float(self) -> UVRaster:
        return UVRaster(self.grid.float(), self.mask.float())


def shade(texture: Tensor, raster: UVRaster) -> Tensor:
    """Textures (B, 3, S, S) (or (1, 3, S, S) for all) seen through a raster -> (B, 3, H, W), 0 off the body."""
    if texture.dim() != 4 or texture.shape[1] != 3:
        raise ValueError(f"texture must be (B, 3, S, S), got {tuple(texture.shape)}")
    grid = raster.grid.to(texture.dtype)
    if texture.shape[0] == 1 and len(raster) > 1:
        texture = texture.expand(len(raster), -1, -1, -1)
    rgb = F.grid_sample(texture, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return rgb * raster.mask.to(rgb.dtype)


def composite(render: Tensor, mask: Tensor, background: Tensor) -> Tensor:
    """A render (B, 3, H, W) with its body mask (B, 1, H, W) over a background (B, 3, H, W): what the
    re-ID network compares with a photo."""
    m = mask.to(render.dtype)
    return render + background * (1 - m)


def annotation_cameras(annotations: Sequence[Annotation]) -> FoVPerspectiveCameras:
    """PyTorch3D cameras of annotated images (R, T world -> view; fov over the shorter side)."""
    return FoVPerspectiveCameras(
        R=torch.from_numpy(np.stack([a.R for a in annotations])),
        T=torch.from_numpy(np.stack([a.T for a in annotations])),
        fov=torch.tensor([a.fov for a in annotations], dtype=torch.float32),
        aspect_ratio=torch.tensor([a.aspect_ratio for a in annotations], dtype=torch.float32),
        znear=0.05, zfar=50.0,
    )  # fmt: skip


def pose_bodies(body: BodyModel, annotations: Sequence[Annotation]) -> Tensor:
    """Posed vertices (B, V, 3) of annotated images (the naked body: no clothing bulk, hair or bags)."""
    stack = lambda key: torch.from_numpy(np.stack([getattr(a, key) for a in annotations]))  # noqa: E731
    with torch.no_grad():
        out = body(betas=stack("betas"), body_pose=stack("body_pose"), global_orient=stack("global_orient"),
                   transl=stack("transl"))  # fmt: skip
    return out.vertices


def _uv_grid(renderer: BodyRenderer, raster) -> tuple[Tensor, Tensor]:
    """Interpolate each pixel's UV from its face's corners and barycentric coordinates."""
    face = raster.body_face_index()  # (B, H, W), -1 off the body
    hit = face >= 0
    bary = raster.fragments.bary_coords[..., 0, :]  # (B, H, W, 3)
    corners = renderer.verts_uvs[renderer.faces_uvs[face.clamp_min(0)]]  # (B, H, W, 3, 2)
    uv = (bary[..., None] * corners).sum(-2)
    grid = torch.stack([2 * uv[..., 0] - 1, 1 - 2 * uv[..., 1]], dim=-1) * hit[..., None]
    return grid, hit[:, None].float()


def _box_warp(grid: Tensor, mask: Tensor, zoom: Tensor, shift: Tensor) -> tuple[Tensor, Tensor]:
    """Apply the detector-box jitter of :func:`core.synth.capture.jitter_box` (zoom about the centre,
    shift in fractions of the size) to a raster; nearest sampling keeps UVs from mixing across seams."""
    if bool((zoom == 1).all() and (shift == 0).all()):
        return grid, mask
    b = grid.shape[0]
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / zoom
    theta[:, :, 2] = -2.0 * shift / zoom[:, None]
    h, w = mask.shape[2:]
    sample = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
    both = torch.cat([grid.permute(0, 3, 1, 2), mask], dim=1)
    warped = F.grid_sample(both, sample, mode="nearest", padding_mode="zeros", align_corners=False)
    return warped[:, :2].permute(0, 2, 3, 1).contiguous(), warped[:, 2:]


def rasterize_uv(body: BodyModel, annotations: Sequence[Annotation], renderer: BodyRenderer | None = None) -> UVRaster:
    """Rasterise annotated bodies in their cameras (and detector boxes) -> :class:`UVRaster` at their size.

    All annotations must share one image size. ``renderer`` may be given to reuse its settings.
    """
    sizes = {tuple(a.image_size) for a in annotations}
    if len(sizes) != 1:
        raise ValueError(f"annotations of one batch must share an image size, got {sorted(sizes)}")
    size = sizes.pop()
    if renderer is None or renderer.image_size != size:
        renderer = BodyRenderer.for_body(body, size)
    with torch.no_grad():
        raster = renderer.rasterize(pose_bodies(body, annotations), annotation_cameras(annotations))
        grid, mask = _uv_grid(renderer, raster)
        zoom = torch.tensor([a.box_zoom for a in annotations], dtype=torch.float32)
        shift = torch.tensor([a.box_shift for a in annotations], dtype=torch.float32)
        grid, mask = _box_warp(grid, mask, zoom, shift)
    return UVRaster(grid=grid, mask=mask)


def _rot_y(degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]], dtype=np.float32)


def orbit_annotation(annotation: Annotation, degrees: float) -> Annotation:
    """The same picture with the camera moved ``degrees`` around the body's vertical axis (the body
    stands at the origin): 180 shows the back of the view the annotation had. No box jitter."""
    # world -> view is x R + T (row vectors): moving the camera by +a about Y (the body's left comes
    # into view, as a larger azimuth does) is turning the world by -a before the old camera sees it
    rotated = (_rot_y(degrees).T @ annotation.R).astype(np.float32)
    return replace(annotation, R=rotated, box_zoom=1.0, box_shift=(0.0, 0.0))
