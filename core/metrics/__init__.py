"""Evaluators: re-ID CMC/mAP (torchreid and DG-Net rules) and CASIA-B gait Rank-1 (OpenGait rules)."""

from core.metrics.gait import CASIA_B_GALLERY, CASIA_B_PROBES, GaitResult, casia_b_rank1, part_distance
from core.metrics.reid import Metric, RankResult, dgnet_rank, distance_matrix, market_rank

__all__ = [
    "CASIA_B_GALLERY",
    "CASIA_B_PROBES",
    "GaitResult",
    "Metric",
    "RankResult",
    "casia_b_rank1",
    "dgnet_rank",
    "distance_matrix",
    "market_rank",
    "part_distance",
]
