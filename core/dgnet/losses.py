"""DG-Net's losses (paper Sec. 3, official trainer) that are not the discriminator's own.

The LSGAN terms and the gradient penalty live with the discriminator (``MsImageDis``); the trainer
in :mod:`core.dgnet.train` combines everything with the weights of :func:`loss_weights`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LossWeights", "loss_weights", "recon_l1", "soft_label_kl", "teacher_soft_labels"]


def recon_l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error against a detached target (images (B, 3, H, W) or codes)."""
    return (output - target.detach()).abs().mean()


def soft_label_kl(logits: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
    """KL(soft_targets || softmax(logits)), summed over classes and averaged over the batch.

    logits, soft_targets: (B, C); each target row sums to 1. This is primary feature learning:
    the student's head matches the teacher's soft labels on generated images, which carry the
    appearance donor's identity but the structure donor's pose and background.
    """
    log_p = F.log_softmax(logits.float(), dim=1)
    t = soft_targets.float()
    return (t * (t.clamp_min(1e-12).log() - log_p)).sum(1).mean()


@torch.no_grad()
def teacher_soft_labels(teacher: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) normalised images -> (B, C) soft labels: the mean of the teacher's softmax on
    the image and on its mirror image (the official ``predict_label``)."""
    logits = teacher(x)
    flipped = teacher(x.flip(-1))
    probs = F.softmax(logits.float(), dim=1) + F.softmax(flipped.float(), dim=1)
    return probs / probs.sum(1, keepdim=True)


@dataclass(frozen=True)
class LossWeights:
    """The weights in force at one iteration (after the warm-up ramps)."""

    recon_x: float
    recon_xp: float
    recon_s: float
    recon_f: float
    recon_x_cyc: float
    recon_id: float
    id: float
    pid: float
    gan: float
    teacher: float
    fine: float
    paired: float = 0.0
    colour: float = 0.0


def _ramp(iteration: int, start: int, scale: float, top: float) -> float:
    """0 until ``start``, then +``scale`` per iteration up to ``top`` (the official warm-up)."""
    return float(min(top, max(0, iteration - start) * scale))


def loss_weights(loss, iteration: int) -> LossWeights:
    """The weights at ``iteration`` from a loss config (``DGNetConfig.loss``-like: the maxima, the
    warm-up starts and the per-iteration scale).

    The official trainer grows the code, cycle and teacher weights in place every iteration
    after ``warm_iter`` / ``warm_teacher_iter``; as a pure function of the iteration the same
    schedule survives a resume. Our staging (``recon_only_iter``, ``gan_ramp_iter``; 0 in the paper)
    holds the adversarial and generated-ID terms at 0 first, then ramps the adversarial weight in.
    """
    staged = iteration < loss.recon_only_iter  # the reconstruction-only stage (0 iterations in the paper)
    after = iteration - loss.recon_only_iter
    gan = loss.gan_w if loss.gan_ramp_iter == 0 else loss.gan_w * min(1.0, max(0, after) / loss.gan_ramp_iter)
    return LossWeights(
        recon_x=loss.recon_x_w,
        recon_xp=loss.recon_xp_w,
        recon_s=_ramp(iteration, loss.warm_iter, loss.warm_scale, loss.max_w),
        recon_f=_ramp(iteration, loss.warm_iter, loss.warm_scale, loss.max_w),
        recon_x_cyc=_ramp(iteration, loss.warm_iter, loss.warm_scale, loss.max_cyc_w),
        recon_id=0.0 if staged else loss.recon_id_w,
        id=loss.id_w,
        pid=loss.pid_w,
        gan=0.0 if staged else gan,
        teacher=_ramp(iteration, loss.warm_teacher_iter, loss.warm_scale, loss.max_teacher_w),
        fine=loss.fine_w,
        paired=loss.paired_w,
        colour=loss.colour_w,
    )
