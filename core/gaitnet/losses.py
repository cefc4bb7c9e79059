"""GaitNet's three losses (paper section 3; ../shared/reference/gait.md section 1.4).

* Cross-reconstruction L_xrecon: D(f_a of frame t1, f_g of frame t2) should be frame t2, for t1 another
  frame of the same clip. Since f_a is taken from a different moment of the walk, it cannot carry the
  pose; f_g has to. Per-frame MSE, summed over the frames t2 (the paper and code).
* Gait similarity L_gait-sim: the time-averaged f_g of two clips of one subject under different conditions
  (e.g. normal walk vs. coat) should match, so f_g cannot carry clothing or a carried bag.
* Incremental identity L_id-inc-avg: the classifier sees the running average of the LSTM outputs of every
  prefix h_1..h_t; CE_t is weighted w_t = t^2 / sum_s s^2, so later (better informed) prefixes count more
  while early frames still learn to be discriminative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "accuracy",
    "cross_reconstruction_loss",
    "gait_similarity_loss",
    "incremental_identity_loss",
    "incremental_weights",
    "matte_loss",
]


def cross_reconstruction_loss(recon: Tensor, target: Tensor, clip_len: int | None = None) -> Tensor:
    """sum over t2 of the per-frame MSE (mean over items and pixels), as the paper sums over the clip.

    Args:
        recon: (..., K, 3, H, W) D(f_a[t1], f_g[t2]) for K frames t2 of each clip.
        target: (..., K, 3, H, W) the real frames t2.
        clip_len: T, the clip's length; when only K < T frames were rebuilt (to save time), the mean over
            them is scaled to T frames, an unbiased estimate of the full sum. None: K.

    Returns:
        scalar: clip_len * mean squared error.
    """
    if recon.shape != target.shape:
        raise ValueError(f"reconstruction {tuple(recon.shape)} and target {tuple(target.shape)} differ")
    frames = recon.shape[-4] if clip_len is None else clip_len
    return F.mse_loss(recon.float(), target.float()) * frames


def matte_loss(matte: Tensor, target: Tensor, clip_len: int | None = None, threshold: float = 8 / 255) -> Tensor:
    """Binary cross-entropy of the decoder's matte against the target frames' walker (their non-black
    pixels: the frames are masked RGB), summed over the frames as :func:`cross_reconstruction_loss`.

    Args:
        matte: (..., K, 1, H, W) in (0, 1).
        target: (..., K, 3, H, W) the real frames t2 in [0, 1]; the walker is where a channel exceeds
            ``threshold`` (the eval's walker mask, 8 of 255).
        clip_len: T, to scale the mean over K frames to the clip's sum (None: K).

    Returns:
        scalar: clip_len * mean BCE.
    """
    if matte.shape[:-3] != target.shape[:-3] or matte.shape[-2:] != target.shape[-2:] or matte.shape[-3] != 1:
        raise ValueError(f"matte {tuple(matte.shape)} does not pair with frames {tuple(target.shape)}")
    walker = (target.float().amax(-3, keepdim=True) > threshold).float()
    frames = matte.shape[-4] if clip_len is None else clip_len
    # BCE in float32 outside autocast's bf16: the log of a matte near 0 or 1 needs the precision
    with torch.autocast(matte.device.type, enabled=False):
        return F.binary_cross_entropy(matte.float().clamp(1e-6, 1 - 1e-6), walker) * frames


def gait_similarity_loss(pose_a: Tensor, pose_b: Tensor) -> Tensor:
    """MSE between the time-averaged pose features of two clips of the same subject.

    pose_a, pose_b: (N, T, Dg) f_g of clips A and B (item n of both is one subject; the lengths may differ).
    Returns a scalar: mean over items and feature dimensions of (mean_t f_g^A - mean_t f_g^B)^2.
    """
    if pose_a.shape[0] != pose_b.shape[0] or pose_a.shape[-1] != pose_b.shape[-1]:
        raise ValueError(f"pose features {tuple(pose_a.shape)} and {tuple(pose_b.shape)} do not pair up")
    return F.mse_loss(pose_a.float().mean(1), pose_b.float().mean(1))


def incremental_weights(length: int, device: torch.device | str = "cpu") -> Tensor:
    """w_t = t^2 / sum_{s=1..T} s^2 for t = 1..T: (T,) float32, summing to 1."""
    if length < 1:
        raise ValueError(f"need at least one frame, got {length}")
    t = torch.arange(1, length + 1, dtype=torch.float32, device=device)
    return t**2 / (t**2).sum()


def incremental_identity_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """sum_t w_t CE(logits_t, label), the paper's incremental identity loss.

    Args:
        logits: (N, T, C) classifier output for every prefix 1..t (GaitNet.incremental_logits).
        labels: (N,) long subject index of each sequence.

    Returns:
        scalar: the t^2-weighted mean over prefixes of the batch-mean cross-entropy.
    """
    n, t, c = logits.shape
    if labels.shape != (n,):
        raise ValueError(f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
    per_prefix = F.cross_entropy(logits.float().reshape(n * t, c), labels.repeat_interleave(t), reduction="none")
    return (per_prefix.view(n, t).mean(0) * incremental_weights(t, logits.device)).sum()


def accuracy(logits: Tensor, labels: Tensor) -> Tensor:
    """Fraction of rows whose arg-max is the label: logits (N, C), labels (N,) -> scalar."""
    return (logits.argmax(-1) == labels).float().mean()
