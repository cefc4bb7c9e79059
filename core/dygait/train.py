"""Train DyGait: ``python -m core train dygait --data data/gait --out runs/dygait --preset small [--resume]``;
runs unchanged under ``torchrun``.

One step, as OpenGait's trainer with the DyGait configs: draw P subjects x K walks of the training split
(an ordered clip of ``clip`` frames from each; every rank draws its own batch from its own seed), run
the network, add the batch-all triplet loss on the part embeddings (gathered over ranks, as OpenGait's
``gather_and_scale_wrapper`` does) and the cross-entropy on the BNNeck logits, one Adam step, and the
multi-step learning-rate schedule.

Under torchrun each rank draws its own P x K batch (OpenGait's TripletSampler instead splits one
global P x K over the ranks), so N processes train on N times the batch.

Model selection never looks at the test split: the last ``validation_subjects`` training subjects are
held out (``core.gait.data.split_validation``), scored every ``eval_every`` steps with the CASIA-B
protocol (gallery nm-01..04, probes NM/BG/CL, identical views excluded; the mean of the groups' Rank-1),
and the best weights are what ``final.pt`` keeps (a tie goes to the later step).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from core.dygait.api import embed_many
from core.dygait.config import DyGaitConfig
from core.dygait.losses import cross_entropy_parts
from core.dygait.model import DyGait
from core.engine import RunOptions, StateParts, Task, fit
from core.gait.data import GaitSet, load_gait_set, sil_to_tensor, split_validation
from core.gait.evaluate import evaluate_features
from core.nn.losses import triplet_loss
from core.train import Runtime, autocast, wrap_ddp

__all__ = ["DyGaitTask", "DyGaitTrainer", "embed_set", "gather_with_grad", "score_validation", "train_dygait"]

CURVE_KEYS = ("loss", "triplet", "ce", "accuracy", "triplet_count", "val_rank1")


def gather_with_grad(x: Tensor, runtime: Runtime | None) -> Tensor:
    """Every rank's ``x`` concatenated along dim 0; this rank's slice keeps its gradient (OpenGait's
    ``ddp_all_gather``), so the triplet loss sees the whole global batch."""
    if runtime is None or not runtime.distributed:
        return x
    parts = [torch.empty_like(x) for _ in range(runtime.world_size)]
    dist.all_gather(parts, x.detach().contiguous())
    parts[runtime.rank] = x
    return torch.cat(parts)


class DyGaitTrainer(StateParts):
    """A DyGait network, its Adam optimiser and multi-step schedule, and :meth:`step`."""

    def __init__(self, cfg: DyGaitConfig, num_classes: int, device: torch.device, runtime: Runtime | None = None
                 ) -> None:  # fmt: skip
        self.cfg, self.device, self.runtime = cfg, device, runtime
        self.model = DyGait(cfg, num_classes).to(device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        self.net = wrap_ddp(self.model, runtime) if runtime is not None else self.model
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.MultiStepLR(self.opt, milestones=list(cfg.milestones), gamma=cfg.gamma)

    def batch(self, data: GaitSet, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        """(silhouettes (P*K, clip, 64, 44) float [0, 1], labels (P*K,)) on the device."""
        frames, labels = data.sample_pk(self.cfg.p, self.cfg.k, self.cfg.clip, rng)
        return sil_to_tensor(frames, self.device), torch.from_numpy(labels).to(self.device)

    def step(self, sils: Tensor, labels: Tensor) -> dict[str, float]:
        cfg = self.cfg
        self.net.train()
        with autocast(self.device, cfg.bf16):
            out = self.net(sils)
        world = self.runtime.world_size if self.runtime is not None else 1
        embeddings = gather_with_grad(out["embeddings"], self.runtime)
        all_labels = gather_with_grad(labels, self.runtime)
        triplet, count = triplet_loss(embeddings, all_labels, cfg.margin)
        # DDP averages gradients over ranks; OpenGait scales the gathered loss back up by the world size
        triplet = triplet * world
        ce, accuracy = cross_entropy_parts(out["logits"], labels, cfg.ce_scale, cfg.label_smoothing)
        loss = cfg.triplet_weight * triplet + cfg.ce_weight * ce
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        return {"loss": float(loss.detach()), "triplet": float(triplet.detach()) / world, "ce": float(ce.detach()),
                "accuracy": float(accuracy), "triplet_count": float(count.mean()),
                "lr": self.opt.param_groups[0]["lr"]}  # fmt: skip

    def parts(self) -> dict[str, Any]:
        return {"model": self.model, "opt": self.opt, "sched": self.sched}


def embed_set(model: DyGait, data: GaitSet, batch: int = 8, bf16: bool | None = None) -> np.ndarray:
    """float32 (N, C, P) features of every walk of ``data``, whole walks, in eval mode on the model's device, walks
    of equal length together (:func:`core.dygait.api.embed_many`). ``bf16`` (default: the config's) runs the
    blocks under bf16 autocast, as in training."""
    return embed_many(model, [data.silhouettes(i) for i in range(len(data))], batch, bf16)


def score_validation(model: DyGait, data: GaitSet, metric: str) -> dict[str, float]:
    """CASIA-B Rank-1 of the validation walks: {"NM", "BG", "CL" (those present), "mean"} as fractions."""
    result = evaluate_features(embed_set(model, data), data, metric)  # type: ignore[arg-type]
    scores = {k: float(v) for k, v in result.mean.items()}
    scores["mean"] = float(np.mean(list(result.mean.values())))
    return scores


def train_dygait(data: str | Path, run_dir: str | Path, cfg: DyGaitConfig, **run: Unpack[RunOptions]) -> dict[str, Any]:
    """Train on ``data``'s training split minus the validation subjects; write ``run_dir/final.pt``.

    final.pt = {"config", "model" (the best-on-validation weights), "num_classes", "steps", "seconds",
    "best_step", "validation": {"NM", "BG", "CL", "mean", "subjects"}}; also ``log.jsonl`` (MetricLog),
    ``last.pt`` (Checkpointer, for ``resume``) and ``curves.png``. ``max_steps`` stops early with a
    checkpoint (resume continues). Returns {"steps", "seconds", "path", "best_validation"}.
    """
    task = DyGaitTask(Path(data), cfg)
    out = fit(task, run_dir, **run)
    out.pop("final")
    return {**out, "best_validation": task.best["validation"]}


def _load_splits(data: Path, cfg: DyGaitConfig) -> tuple[GaitSet, GaitSet]:
    full = load_gait_set(data, "train")
    if len(full.subjects) - cfg.validation_subjects < cfg.p:
        raise ValueError(f"{data} has {len(full.subjects)} training subjects: too few for {cfg.validation_subjects} "
                         f"validation subjects and P = {cfg.p} per batch")  # fmt: skip
    return split_validation(full, cfg.validation_subjects)


class DyGaitTask(Task):
    """DyGait as a :class:`core.engine.Task`: P x K batches, :meth:`DyGaitTrainer.step`; every ``eval_every``
    steps rank 0 scores the validation subjects and keeps the best weights (a tie goes to the later step),
    which ``final.pt`` holds. A resumed session may change only the number of steps."""

    curves = CURVE_KEYS
    resumable_fields = ("steps",)

    def __init__(self, data: Path, cfg: DyGaitConfig) -> None:
        self.data, self.cfg = data, cfg
        self.seed, self.bf16, self.total_steps, self.log_every = cfg.seed, cfg.bf16, cfg.steps, cfg.log_every
        self.eval_every, self.checkpoint_every_s = cfg.eval_every, cfg.checkpoint_every_s
        self.best: dict[str, Any] = {"score": -1.0, "step": 0, "validation": {}, "model": None}

    def setup(self, runtime: Runtime) -> None:
        super().setup(runtime)
        self.train, self.val = _load_splits(self.data, self.cfg)
        self.name = f"DyGait ({len(self.train.subjects)} subjects)"
        self.trainer = DyGaitTrainer(self.cfg, len(self.train.subjects), runtime.device, runtime)

    def config_dict(self) -> dict[str, Any]:
        return self.cfg.to_dict()

    def next_batch(self, step: int, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        return self.trainer.batch(self.train, rng)

    def step(self, batch: tuple[Tensor, Tensor], step: int, rng: np.random.Generator) -> dict[str, float]:
        return self.trainer.step(*batch)

    def validate(self, step: int) -> dict[str, float]:
        scores = self._score(step)
        return {"val_rank1": scores["mean"], **{f"val_{k}": v for k, v in scores.items() if k != "mean"}}

    def _score(self, step: int) -> dict[str, float]:
        scores = score_validation(self.trainer.model, self.val, self.cfg.metric)
        if scores["mean"] >= self.best["score"]:  # a tie goes to the later, longer-trained weights
            self.best = {"score": scores["mean"], "step": step, "validation": scores,
                         "model": copy.deepcopy(self.trainer.model.state_dict())}  # fmt: skip
        return scores

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best": self.best}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.best = dict(state["best"])

    def final_state(self, step: int, seconds: float) -> dict[str, Any]:
        if self.best["model"] is None and self.runtime.is_main:  # no step ran and no checkpoint held a score
            self._score(step)
        best = self.best
        return {"config": self.cfg.to_dict(), "model": best["model"], "num_classes": len(self.train.subjects),
                "steps": step, "seconds": seconds, "best_step": best["step"],
                "validation": {**best["validation"], "subjects": list(self.val.subjects)}}  # fmt: skip
