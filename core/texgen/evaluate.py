"""``python -m core eval texgen``: textures of held-out people against the photo and against the truth.

For each test person (one query image each, people the U-Net and PCB never saw):

* **input view** -- the texture rendered in the photo's own body and camera, composited over the photo,
  against the photo: SSIM, and mask-SSIM (both images multiplied by the body mask, Ma et al. 2017), as
  the paper scores it;
* **unseen views** -- only possible here: the same body turned by 90, 180 and 270 degrees, the texture's
  render against the render of the person's true painted texture on the same body and camera, so only
  the texture differs: SSIM over the body on a grey background and mask-SSIM.

Methods: the projection baseline (visible pixels to their texels, mirrored to the back), the U-Net,
and optimisation from the U-Net's texture with each loss (re-ID, L1, both). SSIM is torchmetrics'
(11x11 Gaussian window, data range 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure

from core.texgen.data import PersonImages, load_person_images, person_texture
from core.texgen.losses import ReidFeatureLoss
from core.texgen.model import TextureUNet
from core.texgen.optimize import mirror_texel_index, project_texture, run_optimize
from core.texgen.render import UVRaster, composite, orbit_annotation, rasterize_uv, shade

__all__ = ["TexGenEvalConfig", "evaluate_texgen", "format_report"]

UNSEEN = (90.0, 180.0, 270.0)


@dataclass(frozen=True)
class TexGenEvalConfig:
    people: int = 24  # test people, one query image each
    steps: int = 100  # optimisation steps per person and loss
    lr: float = 0.05
    gt_texture_size: int = 256
    losses: tuple[str, ...] = ("reid", "l1", "both")
    seed: int = 0


def _ssim(a: Tensor, b: Tensor) -> Tensor:
    return structural_similarity_index_measure(a.float(), b.float(), data_range=1.0, reduction="none")


def _scores(render: Tensor, target: Tensor, mask: Tensor, background: Tensor) -> dict[str, float]:
    """SSIM of the render composited over ``background`` vs target (itself over the same background),
    and mask-SSIM (both multiplied by the mask)."""
    m = mask.float()
    ssim = _ssim(composite(render, m, background), target)
    mask_ssim = _ssim(render * m, target * m)
    return {"ssim": float(ssim.mean()), "mask_ssim": float(mask_ssim.mean())}


def pick_people(data: PersonImages, count: int, seed: int = 0) -> list[int]:
    """One image per person for ``count`` people (sorted ids, the first image in file order)."""
    first: dict[int, int] = {}
    for index, pid in enumerate(data.pids):
        first.setdefault(int(pid), index)
    ids = sorted(first)
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(ids, size=min(count, len(ids)), replace=False).tolist())
    return [first[p] for p in chosen]


@torch.no_grad()
def _truth(data: PersonImages, index: int, size: int, body) -> tuple[Tensor, list[UVRaster]]:
    gt = person_texture(data.identity_seeds[index], data.nuisances[index], size)[None]
    rasters = [rasterize_uv(body, [orbit_annotation(data.annotations[index], d)]) for d in UNSEEN]
    return gt, rasters


def evaluate_texgen(
    unet: TextureUNet,
    reid_loss: ReidFeatureLoss | None,
    data_root,
    cfg: TexGenEvalConfig = TexGenEvalConfig(),
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Scores per method: {"method": {"input": {"ssim", "mask_ssim"}, "unseen": {...}, "back": {...}}}."""
    from core.synth.datasets import shared_renderer

    body = shared_renderer().body
    unet = unet.eval()
    data = load_person_images(data_root, "query", (128, 64))
    size = unet.texture_size
    mirror = mirror_texel_index(shared_renderer().atlas, size)
    people = pick_people(data, cfg.people, cfg.seed)
    methods = ["projection (baseline)", "U-Net"] + [f"optimise ({loss})" for loss in cfg.losses]
    rows: dict[str, dict[str, list[dict[str, float]]]] = {m: {"input": [], "unseen": [], "back": []} for m in methods}
    grey = torch.full((1, 3, 1, 1), 0.5)
    for n, index in enumerate(people):
        image = data.images[index : index + 1].float() / 255.0
        raster = data.raster[[index]].float()
        gt, unseen = _truth(data, index, cfg.gt_texture_size, body)
        with torch.no_grad():
            textures = {"projection (baseline)": project_texture(image, raster, size, mirror), "U-Net": unet(image)}
        for loss in cfg.losses:
            if loss != "l1" and reid_loss is None:
                continue
            result = run_optimize(
                image, raster, loss=loss, steps=cfg.steps, init=textures["U-Net"], reid_loss=reid_loss,
                texture_size=size, lr=cfg.lr, report_every=cfg.steps,
            )  # fmt: skip
            textures[f"optimise ({loss})"] = result.texture
        for method, tex in textures.items():
            with torch.no_grad():
                rows[method]["input"].append(_scores(shade(tex, raster), image, raster.mask, image))
                for angle, r in zip(UNSEEN, unseen, strict=True):
                    truth = shade(gt, r)
                    score = _scores(shade(tex, r), composite(truth, r.mask, grey.expand_as(truth)), r.mask,
                                    grey.expand_as(truth))  # fmt: skip
                    rows[method]["back" if angle == 180.0 else "unseen"].append(score)
        if progress is not None:
            progress(n + 1, len(people))
    out = {}
    for method, views in rows.items():
        if not views["input"]:
            continue
        out[method] = {view: {k: float(np.mean([r[k] for r in vals])) for k in vals[0]} for view, vals in views.items()}
    return {"people": len(people), "steps": cfg.steps, "views": list(UNSEEN), "methods": out}


def format_report(report: dict) -> str:
    """The evaluation as a Markdown table."""
    lines = [
        f"Held-out test people: {report['people']} (one query image each); optimisation: {report['steps']} steps "
        "from the U-Net's texture.",
        "",
        "| method | input view SSIM | input view mask-SSIM | sides (90, 270) SSIM | sides mask-SSIM "
        "| back (180) SSIM | back mask-SSIM |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, v in report["methods"].items():
        cells = [v["input"]["ssim"], v["input"]["mask_ssim"], v["unseen"]["ssim"], v["unseen"]["mask_ssim"],
                 v["back"]["ssim"], v["back"]["mask_ssim"]]  # fmt: skip
        lines.append(f"| {method} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines)
