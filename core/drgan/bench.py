"""``python -m core bench drgan``: the 13-pose strip of one face (target <= 0.5 s on CPU), a 4-image
fusion, the yaw estimate, and one training step of the small and paper presets."""

from __future__ import annotations

import numpy as np
import torch

from core.benchmark import best_of
from core.drgan import api
from core.drgan.config import DRGANConfig
from core.drgan.data import FaceSet
from core.drgan.train import DRGANTrainer

__all__ = ["bench_drgan", "bench_train_step"]


def bench_drgan(model: api.FaceModel, repeats: int = 5) -> list[dict]:
    """Rows for :func:`core.benchmark.format_rows`, on a synthetic example face."""
    face = api.example_face(0).image
    x, _ = api.prepare_face(face, model)
    faces = api.prepare_faces([api.example_face(0, b).image for b in (2, 5, 8, 11)], model)
    return [
        {"what": "13-pose strip of one face (prepare + encode + decode)", "target": 0.5,
         "seconds": best_of(lambda: api.all_poses(model, api.prepare_face(face, model)[0]), repeats)},
        {"what": "one rotation", "seconds": best_of(lambda: api.rotate(model, x, 45.0), repeats)},
        {"what": "yaw estimate (discriminator)", "seconds": best_of(lambda: api.estimate_yaw(model, x), repeats)},
        {"what": "4-image fusion + 13 poses", "seconds": best_of(lambda: api.fuse(model, faces), repeats)},
    ]  # fmt: skip


def _toy_faces(cfg: DRGANConfig, people: int = 8) -> FaceSet:
    g = torch.Generator().manual_seed(0)
    ids, poses, lights = np.meshgrid(np.arange(people), np.arange(cfg.num_poses), np.arange(2), indexing="ij")
    n = ids.size
    return FaceSet(images=torch.randint(0, 256, (n, 3, cfg.load_size, cfg.load_size), generator=g, dtype=torch.uint8),
                   ids=torch.from_numpy(ids.ravel()), identities=torch.from_numpy(ids.ravel() + 1),
                   poses=torch.from_numpy(poses.ravel()), lights=torch.from_numpy(lights.ravel()),
                   num_poses=cfg.num_poses, num_lights=2)  # fmt: skip


def bench_train_step(preset: str = "small", multi: bool = False, repeats: int = 2) -> dict:
    """Seconds of one generator+discriminator step and one generator-only step (their mean is the
    per-step cost at G:D = 2:1)."""
    cfg = DRGANConfig.from_preset(preset, multi=multi)
    data = _toy_faces(cfg)
    trainer = DRGANTrainer(cfg, data.num_ids, torch.device("cpu"))
    rng = np.random.default_rng(0)
    batch = trainer.batch(data, rng)
    trainer.step(batch, 0, rng)  # warm-up
    both = best_of(lambda: trainer.step(batch, 0, rng), repeats)
    g_only = best_of(lambda: trainer.step(batch, 1, rng), repeats)
    name = f"training step, {preset} preset{' multi-image' if multi else ''}, batch {cfg.batch_size}, " \
           f"{cfg.image_size}x{cfg.image_size}, mean of G+D and G-only steps"  # fmt: skip
    return {"what": name, "seconds": (both + g_only) / 2}
