"""Data augmentation shared by the methods (tensor ops, no I/O)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ["hue_rotation", "recolour"]

_GREY = torch.full((3,), 1 / math.sqrt(3))


def hue_rotation(angle: Tensor) -> Tensor:
    """Rotations of RGB space about its grey axis by ``angle`` (...,) radians -> (..., 3, 3).

    A rotation about (1, 1, 1) / sqrt(3) turns every hue by the same angle and keeps each colour's grey
    component, so black stays black (a masked frame's background is untouched) and greys stay grey.
    Rodrigues' formula: R = cos a I + sin a [k]x + (1 - cos a) k k^T.
    """
    k = _GREY.to(angle.device, angle.dtype)
    cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]], dtype=angle.dtype,
                         device=angle.device) / math.sqrt(3)  # fmt: skip
    cos, sin = angle.cos()[..., None, None], angle.sin()[..., None, None]
    eye = torch.eye(3, dtype=angle.dtype, device=angle.device)
    return cos * eye + sin * cross + (1 - cos) * torch.outer(k, k)


def recolour(x: Tensor, rng: np.random.Generator, share: float = 1.0, gain: tuple[float, float] = (0.7, 1.3)
             ) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Each sequence of ``x`` (N, P, T, 3, H, W) in [0, 1] recoloured as one: with probability ``share``, its
    hues turned by a random angle (uniform in [0, 2 pi)) and its brightness times a random gain in ``gain``;
    the rest kept. Returns the recoloured frames (clamped to [0, 1]) and the (N, P, 3, 3) matrices used
    (the identity where kept). Zeros stay zeros, so masked backgrounds stay black.

    Why: a clip's colours say whose clothes they are, not whose walk; when the same walker appears in
    random colours, an identity loss cannot lean on them (the pose-only gait feature of GaitNet).
    """
    if x.ndim != 6 or x.shape[3] != 3:
        raise ValueError(f"recolour takes (N, P, T, 3, H, W) frames, got shape {tuple(x.shape)}")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be within [0, 1], got {share}")
    n, p = x.shape[:2]
    chosen = torch.from_numpy(rng.random((n, p)) < share)
    angle = torch.from_numpy(rng.uniform(0.0, 2 * math.pi, (n, p))).float()
    scale = torch.from_numpy(rng.uniform(gain[0], gain[1], (n, p))).float()
    matrix = hue_rotation(angle) * scale[..., None, None]
    matrix = torch.where(chosen[..., None, None], matrix, torch.eye(3)).to(x.device, x.dtype)
    out = torch.einsum("npij,nptjhw->nptihw", matrix, x).clamp(0.0, 1.0)
    return out, matrix
