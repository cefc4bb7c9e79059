"""Recognition by gait on the CASIA-B protocol, for any model, with the GEI nearest-neighbour baseline.

The protocol itself lives in :func:`core.metrics.gait.casia_b_rank1` (gallery nm-01..04; probes NM
nm-05/06, BG bg-01/02, CL cl-01/02; 11 views; identical views excluded). Here a model is just a
function from a walk's index to its feature, so GaitNet (masked RGB), DyGait (silhouettes) and the
GEI baseline are scored by the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from core.gait.clip import GaitClip
from core.gait.data import GaitSet, gei
from core.gait.walkers import render_walk, swap_truth
from core.metrics.gait import GaitResult, casia_b_rank1
from core.metrics.reid import Metric

__all__ = [
    "embed_all",
    "evaluate_features",
    "evaluate_model",
    "format_table",
    "gei_features",
    "swap_scores",
    "table_rows",
]

GROUPS = ("NM", "BG", "CL")


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


def swap_scores(
    swap: Callable[[Any, Any], np.ndarray],
    pairs: list[tuple[int, int]],
    view: int = 90,
    condition: str = "nm-05",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, float]]:
    """GaitNet's appearance swap against the rendered truth, over (appearance person, pose person) pairs.

    ``swap(appearance_clip, pose_clip)`` returns uint8 (T, 64, 32, 3). Scored per frame with
    torchmetrics' SSIM and with L1 (pixels in [0, 1]), both over the whole 64x32 cut-out, against two
    trivial answers: the pose walker unchanged ("return the pose walk") and the appearance walker's own
    frames ("return the appearance walk"). Returns method -> {"ssim", "l1"} means over all frames.
    """
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure

    def score(out: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
        a = torch.from_numpy(out[: len(truth)]).permute(0, 3, 1, 2).float() / 255
        b = torch.from_numpy(truth[: len(a)]).permute(0, 3, 1, 2).float() / 255
        ssim = structural_similarity_index_measure(a, b, data_range=1.0)
        return float(ssim), float((a - b).abs().mean())

    sums: dict[str, list[tuple[float, float]]] = {"GaitNet swap": [], "return the pose walk": [],
                                                    "return the appearance walk": []}  # fmt: skip
    for k, (look, pose) in enumerate(pairs):
        walk = swap_truth(look, pose, condition, view)
        other = render_walk(look, condition, view)
        pose_clip = GaitClip(walk.sil[:, :, 10:-10], walk.rgb, [])
        look_clip = GaitClip(other.sil[:, :, 10:-10], other.rgb, [])
        sums["GaitNet swap"].append(score(swap(look_clip, pose_clip), walk.truth))
        sums["return the pose walk"].append(score(walk.rgb, walk.truth))
        sums["return the appearance walk"].append(score(other.rgb, walk.truth))
        if progress is not None:
            progress(k + 1, len(pairs))
    return {name: {"ssim": float(np.mean([s for s, _ in v])), "l1": float(np.mean([l1 for _, l1 in v]))}
            for name, v in sums.items()}  # fmt: skip
