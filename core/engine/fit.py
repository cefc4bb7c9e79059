"""The one training loop: :func:`fit` runs a :class:`~core.engine.task.Task` in one process or under torchrun.

It owns what every method used to repeat: the seeds, the device, joining and leaving the process group
(with the teardown barrier), the checkpoint (``run_dir/last.pt``, written atomically every
``checkpoint_every_s`` and at the last step) and resume (the random state of every rank saved and restored
in one way), the metric log (``run_dir/log.jsonl``: each row averaged over the steps since the last row and
over the ranks, written by rank 0), the progress callback, the run's clock, ``final.pt`` and ``curves.png``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
import torch.distributed as dist

from core.engine.task import Task
from core.train import (
    Checkpointer,
    MetricLog,
    Runtime,
    broadcast_object,
    distributed_runtime,
    plot_curves,
    rng_state,
    seed_everything,
    set_rng_state,
)  # fmt: skip

__all__ = ["ENGINE_KEYS", "Progress", "RunOptions", "checkpoint_step", "fit", "trainer_state"]

Progress = Callable[[int, int, dict[str, float]], None]


class RunOptions(TypedDict, total=False):
    """How one training call runs, the options of :func:`fit` that every ``train_<method>(..., **run)`` passes on:
    ``resume`` (continue from ``last.pt``), ``device`` ("auto", "cpu" or "cuda"), ``progress(step, total, row)``
    and ``max_steps`` (stop early with a checkpoint)."""

    resume: bool
    device: str
    progress: Progress | None
    max_steps: int | None


# what the engine writes in last.pt besides the task's state ("iteration": DG-Net's checkpoints before the engine)
ENGINE_KEYS = ("config", "trainer", "step", "iteration", "rng", "seconds")


def checkpoint_step(state: Mapping[str, Any]) -> int:
    """The number of steps done in a checkpoint (``"step"``; DG-Net's older files say ``"iteration"``)."""
    return int(state["step"] if "step" in state else state["iteration"])


def trainer_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The task's state in a checkpoint: ``"trainer"``, joined by any keys older files kept beside it
    (the re-ID trainer's top-level ``model``/``optimizer``, the gait trainers' ``best``/``history``)."""
    extra = {k: v for k, v in state.items() if k not in ENGINE_KEYS}
    return {**extra, **state.get("trainer", {})}


def fit(
    task: Task,
    run_dir: str | Path,
    resume: bool = False,
    device: str = "auto",
    progress: Progress | None = None,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Train ``task`` for its ``total_steps`` (or up to ``max_steps``, with a checkpoint that ``resume`` continues).

    Returns {"steps" (where this call stopped), "seconds" (the run's clock, resumed sessions included),
    "path" (final.pt; written only once all steps are done), "final" (:meth:`Task.final_state`'s dict or
    None)}. ``progress(step, total, row)`` is called on rank 0 with every log row.
    """
    with distributed_runtime(device) as runtime:
        return _fit(task, Path(run_dir), resume, runtime, progress, max_steps)


def _fit(task: Task, run_dir: Path, resume: bool, rt: Runtime, progress: Progress | None, max_steps: int | None
         ) -> dict[str, Any]:  # fmt: skip
    rng = seed_everything(task.seed, rt.rank)
    task.setup(rt)
    ckpt = Checkpointer(run_dir, task.checkpoint_every_s)
    log = MetricLog(run_dir / "log.jsonl", enabled=rt.is_main)
    start, elapsed = 0, 0.0
    if resume and (state := ckpt.load()) is not None:
        _check_config(task, state, ckpt.path)
        start, elapsed = _restore(task, state, rt)
        rng = _restore_rng(state.get("rng"), task.seed, start, rt)
        log.truncate_after(start)
    elif (state := task.start_state()) is not None:
        start, elapsed = _restore(task, state, rt)
        rng = _restore_rng(None, task.seed, start, rt)
    stop = task.total_steps if max_steps is None else min(task.total_steps, max_steps)
    sums: dict[str, list[float]] = {}
    t0 = time.monotonic()
    for step in range(start, stop):
        values = task.step(task.next_batch(step, rng), step, rng)
        for key, value in values.items():
            total = sums.setdefault(key, [0.0, 0])
            total[0] += float(value)
            total[1] += 1
        done = step + 1
        logged = task.logs(done) or done == stop
        if logged:
            row = _mean_over_ranks({k: s / n for k, s, n in ((k, *v) for k, v in sums.items())}, rt)
            sums = {}
            if rt.is_main and task.validates(done):
                row.update(task.validate(done))
            log.write(done, **row)
            if progress is not None and rt.is_main:
                progress(done, task.total_steps, row)
        if rt.is_main:
            task.snapshot(done)
        # the time-based checkpoint: rank 0's clock decides, at log rows (every rank must gather its random state)
        if done == stop or (logged and broadcast_object(ckpt.due(), rt)):
            rngs = _gather(_rng_snapshot(rng, rt), rt)
            ckpt.save({"config": task.config_dict(), "trainer": task.state_dict(), "step": done, "rng": rngs,
                       "seconds": elapsed + time.monotonic() - t0}, rt)  # fmt: skip
    seconds = elapsed + time.monotonic() - t0
    path = run_dir / "final.pt"
    final = task.final_state(stop, seconds) if stop == task.total_steps else None
    if rt.is_main:
        if final is not None:
            torch.save(final, path)
        if task.curves and (rows := log.rows()):
            plot_curves(rows, task.curves, run_dir / "curves.png", title=task.name)
    return {"steps": stop, "seconds": seconds, "path": str(path), "final": final}


def _check_config(task: Task, state: Mapping[str, Any], path: Path) -> None:
    ours = task.config_dict()
    theirs = {**state["config"], **{k: ours[k] for k in task.resumable_fields if k in ours}}
    if theirs != ours:
        raise ValueError(f"{path} was trained with another config; start a new run folder or drop --resume")
    if checkpoint_step(state) > task.total_steps:
        raise ValueError(f"{path} is at step {checkpoint_step(state)}, past the {task.total_steps} steps asked for")


def _restore(task: Task, state: Mapping[str, Any], rt: Runtime) -> tuple[int, float]:
    task.load_state_dict(trainer_state(state))
    return checkpoint_step(state), float(state["seconds"])


def _mean_over_ranks(values: dict[str, float], rt: Runtime) -> dict[str, float]:
    """Every value's mean over the processes, in one all-reduce (every rank logs the same keys)."""
    if not rt.distributed or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=rt.device)
    dist.all_reduce(tensor)
    return dict(zip(keys, (tensor / rt.world_size).tolist(), strict=True))


def _gather(obj: Any, rt: Runtime) -> list[Any]:
    """Every rank's ``obj``, in rank order (on every rank)."""
    if not rt.distributed:
        return [obj]
    out: list[Any] = [None] * rt.world_size
    dist.all_gather_object(out, obj)
    return out


def _rng_snapshot(rng: np.random.Generator, rt: Runtime) -> dict[str, Any]:
    """This rank's random state: its batch stream ``rng`` and the python/numpy/torch (and CUDA) generators."""
    snap = {"generator": json.dumps(rng.bit_generator.state), "global": rng_state()}
    if rt.device.type == "cuda":
        snap["cuda"] = torch.cuda.get_rng_state(rt.device)
    return snap


def _restore_rng(saved: Any, seed: int, start: int, rt: Runtime) -> np.random.Generator:
    """The random state a resumed run continues with.

    A checkpoint with one entry per rank for as many ranks as now: each rank's streams, as they were (the
    resumed run draws what the uninterrupted one would have). Otherwise (another number of processes, a
    start from another run, or a file from before the engine) fresh streams seeded by the step; a file from
    before the engine with one process's global state (texture, DR-GAN, gait) gets that state back.
    """
    if isinstance(saved, list) and len(saved) == rt.world_size:
        mine = saved[rt.rank]
        set_rng_state(mine["global"])
        if "cuda" in mine and rt.device.type == "cuda":
            torch.cuda.set_rng_state(mine["cuda"], rt.device)
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(mine["generator"])
        return rng
    seed_everything(seed + start, rt.rank)
    if isinstance(saved, Mapping) and rt.world_size == 1:
        set_rng_state(saved)
    return np.random.default_rng([seed, rt.rank, start])
