"""Person re-identification scores: CMC and mAP as torchreid and as DG-Net compute them.

Two evaluators, because the two projects disagree and their numbers must not be mixed
(docs/formats.md, sections 2 and 3):

- :func:`market_rank` follows torchreid's ``eval_market1501`` (``torchreid/metrics/rank.py``):
  distances, same-pid-and-same-camera items removed, queries without a true match skipped, CMC and
  mAP averaged over the valid queries, plain (non-interpolated) AP.
- :func:`dgnet_rank` follows DG-Net's ``reid_eval/evaluate_gpu.py``: similarity scores, junk
  (same pid and same camera, and every pid ``-1``) removed, queries without a good match count as
  0 but the divisor is every query, trapezoid-interpolated AP.

Both rank with a stable sort, so tied gallery items keep their gallery order (the upstream code uses
numpy's default, non-stable sort, where the order of ties is unspecified).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

__all__ = ["Metric", "RankResult", "distance_matrix", "dgnet_rank", "market_rank"]

Metric = Literal["euclidean", "cosine"]

# The norm floor of torch.nn.functional.normalize: a zero vector becomes zero, not NaN.
_NORM_EPS = 1e-12


@dataclass(frozen=True, eq=False)
class RankResult:
    """Scores of one retrieval evaluation.

    Attributes:
        cmc: float64, shape (max_rank,): ``cmc[k - 1]`` is the fraction of queries (see the evaluator
            for which queries count) whose first true match is within the top k. Read-only.
        mAP: mean average precision, a fraction in [0, 1].
        valid_queries: queries that had at least one true match in the gallery.
    """

    cmc: np.ndarray
    mAP: float
    valid_queries: int

    def rank(self, k: int) -> float:
        """CMC at rank ``k`` (1-based) as a fraction; ValueError when the curve is shorter than k."""
        if not 1 <= k <= len(self.cmc):
            # torchreid and DG-Net index past the end here (IndexError); say what is missing instead.
            raise ValueError(f"rank {k} is not available: the CMC has {len(self.cmc)} ranks (gallery or max_rank)")
        return float(self.cmc[k - 1])

    @property
    def rank1(self) -> float:
        return self.rank(1)

    @property
    def rank5(self) -> float:
        return self.rank(5)

    @property
    def rank10(self) -> float:
        return self.rank(10)


def as_array(x: Any, dtype: type = np.float64) -> np.ndarray:
    """A numpy copy-or-view of a numpy array, a torch tensor (any device, grad or not) or a sequence."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _labels(x: Any, name: str) -> np.ndarray:
    """A 1-D label array (pids or camera ids), from numpy, torch or a sequence."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def distance_matrix(query_features: Any, gallery_features: Any, metric: Metric = "euclidean") -> np.ndarray:
    """Pairwise distances between query and gallery features.

    Args:
        query_features: (Q, D) numpy array or torch tensor.
        gallery_features: (G, D) numpy array or torch tensor.
        metric: ``"euclidean"`` (the L2 distance, not squared) or ``"cosine"`` (1 - cosine similarity,
            each feature L2-normalised first; a zero feature has similarity 0 to everything).

    Returns:
        float64 array of shape (Q, G); smaller means more similar.

    torchreid's ``"euclidean"`` is the squared distance; the ranking, and so every score here, is the
    same. For L2-normalised features ``euclidean**2 == 2 * cosine``, so the two metrics rank alike.
    """
    q = as_array(query_features)
    g = as_array(gallery_features)
    if q.ndim != 2 or g.ndim != 2:
        raise ValueError(f"features must be 2-D (N, D), got query {q.shape} and gallery {g.shape}")
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"feature sizes differ: query D={q.shape[1]}, gallery D={g.shape[1]}")
    if metric == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), _NORM_EPS)
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), _NORM_EPS)
        return 1.0 - q @ g.T
    if metric == "euclidean":
        # |q|^2 + |g|^2 - 2 q.g needs no (Q, G, D) temporary; rounding can make it slightly negative.
        sq = (q * q).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * (q @ g.T)
        return np.sqrt(np.maximum(sq, 0.0))
    raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")


def _check_inputs(
    matrix: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate a (Q, G) matrix against its four label vectors; return them as numpy arrays."""
    mat = as_array(matrix)
    if mat.ndim != 2:
        raise ValueError(f"the distance/score matrix must be 2-D (Q, G), got shape {mat.shape}")
    num_q, num_g = mat.shape
    if num_q == 0 or num_g == 0:
        raise ValueError(f"empty query or gallery: matrix shape {mat.shape}")
    qp, gp = _labels(q_pids, "q_pids"), _labels(g_pids, "g_pids")
    qc, gc = _labels(q_camids, "q_camids"), _labels(g_camids, "g_camids")
    if len(qp) != num_q or len(qc) != num_q:
        raise ValueError(f"matrix has {num_q} query rows but q_pids has {len(qp)} and q_camids {len(qc)}")
    if len(gp) != num_g or len(gc) != num_g:
        raise ValueError(f"matrix has {num_g} gallery columns but g_pids has {len(gp)} and g_camids {len(gc)}")
    if np.isnan(mat).any():
        # NaN has no place in an order: the ranking would depend on the sort algorithm.
        raise ValueError("the distance/score matrix contains NaN")
    return mat, qp, gp, qc, gc


def _frozen(values: np.ndarray) -> np.ndarray:
    out = np.array(values, dtype=np.float64)
    out.setflags(write=False)
    return out


def _market_query(matches: np.ndarray, max_rank: int) -> tuple[np.ndarray, float]:
    """CMC row (max_rank,) and AP of one query from its ranked, already filtered 0/1 match vector."""
    hits = np.cumsum(matches)
    cmc = np.minimum(hits, 1).astype(np.float64)[:max_rank]
    if len(cmc) < max_rank:
        # Fewer items than max_rank survived the same-camera removal. torchreid's Python version then
        # builds ragged rows (and its Cython one reads stale buffer values). Past the end of the
        # ranking nothing changes, so the curve keeps its last value (1: the query is valid).
        cmc = np.pad(cmc, (0, max_rank - len(cmc)), mode="edge")
    positions = np.flatnonzero(matches)  # 0-based ranks of the true matches
    precision_at_hits = hits[positions] / (positions + 1.0)
    return cmc, float(precision_at_hits.mean())


def market_rank(distmat: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any, max_rank: int = 50) -> RankResult:
    """CMC and mAP with torchreid's ``eval_market1501`` rules.

    Args:
        distmat: (Q, G) distances, smaller = more similar (numpy or torch).
        q_pids, q_camids: (Q,) query person and camera ids.
        g_pids, g_camids: (G,) gallery person and camera ids. pid 0 (Market distractors) is an
            ordinary non-match; junk (-1) should have been dropped at load time, as torchreid does.
        max_rank: length of the CMC; lowered to G when the gallery is smaller.

    Returns:
        RankResult with cmc of shape (min(max_rank, G),), averaged over valid queries only.

    For each query, gallery items with the same pid AND the same camera are removed; a query with no
    true match left is skipped. AP is the mean of precision@k at each true-match rank. When fewer than
    max_rank items are left after the removal, the query's CMC row keeps its last value to the end
    (torchreid's Python version builds ragged rows there and its Cython version reads stale values).
    """
    dist, qp, gp, qc, gc = _check_inputs(distmat, q_pids, g_pids, q_camids, g_camids)
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    max_rank = min(max_rank, dist.shape[1])
    cmcs: list[np.ndarray] = []
    aps: list[float] = []
    for i in range(dist.shape[0]):
        order = np.argsort(dist[i], kind="stable")
        same_pid = gp[order] == qp[i]
        keep = ~(same_pid & (gc[order] == qc[i]))
        matches = same_pid[keep]
        if not matches.any():
            continue  # the query's identity is not in the gallery (other than in its own camera)
        cmc, ap = _market_query(matches, max_rank)
        cmcs.append(cmc)
        aps.append(ap)
    if not cmcs:
        raise ValueError(
            "no valid query: no query has a gallery item with the same pid from another camera "
            "(torchreid: 'all query identities do not appear in gallery')"
        )
    return RankResult(cmc=_frozen(np.mean(cmcs, axis=0)), mAP=float(np.mean(aps)), valid_queries=len(cmcs))


def _dgnet_ap(good_rows: np.ndarray) -> float:
    """DG-Net's trapezoid AP from the 0-based ranks of the good items (after junk removal).

    Each good hit i (0-based) at rank r adds 1/n_good times the mean of the precision just before it,
    i / r (taken as 1 at rank 0), and the precision at it, (i + 1) / (r + 1).
    """
    i = np.arange(len(good_rows), dtype=np.float64)
    r = good_rows.astype(np.float64)
    precision = (i + 1.0) / (r + 1.0)
    before = np.where(r == 0, 1.0, i / np.maximum(r, 1.0))
    return float(np.mean((before + precision) / 2.0))


def dgnet_rank(score: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any, max_rank: int = 50) -> RankResult:
    """CMC and mAP with DG-Net's ``reid_eval/evaluate_gpu.py`` rules.

    Args:
        score: (Q, G) similarities, larger = more similar (DG-Net: gallery @ query of L2-normalised
            features; ``-distance_matrix(...)`` ranks the same).
        q_pids, q_camids: (Q,) query person and camera ids.
        g_pids, g_camids: (G,) gallery person and camera ids; pid -1 is junk, pid 0 a non-match.
        max_rank: length of the CMC (DG-Net keeps all G ranks); lowered to G when the gallery is smaller.

    Returns:
        RankResult; cmc and mAP are divided by ALL queries, so a query with no good match counts as 0.

    good = same pid, different camera. junk = same pid and same camera, plus every gallery item with
    pid -1; junk is taken out of the ranking. A query whose pid is -1 therefore has no good item (in
    DG-Net such a query would index past its ranking and crash).
    """
    sim, qp, gp, qc, gc = _check_inputs(score, q_pids, g_pids, q_camids, g_camids)
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    num_q, num_g = sim.shape
    max_rank = min(max_rank, num_g)
    cmc_sum = np.zeros(max_rank, dtype=np.float64)
    ap_sum = 0.0
    valid = 0
    for i in range(num_q):
        order = np.argsort(-sim[i], kind="stable")  # descending score, ties in gallery order
        same_pid = gp[order] == qp[i]
        junk = (same_pid & (gc[order] == qc[i])) | (gp[order] == -1)
        good_rows = np.flatnonzero(same_pid[~junk])
        if len(good_rows) == 0:
            continue  # DG-Net marks it cmc[0] = -1 and skips it, but still divides by every query
        valid += 1
        cmc_sum[good_rows[0] :] += 1.0
        ap_sum += _dgnet_ap(good_rows)
    return RankResult(cmc=_frozen(cmc_sum / num_q), mAP=ap_sum / num_q, valid_queries=valid)
