"""Texture by optimisation, and the projection baseline.

:func:`optimize_texture` fits a UV texture to one photo through its body raster (rasterised once,
re-shaded at every step) with a selectable loss: the re-ID feature loss, the pixel L1 loss, or both
(the paper's ablation). Texels the photo does not show get no gradient from either loss, so where the
optimisation starts from matters: the U-Net's texture (a refinement) or a flat colour.

:func:`project_texture` is the baseline: every visible pixel's colour written to its texel, the rest
of the body filled from the mirror-image point front <-> back (what a viewer would guess), and the
remainder with the mean colour.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from core.render.uv import UVRaster, composite, shade
from core.texgen.losses import ReidFeatureLoss, masked_l1

__all__ = ["LOSSES", "OptimizeStep", "mirror_texel_index", "optimize_texture", "project_texture", "projection_maps"]

LOSSES = ("reid", "l1", "both")


@dataclass
class OptimizeStep:
    """One step's report: the step (1-based), its losses, and the current texture (1, 3, S, S)."""

    step: int
    losses: dict[str, float]
    texture: Tensor
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


def _logit(p: Tensor) -> Tensor:
    p = p.clamp(1e-3, 1 - 1e-3)
    return torch.log(p / (1 - p))


def optimize_texture(
    image: Tensor,
    raster: UVRaster,
    loss: str = "reid",
    steps: int = 200,
    init: Tensor | None = None,
    reid_loss: ReidFeatureLoss | None = None,
    texture_size: int = 64,
    lr: float = 0.05,
    reid_weight: float = 1.0,
    l1_weight: float = 1.0,
    background: Tensor | None = None,
    report_every: int = 10,
    other_views: UVRaster | None = None,
) -> Iterator[OptimizeStep]:
    """Fit a texture to ``image`` (1, 3, H, W) in [0, 1] seen through ``raster`` (1 image).

    Yields an :class:`OptimizeStep` every ``report_every`` steps and after the last (the last one holds
    the result). ``init`` (1, 3, S, S) is the starting texture (default mid grey). The texture is kept as
    the logits of its colours, so it stays in [0, 1]. The render is composited over ``background``
    (default: the photo itself, so only the body's pixels differ). The re-ID loss is summed over PCB's
    layers (each a mean over L2-normalised features, about 1e-3 at the start), so it is scaled by
    ``1 / its value at step 0`` here: its gradient then matches the L1 term's in size whatever the PCB.

    ``other_views`` (V bodies, e.g. the photo's body turned by :func:`core.render.uv.orbit_annotation`): the
    re-ID loss also pulls the texture's renders in these views towards the photo's features, as the paper's
    loss compares a render with the same person seen by another camera. Texels the photo does not show then
    get a gradient too (V more PCB passes a step).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if loss in ("reid", "both") and reid_loss is None:
        raise ValueError("the re-ID loss needs a PCB (reid_loss)")
    if steps < 1:
        raise ValueError("steps must be >= 1")
    if init is None:
        init = torch.full((1, 3, texture_size, texture_size), 0.5)
    logits = _logit(init.detach().float().clone()).requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=lr)
    back = image if background is None else background
    target = reid_loss.features(image) if reid_loss is not None and loss != "l1" else None
    scale = None
    history: list[dict[str, float]] = []
    t0 = time.monotonic()
    for step in range(1, steps + 1):
        texture = torch.sigmoid(logits)
        render = shade(texture, raster)
        values: dict[str, Tensor] = {}
        if loss in ("l1", "both"):
            values["l1"] = masked_l1(render, image, raster.mask).mean()
        if target is not None:
            value = reid_loss(composite(render, raster.mask, back), target).mean()
            if other_views is not None:  # the same person from other cameras: the photo's features again
                turned = composite(shade(texture.expand(len(other_views), -1, -1, -1), other_views),
                                   other_views.mask, back.expand(len(other_views), -1, -1, -1))  # fmt: skip
                value = (value + reid_loss(turned, [t.expand(len(other_views), -1) for t in target]).mean()) / 2
            if scale is None:
                scale = 1.0 / max(float(value.detach()), 1e-8)
            values["reid"] = value
        total = sum((reid_weight * scale * v if k == "reid" else l1_weight * v) for k, v in values.items())
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        row = {k: float(v.detach()) for k, v in values.items()}
        history.append(row)
        if step % report_every == 0 or step == steps:
            yield OptimizeStep(step, row, torch.sigmoid(logits).detach(), time.monotonic() - t0, list(history))


def run_optimize(*args, progress: Callable[[OptimizeStep], None] | None = None, **kwargs) -> OptimizeStep:
    """:func:`optimize_texture` to the end; ``progress`` sees every report. Returns the last."""
    last = None
    for report in optimize_texture(*args, **kwargs):
        if progress is not None:
            progress(report)
        last = report
    return last


def mirror_texel_index(atlas, size: int) -> tuple[Tensor, Tensor]:
    """For each texel of a size x size map, the flat indices of the texels at its body point mirrored
    front <-> back (z -> -z in the rest pose), left <-> right (x -> -x) and both; and which texels lie on
    the body at all. -> (3, S*S) long, (S*S,) bool.

    ``atlas`` is a :class:`core.synth.atlas.TexelAtlas` (any size; nearest texel centres are used).
    """
    from scipy.spatial import cKDTree

    a = atlas.size
    rows = ((np.arange(size) + 0.5) * a / size).astype(int)
    pos = atlas.position[rows][:, rows].reshape(-1, 3)
    valid = atlas.valid[rows][:, rows].reshape(-1)
    on = np.nonzero(valid)[0]
    tree = cKDTree(pos[on])
    flips = np.array([[1.0, 1.0, -1.0], [-1.0, 1.0, 1.0], [-1.0, 1.0, -1.0]])
    index = np.stack([on[tree.query(pos * f)[1]] for f in flips])
    return torch.from_numpy(index), torch.from_numpy(valid)


def project_texture(
    image: Tensor, raster: UVRaster, texture_size: int, mirror: tuple[Tensor, Tensor] | None = None
) -> Tensor:
    """Baseline texture (1, 3, S, S): the photo's visible pixels averaged into their texels; texels no
    pixel reached take the colour of their mirror texel (front <-> back first, then left <-> right,
    then both; ``mirror`` from :func:`mirror_texel_index`), and what is still empty the body's mean colour."""
    return projection_maps(image, raster, texture_size, mirror)[:, :3]


def projection_maps(
    image: Tensor, raster: UVRaster, texture_size: int, mirror: tuple[Tensor, Tensor] | None = None
) -> Tensor:
    """The projection baseline and where its colours come from, per image: (B, 5, S, S) =
    texture RGB (as :func:`project_texture`), seen (1 where a pixel of the photo reached the texel) and
    mirrored (1 where the colour came from a mirror texel). The U-Net's input when
    ``TexGenConfig.unet_input`` is "projection". image (B, 3, H, W) in [0, 1], raster of B bodies."""
    if image.shape[0] != len(raster):
        raise ValueError(f"{image.shape[0]} images but {len(raster)} rasters")
    return torch.cat([_project_one(image[b], raster.grid[b], raster.mask[b, 0], texture_size, mirror)
                      for b in range(image.shape[0])])  # fmt: skip


def _project_one(image: Tensor, grid: Tensor, mask: Tensor, s: int, mirror: tuple[Tensor, Tensor] | None) -> Tensor:
    """(3, H, W), (H, W, 2), (H, W) -> (1, 5, S, S): see :func:`projection_maps`."""
    grid = grid.float()
    hit = mask > 0.5
    u = (grid[..., 0] + 1) / 2
    v = (1 - grid[..., 1]) / 2
    col = (u * s).floor().clamp(0, s - 1).long()
    row = ((1 - v) * s).floor().clamp(0, s - 1).long()
    flat = (row * s + col)[hit]
    colours = image.float().permute(1, 2, 0)[hit]  # (N, 3)
    total = torch.zeros(s * s, 3).index_add_(0, flat, colours)
    count = torch.zeros(s * s).index_add_(0, flat, torch.ones(len(flat)))
    seen = count > 0
    filled = seen.clone()
    tex = torch.where(filled[:, None], total / count.clamp_min(1)[:, None], torch.zeros(1, 3))
    mean = colours.mean(0) if len(colours) else torch.full((3,), 0.5)
    if mirror is not None:
        for index in mirror[0]:  # each pass reads only texels the photo itself filled
            from_mirror = ~filled & seen[index]
            tex[from_mirror] = tex[index[from_mirror]]
            filled = filled | from_mirror
    tex[~filled] = mean
    maps = torch.cat([tex, seen[:, None].float(), (filled & ~seen)[:, None].float()], 1)
    return maps.reshape(s, s, 5).permute(2, 0, 1)[None]
