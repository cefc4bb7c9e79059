"""Losses shared by several methods.

- :func:`changed_colour_loss`: for the generators that have a rendered truth to learn from (DG-Net, GaitNet).
- :func:`triplet_loss` (with :func:`part_distances`): OpenGait's batch-all triplet loss per part
  (``opengait/modeling/losses/triplet.py``): Euclidean distances between the (N, C, P) embeddings, every
  (anchor, positive, negative) triple of the batch, hinge at ``margin``, averaged over the non-zero terms of
  each part, then over parts. As in OpenGait the anchor counts among its own positives (d(a, a) = 0), so a
  negative closer than the margin to an anchor is penalised even without another positive. DyGait's loss;
  GaitNet may add it on its gait feature.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from core.metrics.swap import blurred, rgb_to_lab

__all__ = ["changed_colour_loss", "part_distances", "triplet_loss"]


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


def part_distances(x: Tensor, y: Tensor) -> Tensor:
    """Euclidean distances per part: x (N, C, P), y (M, C, P) -> (P, N, M).

    OpenGait's expansion |x|^2 + |y|^2 - 2 x.y, clamped at 0 before the root (rounding can make it
    slightly negative).
    """
    xp, yp = x.permute(2, 0, 1).float(), y.permute(2, 0, 1).float()  # (P, N, C), (P, M, C)
    x2 = xp.pow(2).sum(-1).unsqueeze(2)
    y2 = yp.pow(2).sum(-1).unsqueeze(1)
    return torch.sqrt(F.relu(x2 + y2 - 2 * xp.matmul(yp.transpose(1, 2))))


def triplet_loss(embeddings: Tensor, labels: Tensor, margin: float = 0.2) -> tuple[Tensor, Tensor]:
    """Batch-all triplet loss over all triples of the batch, per part.

    Args:
        embeddings: (N, C, P) part features.
        labels: (N,) int subject labels (any number of walks per subject).
        margin: the hinge's margin.

    Returns:
        loss: scalar, the mean over parts of (sum of the part's hinge terms / their non-zero count),
            a part with no non-zero term counting 0.
        count: (P,) float, the number of non-zero terms per part (OpenGait logs it as ``loss_num``).
    """
    dist = part_distances(embeddings, embeddings)  # (P, N, N)
    same = labels.unsqueeze(1) == labels.unsqueeze(0)  # (N, N), the diagonal included (OpenGait)
    # terms[p, a, i, j] = d(a, i) - d(a, j) + margin for positive i and negative j of anchor a
    valid = same.unsqueeze(2) & ~same.unsqueeze(1)  # (N, N_pos, N_neg)
    terms = F.relu(dist.unsqueeze(3) - dist.unsqueeze(2) + margin) * valid
    terms = terms.flatten(1)  # (P, N * N * N)
    count = (terms > 0).sum(-1).float()
    per_part = terms.sum(-1) / count.clamp_min(1.0)  # 0 where nothing is violated
    return per_part.mean(), count
