"""``python -m core eval dgnet``: retrieval of the teacher vs DG-Net, and swaps scored against the
rendered ground truth (person j wearing person i's clothes, seen as j was).

Swap scores, per method (DG-Net, "return image i", "return image j"):
- SSIM (torchmetrics) and L1 against the ground-truth render;
- identity kept: the teacher's Rank-1 when the output is a query for person i against the re-ID
  test gallery (Market rules, the structure image's camera as the query's camera);
- structure kept: mean IoU of person and background (the usual segmentation score over both
  classes) between person j's silhouette and the output's person, found as the pixels that differ
  from j's empty scene by more than :data:`FOREGROUND_THRESHOLD`. Both classes count because
  DG-Net's structure includes the scene: an output in another scene is "person everywhere", which
  a person-only IoU would still score at the person's share of the picture (about 0.45);
- balance: the harmonic mean of identity kept and structure kept (high only when both are).

Two reference rows put the numbers in scale (they are not baselines to beat):
- "DG-Net reconstruction of j": the model decoding j from j's own codes. A swap cannot be sharper than
  this, so it bounds what the swap's SSIM can reach with these weights.
- "truth, Gaussian blur sigma 1": the ground truth itself, softened. The truth shares j's scene and its
  sensor noise pixel for pixel (about half of each picture), which is why "return image j" scores high
  SSIM; this row shows how much SSIM a faithful but slightly soft picture already loses.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure
from torchvision.transforms.functional import gaussian_blur

from core.data.market import MarketImages, load_images, load_market
from core.dgnet.api import swap
from core.dgnet.model import DGNet
from core.dgnet.train import dgnet_embed
from core.metrics.reid import distance_matrix, market_rank
from core.reid.retrieval import evaluate_market, extract_features

__all__ = ["FOREGROUND_THRESHOLD", "SwapPairs", "evaluate_dgnet", "format_report", "read_pairs", "swap_scores"]

FOREGROUND_THRESHOLD = 0.1  # mean absolute RGB difference (in [0, 1]) from the empty scene
REFERENCE_BLUR_SIGMA = 1.0  # the softened-truth reference row (5x5 kernel)


@dataclass(frozen=True)
class SwapPairs:
    """A pairs folder in memory: [0, 1] (N, 3, H, W) images, (N, H, W) bool masks, labels (N,)."""

    appearance: Tensor
    structure: Tensor
    truth: Tensor
    background: Tensor
    structure_mask: Tensor
    appearance_id: np.ndarray
    structure_camera: np.ndarray


def read_pairs(root: str | Path, size: tuple[int, int] = (128, 64)) -> SwapPairs:
    """``python -m core synth pairs`` output (pairs.csv and its images) at ``size`` (H, W)."""
    root = Path(root)
    if not (root / "pairs.csv").exists():
        raise FileNotFoundError(f"no pairs.csv in {root}: write the pairs with python -m core synth pairs --out {root}")
    rows = list(csv.DictReader(open(root / "pairs.csv")))
    if not rows or "structure_mask" not in rows[0]:
        raise ValueError(f"{root}/pairs.csv has no structure masks: regenerate it with python -m core synth pairs")

    def images(column: str) -> Tensor:
        return load_images([root / r[column] for r in rows], size).float() / 255.0

    masks = load_images([root / r["structure_mask"] for r in rows], size)[:, 0] > 127
    return SwapPairs(appearance=images("appearance"), structure=images("structure"), truth=images("truth"),
                     background=images("background"), structure_mask=masks,
                     appearance_id=np.array([int(r["appearance_id"]) for r in rows]),
                     structure_camera=np.array([int(r["structure_camera"]) - 1 for r in rows]))  # fmt: skip


def foreground(images: Tensor, background: Tensor, threshold: float = FOREGROUND_THRESHOLD) -> Tensor:
    """(N, 3, H, W) pictures and their empty scenes -> (N, H, W) bool: where a person (or anything) is."""
    return (images - background).abs().mean(1) > threshold


def _iou(a: Tensor, b: Tensor) -> np.ndarray:
    inter = (a & b).flatten(1).sum(1).float()
    union = (a | b).flatten(1).sum(1).float().clamp_min(1)
    return (inter / union).numpy()


def mean_iou(predicted: Tensor, truth: Tensor) -> np.ndarray:
    """(N, H, W) bool masks -> (N,) mean of the person IoU and the background IoU."""
    return 0.5 * (_iou(predicted, truth) + _iou(~predicted, ~truth))


def swap_scores(
    outputs: Tensor, pairs: SwapPairs, teacher_embed, gallery: MarketImages, device: str | torch.device = "cpu"
) -> dict[str, float]:
    """Scores of swap outputs [0, 1] (N, 3, H, W) for ``pairs`` (see the module docstring)."""
    out = outputs.float().clamp(0, 1)
    ssim = structural_similarity_index_measure(out, pairs.truth, data_range=1.0, reduction="none")
    l1 = (out - pairs.truth).abs().flatten(1).mean(1)
    as_uint8 = (out * 255).round().to(torch.uint8)
    q = extract_features(teacher_embed, as_uint8, device=device)
    g = extract_features(teacher_embed, gallery.images, device=device)
    ranks = market_rank(distance_matrix(q, g), pairs.appearance_id, gallery.pids, pairs.structure_camera,
                        gallery.camids)  # fmt: skip
    identity = ranks.rank1 * ranks.valid_queries / len(out)  # queries without a true match count as misses
    structure = float(mean_iou(foreground(out, pairs.background), pairs.structure_mask).mean())
    balance = 0.0 if identity + structure == 0 else 2 * identity * structure / (identity + structure)
    return {"ssim": float(ssim.mean()), "l1": float(l1.mean()), "identity_rank1": identity,
            "structure_miou": structure, "balance": balance}  # fmt: skip


def evaluate_dgnet(
    model: DGNet,
    teacher,
    reid_root: str | Path,
    pairs_root: str | Path,
    device: str | torch.device = "cpu",
) -> dict[str, dict[str, float]]:
    """Retrieval (teacher, DG-Net) on the re-ID test split and swap scores (DG-Net, return i, return j).

    teacher: the re-ID baseline (:class:`core.reid.ReidBaseline`) that also judges identity.
    Returns {"retrieval": {method: {rank1, rank5, mAP}}, "swap": {method: scores}, "reference": {row: scores}}
    (the reference rows of the module docstring).
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
    sigma = REFERENCE_BLUR_SIGMA
    swaps = {
        "DG-Net swap": swap_scores(batched(pairs.appearance, pairs.structure), pairs, teacher_embed, gallery, device),
        "return image i (appearance)": swap_scores(pairs.appearance, pairs, teacher_embed, gallery, device),
        "return image j (structure)": swap_scores(pairs.structure, pairs, teacher_embed, gallery, device),
    }
    reconstruction = batched(pairs.structure, pairs.structure)
    softened = gaussian_blur(pairs.truth, [5, 5], [sigma, sigma])
    references = {
        "DG-Net reconstruction of j": swap_scores(reconstruction, pairs, teacher_embed, gallery, device),
        f"truth, Gaussian blur sigma {sigma:g}": swap_scores(softened, pairs, teacher_embed, gallery, device),
    }
    return {"retrieval": retrieval, "swap": swaps, "reference": references}


def format_report(report: dict[str, dict[str, dict[str, float]]]) -> str:
    """The two tables as markdown (percent where a fraction)."""
    lines = ["| re-ID features | Rank-1 % | Rank-5 % | mAP % |", "|---|---|---|---|"]
    for name, r in report["retrieval"].items():
        lines.append(f"| {name} | {100 * r['rank1']:.1f} | {100 * r['rank5']:.1f} | {100 * r['mAP']:.1f} |")
    lines += ["", "| swap output | SSIM | L1 | identity kept (Rank-1 %) | structure kept (mean IoU) | balance |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    rows = list(report["swap"].items())
    rows += [(f"*reference:* {name}", s) for name, s in report.get("reference", {}).items()]
    for name, s in rows:
        lines.append(f"| {name} | {s['ssim']:.3f} | {s['l1']:.3f} | {100 * s['identity_rank1']:.1f} | "
                     f"{s['structure_miou']:.3f} | {s['balance']:.3f} |")  # fmt: skip
    return "\n".join(lines) + "\n"
