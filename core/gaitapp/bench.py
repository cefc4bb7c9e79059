"""``python -m core bench gait``: recognising one 30-frame walk with each model (target <= 1 s on CPU),
DyGait's maps, GaitNet's swap, a gallery search, and one training step of each model's presets."""

from __future__ import annotations

import numpy as np
import torch

from core.benchmark import best_of
from core.dygait.config import DyGaitConfig
from core.dygait.train import DyGaitTrainer
from core.gaitapp import api
from core.gaitnet.config import GaitNetConfig
from core.gaitnet.train import GaitNetTrainer

__all__ = ["bench_gait", "bench_train_steps"]

FRAMES = 30


def _walk() -> api.GaitClip:
    """A 30-frame held-out walker (rendered once)."""
    return api.example_walk(35, "cl-01", 54)


def bench_gait(models: api.GaitModels, repeats: int = 5) -> list[dict]:
    """Rows for :func:`core.benchmark.format_rows`."""
    walk = _walk()
    clip = api.GaitClip(walk.sil[:FRAMES], walk.rgb[:FRAMES], [])
    timed = []  # (what, target seconds or None, the call timed)
    if models.gaitnet is not None:
        net = api.GaitModels(gaitnet=models.gaitnet, gaitnet_cfg=models.gaitnet_cfg)
        timed += [("GaitNet: recognise one 30-frame walk (encode + LSTM feature)", 1.0, lambda: api.embed(net, clip)),
                  ("GaitNet: appearance swap of a 30-frame walk", None,
                   lambda: api.swap(models, clip, clip))]  # fmt: skip
    if models.dygait is not None:
        dy = api.GaitModels(dygait=models.dygait, dygait_cfg=models.dygait_cfg)
        timed += [("DyGait: recognise one 30-frame walk (the (C, P) feature)", 1.0, lambda: api.embed(dy, clip)),
                  ("DyGait: dynamic and static maps of a 30-frame walk", None,
                   lambda: api.dynamic_maps(models, clip))]  # fmt: skip
    rows = [{"what": what, "seconds": best_of(call, repeats), **({"target": target} if target else {})}
            for what, target, call in timed]  # fmt: skip
    try:
        gallery = api.load_gallery()
    except FileNotFoundError:
        return rows
    api.top_k(models, gallery, clip)  # the gallery's features are computed once per model and cached
    rows.append({"what": f"top-5 search of {len(gallery)} gallery walks, both models (features cached)",
                 "seconds": best_of(lambda: api.top_k(models, gallery, clip), repeats)})  # fmt: skip
    return rows


def bench_train_steps(preset: str = "small", repeats: int = 2) -> list[dict]:
    """Seconds of one optimiser step of GaitNet and of DyGait at a preset, on random clips of its sizes."""
    rng = np.random.default_rng(0)
    cpu = torch.device("cpu")
    gn = GaitNetConfig.from_preset(preset)
    gn_trainer = GaitNetTrainer(gn, 25, cpu)
    clips = rng.integers(0, 256, (gn.batch_size, 2, gn.clip_len, gn.height, gn.width, 3), dtype=np.uint8)
    labels = rng.integers(0, 25, gn.batch_size)
    gn_trainer.step(clips, labels, rng)  # warm-up
    dy = DyGaitConfig.from_preset(preset)
    dy_trainer = DyGaitTrainer(dy, 25, cpu)
    sils = (torch.rand(dy.p * dy.k, dy.clip, 64, 44, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    dy_labels = torch.arange(dy.p).repeat_interleave(dy.k)
    dy_trainer.step(sils, dy_labels)  # warm-up
    return [
        {"what": f"GaitNet training step, {preset} preset, {gn.batch_size} pairs of {gn.clip_len}-frame clips",
         "seconds": best_of(lambda: gn_trainer.step(clips, labels, rng), repeats)},
        {"what": f"DyGait training step, {preset} preset, {dy.p} x {dy.k} walks of {dy.clip} frames",
         "seconds": best_of(lambda: dy_trainer.step(sils, dy_labels), repeats)},
    ]  # fmt: skip
