"""Train the texture U-Net with the re-ID loss: ``python -m core train texgen --data DIR --pcb runs/pcb/final.pt``.

One step, for a batch of P people x K images: the U-Net turns each image into a UV texture; the
texture is rendered in the image's own body and camera and in another image of the same person
(another camera when there is one), each render is composited over a background, and the frozen
PCB's layer1..4 features of render and photo are pulled together (weight 5000 in the paper); the
face and hand texels are pulled towards a random training person's texture (weight 1). Runs
unchanged under torchrun (DDP over the U-Net; every process holds the frozen PCB).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.checkpoints import ModelRecipe, from_pretrained
from core.reid.pcb import PCB
from core.reid.train import load_baseline
from core.texgen.config import TexGenConfig
from core.texgen.data import PersonImages, background_bank, load_person_images, person_texture, sample_batch
from core.texgen.losses import ReidFeatureLoss, masked_l1, masked_mse, skin_uv_mask
from core.texgen.model import TextureUNet
from core.texgen.optimize import mirror_texel_index, projection_maps
from core.texgen.render import UVRaster, composite, shade
from core.train import (
    Checkpointer,
    MetricLog,
    Runtime,
    all_reduce_mean,
    autocast,
    barrier,
    distributed_runtime,
    rng_state,
    seed_everything,
    set_rng_state,
    unwrap,
    wrap_ddp,
)  # fmt: skip

__all__ = ["TexGenTrainer", "load_pcb", "train_texgen"]


def load_pcb(path: str | Path, device: str | torch.device = "cpu") -> PCB:
    """A trained PCB (``python -m core train pcb``'s final.pt or the shipped file), frozen, eval mode."""
    model, cfg = load_baseline(path, device)
    if not isinstance(model, PCB):
        raise ValueError(f"{path} holds a {cfg.head!r} re-ID model; texture generation needs a PCB "
                         "(python -m core train pcb)")  # fmt: skip
    return model.requires_grad_(False)


class TexGenTrainer:
    """The U-Net, its optimiser and the fixed pieces of the losses (PCB, skin mask, prior textures,
    backgrounds). :meth:`step` does one update."""

    def __init__(self, cfg: TexGenConfig, pcb: PCB, priors: Tensor, backgrounds: Tensor, skin_mask: Tensor,
                 device: torch.device, runtime: Runtime | None = None,
                 mirror: tuple[Tensor, Tensor] | None = None) -> None:  # fmt: skip
        if cfg.unet_input == "projection" and mirror is None:
            raise ValueError("unet_input 'projection' needs the mirror texel index (optimize.mirror_texel_index)")
        self.cfg = cfg
        self.mirror = mirror
        self.device = device
        self.model = TextureUNet.from_config(cfg).to(device).to(memory_format=torch.channels_last)
        self.net = wrap_ddp(self.model, runtime) if runtime is not None else self.model
        self.reid = ReidFeatureLoss(pcb.to(device), (cfg.reid_height, cfg.reid_width), cfg.reid_layer_weights)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.priors = priors.to(device)  # (N, 3, S, S)
        self.backgrounds = backgrounds.to(device)  # (M, 3, H, W)
        self.skin_mask = skin_mask.to(device)  # (S, S) bool

    def step(self, batch, rng: np.random.Generator) -> dict[str, float]:
        cfg, dev = self.cfg, self.device
        images = batch.images.to(dev)
        raster = batch.raster
        raster.grid, raster.mask = raster.grid.to(dev), raster.mask.to(dev)
        other = batch.other.to(dev)
        b = images.shape[0]
        with torch.no_grad(), autocast(dev, cfg.bf16):
            targets = self.reid.features(images)
        self.net.train()
        net_input = self.unet_input(images, raster)
        with autocast(dev, cfg.bf16):
            texture = self.net(net_input.contiguous(memory_format=torch.channels_last)).float()
        if cfg.background == "target":
            back_own, back_other = images, images[other]
        else:
            pick = torch.from_numpy(rng.integers(len(self.backgrounds), size=2 * b)).to(dev)
            back_own, back_other = self.backgrounds[pick[:b]], self.backgrounds[pick[b:]]
        other_raster = raster[other.tolist()]
        own = shade(texture, raster)
        renders = torch.cat([composite(own, raster.mask, back_own),
                             composite(shade(texture, other_raster), other_raster.mask, back_other)])  # fmt: skip
        with autocast(dev, cfg.bf16):  # one PCB pass over both views: the same work in larger matrices
            reid = self.reid(renders, [torch.cat([t, t[other]]) for t in targets]).float()
        reid_own, reid_other = reid[:b], reid[b:]
        prior = self.priors[torch.from_numpy(rng.integers(len(self.priors), size=b)).to(dev)]
        face = masked_mse(texture, prior, self.skin_mask)
        l1_own = masked_l1(own, images, raster.mask)
        l1_other = masked_l1(renders[b:], images[other], other_raster.mask)
        loss = (cfg.reid_weight * (reid_own.float() + cfg.other_view_weight * reid_other.float())
                + cfg.face_weight * face).mean()  # fmt: skip
        if cfg.l1_weight > 0:  # a departure: pixels of the photos where the body is, own view and the other
            loss = loss + cfg.l1_weight * (l1_own + cfg.other_view_weight * l1_other).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        values = {"loss": loss, "reid": reid_own.mean(), "reid_other": reid_other.mean(), "face": face.mean(),
                  "l1": l1_own.mean(), "l1_other": l1_other.mean()}  # fmt: skip
        return {k: float(v.detach()) for k, v in values.items()}

    def unet_input(self, images: Tensor, raster: UVRaster) -> Tensor:
        """What the U-Net sees: the crops (B, 3, H, W), or their projection maps (B, 5, S, S)."""
        if self.cfg.unet_input == "image":
            return images
        with torch.no_grad():
            cpu = UVRaster(raster.grid.cpu(), raster.mask.cpu())
            return projection_maps(images.cpu(), cpu, self.cfg.texture_size, self.mirror).to(images.device)

    def state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])


def prior_textures(data: PersonImages, size: int, count: int = 32, seed: int = 0) -> Tensor:
    """(count, 3, S, S) painted textures of training people, the face/hand prior's draws."""
    seeds = sorted(set(data.identity_seeds))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(seeds, size=min(count, len(seeds)), replace=False)
    return torch.stack([person_texture(int(s), None, size) for s in chosen])


def _save_samples(trainer: TexGenTrainer, data: PersonImages, path: Path, count: int = 6) -> None:
    """A picture of inputs, their textures and renders, for watching a run."""
    from PIL import Image

    idx = list(range(0, len(data), max(1, len(data) // count)))[:count]
    images = data.images[idx].float().div(255).to(trainer.device)
    raster = data.raster[idx].float()
    trainer.model.eval()
    with torch.no_grad():
        tex = trainer.model(trainer.unet_input(images, raster)).float()
        render = shade(tex, raster).cpu()
    trainer.model.train()
    h, w = images.shape[2:]
    tex_img = torch.nn.functional.interpolate(tex.cpu(), size=(h, h), mode="nearest")
    rows = [torch.cat([images.cpu()[k], render[k] + images.cpu()[k] * (1 - raster.mask[k]), tex_img[k]], 2)
            for k in range(len(idx))]  # fmt: skip
    grid = torch.cat(rows, 1).clamp(0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)


def train_texgen(
    data: str | Path,
    run_dir: str | Path,
    cfg: TexGenConfig,
    pcb_path: str | Path,
    resume: bool = False,
    device: str = "auto",
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Train on ``data``'s training people; write ``run_dir/final.pt`` ({"config", "model", "steps",
    "seconds", "pcb_sha256"}). ``max_steps`` stops early with a checkpoint (resume continues)."""
    with distributed_runtime(device) as runtime:
        return _train(Path(data), Path(run_dir), cfg, Path(pcb_path), resume, runtime, progress, max_steps)


def _train(data: Path, run_dir: Path, cfg: TexGenConfig, pcb_path: Path, resume: bool, rt: Runtime, progress,
           max_steps: int | None) -> dict[str, Any]:  # fmt: skip
    from core.checkpoints import sha256_of
    from core.synth.datasets import shared_renderer

    rng = seed_everything(cfg.seed, rt.rank)
    size, cache = (cfg.height, cfg.width), run_dir / "cache"
    if rt.is_main:  # rank 0 rasterises and writes the cache; the others wait, then read it
        train = load_person_images(data, "train", size, cache_dir=cache)
    barrier(rt)
    if not rt.is_main:
        train = load_person_images(data, "train", size, cache_dir=cache)
    pcb = load_pcb(pcb_path, rt.device)
    trainer = TexGenTrainer(
        cfg, pcb, prior_textures(train, cfg.texture_size, seed=cfg.seed), background_bank(64, (cfg.height, cfg.width)),
        skin_uv_mask(shared_renderer().atlas, cfg.texture_size), rt.device, rt,
        mirror_texel_index(shared_renderer().atlas, cfg.texture_size),
    )  # fmt: skip
    ckpt = Checkpointer(run_dir, cfg.checkpoint_every_s)
    log = MetricLog(run_dir / "log.jsonl", enabled=rt.is_main)
    start, elapsed = 0, 0.0
    if resume and (state := ckpt.load()) is not None:
        if state["config"] != asdict(cfg):
            raise ValueError(f"{ckpt.path} was trained with another config; start a new run folder or drop --resume")
        trainer.load_state(state["trainer"])
        start, elapsed = int(state["step"]), float(state["seconds"])
        if "rng" in state and rt.world_size == 1:
            set_rng_state(state["rng"])
        rng = np.random.default_rng([cfg.seed, rt.rank, start])
        log.truncate_after(start)
    t0 = time.monotonic()
    stop = cfg.steps if max_steps is None else min(cfg.steps, max_steps)
    for step in range(start, stop):
        batch = sample_batch(train, cfg.people_per_batch, cfg.images_per_person, rng)
        values = trainer.step(batch, rng)
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            values = {k: all_reduce_mean(v, rt) for k, v in values.items()}
            log.write(done, **values)
            if progress and rt.is_main:
                progress(done, cfg.steps, values)
        if rt.is_main and cfg.sample_every and done % cfg.sample_every == 0:
            _save_samples(trainer, train, run_dir / "images" / f"step_{done:06d}.png")
        if ckpt.due() or done == stop:
            ckpt.save({"config": asdict(cfg), "trainer": trainer.state(), "step": done, "rng": rng_state(),
                       "seconds": elapsed + time.monotonic() - t0}, rt)  # fmt: skip
    seconds = elapsed + time.monotonic() - t0
    path = run_dir / "final.pt"
    if rt.is_main and stop == cfg.steps:
        torch.save({"config": asdict(cfg), "model": unwrap(trainer.model).state_dict(), "steps": stop,
                    "seconds": seconds, "pcb_sha256": sha256_of(pcb_path)}, path)  # fmt: skip
    return {"steps": stop, "seconds": seconds, "path": str(path)}


RECIPE = ModelRecipe(TexGenConfig, TextureUNet.from_config, "a texture U-Net (python -m core train texgen writes one)")


def load_texgen(path: str | Path, device: str | torch.device = "cpu") -> tuple[TextureUNet, TexGenConfig]:
    """A trained U-Net (a registered name, ``final.pt`` or the shipped file; float32), eval mode, and its config."""
    return from_pretrained(RECIPE, path, device)
