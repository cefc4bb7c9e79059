"""``python -m core bench texgen``: the U-Net's texture, optimisation steps with and without re-shading
the cached raster, 200 optimisation steps, the 8-view orbit, and one training step.

Targets (issue 9, 2 CPU cores): the U-Net's result within 1 s; 200 optimisation steps at 128x64
within 30 s.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from core.benchmark import best_of
from core.reid.pcb import PCB
from core.render.uv import UVRaster, rasterize_uv, shade
from core.texgen import api
from core.texgen.config import TexGenConfig
from core.texgen.data import TexGenBatch
from core.texgen.losses import ReidFeatureLoss
from core.texgen.train import TexGenTrainer

__all__ = ["OPTIMIZE_TARGET_S", "UNET_TARGET_S", "bench_texgen"]

UNET_TARGET_S = 1.0
OPTIMIZE_TARGET_S = 30.0


def _step_seconds(image, annotation, reid: ReidFeatureLoss, texture_size: int, cached: bool, steps: int) -> float:
    """Seconds per re-ID optimisation step, re-using the raster (cached) or rasterising at every step."""
    body = api._body()
    texture = torch.full((1, 3, texture_size, texture_size), 0.0, requires_grad=True)
    opt = torch.optim.Adam([texture], lr=0.05)
    raster = rasterize_uv(body, [annotation])
    target = reid.features(image)
    start = time.perf_counter()
    for _ in range(steps):
        r = raster if cached else rasterize_uv(body, [annotation])
        loss = reid(shade(torch.sigmoid(texture), r) + image * (1 - r.mask), target).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps


def bench_texgen(model: api.TextureModel, repeats: int = 3, steps: int = 200) -> list[dict]:
    """Rows for :func:`core.benchmark.format_rows`. ``model`` needs a PCB for the re-ID rows."""
    picture = api.example_picture(0)
    image, note = picture.image, picture.annotation
    h, w = model.input_size
    unet_s = best_of(lambda: api.texture_unet(model, image, note), repeats)
    rows = [{"what": f"U-Net texture of one {h}x{w} photo", "seconds": unet_s, "target": UNET_TARGET_S}]
    reid = model.reid_loss()
    if reid is not None:
        s = model.texture_size
        cached = _step_seconds(image, note, reid, s, cached=True, steps=10)
        fresh = _step_seconds(image, note, reid, s, cached=False, steps=10)
        rows.append({"what": "re-ID optimisation step, cached raster re-shaded", "seconds": cached, "target": None})
        rows.append({"what": "re-ID optimisation step, body rasterised every step", "seconds": fresh, "target": None})

        def run() -> None:
            for _ in api.optimize(model, image, note, loss="both", steps=steps, report_every=steps):
                pass

        start = time.perf_counter()
        run()
        rows.append({"what": f"{steps} optimisation steps (re-ID + L1, {h}x{w}, from the U-Net's texture)",
                     "seconds": time.perf_counter() - start, "target": OPTIMIZE_TARGET_S})  # fmt: skip
    texture = api.texture_unet(model, image, note)
    rows.append({"what": "8-view orbit strip", "seconds": best_of(lambda: api.orbit(texture, note), repeats),
                 "target": None})  # fmt: skip
    return rows


def bench_train_step(preset: str = "small", repeats: int = 2) -> dict:
    """Seconds for one training step of a preset on random data (16 images, two renders each)."""
    cfg = TexGenConfig.from_preset(preset)
    torch.manual_seed(0)
    b, h, w, s = cfg.batch_size, cfg.height, cfg.width, cfg.texture_size
    pcb = PCB(150, "resnet18" if preset != "paper" else "resnet50")
    trainer = TexGenTrainer(cfg, pcb, torch.rand(4, 3, s, s), torch.rand(8, 3, h, w), torch.rand(s, s) > 0.9,
                            torch.device("cpu"))  # fmt: skip
    grid = torch.rand(b, h, w, 2) * 2 - 1
    batch = TexGenBatch(torch.rand(b, 3, h, w), UVRaster(grid, torch.ones(b, 1, h, w)), torch.arange(b).roll(1),
                        torch.arange(b))  # fmt: skip
    rng = np.random.default_rng(0)
    seconds = best_of(lambda: trainer.step(batch, rng), repeats)
    return {"what": f"training step, {preset} preset (batch {b}, {h}x{w}, PCB at {cfg.reid_height}x{cfg.reid_width})",
            "seconds": seconds, "target": None}  # fmt: skip
