"""Retrieval with any re-ID embedding: features of a split (flip-averaged, L2-normalised) and the
Market-protocol score of query against gallery.

Every re-ID model here (the teacher, DG-Net's appearance encoder, the PCB model) is scored through
:func:`evaluate_market`, so their numbers are comparable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.data.market import MarketImages
from core.metrics.reid import RankResult, distance_matrix, market_rank

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "evaluate_market", "extract_features", "imagenet_normalise"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalise(images: Tensor) -> Tensor:
    """[0, 1] RGB (B, 3, H, W) -> ImageNet-normalised (what every backbone here is trained on)."""
    mean = images.new_tensor(IMAGENET_MEAN)[:, None, None]
    std = images.new_tensor(IMAGENET_STD)[:, None, None]
    return (images - mean) / std


@torch.no_grad()
def extract_features(
    embed: Callable[[Tensor], Tensor],
    images: Tensor,
    batch_size: int = 64,
    flip: bool = True,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """uint8 (N, 3, H, W) images -> float32 (N, D) L2-normalised embeddings.

    ``embed`` takes an ImageNet-normalised batch (B, 3, H, W) and returns (B, D); with ``flip`` the
    mirror image's embedding is added before normalising (the usual re-ID test-time trick).
    """
    out = []
    for start in range(0, len(images), batch_size):
        x = imagenet_normalise(images[start : start + batch_size].float().div(255.0)).to(device)
        f = embed(x).float()
        if flip:
            f = f + embed(x.flip(-1)).float()
        out.append(F.normalize(f, dim=1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def evaluate_market(
    embed: Callable[[Tensor], Tensor],
    query: MarketImages,
    gallery: MarketImages,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> RankResult:
    """Rank-k / mAP of ``embed`` under the Market-1501 protocol (torchreid's rules, euclidean on
    L2-normalised flip-averaged features)."""
    q = extract_features(embed, query.images, batch_size, device=device)
    g = extract_features(embed, gallery.images, batch_size, device=device)
    return market_rank(distance_matrix(q, g), query.pids, gallery.pids, query.camids, gallery.camids)
