"""``python -m core bench dgnet``: the app's 4x4 swap grid and one training iteration per preset.

Targets live here, not in tests: a 4x4 swap grid with the shipped model within 1 s on the
reference machine (2 CPU cores).
"""

from __future__ import annotations

import numpy as np
import torch

from core.benchmark import best_of, format_rows
from core.dgnet.api import swap_grid
from core.dgnet.config import DGNetConfig
from core.dgnet.model import DGNet
from core.dgnet.train import DGNetTrainer, PairedSwapBatch
from core.reid.backbone import ReidBaseline
from core.reid.data import PairBatch
from core.train import setup_runtime

__all__ = ["GRID_TARGET_S", "bench_dgnet", "bench_grid", "bench_train_step", "format_rows"]

GRID_TARGET_S = 1.0


def bench_grid(model: DGNet, size: int = 4, repeats: int = 3) -> dict:
    """Seconds for a ``size`` x ``size`` swap grid (encode both sides, decode every pair)."""
    h, w = model.config.height, model.config.width
    gen = torch.Generator().manual_seed(0)
    apps, structs = torch.rand(size, 3, h, w, generator=gen), torch.rand(size, 3, h, w, generator=gen)
    seconds = best_of(lambda: swap_grid(model, apps, structs), repeats)
    return {"what": f"{size}x{size} swap grid ({h}x{w})", "seconds": seconds, "target": GRID_TARGET_S}


def bench_dgnet(model: DGNet, repeats: int = 3) -> list[dict]:
    """The inference rows of ``python -m core bench dgnet``: the 4x4 swap grid."""
    return [bench_grid(model, repeats=repeats)]


def bench_train_step(preset: str, num_classes: int = 150, repeats: int = 2, bf16: bool = True) -> dict:
    """Seconds for one DG-Net training iteration (D step + G/E_a step, teacher terms on)."""
    cfg = DGNetConfig.from_preset(preset, num_classes=num_classes)
    torch.manual_seed(0)
    model = DGNet(cfg)
    teacher = None if cfg.train.freeze_appearance else ReidBaseline(num_classes, cfg.appearance.backbone,
                                                                    cfg.appearance.stride)  # fmt: skip
    trainer = DGNetTrainer(model, teacher, setup_runtime("cpu"), bf16=bf16)
    b = cfg.train.batch_size
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)

    def batch() -> PairBatch:
        shape = (b, 3, cfg.height, cfg.width)
        return PairBatch(torch.rand(shape, generator=gen), torch.rand(shape, generator=gen),
                         torch.randint(0, num_classes, (b,), generator=gen))  # fmt: skip

    def paired() -> PairedSwapBatch | None:  # presets with the paired loss also decode a training pair
        if cfg.loss.paired_w <= 0:
            return None
        shape = (b, 3, cfg.height, cfg.width)
        return PairedSwapBatch(*(torch.rand(shape, generator=gen) for _ in range(3)))

    late = cfg.loss.warm_teacher_iter + cfg.loss.recon_only_iter + cfg.loss.gan_ramp_iter + 10**6  # all losses on
    # a paper-preset step takes ~30 s: one timed call after the warm-up keeps the bench under 5 minutes
    repeats = 1 if cfg.height >= 256 else repeats
    seconds = best_of(lambda: trainer.step(batch(), batch(), late, gen, rng, paired()), repeats)
    what = (f"training iteration, {preset} preset ({cfg.height}x{cfg.width}, batch {b}, {cfg.appearance.backbone}, "
            f"{'bf16' if bf16 else 'fp32'})")  # fmt: skip
    return {"what": what, "seconds": seconds, "target": None}
