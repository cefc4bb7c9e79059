"""Train the texture U-Net with the re-ID loss: ``python -m core train texgen --data DIR --pcb runs/pcb/final.pt``.

One step, for a batch of P people x K images: the U-Net turns each image into a UV texture; the
texture is rendered in the image's own body and camera and in another image of the same person
(another camera when there is one), each render is composited over a background, and the frozen
PCB's layer1..4 features of render and photo are pulled together (weight 5000 in the paper); the
face and hand texels are pulled towards a random training person's texture (weight 1). Runs
unchanged under torchrun (DDP over the U-Net; every process holds the frozen PCB).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import torch
from torch import Tensor

from core.checkpoints import ModelRecipe, from_pretrained, sha256_of
from core.engine import LossTerms, RunOptions, StateParts, Task, fit
from core.reid.pcb import PCB
from core.reid.train import load_baseline
from core.render.uv import UVRaster, composite, shade
from core.synth.engine import shared_renderer
from core.texgen.config import TexGenConfig
from core.texgen.data import (
    PersonImages,
    background_bank,
    load_person_images,
    person_texture,
    sample_batch,
    true_textures,
)
from core.texgen.losses import ReidFeatureLoss, masked_l1, masked_mse, skin_uv_mask, texel_l1, valid_texels
from core.texgen.model import TextureUNet
from core.texgen.optimize import mirror_texel_index, projection_maps
from core.train import Runtime, autocast, barrier, wrap_ddp

__all__ = ["TexGenTask", "TexGenTrainer", "load_pcb", "train_texgen"]


def load_pcb(path: str | Path, device: str | torch.device = "cpu") -> PCB:
    """A trained PCB (``python -m core train pcb``'s final.pt or the shipped file), frozen, eval mode."""
    model, cfg = load_baseline(path, device)
    if not isinstance(model, PCB):
        raise ValueError(f"{path} holds a {cfg.head!r} re-ID model; texture generation needs a PCB "
                         "(python -m core train pcb)")  # fmt: skip
    return model.requires_grad_(False)


class TexGenTrainer(StateParts):
    """The U-Net, its optimiser and the fixed pieces of the losses (PCB, skin mask, prior textures,
    backgrounds). :meth:`step` does one update."""

    def __init__(self, cfg: TexGenConfig, pcb: PCB, priors: Tensor, backgrounds: Tensor, skin_mask: Tensor,
                 device: torch.device, runtime: Runtime | None = None,
                 mirror: tuple[Tensor, Tensor] | None = None, truths: Tensor | None = None,
                 texel_mask: Tensor | None = None) -> None:  # fmt: skip
        if cfg.unet_input == "projection" and mirror is None:
            raise ValueError("unet_input 'projection' needs the mirror texel index (optimize.mirror_texel_index)")
        if cfg.truth_weight > 0 and (truths is None or texel_mask is None):
            raise ValueError("truth_weight > 0 needs the true textures (data.true_textures) and the body's texel mask")
        self.cfg = cfg
        self.mirror = mirror
        self.truths = truths  # (N, 3, S, S) uint8, every training image's true texture
        self.texel_mask = texel_mask.to(device) if texel_mask is not None else None  # (S, S) bool
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
        # one PCB pass over both views: the same work in larger matrices. At weight 0 (the ablation) the
        # distance is still logged, but nothing is back-propagated through PCB
        with autocast(dev, cfg.bf16), torch.set_grad_enabled(cfg.reid_weight != 0):
            reid = self.reid(renders, [torch.cat([t, t[other]]) for t in targets]).float()
        reid_own, reid_other = reid[:b], reid[b:]
        prior = self.priors[torch.from_numpy(rng.integers(len(self.priors), size=b)).to(dev)]
        terms = LossTerms()
        terms.add("reid", reid_own.float(), cfg.reid_weight)
        terms.add("reid_other", reid_other.float(), cfg.reid_weight * cfg.other_view_weight)
        terms.add("face", masked_mse(texture, prior, self.skin_mask), cfg.face_weight)
        # a departure (l1_weight > 0): pixels of the photos where the body is, own view and the other
        terms.add("l1", masked_l1(own, images, raster.mask), cfg.l1_weight)
        terms.add("l1_other", masked_l1(renders[b:], images[other], other_raster.mask),
                  cfg.l1_weight * cfg.other_view_weight)  # fmt: skip
        if cfg.truth_weight > 0:  # a departure: the synthetic set's ground truth
            truth = self.truths[batch.index].to(dev).float() / 255.0
            terms.add("truth", texel_l1(texture, truth, self.texel_mask), cfg.truth_weight)
        loss = terms.total()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return terms.values()

    def unet_input(self, images: Tensor, raster: UVRaster) -> Tensor:
        """What the U-Net sees: the crops (B, 3, H, W), or their projection maps (B, 5, S, S)."""
        if self.cfg.unet_input == "image":
            return images
        with torch.no_grad():
            cpu = UVRaster(raster.grid.cpu(), raster.mask.cpu())
            return projection_maps(images.cpu(), cpu, self.cfg.texture_size, self.mirror).to(images.device)

    def parts(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.opt}


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


class TexGenTask(Task):
    """Texture generation as a :class:`core.engine.Task`: P people x K images a step, :meth:`TexGenTrainer.step`,
    sample pictures every ``sample_every`` steps; ``final.pt`` = {"config", "model", "steps", "seconds",
    "pcb_sha256"}."""

    name = "texture U-Net"

    def __init__(self, data: Path, cfg: TexGenConfig, pcb_path: Path, run_dir: Path) -> None:
        self.data, self.cfg, self.pcb_path, self.run_dir = data, cfg, pcb_path, run_dir
        self.seed, self.bf16, self.total_steps = cfg.seed, cfg.bf16, cfg.steps
        self.log_every, self.checkpoint_every_s = cfg.log_every, cfg.checkpoint_every_s

    def setup(self, runtime: Runtime) -> None:
        super().setup(runtime)
        cfg, cache = self.cfg, self.run_dir / "cache"
        if runtime.is_main:  # rank 0 rasterises and writes the cache; the others wait, then read it
            self.train = load_person_images(self.data, "train", (cfg.height, cfg.width), cache_dir=cache)
        barrier(runtime)
        if not runtime.is_main:
            self.train = load_person_images(self.data, "train", (cfg.height, cfg.width), cache_dir=cache)
        atlas = shared_renderer().atlas
        truths = None
        if cfg.truth_weight > 0:
            if runtime.is_main:
                truths = true_textures(self.train, cfg.texture_size, cache / f"truth_{cfg.texture_size}.pt")
            barrier(runtime)
            if not runtime.is_main:
                truths = true_textures(self.train, cfg.texture_size, cache / f"truth_{cfg.texture_size}.pt")
        self.trainer = TexGenTrainer(
            cfg, load_pcb(self.pcb_path, runtime.device), prior_textures(self.train, cfg.texture_size, seed=cfg.seed),
            background_bank(64, (cfg.height, cfg.width)), skin_uv_mask(atlas, cfg.texture_size), runtime.device,
            runtime, mirror_texel_index(atlas, cfg.texture_size), truths, valid_texels(atlas, cfg.texture_size),
        )  # fmt: skip

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.cfg)

    def next_batch(self, step: int, rng: np.random.Generator):
        return sample_batch(self.train, self.cfg.people_per_batch, self.cfg.images_per_person, rng)

    def step(self, batch, step: int, rng: np.random.Generator) -> dict[str, float]:
        return self.trainer.step(batch, rng)

    def snapshot(self, step: int) -> None:
        if self.cfg.sample_every and step % self.cfg.sample_every == 0:
            _save_samples(self.trainer, self.train, self.run_dir / "images" / f"step_{step:06d}.png")

    def final_state(self, step: int, seconds: float) -> dict[str, Any]:
        return {"config": asdict(self.cfg), "model": self.trainer.model.state_dict(), "steps": step,
                "seconds": seconds, "pcb_sha256": sha256_of(self.pcb_path)}  # fmt: skip


def train_texgen(
    data: str | Path, run_dir: str | Path, cfg: TexGenConfig, pcb_path: str | Path, **run: Unpack[RunOptions]
) -> dict[str, Any]:
    """Train on ``data``'s training people; write ``run_dir/final.pt`` ({"config", "model", "steps",
    "seconds", "pcb_sha256"}). ``max_steps`` stops early with a checkpoint (resume continues).
    Returns {"steps", "seconds", "path"}."""
    task = TexGenTask(Path(data), cfg, Path(pcb_path), Path(run_dir))
    out = fit(task, run_dir, **run)
    out.pop("final")
    return out


RECIPE = ModelRecipe(TexGenConfig, TextureUNet.from_config, "a texture U-Net (python -m core train texgen writes one)")


def load_texgen(path: str | Path, device: str | torch.device = "cpu") -> tuple[TextureUNet, TexGenConfig]:
    """A trained U-Net (a registered name, ``final.pt`` or the shipped file; float32), eval mode, and its config."""
    return from_pretrained(RECIPE, path, device)
