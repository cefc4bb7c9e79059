"""DyGait's losses, as OpenGait computes them (``opengait/modeling/losses/{triplet,softmax}.py``).

- Batch-all triplet loss per part: Euclidean distances between the (N, C, P) embeddings, every
  (anchor, positive, negative) triple of the batch, hinge at ``margin``, averaged over the non-zero
  terms of each part, then over parts. As in OpenGait the anchor counts among its own positives
  (d(a, a) = 0), so a negative closer than the margin to an anchor is penalised even without
  another positive.
- Cross-entropy per part on the BNNeck's cosine logits (N, classes, P) times ``scale``, with optional
  label smoothing (OpenGait's eps), averaged over samples and parts.

The trainer adds them as ``triplet_weight * triplet + ce_weight * ce`` (OpenGait's loss aggregator).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["cross_entropy_parts", "part_distances", "triplet_loss"]


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


def cross_entropy_parts(logits: Tensor, labels: Tensor, scale: float = 1.0, label_smoothing: float = 0.0
                        ) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Cross-entropy of every part's logits, OpenGait's ``CrossEntropyLoss``.

    Args:
        logits: (N, K, P) class scores per part (cosine logits in [-1, 1] for a BNNeck).
        labels: (N,) int class indices.
        scale: multiplies the logits before the softmax (a temperature of 1/scale).
        label_smoothing: eps; the loss is (1 - eps) * NLL + eps * mean over classes of -log p.

    Returns:
        (loss: scalar, mean over samples and parts; accuracy: scalar, the fraction of (sample, part)
        pairs whose arg-max is the label).
    """
    log_p = F.log_softmax(logits.float() * scale, dim=1)  # (N, K, P)
    index = labels.view(-1, 1, 1).expand(-1, 1, log_p.shape[2])
    nll = -log_p.gather(1, index).squeeze(1)  # (N, P)
    loss = nll.mean(0)  # (P,)
    if label_smoothing > 0:
        loss = (1.0 - label_smoothing) * loss + label_smoothing * (-log_p.mean(1)).mean(0)
    accuracy = (logits.argmax(1) == labels.unsqueeze(1)).float().mean()
    return loss.mean(), accuracy
