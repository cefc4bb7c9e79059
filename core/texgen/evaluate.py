"""``python -m core eval texgen``: textures of held-out people against the photo and against the truth.

For each test person (one query image each, people the U-Net and PCB never saw):

* **input view** -- the texture rendered in the photo's own body and camera, composited over the photo,
  against the photo: SSIM, and mask-SSIM (both images multiplied by the body mask, Ma et al. 2017), as
  the paper scores it;
* **unseen views** -- only possible here: the same body turned by 45, 90, ..., 315 degrees (the 7 views of
  8 that the photo did not show), the texture's render against the render of the person's true painted
  texture on the same body and camera, so only the texture differs. Scored on the **body region** only
  (the background is free for every method): SSIM averaged over the body's pixels, L1 there, and the
  clothes colour difference (CIE76 Delta E of the region-mean Lab colours, top and bottom halves of the
  body averaged; :mod:`core.metrics.swap`). The back (180 degrees) is also reported alone.

Rows: the U-Net; optimisation with each loss (re-ID, L1, both) from the U-Net's texture and from grey, and
with the re-ID loss also on the body turned by 90, 180 and 270 degrees (``reid_views``, the photo's features
as the target: the paper's "same person, another camera" applied at test time); the
projection baseline with and without the mirror fill; one flat colour (the photo's mean body colour, no
model); and the true texture at the model's texture size (the oracle: what the texture's resolution
allows). SSIM is torchmetrics' (11x11 Gaussian window, data range 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure

from core.metrics.swap import person_scores
from core.render.uv import UVRaster, composite, orbit_annotation, rasterize_uv, shade
from core.texgen.api import texture_unet
from core.texgen.data import PersonImages, load_person_images, person_texture
from core.texgen.optimize import mirror_texel_index, project_texture, run_optimize

__all__ = ["UNSEEN", "TexGenEvalConfig", "evaluate_texgen", "format_report", "pick_people"]

UNSEEN = tuple(45.0 * k for k in range(1, 8))  # degrees from the photo's view
BACK = 180.0
UNET = "U-Net"
PROJECTION = "projection, mirror fill (baseline)"
PROJECTION_FLAT = "projection, no mirror"
FLAT = "flat mean body colour (no model)"
ORACLE = "true texture at the texture size (oracle)"


@dataclass(frozen=True)
class TexGenEvalConfig:
    people: int = 24  # test people, one query image each
    steps: int = 100  # optimisation steps per person, loss and start
    lr: float = 0.05
    gt_texture_size: int = 256
    losses: tuple[str, ...] = ("reid", "l1", "both")
    inits: tuple[str, ...] = ("unet", "grey")  # where optimisation starts
    # the re-ID loss also on the photo's body turned by these angles (the photo's features as the target),
    # from the U-Net: one more row, "optimise (reid, N views)"; () for none
    reid_views: tuple[float, ...] = (90.0, 180.0, 270.0)
    seed: int = 0


def _ssim(a: Tensor, b: Tensor) -> Tensor:
    return structural_similarity_index_measure(a.float(), b.float(), data_range=1.0, reduction="none")


def _input_scores(render: Tensor, target: Tensor, mask: Tensor) -> dict[str, float]:
    """SSIM of the render composited over the photo vs the photo, and mask-SSIM (both times the mask)."""
    m = mask.float()
    return {"ssim": float(_ssim(composite(render, m, target), target).mean()),
            "mask_ssim": float(_ssim(render * m, target * m).mean())}  # fmt: skip


def _body_scores(render: Tensor, truth: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """Per view (V,) body-region SSIM, L1 and clothes Delta E of renders (V, 3, H, W) on grey vs the truth's."""
    grey = torch.full_like(truth, 0.5)
    body = mask[:, 0] > 0.5
    s = person_scores(composite(render, mask, grey), composite(truth, mask, grey), body, body, body)
    return {"ssim": s["person_ssim"], "l1": s["person_l1"], "delta_e": s["clothes_delta_e"]}


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
def _truth(data: PersonImages, index: int, size: int, body) -> tuple[Tensor, UVRaster]:
    """The true painted texture (1, 3, size, size) and the body rasterised from every unseen view."""
    gt = person_texture(data.identity_seeds[index], data.nuisances[index], size)[None]
    raster = rasterize_uv(body, [orbit_annotation(data.annotations[index], d) for d in UNSEEN])
    return gt, raster


def _flat(image: Tensor, raster: UVRaster, size: int) -> Tensor:
    """(1, 3, S, S) of the photo's mean colour over the body's pixels."""
    m = raster.mask[0].float()
    mean = (image[0] * m).sum((1, 2)) / m.sum().clamp_min(1.0)
    return mean.view(1, 3, 1, 1).expand(1, 3, size, size).clone()


def evaluate_texgen(
    model,
    data_root,
    cfg: TexGenEvalConfig = TexGenEvalConfig(),
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Scores per method: {"method": {"input": {"ssim", "mask_ssim"}, "unseen": {"ssim", "l1", "delta_e"},
    "back": {...}}}, means over people (and over the 7 unseen views). ``model`` is a
    :class:`core.texgen.api.TextureModel` (its PCB, when it has one, is the optimisation's re-ID loss)."""
    from core.synth.engine import shared_renderer

    body, atlas = shared_renderer().body, shared_renderer().atlas
    model.unet.eval()
    reid_loss = model.reid_loss()
    data = load_person_images(data_root, "query", (128, 64))
    size = model.texture_size
    mirror = mirror_texel_index(atlas, size)
    people = pick_people(data, cfg.people, cfg.seed)
    back = UNSEEN.index(BACK)
    rows: dict[str, dict[str, list]] = {}
    for n, index in enumerate(people):
        image = data.images[index : index + 1].float() / 255.0
        raster = data.raster[[index]].float()
        gt, unseen = _truth(data, index, cfg.gt_texture_size, body)
        with torch.no_grad():
            textures = {UNET: texture_unet(model, image, data.annotations[index])}
        for init in cfg.inits:
            for loss in cfg.losses:
                if loss != "l1" and reid_loss is None:
                    continue
                result = run_optimize(
                    image, raster, loss=loss, steps=cfg.steps, init=textures[UNET] if init == "unet" else None,
                    reid_loss=reid_loss, texture_size=size, lr=cfg.lr, report_every=cfg.steps,
                )  # fmt: skip
                textures[f"optimise ({loss}) from {'the U-Net' if init == 'unet' else 'grey'}"] = result.texture
        if cfg.reid_views and reid_loss is not None:
            # in the photo's frame (the set's annotations may carry another image size than the loaded one)
            photo = replace(data.annotations[index], image_size=tuple(image.shape[-2:]))
            turned = rasterize_uv(body, [orbit_annotation(photo, d) for d in cfg.reid_views])
            result = run_optimize(image, raster, loss="reid", steps=cfg.steps, init=textures[UNET], reid_loss=reid_loss,
                                  texture_size=size, lr=cfg.lr, report_every=cfg.steps, other_views=turned)  # fmt: skip
            textures[f"optimise (reid, {1 + len(cfg.reid_views)} views) from the U-Net"] = result.texture
        with torch.no_grad():
            textures[PROJECTION] = project_texture(image, raster, size, mirror)
            textures[PROJECTION_FLAT] = project_texture(image, raster, size, None)
            textures[FLAT] = _flat(image, raster, size)
            textures[ORACLE] = F.interpolate(gt, size=(size, size), mode="area")
            truth = shade(gt, unseen)
            for method, tex in textures.items():
                row = rows.setdefault(method, {"input": [], "unseen": [], "back": []})
                row["input"].append(_input_scores(shade(tex, raster), image, raster.mask))
                views = _body_scores(shade(tex, unseen), truth, unseen.mask)
                row["unseen"].append({k: float(v.nanmean()) for k, v in views.items()})
                row["back"].append({k: float(v[back]) for k, v in views.items()})
        if progress is not None:
            progress(n + 1, len(people))
    out = {method: {view: {k: float(np.nanmean([r[k] for r in vals])) for k in vals[0]} for view, vals in views.items()}
           for method, views in rows.items()}  # fmt: skip
    return {"people": len(people), "steps": cfg.steps, "views": list(UNSEEN), "texture_size": size, "methods": out}


def format_report(report: dict) -> str:
    """The evaluation as a Markdown table."""
    lines = [
        f"Held-out test people: {report['people']} (one query image each); optimisation: {report['steps']} steps. "
        "Unseen views: the body turned by 45-315 degrees (7 views), scored on the body's pixels only; back: 180.",
        "",
        "| method | unseen body SSIM | unseen body L1 | unseen clothes dE | back body SSIM | back body L1 "
        "| back clothes dE | input view SSIM | input view mask-SSIM |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method, v in report["methods"].items():
        u, b, i = v["unseen"], v["back"], v["input"]
        cells = [f"{u['ssim']:.3f}", f"{u['l1']:.3f}", f"{u['delta_e']:.1f}", f"{b['ssim']:.3f}", f"{b['l1']:.3f}",
                 f"{b['delta_e']:.1f}", f"{i['ssim']:.3f}", f"{i['mask_ssim']:.3f}"]  # fmt: skip
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
