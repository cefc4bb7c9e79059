"""Train the re-ID networks: the plain baseline (layumi's ``ft_net``, DG-Net's teacher) and PCB (the
re-ID loss of texture generation), one trainer for both heads.

``python -m core train reid|pcb --data DIR [--preset small|pcb-small] [--resume]``; runs unchanged under
torchrun.
The trained model scores the Market protocol on the data's query/gallery at the end and writes
``runs/<name>/final.pt`` ({"config", "model", "metrics", "classes"}), which DG-Net's trainer reads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from core.checkpoints import ModelRecipe, from_pretrained
from core.config import ConfigMixin, preset
from core.data.market import load_market
from core.reid.backbone import ReidBaseline
from core.reid.data import ReidTrainSet, random_erasing
from core.reid.pcb import PCB
from core.reid.retrieval import evaluate_market, imagenet_normalise
from core.train import (
    Checkpointer,
    MetricLog,
    Runtime,
    all_reduce_mean,
    autocast,
    distributed_runtime,
    seed_everything,
    unwrap,
    wrap_ddp,
)  # fmt: skip

__all__ = ["BaselineConfig", "build_model", "load_baseline", "train_baseline"]


@dataclass(frozen=True)
class BaselineConfig(ConfigMixin):
    """The baseline's training; defaults are Person_reID_baseline_pytorch's (ResNet-50, 256x128,
    batch 32, SGD lr 0.05 with momentum 0.9 and weight decay 5e-4, 60 epochs, lr x 0.1 at epoch 40,
    dropout 0.5, a 512-d bottleneck) counted in steps: 60 epochs of Market's 12,936 images at
    batch 32 is about 24,000 steps.

    The papers start from ImageNet weights (0.1 x lr on the backbone); nothing can be downloaded
    here, so training starts from scratch at one learning rate with a warm-up.
    """

    arch: str = "resnet50"
    last_stride: int = 2
    height: int = 256
    width: int = 128
    batch_size: int = 32
    steps: int = 24000
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_steps: int = 500
    decay_at: float = 2 / 3  # fraction of the steps after which lr x 0.1 (epoch 40 of 60)
    dropout: float = 0.5
    bottleneck: int = 512
    erasing_p: float = 0.0
    label_smoothing: float = 0.0
    head: str = "global"  # "global": layumi's ft_net (DG-Net's teacher); "pcb": 6 stripes (texture re-ID loss)
    parts: int = 6
    part_dim: int = 256
    pad: int = 10
    bf16: bool = True
    seed: int = 0
    checkpoint_every_s: float = 180.0
    log_every: int = 20

    @preset("small")
    @classmethod
    def small(cls) -> BaselineConfig:
        """A 2-core CPU in ~15 minutes: ResNet-18 at 128x64 with last stride 1, 2,500 steps of 32."""
        return cls(arch="resnet18", last_stride=1, height=128, width=64, steps=2500, warmup_steps=150,
                   erasing_p=0.5, label_smoothing=0.1)  # fmt: skip

    @preset("tiny")
    @classmethod
    def tiny(cls) -> BaselineConfig:
        """For tests: a handful of steps."""
        return replace(cls.small(), height=64, width=32, steps=6, warmup_steps=2, batch_size=8, log_every=1,
                       bf16=False)  # fmt: skip

    @preset("pcb")
    @classmethod
    def pcb(cls) -> BaselineConfig:
        """PCB as its paper trains it: ResNet-50, last stride 1, 384x128, batch 64, SGD lr 0.1, 60 epochs of
        Market (about 12,000 steps), lr x 0.1 after 40 epochs; 6 stripes of 256 dimensions."""
        return cls(head="pcb", last_stride=1, height=384, width=128, batch_size=64, lr=0.1, steps=12000)

    @preset("pcb-small")
    @classmethod
    def pcb_small(cls) -> BaselineConfig:
        """PCB on a 2-core CPU: the small baseline's ResNet-18 at 128x64 (an 8x4 map cut into 6 stripes)."""
        return replace(cls.small(), head="pcb")

    @preset("pcb-tiny")
    @classmethod
    def pcb_tiny(cls) -> BaselineConfig:
        return replace(cls.tiny(), head="pcb")


def build_model(cfg: BaselineConfig, num_classes: int) -> ReidBaseline | PCB:
    """The network ``cfg.head`` names, randomly initialised."""
    if cfg.head == "global":
        return ReidBaseline(num_classes, cfg.arch, cfg.last_stride, cfg.dropout, cfg.bottleneck)
    if cfg.head == "pcb":
        return PCB(num_classes, cfg.arch, cfg.parts, cfg.part_dim, cfg.dropout)
    raise ValueError(f"unknown head {cfg.head!r}; choose 'global' or 'pcb'")


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """Cross-entropy of (B, C) logits, or the sum over stripes of (B, P, C) part logits (PCB)."""
    if logits.dim() == 3:
        return sum(F.cross_entropy(logits[:, p], labels, label_smoothing=label_smoothing)
                   for p in range(logits.shape[1]))  # fmt: skip
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)


def lr_factor(step: int, cfg: BaselineConfig) -> float:
    """Linear warm-up, then the step decay (x 0.1 after ``decay_at`` of the steps)."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    return 0.1 if step >= math.floor(cfg.decay_at * cfg.steps) else 1.0


def train_baseline(
    data: str | Path,
    run_dir: str | Path,
    cfg: BaselineConfig,
    resume: bool = False,
    device: str = "auto",
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Train on ``data``'s bounding_box_train; score query vs gallery; write ``run_dir/final.pt``.

    max_steps: stop after this many steps (a checkpoint is written; ``resume`` continues the
    same schedule), for tests and for splitting a run across sessions.

    Returns {"metrics": {"rank1", "mAP", ...}, "steps", "seconds", "path"}. ``progress(step, total,
    losses)`` is called on rank 0 after each logged step.
    """
    with distributed_runtime(device) as runtime:
        return _train(Path(data), Path(run_dir), cfg, resume, runtime, progress, max_steps)


def _train(
    data: Path, run_dir: Path, cfg: BaselineConfig, resume: bool, rt: Runtime, progress, max_steps: int | None
) -> dict[str, Any]:
    rng = seed_everything(cfg.seed, rt.rank)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rt.rank)
    market = load_market(data, (cfg.height, cfg.width))
    train = ReidTrainSet(market["train"])
    model = build_model(cfg, train.num_classes).to(rt.device)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                          nesterov=True)  # fmt: skip
    ckpt = Checkpointer(run_dir, cfg.checkpoint_every_s)
    log = MetricLog(run_dir / "log.jsonl", enabled=rt.is_main)
    start, elapsed = 0, 0.0
    if resume and (state := ckpt.load()) is not None:
        if state["config"] != asdict(cfg):
            raise ValueError(f"{ckpt.path} was trained with another config; start a new run folder or drop --resume")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, elapsed = int(state["step"]), float(state["seconds"])
        gen.manual_seed(cfg.seed * 1000 + rt.rank + start)
        rng = seed_everything(cfg.seed + start, rt.rank)
        log.truncate_after(start)
    net = wrap_ddp(model, rt)
    net.train()
    t0 = time.monotonic()
    stop = cfg.steps if max_steps is None else min(cfg.steps, max_steps)
    for step in range(start, stop):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(step, cfg)
        batch = train.batch(cfg.batch_size, rng, gen, cfg.pad)
        x = imagenet_normalise(batch.x)
        if cfg.erasing_p > 0:
            x = random_erasing(x, gen, cfg.erasing_p)
        x = x.to(rt.device).contiguous(memory_format=torch.channels_last)
        with autocast(rt.device, cfg.bf16):
            logits = net(x)
        loss = classification_loss(logits.float(), batch.labels.to(rt.device), cfg.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            scores = logits.float().softmax(-1).mean(1) if logits.dim() == 3 else logits
            acc = (scores.argmax(1).cpu() == batch.labels).float().mean()
            values = {"loss": all_reduce_mean(loss, rt), "accuracy": all_reduce_mean(acc, rt)}
            log.write(done, lr=opt.param_groups[0]["lr"], **values)
            if progress and rt.is_main:
                progress(done, cfg.steps, values)
        if ckpt.due() or done == stop:
            ckpt.save({"config": asdict(cfg), "model": model.state_dict(), "optimizer": opt.state_dict(),
                       "step": done, "seconds": elapsed + time.monotonic() - t0}, rt)  # fmt: skip
    seconds = elapsed + time.monotonic() - t0
    model.eval()
    result = evaluate_market(lambda x: model.features(x), market["query"], market["gallery"], device=rt.device)
    metrics = {"rank1": result.rank1, "rank5": result.rank5, "mAP": result.mAP}
    path = run_dir / "final.pt"
    if rt.is_main:
        torch.save({"config": asdict(cfg), "model": unwrap(model).state_dict(), "metrics": metrics,
                    "num_classes": train.num_classes, "steps": stop, "seconds": seconds}, path)  # fmt: skip
    return {"metrics": metrics, "steps": stop, "seconds": seconds, "path": str(path)}


RECIPE = ModelRecipe(BaselineConfig, build_model, "a re-ID model (python -m core train reid|pcb writes final.pt)",
                     "num_classes")  # fmt: skip


def load_baseline(path: str | Path, device: str | torch.device = "cpu") -> tuple[ReidBaseline | PCB, BaselineConfig]:
    """A trained re-ID model (a registered name, ``final.pt`` of :func:`train_baseline` or a shipped file;
    float32) in eval mode: a :class:`ReidBaseline` or a :class:`PCB`, as its config's ``head`` says."""
    return from_pretrained(RECIPE, path, device)
