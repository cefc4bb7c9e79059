"""Train the re-ID networks: the plain baseline (layumi's ``ft_net``, DG-Net's teacher) and PCB (the
re-ID loss of texture generation), one trainer for both heads.

``python -m core train reid|pcb --data DIR [--preset small|pcb-small] [--resume]``; runs unchanged under
torchrun.
The trained model scores the Market protocol on the data's query/gallery at the end and writes
``runs/<name>/final.pt`` ({"config", "model", "metrics", "classes"}), which DG-Net's trainer reads.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import torch
import torch.nn.functional as F

from core.checkpoints import ModelRecipe, from_pretrained
from core.config import ConfigMixin, preset
from core.data.market import load_market
from core.engine import RunOptions, StateParts, Task, fit
from core.reid.backbone import ReidBaseline
from core.reid.data import PairBatch, ReidTrainSet, random_erasing
from core.reid.pcb import PCB
from core.reid.retrieval import evaluate_market, imagenet_normalise
from core.train import Runtime, wrap_ddp

__all__ = ["BaselineConfig", "ReidTask", "build_model", "load_baseline", "train_baseline"]


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


class ReidTask(StateParts, Task):
    """The re-ID baseline or PCB as a :class:`core.engine.Task`: SGD with warm-up and step decay, cross-entropy
    (summed over PCB's stripes); at the end the Market protocol on the data's query/gallery."""

    name = "re-ID"

    def __init__(self, data: Path, cfg: BaselineConfig) -> None:
        self.data, self.cfg = data, cfg
        self.seed, self.bf16, self.total_steps = cfg.seed, cfg.bf16, cfg.steps
        self.log_every, self.checkpoint_every_s = cfg.log_every, cfg.checkpoint_every_s

    def setup(self, runtime: Runtime) -> None:
        super().setup(runtime)
        cfg = self.cfg
        self.market = load_market(self.data, (cfg.height, cfg.width))
        self.train = ReidTrainSet(self.market["train"])
        self.model = build_model(cfg, self.train.num_classes).to(runtime.device).to(memory_format=torch.channels_last)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay, nesterov=True)  # fmt: skip
        self.net = wrap_ddp(self.model, runtime)
        self.net.train()

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.cfg)

    def next_batch(self, step: int, rng: np.random.Generator) -> tuple[PairBatch, torch.Tensor]:
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))  # the augmentations' stream
        batch = self.train.batch(self.cfg.batch_size, rng, gen, self.cfg.pad)
        x = imagenet_normalise(batch.x)
        if self.cfg.erasing_p > 0:
            x = random_erasing(x, gen, self.cfg.erasing_p)
        return batch, x.to(self.runtime.device).contiguous(memory_format=torch.channels_last)

    def step(self, batch: tuple[PairBatch, torch.Tensor], step: int, rng: np.random.Generator) -> dict[str, float]:
        cfg, (data, x) = self.cfg, batch
        for group in self.opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(step, cfg)
        with self.autocast():
            logits = self.net(x)
        loss = classification_loss(logits.float(), data.labels.to(self.runtime.device), cfg.label_smoothing)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        scores = logits.float().softmax(-1).mean(1) if logits.dim() == 3 else logits
        accuracy = (scores.argmax(1).cpu() == data.labels).float().mean()
        return {"loss": float(loss.detach()), "accuracy": float(accuracy), "lr": self.opt.param_groups[0]["lr"]}

    def parts(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.opt}

    def final_state(self, step: int, seconds: float) -> dict[str, Any]:
        self.model.eval()
        result = evaluate_market(lambda x: self.model.features(x), self.market["query"], self.market["gallery"],
                                 device=self.runtime.device)  # fmt: skip
        self.metrics = {"rank1": result.rank1, "rank5": result.rank5, "mAP": result.mAP}
        return {"config": asdict(self.cfg), "model": self.model.state_dict(), "metrics": self.metrics,
                "num_classes": self.train.num_classes, "steps": step, "seconds": seconds}  # fmt: skip


def train_baseline(
    data: str | Path, run_dir: str | Path, cfg: BaselineConfig, **run: Unpack[RunOptions]
) -> dict[str, Any]:
    """Train on ``data``'s bounding_box_train; score query vs gallery; write ``run_dir/final.pt``
    ({"config", "model", "metrics", "num_classes", "steps", "seconds"}).

    max_steps: stop after this many steps (a checkpoint is written; ``resume`` continues the
    same schedule), for tests and for splitting a run across sessions.

    Returns {"metrics": {"rank1", "mAP", ...} (once all steps are done), "steps", "seconds", "path"}.
    ``progress(step, total, losses)`` is called on rank 0 after each logged step.
    """
    out = fit(ReidTask(Path(data), cfg), run_dir, **run)
    final = out.pop("final")
    return {**out, **({"metrics": final["metrics"]} if final else {})}


RECIPE = ModelRecipe(BaselineConfig, build_model, "a re-ID model (python -m core train reid|pcb writes final.pt)",
                     "num_classes")  # fmt: skip


def load_baseline(path: str | Path, device: str | torch.device = "cpu") -> tuple[ReidBaseline | PCB, BaselineConfig]:
    """A trained re-ID model (a registered name, ``final.pt`` of :func:`train_baseline` or a shipped file;
    float32) in eval mode: a :class:`ReidBaseline` or a :class:`PCB`, as its config's ``head`` says."""
    return from_pretrained(RECIPE, path, device)
