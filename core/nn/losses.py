"""Losses shared by the generators that have a rendered truth to learn from (DG-Net, GaitNet)."""

from __future__ import annotations

import torch

from core.metrics.swap import blurred, rgb_to_lab

__all__ = ["changed_colour_loss"]


def changed_colour_loss(output: torch.Tensor, truth: torch.Tensor, structure: torch.Tensor,
                        threshold: float = 0.1, sigma: float = 2.0) -> torch.Tensor:  # fmt: skip
    """Colour error of a swap where its truth differs from the structure picture (the clothes that had to
    change): mean absolute CIE Lab difference / 10 between the sigma-blurred output and truth there.

    Images in [0, 1] (B, 3, H, W); computed in float32. Blurring first makes it a loss on colour, not on
    pixel alignment (a departure from the papers, which have no truth).
    """
    with torch.autocast(output.device.type, enabled=False):
        output, truth, structure = output.float(), truth.float().detach(), structure.float().detach()
        changed = ((truth - structure).abs().mean(1, keepdim=True) > threshold).float()
        diff = (rgb_to_lab(blurred(output, sigma)) - rgb_to_lab(blurred(truth, sigma))).abs()
        return (diff * changed).sum() / (3 * changed.sum()).clamp_min(1.0) / 10.0
