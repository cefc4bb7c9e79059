"""DyGait's losses, as OpenGait computes them (``opengait/modeling/losses/{triplet,softmax}.py``).

- Batch-all triplet loss per part: :func:`core.nn.losses.triplet_loss` (shared: GaitNet can add it too).
- Cross-entropy per part on the BNNeck's cosine logits (N, classes, P) times ``scale``, with optional
  label smoothing (OpenGait's eps), averaged over samples and parts.

The trainer adds them as ``triplet_weight * triplet + ce_weight * ce`` (OpenGait's loss aggregator).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["cross_entropy_parts"]


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
