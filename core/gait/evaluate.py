"""Recognition by gait on the CASIA-B protocol, for any model, with two no-learning baselines.

The protocol itself lives in :func:`core.metrics.gait.casia_b_rank1` (gallery nm-01..04; probes NM
nm-05/06, BG bg-01/02, CL cl-01/02; 11 views; identical views excluded). Here a model is just a
function from a walk's index to its feature, so GaitNet (masked RGB), DyGait (silhouettes) and the
baselines are scored by the same code.

The baselines: the gait energy image (:func:`gei_features`, the silhouettes' mean: body shape and
movement) and a colour histogram of the walker (:func:`colour_histogram_features`: clothes, skin and
hair, no shape and no movement). A model that scores like the colour histogram recognises clothes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from core.gait.data import GaitSet, gei
from core.metrics.gait import GaitResult, casia_b_rank1
from core.metrics.reid import Metric

__all__ = [
    "COLOUR_BINS",
    "WALKER_THRESHOLD",
    "colour_histogram",
    "colour_histogram_features",
    "embed_all",
    "evaluate_features",
    "evaluate_model",
    "format_table",
    "gei_features",
    "table_rows",
    "walker_mask",
]

GROUPS = ("NM", "BG", "CL")
# A pixel of a masked RGB frame is the walker's when its brightest channel exceeds this (uint8). The stored
# frames are exactly 0 off the walker; the bilinear resize of the cut-out leaves a faint fringe (about 5% of
# the non-zero pixels are at 8 or below), which this leaves out, and so is a generator's faint haze.
WALKER_THRESHOLD = 8
COLOUR_BINS = 8  # per channel: 8 x 8 x 8 = 512 colour cells


def embed_all(
    data: GaitSet, embed: Callable[[int], Any], progress: Callable[[int, int], None] | None = None
) -> np.ndarray:
    """Features of every walk: float32 (N, D) or (N, C, P), ``embed(i)`` giving walk i's (D,) or (C, P)."""
    rows = []
    for i in range(len(data)):
        feature = embed(i)
        rows.append(np.asarray(feature.detach().cpu() if hasattr(feature, "detach") else feature, dtype=np.float32))
        if progress is not None:
            progress(i + 1, len(data))
    return np.stack(rows)


def evaluate_features(features: np.ndarray, data: GaitSet, metric: Metric = "euclidean") -> GaitResult:
    """CASIA-B Rank-1 of per-walk features (rows in ``data``'s order)."""
    return casia_b_rank1(features, data.subject_ids, data.conditions, data.views, metric=metric)


def evaluate_model(
    data: GaitSet,
    embed: Callable[[int], Any],
    metric: Metric = "euclidean",
    progress: Callable[[int, int], None] | None = None,
) -> GaitResult:
    """Embed every walk of ``data`` and score it with the CASIA-B protocol."""
    return evaluate_features(embed_all(data, embed, progress), data, metric)


def gei_features(data: GaitSet) -> np.ndarray:
    """float32 (N, 64*44): each walk's gait energy image, flattened (the classic template)."""
    return np.stack([gei(data.silhouettes(i)).ravel() for i in range(len(data))])


def walker_mask(rgb: np.ndarray, threshold: int = WALKER_THRESHOLD) -> np.ndarray:
    """bool (..., H, W): where masked RGB frames uint8 (..., H, W, 3) show the walker (not black)."""
    return np.asarray(rgb).max(-1) > threshold


def colour_histogram(rgb: np.ndarray, bins: int = COLOUR_BINS) -> np.ndarray:
    """float32 (bins**3,): the square root of the walk's joint RGB histogram over the walker's pixels of
    every frame (uint8 (T, H, W, 3)), normalised to sum 1 before the root.

    The Euclidean distance of two such features is sqrt(2) x the Hellinger distance of the histograms (a
    metric for distributions, less dominated by the largest cells than L2 on the histograms)."""
    pixels = np.asarray(rgb)[walker_mask(rgb)].astype(np.int64) * bins // 256  # (M, 3) cell per channel
    cells = (pixels[:, 0] * bins + pixels[:, 1]) * bins + pixels[:, 2]
    counts = np.bincount(cells, minlength=bins**3).astype(np.float64)
    return np.sqrt(counts / max(counts.sum(), 1.0)).astype(np.float32)


def colour_histogram_features(data: GaitSet, bins: int = COLOUR_BINS) -> np.ndarray:
    """float32 (N, bins**3): each walk's :func:`colour_histogram` (compare by Euclidean distance); needs RGB."""
    return np.stack([colour_histogram(data.rgb(i), bins) for i in range(len(data))])


def table_rows(results: Mapping[str, GaitResult]) -> list[dict[str, float | str]]:
    """One row per method: Rank-1 in % per group and their mean (groups absent from the data are skipped)."""
    rows = []
    for name, result in results.items():
        row: dict[str, float | str] = {"method": name}
        for group in GROUPS:
            if group in result.mean:
                row[group] = 100.0 * result.mean[group]
        row["mean"] = 100.0 * float(np.mean(list(result.mean.values())))
        rows.append(row)
    return rows


def format_table(results: Mapping[str, GaitResult], per_view: bool = False) -> str:
    """Markdown table of Rank-1 (%) per probe group, identical views excluded; with ``per_view`` one
    more table per group with the per-probe-view figures."""
    rows = table_rows(results)
    groups = [g for g in GROUPS if any(g in r for r in rows)]
    lines = ["| method | " + " | ".join(groups) + " | mean |", "|---|" + "---|" * (len(groups) + 1)]
    for row in rows:
        cells = [f"{row[g]:.1f}" if g in row else "-" for g in groups]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + f" | {row['mean']:.1f} |")
    if per_view:
        for group in groups:
            views = next(r.views for r in results.values() if group in r.mean)
            lines += ["", f"{group}, Rank-1 (%) per probe view:", "",
                      "| method | " + " | ".join(views) + " |", "|---|" + "---|" * len(views)]  # fmt: skip
            for name, result in results.items():
                if group in result.per_view:
                    cells = [f"{100 * result.per_view[group][v]:.1f}" for v in views]
                    lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
