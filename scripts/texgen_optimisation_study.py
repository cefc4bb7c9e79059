"""Can test-time optimisation with the re-ID loss improve the shipped U-Net's texture from unseen views?

The study behind the texture card's section "Optimisation from the U-Net: what was tried". Every variant
starts from the shipped U-Net's texture of one photo and changes it (or the U-Net's weights) for a fixed
number of steps against that photo; each is scored like ``python -m core eval texgen`` on the 7 unseen
views (body region: SSIM, L1, clothes Delta E; and the back alone) against the true texture's render.

The people are query people of ``data/reid`` that the evaluation's 24 do not include (a tuning set, so the
card's test table stays untouched by the choices made here).

    python scripts/texgen_optimisation_study.py --people 10 --out runs/texgen-study.md

The mechanisms a variant combines (keys of VARIANTS' dicts):

* ``lr``, ``steps``: Adam on the texture's logits (the shipped optimiser: lr 0.05, 100 steps).
* ``erode``: shrink the body mask by N pixels, so texels seen only at the body's outline (where a pixel
  mixes body and background) get no gradient.
* ``res``: optimise a res x res change of the logits, upsampled: only broad colour changes.
* ``sym``: the change is shared front <-> back (the mirror texel), so what the photo corrects on the front
  also reaches the back.
* ``match``: before the loss, the render's colours are mapped to the photo's by a per-channel least-squares
  gain and offset (the camera's colour response and the light's colour are then not baked in).
* ``field``: the render is multiplied by a smooth shading field, photo / U-Net render blurred at this sigma
  (pixels): the light and shadow of the photo are explained before the loss looks at the texture.
* ``blur``: both images blurred (sigma, px) before the L1 (sensor noise does not become texture).
* ``layers``: PCB layer weights of the re-ID loss (default 1, 1, 1, 1; (0, 0, 0, 1): the deepest only).
* ``reid``, ``l1``: the weights of the re-ID loss (scaled to 1 at step 0, as optimize_texture) and of
  the masked L1.
* ``ttt``: optimise the U-Net's weights instead of the texture (test-time training from its own output).
* ``gallery``: the loss also compares the texture with the person's other photos (the gallery images of the
  same person, other cameras, each through its own body and camera and against its own features): the
  re-ID loss as the paper uses it, "the same person seen by another camera", at test time. The unseen views
  stay those of the query photo.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.functional import gaussian_blur

from core.render.uv import UVRaster, composite, shade
from core.synth.engine import shared_renderer
from core.texgen import api
from core.texgen.data import load_person_images
from core.texgen.evaluate import BACK, UNSEEN, _body_scores, _truth, pick_people
from core.texgen.optimize import mirror_texel_index, projection_maps

# fmt: off
VARIANTS: dict[str, dict | None] = {
    "U-Net (the start)": None,
    "re-ID, lr 0.05 (as shipped)": {},
    "re-ID, lr 0.01": {"lr": 0.01},
    "re-ID, eroded mask": {"erode": 1},
    "re-ID, eroded mask, lr 0.01": {"erode": 1, "lr": 0.01},
    "re-ID, 16x16 change": {"res": 16},
    "re-ID, 16x16 change, eroded": {"res": 16, "erode": 1},
    "re-ID, front-back shared change": {"sym": 1.0},
    "re-ID, shared 16x16 change, eroded": {"sym": 1.0, "res": 16, "erode": 1},
    "re-ID, colour matched, eroded, lr 0.01": {"match": True, "erode": 1, "lr": 0.01},
    "re-ID, colour matched, eroded, lr 0.05": {"match": True, "erode": 1},
    "re-ID + L1, colour matched, eroded, lr 0.01": {"match": True, "erode": 1, "lr": 0.01, "l1": 1.0},
    "L1, colour matched, eroded, lr 0.01": {"match": True, "erode": 1, "lr": 0.01, "l1": 1.0, "reid": 0.0},
    "re-ID layer4 only, eroded, lr 0.01": {"layers": (0.0, 0.0, 0.0, 1.0), "erode": 1, "lr": 0.01},
    "re-ID layer3+4, colour matched, eroded, lr 0.01": {"match": True, "layers": (0.0, 0.0, 1.0, 1.0),
                                                        "erode": 1, "lr": 0.01},
    "re-ID, shading field, eroded, lr 0.01": {"field": 3.0, "erode": 1, "lr": 0.01},
    "L1, shading field, eroded, lr 0.01": {"field": 3.0, "erode": 1, "lr": 0.01, "l1": 1.0, "reid": 0.0},
    "re-ID + L1, shading field, eroded, lr 0.01": {"field": 3.0, "erode": 1, "lr": 0.01, "l1": 1.0},
    "re-ID layer4, shading field, eroded, lr 0.01": {"field": 3.0, "erode": 1, "lr": 0.01,
                                                     "layers": (0.0, 0.0, 0.0, 1.0)},
    "re-ID + L1, shading field, blur 1, lr 0.01": {"field": 3.0, "erode": 1, "lr": 0.01, "l1": 1.0, "blur": 1.0},
    "re-ID + L1, shading field, 32x32 change, lr 0.01": {"field": 3.0, "erode": 1, "lr": 0.01, "l1": 1.0, "res": 32},
    "L1, shading field, blur 1, lr 0.01": {"field": 3.0, "erode": 1, "lr": 0.01, "l1": 1.0, "reid": 0.0, "blur": 1.0},
    "U-Net weights by re-ID, lr 1e-4, 50 steps": {"ttt": True, "erode": 1},
    "U-Net weights by re-ID, shading field, lr 1e-4": {"ttt": True, "erode": 1, "field": 3.0},
    "U-Net weights by re-ID, shading field, lr 3e-5": {"ttt": True, "erode": 1, "field": 3.0, "lr": 3e-5},
    "re-ID, + gallery photos, eroded, lr 0.01": {"gallery": True, "erode": 1, "lr": 0.01},
    "re-ID, + gallery photos, eroded, lr 0.05": {"gallery": True, "erode": 1},
    "L1, + gallery photos, eroded, lr 0.01": {"gallery": True, "erode": 1, "lr": 0.01, "l1": 1.0, "reid": 0.0},
    "re-ID + L1, + gallery photos, eroded, lr 0.01": {"gallery": True, "erode": 1, "lr": 0.01, "l1": 1.0},
    "re-ID, + gallery photos, shading field, eroded, lr 0.01": {"gallery": True, "field": 3.0, "erode": 1, "lr": 0.01},
    "re-ID, + gallery photos, 16x16 change, eroded": {"gallery": True, "res": 16, "erode": 1},
}
# fmt: on


def erode(mask: Tensor, pixels: int) -> Tensor:
    """(B, 1, H, W) masks shrunk by ``pixels`` (a min filter)."""
    return mask if pixels == 0 else -F.max_pool2d(-mask, 2 * pixels + 1, 1, pixels)


def shading_field(image: Tensor, render: Tensor, mask: Tensor, sigma: float) -> Tensor:
    """(1, 3, H, W): blurred photo / blurred render on the body, clamped to [0.3, 3]."""
    k = int(2 * round(3 * sigma) + 1)
    return (gaussian_blur(image * mask, k, sigma) / gaussian_blur(render, k, sigma).clamp_min(1e-3)).clamp(0.3, 3.0)


def colour_matched(render: Tensor, image: Tensor, mask: Tensor) -> Tensor:
    """The render's channels mapped to the photo's by least-squares gain and offset on the body (no gradient
    through the fit)."""
    with torch.no_grad():
        on = mask[0, 0] > 0.5
        x, y = render[0][:, on], image[0][:, on]
        xm, ym = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
        gain = ((x - xm) * (y - ym)).sum(1, keepdim=True) / ((x - xm) ** 2).sum(1, keepdim=True).clamp_min(1e-6)
        gain = gain.clamp(0.2, 5.0)
        offset = ym - gain * xm
    return (render * gain.view(1, 3, 1, 1) + offset.view(1, 3, 1, 1)) * mask


class Study:
    """The shipped model, its re-ID loss, the mirror index and the data, shared by every variant."""

    def __init__(self, data_root: str, cache: str | None = "runs/texgen/cache") -> None:
        self.model = api.load()
        self.reid = self.model.reid_loss()
        self.data = load_person_images(data_root, "query", (128, 64), cache_dir=cache)
        self.gallery = load_person_images(data_root, "gallery", (128, 64), cache_dir=cache)
        self.gallery_of = self.gallery.groups()
        self.size = self.model.texture_size
        self.mirror = mirror_texel_index(shared_renderer().atlas, self.size)
        self.front_back = self.mirror[0][0]

    def objective(self, render: Tensor, image: Tensor, raster: UVRaster, target: list[Tensor], v: dict,
                  field: Tensor | None) -> Tensor:  # fmt: skip
        """The variant's loss of one render (1, 3, H, W); the re-ID part is not yet scaled."""
        if v.get("match"):
            render = colour_matched(render, image, raster.mask)
        if field is not None:
            render = render * field
        photo = image
        if v.get("blur"):
            render, photo = gaussian_blur(render, 5, v["blur"]), gaussian_blur(image * raster.mask, 5, v["blur"])
        self.reid.layer_weights = tuple(v.get("layers", (1.0, 1.0, 1.0, 1.0)))
        reid = self.reid(composite(render, raster.mask, image), target).mean()
        l1 = ((render - photo).abs() * raster.mask).sum() / (3 * raster.mask.sum())
        return reid, l1

    def texture(self, index: int, v: dict | None) -> Tensor:
        """The variant's texture (1, 3, S, S) of query image ``index``."""
        data, image = self.data, self.data.images[index : index + 1].float() / 255.0
        annotation = data.annotations[index]
        start = api.texture_unet(self.model, image, annotation)
        if v is None:
            return start
        raster = data.raster[[index]].float()
        if v.get("gallery"):  # the person's other photos join the query photo (one batch)
            others = self.gallery_of.get(int(data.pids[index]), [])
            image = torch.cat([image, self.gallery.images[others].float() / 255.0])
            raster = UVRaster.cat([raster, self.gallery.raster[others].float()])
        raster = UVRaster(raster.grid, erode(raster.mask, v.get("erode", 0)))
        target = self.reid.features(image)
        field = shading_field(image, shade(start, raster), raster.mask, v["field"]) if v.get("field") else None
        if v.get("ttt"):
            unet = copy.deepcopy(self.model.unet).eval()
            maps = projection_maps(api.prepare_image(image, tuple(annotation.image_size)), api.raster_for(annotation),
                                   self.size, self.mirror)  # fmt: skip
            params, make = list(unet.parameters()), (lambda: unet(maps).float())
            steps, lr = v.get("steps", 50), v.get("lr", 1e-4)
        else:
            res = v.get("res", self.size)
            change = torch.zeros(1, 3, res, res, requires_grad=True)
            logits = torch.logit(start.float().clamp(1e-3, 1 - 1e-3))

            def make() -> Tensor:
                d = change if res == self.size else F.interpolate(change, size=(self.size,) * 2, mode="bilinear")
                if v.get("sym"):
                    d = d + v["sym"] * d.flatten(2)[:, :, self.front_back].view_as(d)
                return torch.sigmoid(logits + d)

            params, steps, lr = [change], v.get("steps", 100), v.get("lr", 0.05)
        opt = torch.optim.Adam(params, lr=lr)
        scale = None
        for _ in range(steps):
            reid, l1 = self.objective(shade(make(), raster), image, raster, target, v, field)
            if scale is None:
                scale = 1.0 / max(float(reid.detach()), 1e-8)
            loss = v.get("reid", 1.0) * scale * reid + v.get("l1", 0.0) * l1
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        self.reid.layer_weights = (1.0, 1.0, 1.0, 1.0)
        with torch.no_grad():
            return make().detach()

    @torch.no_grad()
    def score(self, index: int, texture: Tensor) -> dict[str, float]:
        body = shared_renderer().body
        gt, unseen = _truth(self.data, index, 256, body)
        s = _body_scores(shade(texture, unseen), shade(gt, unseen), unseen.mask)
        return {"ssim": float(s["ssim"].nanmean()), "l1": float(s["l1"].nanmean()),
                "delta_e": float(s["delta_e"].nanmean()), "back": float(s["ssim"][UNSEEN.index(BACK)])}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/reid")
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--variants", default="", help="names separated by ';' (default: all)")
    parser.add_argument("--out", default="", help="also write the Markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    study = Study(args.data)
    held_out = set(pick_people(study.data, 24, 0))  # the evaluation's people: not tuned on
    people = [i for i in pick_people(study.data, 60, 7) if i not in held_out][: args.people]
    names = args.variants.split(";") if args.variants else list(VARIANTS)
    scores: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    t0 = time.monotonic()
    for k, index in enumerate(people):
        for name in names:
            scores[name].append(study.score(index, study.texture(index, VARIANTS[name])))
        print(f"person {k + 1}/{len(people)}: {time.monotonic() - t0:.0f} s", flush=True)
    start = scores.get("U-Net (the start)")
    lines = [f"{len(people)} tuning people (query images the evaluation does not use); unseen views as `eval texgen`.",
             "",
             "| variant | unseen body SSIM | unseen body L1 | unseen clothes dE | back SSIM | SSIM above the start |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name in names:
        rows = scores[name]
        wins = "-"
        if start is not None and rows is not start:
            wins = f"{np.mean([a['ssim'] > b['ssim'] for a, b in zip(rows, start, strict=True)]):.0%}"
        m = {k: np.mean([r[k] for r in rows]) for k in rows[0]}
        cells = f"{m['ssim']:.4f} | {m['l1']:.4f} | {m['delta_e']:.2f} | {m['back']:.4f} | {wins}"
        lines.append(f"| {name} | {cells} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
