"""``python -m core eval dgnet``: retrieval of the teacher vs DG-Net, and swaps scored against the
rendered ground truth (person j wearing person i's clothes, seen as j was) on a bar that copying an
input cannot pass (:mod:`core.metrics.swap` defines the person-region scores).

Rows (each an output for every test pair):
- "DG-Net swap": i's appearance code decoded with j's structure;
- "return image i" and "return image j": the two copies;
- "no-learning recolour": j with its clothes bands shifted in Lab to i's mean colours
  (:func:`core.metrics.swap.recolour`);
- references, not baselines: the truth blurred at sigma 1 and at sigma 2 (what a faithful but soft
  picture scores), and DG-Net's reconstruction of j from j's own codes, scored against j.

Per row: clothes colour (ΔE where the truth differs from j; and the share of pairs where the row's ΔE
beats "return image i"), kept (blurred SSIM over j's pixels that the truth keeps), person-region SSIM
and L1, full-picture SSIM, identity kept (the teacher's Rank-1 for person i against the re-ID gallery,
Market rules, the structure image's camera as the query's camera), structure kept (mean of person and
background IoU between j's silhouette and the output's foreground: pixels that differ from j's empty
scene by more than :data:`FOREGROUND_THRESHOLD`; the background class counts because DG-Net's
structure includes the scene) and sharpness (Laplacian energy relative to the truth's).

The bar (:func:`fair_bar`, issue 20): the swap's ΔE below return i's and below the recolour's, beating
return i on >= 60% of pairs; kept >= the midpoint of return i's and return j's; structure >= 90% of the
sigma-1 truth's; reconstruction of j (person SSIM against j) >= the sigma-2 truth's person SSIM.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.data.market import MarketImages, load_images, load_market
from core.dgnet.api import swap
from core.dgnet.model import DGNet
from core.dgnet.train import dgnet_embed
from core.metrics.reid import distance_matrix, market_rank
from core.metrics.swap import (
    BEATS_SHARE,
    bar_rows,
    blurred,
    person_scores,
    recolour,
    silhouette_iou,
    swap_regions,
)
from core.metrics.swap import reconstruction_scores as person_reconstruction_scores
from core.reid.retrieval import evaluate_market, extract_features

__all__ = [
    "FOREGROUND_THRESHOLD",
    "RECONSTRUCTION",
    "SWAP",
    "SwapPairs",
    "evaluate_dgnet",
    "fair_bar",
    "format_report",
    "read_pairs",
    "swap_scores",
]

FOREGROUND_THRESHOLD = 0.1  # mean absolute RGB difference (in [0, 1]) from the empty scene
SWAP, RECOLOUR = "DG-Net swap", "no-learning recolour"
RETURN_I, RETURN_J = "return image i (appearance)", "return image j (structure)"
TRUTH_SIGMA1, TRUTH_SIGMA2 = "truth, Gaussian blur sigma 1", "truth, Gaussian blur sigma 2"
RECONSTRUCTION = "DG-Net reconstruction of j (scored against j)"


@dataclass(frozen=True)
class SwapPairs:
    """A pairs folder in memory: [0, 1] (N, 3, H, W) images, (N, H, W) bool masks, labels (N,)."""

    appearance: Tensor
    structure: Tensor
    truth: Tensor
    background: Tensor
    structure_mask: Tensor
    appearance_mask: Tensor
    appearance_id: np.ndarray
    structure_camera: np.ndarray


def read_pairs(root: str | Path, size: tuple[int, int] = (128, 64)) -> SwapPairs:
    """``python -m core synth pairs`` output (pairs.csv and its images) at ``size`` (H, W)."""
    root = Path(root)
    if not (root / "pairs.csv").exists():
        raise FileNotFoundError(f"no pairs.csv in {root}: write the pairs with python -m core synth pairs --out {root}")
    rows = list(csv.DictReader(open(root / "pairs.csv")))
    if not rows or "structure_mask" not in rows[0] or "appearance_mask" not in rows[0]:
        raise ValueError(f"{root}/pairs.csv is from an older version (no silhouettes): regenerate it with "
                         f"python -m core synth pairs --out {root}")  # fmt: skip

    def images(column: str) -> Tensor:
        return load_images([root / r[column] for r in rows], size).float() / 255.0

    def masks(column: str) -> Tensor:
        return load_images([root / r[column] for r in rows], size)[:, 0] > 127

    return SwapPairs(appearance=images("appearance"), structure=images("structure"), truth=images("truth"),
                     background=images("background"), structure_mask=masks("structure_mask"),
                     appearance_mask=masks("appearance_mask"),
                     appearance_id=np.array([int(r["appearance_id"]) for r in rows]),
                     structure_camera=np.array([int(r["structure_camera"]) - 1 for r in rows]))  # fmt: skip


def foreground(images: Tensor, background: Tensor, threshold: float = FOREGROUND_THRESHOLD) -> Tensor:
    """(N, 3, H, W) pictures and their empty scenes -> (N, H, W) bool: where a person (or anything) is."""
    return (images - background).abs().mean(1) > threshold


def mean_iou(predicted: Tensor, truth: Tensor) -> np.ndarray:
    """(N, H, W) bool masks -> (N,) mean of the person IoU and the background IoU."""
    return (0.5 * (silhouette_iou(predicted, truth) + silhouette_iou(~predicted, ~truth))).numpy()


def _regions(pairs: SwapPairs):
    return swap_regions(pairs.structure, pairs.structure_mask, pairs.truth, foreground(pairs.truth, pairs.background))


def swap_scores(
    outputs: Tensor,
    pairs: SwapPairs,
    teacher_embed,
    gallery: MarketImages,
    device: str | torch.device = "cpu",
    return_i_delta_e: Tensor | None = None,
) -> dict[str, float]:
    """Scores of swap outputs [0, 1] (N, 3, H, W) for ``pairs`` (see the module docstring).

    return_i_delta_e: (N,) the clothes ΔE of "return image i" per pair; when given, adds
    ``beats_return_i``, the share of pairs where this output's ΔE is lower.
    """
    out = outputs.float().clamp(0, 1)
    regions = _regions(pairs)
    person = person_scores(out, pairs.truth, regions.person, regions.changed, regions.kept)
    l1 = (out - pairs.truth).abs().flatten(1).mean(1)
    as_uint8 = (out * 255).round().to(torch.uint8)
    q = extract_features(teacher_embed, as_uint8, device=device)
    g = extract_features(teacher_embed, gallery.images, device=device)
    ranks = market_rank(distance_matrix(q, g), pairs.appearance_id, gallery.pids, pairs.structure_camera,
                        gallery.camids)  # fmt: skip
    identity = ranks.rank1 * ranks.valid_queries / len(out)  # queries without a true match count as misses
    structure = float(mean_iou(foreground(out, pairs.background), pairs.structure_mask).mean())
    balance = 0.0 if identity + structure == 0 else 2 * identity * structure / (identity + structure)
    scores = {k: float(v.nanmean()) for k, v in person.items()}
    scores |= {"l1": float(l1.mean()), "identity_rank1": identity, "structure_miou": structure, "balance": balance}
    if return_i_delta_e is not None:
        scores["beats_return_i"] = float((person["clothes_delta_e"] < return_i_delta_e).float().mean())
    return scores


def reconstruction_scores(reconstruction: Tensor, pairs: SwapPairs) -> dict[str, float]:
    """DG-Net's reconstruction of j [0, 1] (N, 3, H, W) scored against j itself, on j's person region."""
    out = reconstruction.float().clamp(0, 1)
    fg = foreground(pairs.structure, pairs.background)
    scores = person_reconstruction_scores(out, pairs.structure, pairs.structure_mask, fg)
    return {k: float(v.nanmean()) for k, v in scores.items()}


def fair_bar(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The four checks of the module docstring on an :func:`evaluate_dgnet` report, each
    {"check", "value", "target", "passed"} (checks 1 and 4 split into their parts)."""
    rows, ref = report["swap"], report["reference"]
    ours = rows[SWAP]
    kept_mid = 0.5 * (rows[RETURN_I]["kept"] + rows[RETURN_J]["kept"])
    checks = [
        ("clothes ΔE below return i's", ours["clothes_delta_e"], rows[RETURN_I]["clothes_delta_e"], "<"),
        (
            "clothes ΔE below the no-learning recolour's",
            ours["clothes_delta_e"],
            rows[RECOLOUR]["clothes_delta_e"],
            "<",
        ),
        ("beats return i's ΔE on >= 60% of pairs", ours["beats_return_i"], BEATS_SHARE, ">="),
        ("kept >= midpoint of return i and return j", ours["kept"], kept_mid, ">="),
        (
            "structure >= 90% of the sigma-1 truth's",
            ours["structure_miou"],
            0.9 * ref[TRUTH_SIGMA1]["structure_miou"],
            ">=",
        ),
        (
            "reconstruction of j (person SSIM) >= sigma-2 truth's",
            report["reconstruction"]["person_ssim"],
            ref[TRUTH_SIGMA2]["person_ssim"],
            ">=",
        ),
    ]
    return bar_rows(checks)


def evaluate_dgnet(
    model: DGNet,
    teacher,
    reid_root: str | Path,
    pairs_root: str | Path,
    device: str | torch.device = "cpu",
) -> dict[str, dict[str, float]]:
    """Retrieval (teacher, DG-Net) on the re-ID test split and swap scores (DG-Net, return i, return j).

    teacher: the re-ID baseline (:class:`core.reid.ReidBaseline`) that also judges identity.
    Returns {"retrieval": {method: {rank1, rank5, mAP}}, "swap": {row: scores}, "reference": {row: scores},
    "reconstruction": scores against j, "pairs": N, "bar": :func:`fair_bar`}.
    """
    size = (model.config.height, model.config.width)
    market = load_market(reid_root, size)
    teacher_embed = teacher.features
    retrieval = {}
    for name, embed in (("teacher (re-ID baseline)", teacher_embed), ("DG-Net", dgnet_embed(model))):
        r = evaluate_market(embed, market["query"], market["gallery"], device=device)
        retrieval[name] = {"rank1": r.rank1, "rank5": r.rank5, "mAP": r.mAP}
    pairs = read_pairs(pairs_root, size)

    def batched(appearance: Tensor, structure: Tensor) -> Tensor:
        return torch.cat([swap(model, appearance[i : i + 16], structure[i : i + 16]).cpu()
                          for i in range(0, len(appearance), 16)])  # fmt: skip

    gallery = market["gallery"]
    regions = _regions(pairs)
    delta_e_i = person_scores(pairs.appearance, pairs.truth, regions.person, regions.changed, regions.kept)[
        "clothes_delta_e"
    ]
    outputs = {
        SWAP: batched(pairs.appearance, pairs.structure),
        RETURN_I: pairs.appearance,
        RETURN_J: pairs.structure,
        RECOLOUR: recolour(pairs.structure, pairs.structure_mask, pairs.appearance, pairs.appearance_mask),
    }
    references = {TRUTH_SIGMA1: blurred(pairs.truth, 1.0), TRUTH_SIGMA2: blurred(pairs.truth, 2.0)}
    report: dict[str, Any] = {
        "retrieval": retrieval,
        "swap": {k: swap_scores(v, pairs, teacher_embed, gallery, device, delta_e_i) for k, v in outputs.items()},
        "reference": {
            k: swap_scores(v, pairs, teacher_embed, gallery, device, delta_e_i) for k, v in references.items()
        },
        "reconstruction": reconstruction_scores(batched(pairs.structure, pairs.structure), pairs),
        "pairs": len(pairs.truth),
    }
    report["bar"] = fair_bar(report)
    return report


def format_report(report: dict[str, Any]) -> str:
    """Retrieval, the fair swap table, the reconstruction line and the bar, as markdown."""
    lines = ["| re-ID features | Rank-1 % | Rank-5 % | mAP % |", "|---|---|---|---|"]
    for name, r in report["retrieval"].items():
        lines.append(f"| {name} | {100 * r['rank1']:.1f} | {100 * r['rank5']:.1f} | {100 * r['mAP']:.1f} |")
    n = report.get("pairs", "?")
    lines += ["", f"Swaps on {n} test pairs (unseen people), scored on the person against the rendered truth:", "",
              "| output | clothes ΔE ↓ | beats return i (% of pairs) | kept ↑ | person SSIM ↑ | person L1 ↓ | "
              "SSIM (full) | identity kept (Rank-1 %) | structure kept (mean IoU) | sharpness (truth = 1) |",
              "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    rows = list(report["swap"].items())
    rows += [(f"*reference:* {name}", s) for name, s in report.get("reference", {}).items()]
    for name, s in rows:
        cells = (f"{s['clothes_delta_e']:.1f}", f"{100 * s['beats_return_i']:.0f}", f"{s['kept']:.3f}",
                 f"{s['person_ssim']:.3f}", f"{s['person_l1']:.3f}", f"{s['ssim']:.3f}",
                 f"{100 * s['identity_rank1']:.1f}", f"{s['structure_miou']:.3f}", f"{s['sharpness']:.2f}")  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    r = report["reconstruction"]
    lines += ["", f"{RECONSTRUCTION}: person SSIM {r['person_ssim']:.3f}, person L1 {r['person_l1']:.3f}, "
              f"SSIM {r['ssim']:.3f}, sharpness {r['sharpness']:.2f}.", "",
              "| the bar (issue 20) | value | target | |", "|---|---|---|---|"]  # fmt: skip
    for c in report["bar"]:
        lines.append(f"| {c['check']} | {c['value']:.3f} | {c['target']:.3f} | {'pass' if c['passed'] else 'FAIL'} |")
    return "\n".join(lines) + "\n"
