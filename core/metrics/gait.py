"""CASIA-B gait recognition score: Rank-1 per view pair, single-view gallery, identical view excluded.

This is the standard protocol as OpenGait's ``evaluate_indoor_dataset`` runs it with
``cross_view_gallery: false`` (``opengait/evaluation/evaluator.py``, ``single_view_gallery_evaluation``
and ``de_diag``; distances from ``cuda_dist`` in ``opengait/evaluation/metric.py``); see
docs/formats.md section 4.

- Gallery: conditions nm-01..nm-04. Probe groups: NM = nm-05/06, BG = bg-01/02, CL = cl-01/02.
- For every (probe view, gallery view) pair, Rank-1 is the fraction of that group's probes in the
  probe view whose nearest gallery sequence, among the gallery sequences of the gallery view only,
  has the same label.
- Each probe view is averaged over the other V - 1 gallery views (the identical view is left out,
  it is too easy); the group's figure is the mean over probe views.

Differences from OpenGait, all deliberate: results are fractions and not rounded (OpenGait reports
percentages rounded to 2 decimals per view pair); ties go to the first gallery sequence in input order
(OpenGait's torch sort leaves them unspecified); a probe group absent from the data is left out, and a
missing (group, view) cell raises ValueError (OpenGait divides by zero or fails in ``topk``); views are
taken from the gallery and probe sequences (OpenGait takes them from every sequence; on CASIA-B these
are the same).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from core.metrics.reid import Metric, as_array, distance_matrix

__all__ = ["CASIA_B_GALLERY", "CASIA_B_PROBES", "GaitResult", "casia_b_rank1", "part_distance"]

CASIA_B_GALLERY: tuple[str, ...] = ("nm-01", "nm-02", "nm-03", "nm-04")
# Read-only so the default argument below cannot be changed by a caller.
CASIA_B_PROBES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"NM": ("nm-05", "nm-06"), "BG": ("bg-01", "bg-02"), "CL": ("cl-01", "cl-02")}
)


@dataclass(frozen=True, eq=False)
class GaitResult:
    """Rank-1 of each probe group present (fractions in [0, 1]).

    Attributes:
        per_view: group -> probe view -> Rank-1 averaged over the V - 1 other gallery views.
        matrix: group -> float64 (V, V), row = probe view, column = gallery view, NaN on the diagonal.
        mean: group -> mean of ``per_view[group]`` over probe views (the reported NM/BG/CL figure).
        views: the V view names, sorted as strings (the row/column order of ``matrix``).
    """

    per_view: dict[str, dict[str, float]]
    matrix: dict[str, np.ndarray]
    mean: dict[str, float]
    views: tuple[str, ...]


def _as_parts(features: Any) -> np.ndarray:
    """Features as float64 (N, C, P): (N, D) becomes one part (N, D, 1)."""
    x = as_array(features)
    if x.ndim == 2:
        return x[:, :, None]
    if x.ndim == 3:
        return x
    raise ValueError(f"features must be (N, D) or (N, C, P), got shape {x.shape}")


def part_distance(probe: Any, gallery: Any, metric: Metric = "euclidean") -> np.ndarray:
    """Distance between sequences, averaged over part bins, as OpenGait's ``cuda_dist``.

    Args:
        probe: (M, D) or (M, C, P) features.
        gallery: (G, D) or (G, C, P) features, the same C and P.
        metric: ``"euclidean"`` (L2 per part) or ``"cosine"`` (1 - cosine per part, each part
            normalised over its C channels).

    Returns:
        float64 (M, G): the mean over the P parts of the per-part distance (not the distance of the
        flattened features: each part weighs the same whatever its norm).
    """
    p, g = _as_parts(probe), _as_parts(gallery)
    if p.shape[1:] != g.shape[1:]:
        raise ValueError(f"probe and gallery features differ in shape: {p.shape[1:]} vs {g.shape[1:]}")
    total = np.zeros((p.shape[0], g.shape[0]), dtype=np.float64)
    for part in range(p.shape[2]):
        total += distance_matrix(p[:, :, part], g[:, :, part], metric)
    return total / p.shape[2]


def _strings(values: Sequence[Any], name: str, n: int) -> np.ndarray:
    """Per-sequence names as a 1-D string array of length n (ids like '001' stay strings)."""
    arr = np.asarray([str(v) for v in values])
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries but features have {n} sequences")
    return arr


def _rank1(dist: np.ndarray, probe_labels: np.ndarray, gallery_labels: np.ndarray) -> float:
    """Fraction of probes (rows of dist) whose nearest gallery column has the same label."""
    nearest = np.argmin(dist, axis=1)  # first minimum: ties go to the earlier gallery sequence
    return float(np.mean(gallery_labels[nearest] == probe_labels))


def _group_matrix(
    dist: np.ndarray,
    probe_labels: np.ndarray,
    probe_views: np.ndarray,
    gallery_labels: np.ndarray,
    gallery_views: np.ndarray,
    views: tuple[str, ...],
    group: str,
) -> np.ndarray:
    """(V, V) Rank-1 for one probe group; the identical-view diagonal is NaN (never scored)."""
    acc = np.full((len(views), len(views)), np.nan)
    for a, probe_view in enumerate(views):
        rows = probe_views == probe_view
        if not rows.any():
            raise ValueError(f"probe group {group} has no sequence in view {probe_view!r}")
        for b, gallery_view in enumerate(views):
            if a == b:
                continue
            cols = gallery_views == gallery_view
            acc[a, b] = _rank1(dist[np.ix_(rows, cols)], probe_labels[rows], gallery_labels[cols])
    return acc


def casia_b_rank1(
    features: Any,
    labels: Sequence[str],
    conditions: Sequence[str],
    views: Sequence[str],
    gallery: Sequence[str] = CASIA_B_GALLERY,
    probes: Mapping[str, Sequence[str]] = CASIA_B_PROBES,
    metric: Metric = "euclidean",
) -> GaitResult:
    """CASIA-B single-view-gallery Rank-1, identical view excluded.

    Args:
        features: (N, D) or (N, C, P) embeddings, one row per sequence (numpy or torch).
        labels: (N,) subject ids, e.g. ``"075"``.
        conditions: (N,) sequence types, e.g. ``"nm-01"``, ``"bg-02"``.
        views: (N,) view names, e.g. ``"090"``; sorted as strings, so zero-pad them.
        gallery: conditions that form the gallery.
        probes: probe group name -> its conditions; a group with no sequence in the data is omitted.
        metric: ``"euclidean"`` or ``"cosine"``, per part and averaged over parts (:func:`part_distance`).

    Returns:
        GaitResult for the groups present.

    Raises:
        ValueError: mismatched lengths, bad shapes, fewer than 2 views, a view without gallery
            sequences, a present group missing a view, or no probe sequence at all.
    """
    feats = _as_parts(features)
    n = feats.shape[0]
    lab = _strings(labels, "labels", n)
    cond = _strings(conditions, "conditions", n)
    view = _strings(views, "views", n)

    in_gallery = np.isin(cond, list(gallery))
    group_masks = {name: np.isin(cond, list(conds)) for name, conds in probes.items()}
    group_masks = {name: mask for name, mask in group_masks.items() if mask.any()}
    if not in_gallery.any():
        raise ValueError(f"no gallery sequence: no condition in {tuple(gallery)}")
    if not group_masks:
        raise ValueError(f"no probe sequence: no condition in {[tuple(c) for c in probes.values()]}")

    used = in_gallery | np.logical_or.reduce(list(group_masks.values()))
    view_names = tuple(sorted(np.unique(view[used]).tolist()))
    if len(view_names) < 2:
        # With one view every pair is the identical view, which the protocol excludes: nothing to score.
        raise ValueError(f"need at least 2 views to exclude the identical view, got {list(view_names)}")
    for name in view_names:
        if not (in_gallery & (view == name)).any():
            raise ValueError(f"view {name!r} has no gallery sequence ({tuple(gallery)})")

    g_feats, g_lab, g_view = feats[in_gallery], lab[in_gallery], view[in_gallery]
    per_view: dict[str, dict[str, float]] = {}
    matrices: dict[str, np.ndarray] = {}
    means: dict[str, float] = {}
    for group, mask in group_masks.items():
        dist = part_distance(feats[mask], g_feats, metric)  # one (probes, gallery) matrix, sliced per view pair
        acc = _group_matrix(dist, lab[mask], view[mask], g_lab, g_view, view_names, group)
        row_means = np.nansum(acc, axis=1) / (len(view_names) - 1)  # OpenGait's de_diag
        acc.setflags(write=False)
        matrices[group] = acc
        per_view[group] = {v: float(r) for v, r in zip(view_names, row_means, strict=True)}
        means[group] = float(np.mean(row_means))
    return GaitResult(per_view=per_view, matrix=matrices, mean=means, views=view_names)
