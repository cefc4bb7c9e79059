"""GaitNet's appearance swap on a bar that copying a walk cannot pass (issue 23), frame by frame.

The swap: the decoder on f_a of walker i's walk and f_g of walker j's walk. Its truth: j's walk rendered
in i's clothes and cut out with j's mask (:func:`core.gait.walkers.swap_truth`), pixel-aligned with j's
stored frames. Every frame is scored on the walker's region with :mod:`core.metrics.swap`'s person scores,
as DG-Net's swaps are (:mod:`core.dgnet.evaluate`):

- the region: j's silhouette (j's non-black pixels, :func:`core.gait.evaluate.walker_mask`) dilated by
  :data:`core.metrics.swap.DILATE_PX`, joined with the truth's foreground;
- clothes ΔE on the region's pixels that had to change; "kept": blurred SSIM on j's pixels that the truth
  keeps (face, skin, hair); person SSIM / L1 and sharpness on the region; full-frame SSIM;
- silhouette IoU of the output's foreground (its non-black pixels, the same threshold) with j's silhouette.

Rows, for each (i, j) pair: the swap; "return the pose walker (j)" (j's frames unchanged); "return the
appearance walker (i)" (i's own frames, frame t of i's walk, cycled); "silhouette fill (no learning)"
(j's clothes bands shifted in Lab to i's mean band colours, :func:`core.metrics.swap.recolour`); references:
the truth blurred at sigma 1 and 2, and GaitNet's reconstruction of j (decoder on j's own f_a and f_g),
scored against j's frames. Scores are averaged over a walk's frames, then over the walks; "wins" is the
share of walks where the row's ΔE is below "return the appearance walker"'s.

The bar (:func:`fair_bar`): the swap's ΔE below return i's and below the silhouette fill's; wins on >=
60% of walks; kept >= the midpoint of return i's and return j's; silhouette IoU within 0.05 of the
sigma-1 truth's. Region SSIM is reported, not part of the bar (a good but slightly misaligned swap can
score below the unchanged walker on it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.gait.clip import GaitClip
from core.gait.evaluate import WALKER_THRESHOLD, walker_mask
from core.gait.walkers import render_walk, silhouettes_of, swap_truth
from core.metrics.swap import (
    BEATS_SHARE,
    bar_rows,
    blurred,
    person_scores,
    recolour,
    reconstruction_scores,
    silhouette_iou,
    swap_regions,
)
from core.synth.gait_set import GaitConfig, GaitWalk

__all__ = [
    "FILL",
    "IOU_MARGIN",
    "RECONSTRUCTION",
    "RETURN_I",
    "RETURN_J",
    "SWAP",
    "SwapWalks",
    "fair_bar",
    "format_swap_report",
    "render_swap_walks",
    "swap_pairs",
    "swap_report",
]

SWAP = "GaitNet swap"
RETURN_J = "return the pose walker (j)"
RETURN_I = "return the appearance walker (i)"
FILL = "silhouette fill (no learning)"
RECONSTRUCTION = "GaitNet reconstruction of j (scored against j)"
TRUTH_SIGMA1, TRUTH_SIGMA2 = "truth, Gaussian blur sigma 1", "truth, Gaussian blur sigma 2"
REFERENCES = (TRUTH_SIGMA1, TRUTH_SIGMA2, RECONSTRUCTION)
IOU_MARGIN = 0.05  # the swap's silhouette IoU may fall this far below the sigma-1 truth's
SCORES = ("clothes_delta_e", "kept", "person_ssim", "person_l1", "ssim", "sharpness", "silhouette_iou")

Swap = Callable[[GaitClip, GaitClip], np.ndarray]


def swap_pairs(subjects: Sequence[int], shift: int = 7) -> list[tuple[int, int]]:
    """(appearance walker, pose walker) pairs: each walker once on each side, its partner ``shift`` places
    on (20 walkers: 031 wears 038's pose, ...)."""
    n = len(subjects)
    if n < 2:
        raise ValueError(f"a swap needs two walkers, got {list(subjects)}")
    step = shift % n or 1
    return [(subjects[k], subjects[(k + step) % n]) for k in range(n)]


@dataclass(frozen=True)
class SwapWalks:
    """One pair's rendered walks: ``pose`` is j's walk with ``truth`` (j in i's clothes); ``appearance`` i's."""

    appearance: GaitWalk
    pose: GaitWalk


def render_swap_walks(
    pairs: Sequence[tuple[int, int]],
    condition: str = "nm-05",
    view: int = 90,
    cfg: GaitConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[SwapWalks]:
    """The walks :func:`swap_report` scores, each rendered once: one :func:`swap_truth` per pair (j's walk
    and its truth, 5-10 s at 30 frames); i's own walk is j's walk of a pair where i poses, rendered alone
    (:func:`render_walk`) only when i poses in none."""
    truths: dict[tuple[int, int], GaitWalk] = {}
    for k, (look, pose) in enumerate(pairs):
        if (look, pose) not in truths:
            truths[(look, pose)] = swap_truth(look, pose, condition, view, cfg)
        if progress is not None:
            progress(k + 1, len(pairs))
    own = {pose: walk for (_, pose), walk in truths.items()}
    for look, _ in pairs:
        if look not in own:
            own[look] = render_walk(look, condition, view, cfg)
    return [SwapWalks(own[look], truths[(look, pose)]) for look, pose in pairs]


def _clip(walk: GaitWalk) -> GaitClip:
    return GaitClip(silhouettes_of(walk), walk.rgb, [])


def _images(frames: np.ndarray) -> Tensor:
    """uint8 (T, H, W, 3) -> float (T, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0


def _masks(frames: np.ndarray) -> Tensor:
    return torch.from_numpy(walker_mask(frames))


def _uint8(images: Tensor) -> np.ndarray:
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _mean(values: Sequence[float | None] | np.ndarray) -> float | None:
    """The mean of the finite values (frames or walks without the region left out); None when none is."""
    x = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def _walk_means(scores: dict[str, Tensor]) -> dict[str, float | None]:
    """Per-frame scores -> their means over the walk's frames."""
    return {k: _mean(v.float().numpy()) for k, v in scores.items()}


def _pair_rows(swap: Swap, walks: SwapWalks) -> dict[str, dict[str, float | None]]:
    """Every row's scores of one pair, each averaged over j's frames."""
    pose, look = walks.pose, walks.appearance
    frames = len(pose.rgb)
    look_rgb = look.rgb[np.arange(frames) % len(look.rgb)]  # i's frame t beside j's frame t
    j, truth, i = _images(pose.rgb), _images(pose.truth), _images(look_rgb)
    j_mask, i_mask, truth_fg = _masks(pose.rgb), _masks(look_rgb), _masks(pose.truth)
    regions = swap_regions(j, j_mask, truth, truth_fg)

    def scored(output: np.ndarray | Tensor) -> dict[str, float | None]:
        frames_u8 = output if isinstance(output, np.ndarray) else _uint8(output)
        if frames_u8.shape != pose.rgb.shape or frames_u8.dtype != np.uint8:
            raise ValueError(f"a swap must return uint8 {pose.rgb.shape} frames, got {frames_u8.dtype} "
                             f"{frames_u8.shape}")  # fmt: skip
        out = _images(frames_u8)
        scores = person_scores(out, truth, regions.person, regions.changed, regions.kept)
        scores["silhouette_iou"] = silhouette_iou(_masks(frames_u8), j_mask)
        return _walk_means(scores)

    pose_clip, look_clip = _clip(pose), _clip(look)
    rows = {
        SWAP: scored(np.asarray(swap(look_clip, pose_clip))),
        RETURN_J: scored(pose.rgb),
        RETURN_I: scored(look_rgb),
        FILL: scored(recolour(j, j_mask, i, i_mask)),
        TRUTH_SIGMA1: scored(blurred(truth, 1.0)),
        TRUTH_SIGMA2: scored(blurred(truth, 2.0)),
    }
    rebuilt = np.asarray(swap(pose_clip, pose_clip))
    scores = reconstruction_scores(_images(rebuilt), j, j_mask, j_mask)
    scores["silhouette_iou"] = silhouette_iou(_masks(rebuilt), j_mask)
    rows[RECONSTRUCTION] = {"clothes_delta_e": None, **_walk_means(scores)}
    return rows


def swap_report(
    swap: Swap,
    pairs: Sequence[tuple[int, int]],
    condition: str = "nm-05",
    view: int = 90,
    cfg: GaitConfig | None = None,
    walks: Sequence[SwapWalks] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Score ``swap(appearance_clip, pose_clip) -> uint8 (T, 64, 32, 3)`` (the reconstruction is
    ``swap(pose_clip, pose_clip)``) over (appearance walker, pose walker) ``pairs``, walking ``condition``
    at ``view`` (see the module docstring).

    walks: the pairs' walks from :func:`render_swap_walks` (rendered here when None, from ``cfg``, the
    default gait set's config when None).
    Returns {"condition", "view", "pairs", "threshold", "rows": {row: scores}, "per_walk": {row: [ΔE of
    each walk]}, "bar": :func:`fair_bar`}; scores: the module docstring's, the means over walks, and
    "wins" (share of walks whose ΔE is below return i's); None where a score does not apply (the
    reconstruction's ΔE and wins).
    """
    say = progress or (lambda text: None)
    if walks is None:
        say(f"rendering {len(pairs)} swap truths ({condition}, {view}°)")
        walks = render_swap_walks(pairs, condition, view, cfg, lambda k, n: say(f"rendered {k}/{n}"))
    if len(walks) != len(pairs):
        raise ValueError(f"{len(walks)} rendered walks for {len(pairs)} pairs")
    per_pair = []
    for k, pair_walks in enumerate(walks):
        per_pair.append(_pair_rows(swap, pair_walks))
        say(f"swap {k + 1}/{len(walks)}")
    names = [name for name in per_pair[0] if name != RECONSTRUCTION]
    delta_e = {name: np.array([_mean([p[name]["clothes_delta_e"]]) or 0.0 for p in per_pair]) for name in names}
    rows: dict[str, dict[str, float | None]] = {}
    for name in [*names, RECONSTRUCTION]:
        rows[name] = {key: _mean([p[name][key] for p in per_pair]) for key in SCORES}
        rows[name]["wins"] = float(np.mean(delta_e[name] < delta_e[RETURN_I])) if name in delta_e else None
    report: dict[str, Any] = {
        "condition": condition,
        "view": view,
        "pairs": [list(p) for p in pairs],
        "threshold": WALKER_THRESHOLD,
        "rows": rows,
        "per_walk": {name: [float(x) for x in delta_e[name]] for name in names},  # clothes ΔE of each walk
    }
    report["bar"] = fair_bar(rows)
    return report


def fair_bar(rows: dict[str, dict[str, Any]], swap: str = SWAP) -> list[dict[str, Any]]:
    """The five checks of the module docstring on :func:`swap_report`'s rows, judging row ``swap``:
    rows {"check", "value", "target", "passed"}."""
    ours = rows[swap]
    kept_mid = 0.5 * (rows[RETURN_I]["kept"] + rows[RETURN_J]["kept"])
    return bar_rows([
        ("clothes ΔE below return i's", ours["clothes_delta_e"], rows[RETURN_I]["clothes_delta_e"], "<"),
        ("clothes ΔE below the silhouette fill's", ours["clothes_delta_e"], rows[FILL]["clothes_delta_e"], "<"),
        (f"ΔE below return i's on >= {BEATS_SHARE:.0%} of walks", ours["wins"], BEATS_SHARE, ">="),
        ("kept >= midpoint of return i and return j", ours["kept"], kept_mid, ">="),
        (f"silhouette IoU >= sigma-1 truth's - {IOU_MARGIN}", ours["silhouette_iou"],
         rows[TRUTH_SIGMA1]["silhouette_iou"] - IOU_MARGIN, ">="),
    ])  # fmt: skip


def _cell(value: float | None, digits: int, scale: float = 1.0) -> str:
    return "-" if value is None else f"{scale * value:.{digits}f}"


def format_swap_report(report: dict[str, Any]) -> str:
    """The swap table and the bar, as markdown."""
    n = len(report["pairs"])
    lines = [f"GaitNet appearance swap on {n} held-out pairs ({report['condition']}, {report['view']}°, every "
             "frame), scored on the walker's region against the rendered truth:", "",
             "| output | clothes ΔE ↓ | wins vs return i (% of walks) | kept ↑ | person SSIM ↑ | person L1 ↓ | "
             "SSIM (frame) | silhouette IoU | sharpness (truth = 1) |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, s in report["rows"].items():
        label = f"*reference:* {name}" if name in REFERENCES else name
        cells = (_cell(s["clothes_delta_e"], 1), _cell(s["wins"], 0, 100), _cell(s["kept"], 3),
                 _cell(s["person_ssim"], 3), _cell(s["person_l1"], 3), _cell(s["ssim"], 3),
                 _cell(s["silhouette_iou"], 3), _cell(s["sharpness"], 2))  # fmt: skip
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| the bar (issue 23) | value | target | |", "|---|---|---|---|"]
    for c in report["bar"]:
        lines.append(f"| {c['check']} | {c['value']:.3f} | {c['target']:.3f} | {'pass' if c['passed'] else 'FAIL'} |")
    return "\n".join(lines) + "\n"
