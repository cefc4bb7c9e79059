"""Train DyGait: ``python -m core.dygait.train --data data/gait --out runs/dygait --preset small [--resume]``
(the CLI's ``python -m core train dygait`` calls :func:`train_dygait` too); runs unchanged under ``torchrun``.

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

import argparse
import copy
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from core.dygait.config import PRESETS, DyGaitConfig
from core.dygait.losses import cross_entropy_parts, triplet_loss
from core.dygait.model import DyGait
from core.gait.data import GaitSet, load_gait_set, sil_to_tensor, split_validation
from core.gait.evaluate import evaluate_features
from core.train import (
    Checkpointer,
    MetricLog,
    Runtime,
    all_reduce_mean,
    autocast,
    distributed_runtime,
    plot_curves,
    rng_state,
    seed_everything,
    set_rng_state,
    wrap_ddp,
)  # fmt: skip

__all__ = ["DyGaitTrainer", "embed_set", "gather_with_grad", "score_validation", "train_dygait"]

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


class DyGaitTrainer:
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

    def state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "sched": self.sched.state_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])


@torch.no_grad()
def embed_set(model: DyGait, data: GaitSet, device: torch.device | str = "cpu", batch: int = 4,
              bf16: bool | None = None) -> np.ndarray:  # fmt: skip
    """float32 (N, C, P) features of every walk of ``data``, whole walks, in eval mode.

    Walks of equal length are embedded together: in eval mode BatchNorm uses its running statistics
    and TP pools each walk on its own, so a batch gives each walk the feature it gets alone (up to
    rounding). ``bf16`` (default: the config's) runs the blocks under bf16 autocast, as in training.
    """
    was_training = model.training
    model.eval()
    device = torch.device(device)
    bf16 = model.cfg.bf16 if bf16 is None else bf16
    lengths = np.asarray([len(data.silhouettes(i)) for i in range(len(data))])
    out = np.zeros((len(data), model.cfg.embedding_dim, model.cfg.parts), np.float32)
    for length in np.unique(lengths):
        index = np.flatnonzero(lengths == length)
        for start in range(0, len(index), batch):
            rows = index[start : start + batch]
            sils = sil_to_tensor(np.stack([data.silhouettes(int(i)) for i in rows]), device)
            with autocast(device, bf16):
                out[rows] = model(sils)["embeddings"].float().cpu().numpy()
    model.train(was_training)
    return out


def score_validation(model: DyGait, data: GaitSet, device: torch.device | str, metric: str) -> dict[str, float]:
    """CASIA-B Rank-1 of the validation walks: {"NM", "BG", "CL" (those present), "mean"} as fractions."""
    result = evaluate_features(embed_set(model, data, device), data, metric)  # type: ignore[arg-type]
    scores = {k: float(v) for k, v in result.mean.items()}
    scores["mean"] = float(np.mean(list(result.mean.values())))
    return scores


def train_dygait(
    data: str | Path,
    run_dir: str | Path,
    cfg: DyGaitConfig,
    resume: bool = False,
    device: str = "auto",
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Train on ``data``'s training split minus the validation subjects; write ``run_dir/final.pt``.

    final.pt = {"config", "model" (the best-on-validation weights), "num_classes", "steps", "seconds",
    "best_step", "validation": {"NM", "BG", "CL", "mean", "subjects"}}; also ``log.jsonl`` (MetricLog),
    ``last.pt`` (Checkpointer, for ``resume``) and ``curves.png``. ``max_steps`` stops early with a
    checkpoint (resume continues). Returns {"steps", "seconds", "path", "best_validation"}.
    """
    with distributed_runtime(device) as runtime:
        return _train(Path(data), Path(run_dir), cfg, resume, runtime, progress, max_steps)


def _load_splits(data: Path, cfg: DyGaitConfig) -> tuple[GaitSet, GaitSet]:
    full = load_gait_set(data, "train")
    if len(full.subjects) - cfg.validation_subjects < cfg.p:
        raise ValueError(f"{data} has {len(full.subjects)} training subjects: too few for {cfg.validation_subjects} "
                         f"validation subjects and P = {cfg.p} per batch")  # fmt: skip
    return split_validation(full, cfg.validation_subjects)


def _train(data: Path, run_dir: Path, cfg: DyGaitConfig, resume: bool, rt: Runtime, progress, max_steps
           ) -> dict[str, Any]:  # fmt: skip
    rng = seed_everything(cfg.seed, rt.rank)
    train, val = _load_splits(data, cfg)
    trainer = DyGaitTrainer(cfg, len(train.subjects), rt.device, rt)
    ckpt = Checkpointer(run_dir, cfg.checkpoint_every_s)
    log = MetricLog(run_dir / "log.jsonl", enabled=rt.is_main)
    start, elapsed = 0, 0.0
    best: dict[str, Any] = {"score": -1.0, "step": 0, "validation": {}, "model": None}
    if resume and (state := ckpt.load()) is not None:
        # only the number of steps may change between sessions; anything else is another experiment
        if {**state["config"], "steps": cfg.steps} != cfg.to_dict():
            raise ValueError(f"{ckpt.path} was trained with another config; start a new run folder or drop --resume")
        if int(state["step"]) > cfg.steps:
            raise ValueError(f"{ckpt.path} is at step {state['step']}, past the {cfg.steps} steps asked for")
        trainer.load_state(state["trainer"])
        start, elapsed = int(state["step"]), float(state["seconds"])
        best = dict(state["best"])
        if "rng" in state and rt.world_size == 1:
            set_rng_state(state["rng"])
        rng = np.random.default_rng([cfg.seed, rt.rank, start])
        log.truncate_after(start)
    t0 = time.monotonic()
    stop = cfg.steps if max_steps is None else min(cfg.steps, max_steps)
    sums: dict[str, list[float]] = {}
    for step in range(start, stop):
        values = trainer.step(*trainer.batch(train, rng))
        for k, v in values.items():
            sums.setdefault(k, []).append(v)
        done = step + 1
        # the same decision on every rank (the logging below all-reduces); only rank 0 scores
        evaluate = bool(cfg.eval_every and done % cfg.eval_every == 0) or done == cfg.steps
        extra: dict[str, float] = {}
        if evaluate and rt.is_main:
            scores = score_validation(trainer.model, val, rt.device, cfg.metric)
            extra = {"val_rank1": scores["mean"], **{f"val_{k}": v for k, v in scores.items() if k != "mean"}}
            if scores["mean"] >= best["score"]:  # a tie goes to the later, longer-trained weights
                best = {"score": scores["mean"], "step": done, "validation": scores,
                        "model": copy.deepcopy(trainer.model.state_dict())}  # fmt: skip
        if done % cfg.log_every == 0 or done == stop or evaluate:
            means = {k: all_reduce_mean(float(np.mean(v)), rt) for k, v in sums.items()}
            sums = {}
            means.update(extra)
            means["seconds"] = elapsed + time.monotonic() - t0
            log.write(done, **means)
            if progress and rt.is_main:
                progress(done, cfg.steps, {**means, "best_rank1": best["score"], "best_step": best["step"]})
        if ckpt.due() or done == stop:
            ckpt.save({"config": cfg.to_dict(), "trainer": trainer.state(), "step": done, "rng": rng_state(),
                       "seconds": elapsed + time.monotonic() - t0, "best": best}, rt)  # fmt: skip
    seconds = elapsed + time.monotonic() - t0
    path = run_dir / "final.pt"
    if rt.is_main and stop == cfg.steps:
        if best["model"] is None:  # only when no step ran in this call and no checkpoint held a score
            scores = score_validation(trainer.model, val, rt.device, cfg.metric)
            best = {"score": scores["mean"], "step": stop, "validation": scores,
                    "model": copy.deepcopy(trainer.model.state_dict())}  # fmt: skip
        validation = {**best["validation"], "subjects": list(val.subjects)}
        torch.save({"config": cfg.to_dict(), "model": best["model"], "num_classes": len(train.subjects),
                    "steps": stop, "seconds": seconds, "best_step": best["step"], "validation": validation},
                   path)  # fmt: skip
        rows = log.rows()
        if rows:
            plot_curves(rows, CURVE_KEYS, run_dir / "curves.png", title=f"DyGait ({len(train.subjects)} subjects)")
    return {"steps": stop, "seconds": seconds, "path": str(path), "best_validation": best["validation"]}


def _print_progress(done: int, total: int, values: dict[str, float]) -> None:
    keys = ("loss", "triplet", "ce", "accuracy", "triplet_count", "lr")
    parts = [f"{k} {values[k]:.4g}" for k in keys if k in values]
    if "val_rank1" in values:
        parts.append(f"val_rank1 {values['val_rank1']:.3f}")
    if values.get("best_rank1", -1) >= 0:
        parts.append(f"best {values['best_rank1']:.3f}@{int(values['best_step'])}")
    seconds = values.get("seconds", 0.0)
    left = seconds / max(done, 1) * (total - done)  # includes the validation passes so far
    print(
        f"step {done}/{total} | " + " | ".join(parts) + f" | {seconds:.0f} s, about {left / 60:.0f} min left",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.dygait.train", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", required=True, help="our gait set (data/gait) or an OpenGait tree with partition.json"
    )
    parser.add_argument("--out", required=True, help="run folder (final.pt, last.pt, log.jsonl, curves.png)")
    parser.add_argument("--preset", default="small", choices=PRESETS)
    parser.add_argument("--steps", type=int, default=None, help="override the preset's number of steps")
    parser.add_argument("--max-steps", type=int, default=None, help="stop early with a checkpoint (resume later)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads and threads.isdigit():
        torch.set_num_threads(int(threads))  # one process per core under torchrun
    cfg = DyGaitConfig.from_preset(args.preset)
    if args.steps is not None:
        cfg = cfg.with_steps(args.steps)
    is_main = int(os.environ.get("RANK", "0")) == 0
    if is_main:
        print(f"DyGait {args.preset}: {cfg.steps} steps, P x K = {cfg.p} x {cfg.k}, clip {cfg.clip}, "
              f"channels {cfg.channels}, {torch.get_num_threads()} thread(s)", flush=True)  # fmt: skip
    out = train_dygait(args.data, args.out, cfg, resume=args.resume, device=args.device,
                       progress=_print_progress if is_main else None, max_steps=args.max_steps)  # fmt: skip
    if is_main:
        print(f"done: {out['steps']} steps in {out['seconds']:.0f} s; best validation {out['best_validation']}; "
              f"{out['path']}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
