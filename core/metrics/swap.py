"""A fair bar for appearance swaps: scores that copying an input cannot pass.

Whole-picture SSIM against the rendered truth rewards "return image j": the truth is rendered with j's
capture, so it shares j's scene and sensor noise pixel for pixel. These scores look at the person only:

- **clothes colour** (:func:`clothes_delta_e`): CIE76 colour difference between the region-mean Lab
  colours of the output and of the truth, over the person pixels where the truth differs from image j
  (the clothes that had to change), for the top and bottom half of that region, averaged. Region means
  make it insensitive to blur and to a pixel of misalignment; the truth blurred at sigma 1 scores ~1.
- **kept** (:func:`kept_ssim`): SSIM after a sigma-1 blur of both pictures, averaged over j's person
  pixels that the truth keeps (face, skin, hair, unchanged garments).
- **person SSIM / L1**: the SSIM map and the absolute error averaged over the person region (j's
  silhouette dilated by :data:`DILATE_PX` joined with the truth's foreground).
- **sharpness** (:func:`sharpness_ratio`): mean absolute Laplacian of the luminance over the person
  region, relative to the truth's (1: as much fine detail as the truth; a blur scores well below 1).
- **silhouette IoU** (:func:`silhouette_iou`): of the output's foreground with j's silhouette.

The pieces of a bar shared by the swaps that use it (DG-Net's pictures, GaitNet's walks): the three regions
of a pair (:func:`swap_regions`), the reconstruction's scores against its own input
(:func:`reconstruction_scores`) and the bar's rows (:func:`bar_rows`, with :data:`BEATS_SHARE`).

SSIM comes from torchmetrics; sRGB -> CIE Lab follows the standard's formulas (IEC 61966-2-1, CIE 15).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

# torchmetrics and torchvision are imported inside the functions that use them: they pull in torch._dynamo and
# scipy.signal (3-5 s), which every command line start would pay otherwise (core.nn imports this module).

__all__ = [
    "BEATS_SHARE",
    "CHANGED_THRESHOLD",
    "SwapRegions",
    "bar_rows",
    "blurred",
    "DILATE_PX",
    "changed_region",
    "clothes_delta_e",
    "clothes_bands",
    "kept_ssim",
    "lab_to_rgb",
    "person_region",
    "person_scores",
    "reconstruction_scores",
    "recolour",
    "rgb_to_lab",
    "sharpness_ratio",
    "silhouette_iou",
    "swap_regions",
]

CHANGED_THRESHOLD = 0.1  # mean absolute RGB difference in [0, 1] between the truth and image j
DILATE_PX = 2  # j's silhouette grows by this many pixels, so a slightly shifted person still counts
HEAD_SHARE, WAIST_SHARE = 0.15, 0.47  # of a standing person's height, from the top (the recolour baseline)
BEATS_SHARE = 0.6  # a swap must beat "return the appearance input" on clothes colour on at least this share

_SRGB_TO_XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375],
                             [0.2126729, 0.7151522, 0.0721750],
                             [0.0193339, 0.1191920, 0.9503041]])  # fmt: skip
_D65_WHITE = torch.tensor([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1] (..., 3, H, W) -> CIE L*a*b* (D65) (..., 3, H, W); L in [0, 100]."""
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp_min(0) + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,...jhw->...ihw", _SRGB_TO_XYZ.to(rgb), linear)
    t = xyz / _D65_WHITE.to(rgb).view(3, 1, 1)
    delta = 6 / 29
    f = torch.where(t > delta**3, t.clamp_min(1e-12) ** (1 / 3), t / (3 * delta**2) + 4 / 29)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """CIE L*a*b* (D65) (..., 3, H, W) -> sRGB (..., 3, H, W), clipped to [0, 1] (inverse of :func:`rgb_to_lab`)."""
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-3)
    delta = 6 / 29
    t = torch.where(f > delta, f**3, 3 * delta**2 * (f - 4 / 29))
    xyz = t * _D65_WHITE.to(lab).view(3, 1, 1)
    linear = torch.einsum("ij,...jhw->...ihw", torch.linalg.inv(_SRGB_TO_XYZ).to(lab), xyz).clamp(0, 1)
    return torch.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055).clamp(0, 1)


def clothes_bands(silhouette: Tensor, head: float = HEAD_SHARE, waist: float = WAIST_SHARE) -> tuple[Tensor, Tensor]:
    """(N, H, W) bool silhouettes -> (upper, lower) clothes bands (N, H, W): below the head (the top ``head``
    of the silhouette's height) and above / below the waist (at ``waist`` of it). A no-learning guess."""
    rows = torch.arange(silhouette.shape[1], device=silhouette.device).view(1, -1, 1)
    any_row = silhouette.any(2)
    first = torch.where(any_row, rows[..., 0], silhouette.shape[1]).amin(1).view(-1, 1, 1)
    last = torch.where(any_row, rows[..., 0], -1).amax(1).view(-1, 1, 1)
    height = (last - first + 1).clamp_min(1)
    neck, hips = first + (head * height).long(), first + (waist * height).long()
    return silhouette & (rows >= neck) & (rows < hips), silhouette & (rows >= hips)


def recolour(structure: Tensor, structure_mask: Tensor, appearance: Tensor, appearance_mask: Tensor) -> Tensor:
    """The no-learning swap: j's clothes bands shifted in Lab to i's mean band colours -> (N, 3, H, W).

    Images [0, 1] (N, 3, H, W); masks (N, H, W) bool (j's and i's silhouettes).
    """
    lab_j, lab_i = rgb_to_lab(structure.clamp(0, 1)), rgb_to_lab(appearance.clamp(0, 1))
    out = lab_j.clone()
    for band_j, band_i in zip(clothes_bands(structure_mask), clothes_bands(appearance_mask), strict=True):
        mean_j, ok_j = _region_mean(lab_j, band_j)
        mean_i, ok_i = _region_mean(lab_i, band_i)
        shift = (mean_i - mean_j) * (ok_i & ok_j)[:, None].float()
        out = out + shift[:, :, None, None] * band_j[:, None].float()
    return lab_to_rgb(out)


def person_region(structure_mask: Tensor, truth_foreground: Tensor, dilate_px: int = DILATE_PX) -> Tensor:
    """(N, H, W) bool: j's silhouette grown by ``dilate_px`` pixels, joined with the truth's foreground."""
    k = 2 * dilate_px + 1
    grown = F.max_pool2d(structure_mask[:, None].float(), k, stride=1, padding=dilate_px)[:, 0] > 0
    return grown | truth_foreground


def changed_region(truth: Tensor, structure: Tensor, region: Tensor, threshold: float = CHANGED_THRESHOLD) -> Tensor:
    """(N, H, W) bool: person pixels where the truth differs from image j (the clothes that had to change)."""
    return region & ((truth - structure).abs().mean(1) > threshold)


def _halves(region: Tensor) -> tuple[Tensor, Tensor]:
    """Split each (H, W) region at the middle row of its own extent -> (top, bottom), (N, H, W) bool each."""
    rows = torch.arange(region.shape[1], device=region.device).view(1, -1, 1)
    any_row = region.any(2)  # (N, H)
    big = region.shape[1]
    first = torch.where(any_row, rows[..., 0], big).amin(1)
    last = torch.where(any_row, rows[..., 0], -1).amax(1)
    middle = ((first + last + 1) // 2).view(-1, 1, 1)
    return region & (rows < middle), region & (rows >= middle)


def _region_mean(lab: Tensor, region: Tensor) -> tuple[Tensor, Tensor]:
    """(N, 3, H, W) Lab and (N, H, W) region -> mean colour (N, 3) and whether the region is non-empty (N,)."""
    w = region[:, None].float()
    count = w.flatten(1).sum(1)
    return (lab * w).flatten(2).sum(2) / count.clamp_min(1)[:, None], count > 0


def clothes_delta_e(output: Tensor, truth: Tensor, changed: Tensor) -> Tensor:
    """(N,) CIE76 difference of region-mean Lab colours, top and bottom halves of ``changed`` averaged.

    Pairs whose changed region is empty score 0 (nothing had to change). Images [0, 1] (N, 3, H, W).
    """
    lab_out, lab_truth = rgb_to_lab(output.clamp(0, 1)), rgb_to_lab(truth.clamp(0, 1))
    scores, present = [], []
    for half in _halves(changed):
        mean_out, ok = _region_mean(lab_out, half)
        mean_truth, _ = _region_mean(lab_truth, half)
        scores.append((mean_out - mean_truth).norm(dim=1) * ok)
        present.append(ok.float())
    return torch.stack(scores).sum(0) / torch.stack(present).sum(0).clamp_min(1)


def _ssim_map(a: Tensor, b: Tensor) -> Tensor:
    """(N, H, W) SSIM map (torchmetrics, Gaussian 11x11 sigma 1.5), averaged over the channels."""
    from torchmetrics.functional.image import structural_similarity_index_measure  # lazily: see the note at the imports

    _, full = structural_similarity_index_measure(a, b, data_range=1.0, return_full_image=True, reduction="none")
    return full.mean(1)


def _masked_mean(values: Tensor, region: Tensor) -> Tensor:
    """(N, H, W) values and region -> (N,) mean over the region (NaN where it is empty)."""
    w = region.float()
    return (values * w).flatten(1).sum(1) / w.flatten(1).sum(1)


def kept_ssim(output: Tensor, truth: Tensor, kept: Tensor, sigma: float = 1.0) -> Tensor:
    """(N,) SSIM after a Gaussian blur of both pictures, averaged over the ``kept`` pixels (N, H, W)."""
    if sigma > 0:
        output, truth = blurred(output, sigma), blurred(truth, sigma)
    return _masked_mean(_ssim_map(output, truth), kept)


def blurred(images: Tensor, sigma: float) -> Tensor:
    """Gaussian blur of (N, 3, H, W) with a (2 ceil(2 sigma) + 1)-wide kernel (5x5 at sigma 1, 9x9 at 2)."""
    k = 2 * math.ceil(2 * sigma) + 1
    from torchvision.transforms.functional import gaussian_blur  # lazily: see the note at the imports

    return gaussian_blur(images, [k, k], [sigma, sigma])


_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def _laplacian_energy(x: Tensor) -> Tensor:
    """(N, 3, H, W) -> (N, H, W) absolute Laplacian of the luminance (replicate padding)."""
    luma = (x * torch.tensor([0.299, 0.587, 0.114]).to(x).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), _LAPLACIAN.to(x).view(1, 1, 3, 3))[:, 0].abs()


def sharpness_ratio(output: Tensor, truth: Tensor, region: Tensor) -> Tensor:
    """(N,) mean absolute Laplacian over ``region``, the output's divided by the truth's."""
    return _masked_mean(_laplacian_energy(output), region) / _masked_mean(_laplacian_energy(truth), region).clamp_min(
        1e-6
    )


def person_scores(output: Tensor, truth: Tensor, region: Tensor, changed: Tensor, kept: Tensor) -> dict[str, Tensor]:
    """Per-pair (N,) scores of outputs [0, 1] (N, 3, H, W) against ``truth`` (N, 3, H, W).

    region: the person region (:func:`person_region`); changed: its pixels that had to change
    (:func:`changed_region`); kept: j's person pixels that the truth keeps. All (N, H, W) bool.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure  # lazily: see the note at the imports

    out = output.float().clamp(0, 1)
    return {
        "clothes_delta_e": clothes_delta_e(out, truth, changed),
        "kept": kept_ssim(out, truth, kept),
        "person_ssim": _masked_mean(_ssim_map(out, truth), region),
        "person_l1": _masked_mean((out - truth).abs().mean(1), region),
        "ssim": structural_similarity_index_measure(out, truth, data_range=1.0, reduction="none"),
        "sharpness": sharpness_ratio(out, truth, region),
    }


@dataclass(frozen=True)
class SwapRegions:
    """Per pair (N, H, W) bool: the person, its pixels that had to change, and j's pixels the truth keeps."""

    person: Tensor
    changed: Tensor
    kept: Tensor


def swap_regions(structure: Tensor, structure_mask: Tensor, truth: Tensor, truth_foreground: Tensor) -> SwapRegions:
    """The regions :func:`person_scores` reads, from image j [0, 1] (N, 3, H, W), its silhouette (N, H, W),
    the truth (N, 3, H, W) and the truth's foreground (N, H, W)."""
    person = person_region(structure_mask, truth_foreground)
    changed = changed_region(truth, structure, person)
    return SwapRegions(person, changed, structure_mask & ~changed)


def reconstruction_scores(output: Tensor, image: Tensor, mask: Tensor, foreground: Tensor) -> dict[str, Tensor]:
    """Per-pair (N,) scores of a reconstruction [0, 1] (N, 3, H, W) against its own input ``image``: on the
    person region of ``mask`` and ``foreground`` (N, H, W), nothing to change, every silhouette pixel kept
    (no clothes ΔE)."""
    region = person_region(mask, foreground)
    scores = person_scores(output, image, region, torch.zeros_like(region), mask)
    scores.pop("clothes_delta_e")
    return scores


def silhouette_iou(predicted: Tensor, truth: Tensor) -> Tensor:
    """(N,) intersection over union of (N, H, W) bool masks (1 where both are empty)."""
    inter = (predicted & truth).flatten(1).sum(1).float()
    union = (predicted | truth).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def bar_rows(checks: Iterable[tuple[str, float, float, str]]) -> list[dict[str, Any]]:
    """A bar's checks (name, value, target, "<" or ">=") as rows {"check", "value", "target", "passed"}."""
    rows = []
    for name, value, target, op in checks:
        if op not in ("<", ">="):
            raise ValueError(f"a check compares with '<' or '>=', got {op!r}")
        passed = value < target if op == "<" else value >= target
        rows.append({"check": name, "value": float(value), "target": float(target), "passed": bool(passed)})
    return rows
