"""Shared training pieces: seeds, device and bf16 autocast, DDP through torchrun, checkpoints and the metric
log. The one training loop that puts them together is :func:`core.engine.fit`; methods write a
:class:`core.engine.Task` and do not use these directly, except for their own step (``autocast``,
``wrap_ddp``, ``sync_gradients``) and the ship modules (``MetricLog``, ``training_seconds``, ``plot_curves``).

A trainer runs unchanged as ``python -m core train X`` (one process) and under
``torchrun --nproc_per_node N -m core train X`` (DDP: gloo on CPU, NCCL on GPUs, one or many
nodes): :func:`distributed_runtime` reads torchrun's environment, so nothing else changes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "Checkpointer", "MetricLog", "Runtime", "active_seconds", "all_reduce_mean", "autocast", "barrier",
    "bf16_runs_natively",
    "broadcast_module", "broadcast_object", "distributed_runtime", "finish", "plot_curves", "rng_state",
    "seed_everything", "set_rng_state", "setup_runtime", "sync_gradients", "teardown", "timer", "training_seconds",
    "unwrap", "wrap_ddp",
]  # fmt: skip


@dataclass(frozen=True)
class Runtime:
    """Where this process trains: its rank among ``world_size`` processes and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, logs and progress bars."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_runtime(device: str = "auto") -> Runtime:
    """The process's rank and device; joins the process group when torchrun started several.

    device: "auto" (a GPU when there is one, else the CPU), "cpu" or "cuda".
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device cuda was asked for, but this machine has no usable GPU; use --device cpu")
        torch.cuda.set_device(local_rank)
        where = torch.device("cuda", local_rank)
    elif device == "cpu":
        where = torch.device("cpu")
    else:
        raise ValueError(f"device is auto, cpu or cuda; got {device!r}")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if where.type == "cuda" else "gloo")
    return Runtime(rank=rank, world_size=world, local_rank=local_rank, device=where)


def teardown(runtime: Runtime) -> None:
    """Leave the process group at once, without waiting for the other ranks (a no-op for one process)."""
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(runtime: Runtime) -> None:
    """Wait until every process gets here (a no-op for one process)."""
    if not (runtime.distributed and dist.is_initialized()):
        return
    if runtime.device.type == "cuda":
        dist.barrier(device_ids=[runtime.local_rank])
    else:
        dist.barrier()


def finish(runtime: Runtime) -> None:
    """The end of a run that went well: wait for every rank, then leave the process group.

    Rank 0 alone writes the last files (and some trainers validate there); a rank that tore the gloo
    group down while rank 0 still used it sometimes aborted (SIGABRT) under torchrun. One process: a no-op.
    """
    barrier(runtime)
    teardown(runtime)


@contextlib.contextmanager
def distributed_runtime(device: str = "auto") -> Iterator[Runtime]:
    """``with distributed_runtime(device) as rt: ...``: :func:`setup_runtime`, then :func:`finish` at the end.

    When the body raises, the process group is left without the barrier: the other ranks may be inside
    a collective this one will never join, and a barrier would hang there until the group's timeout.
    """
    runtime = setup_runtime(device)
    try:
        yield runtime
    except BaseException:
        teardown(runtime)
        raise
    finish(runtime)


def seed_everything(seed: int, rank: int = 0) -> np.random.Generator:
    """Seed python, numpy and torch; ranks get different streams (their batches must differ).

    Returns a numpy Generator for the trainer's own draws (samplers, augmentations).
    """
    value = seed * 1000 + rank
    random.seed(value)
    np.random.seed(value % 2**32)
    torch.manual_seed(value)
    return np.random.default_rng([seed, rank])


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    words: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86-64, aarch64
            words.update(value.split())
    return frozenset(words)


def bf16_runs_natively(device: torch.device | str) -> bool:
    """Whether bf16 matrix work is fast on ``device``: a GPU with bf16, or a CPU with AVX512-BF16 / AMX-BF16
    (x86-64) or the BF16 extension (aarch64). Measured on a 2-core AVX-512 Xeon without AVX512-BF16: a
    ResNet-18 training step takes 1.9x *longer* under bf16 autocast (emulated), and a 1024^2 matmul 4.5x."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16", "bf16"})


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast when asked and the hardware runs bf16 natively (1.6-2x faster steps on an AVX512-BF16
    CPU); float32 otherwise, where emulated bf16 would be about 2x slower (:func:`bf16_runs_natively`)."""
    if not bf16 or not bf16_runs_natively(device):
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def wrap_ddp(module: nn.Module, runtime: Runtime, find_unused: bool = False) -> nn.Module:
    """DistributedDataParallel around ``module`` when several processes train, else the module."""
    if not runtime.distributed:
        return module
    ids = [runtime.local_rank] if runtime.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside a DDP wrapper (what checkpoints store)."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def all_reduce_mean(value: float | torch.Tensor, runtime: Runtime) -> float:
    """Mean of a scalar over all processes (the logged loss is the whole batch's, not rank 0's)."""
    tensor = torch.as_tensor(value, dtype=torch.float64, device=runtime.device).detach().clone()
    if runtime.distributed:
        dist.all_reduce(tensor)
        tensor /= runtime.world_size
    return float(tensor)


def broadcast_object(obj: Any, runtime: Runtime) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. the resumed step)."""
    if not runtime.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class Checkpointer:
    """Periodic, atomic checkpoints of a run in ``run_dir/last.pt``, and resume.

    The file is written to a temporary name and renamed, so a session that ends mid-write
    leaves the previous checkpoint intact. Only rank 0 writes.

    Args:
        run_dir: the run's folder (under the ignored runs/).
        every_s: seconds between checkpoints (:meth:`due`).
    """

    def __init__(self, run_dir: str | Path, every_s: float = 180.0) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "last.pt"
        self.every_s = every_s
        self._last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every_s

    def save(self, state: Mapping[str, Any], runtime: Runtime | None = None) -> Path | None:
        """Write ``state`` (tensors, state_dicts, numbers, strings); returns the path (None off rank 0)."""
        self._last = time.monotonic()
        if runtime is not None and not runtime.is_main:
            return None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save(dict(state), tmp)
        os.replace(tmp, self.path)
        return self.path

    def load(self, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The last checkpoint, or None when the run has none yet."""
        if not self.path.exists():
            return None
        return torch.load(self.path, map_location=map_location, weights_only=True)


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states (a resumed run continues the same random stream)."""
    return {"python": list(random.getstate()[1]), "python_pos": random.getstate()[2],
            "numpy": np.random.get_state()[1].tolist(), "numpy_pos": int(np.random.get_state()[2]),
            "torch": torch.get_rng_state()}  # fmt: skip


def set_rng_state(state: Mapping[str, Any]) -> None:
    random.setstate((3, tuple(state["python"]), state["python_pos"]))
    np.random.set_state(("MT19937", np.asarray(state["numpy"], dtype=np.uint32), state["numpy_pos"], 0, 0.0))
    torch.set_rng_state(state["torch"])


class MetricLog:
    """Training curves as JSON lines (``run_dir/log.jsonl``): one row per logged step.

    Appends, so a resumed run continues its file; rows past the resumed step are dropped first
    (they belong to work the resumed checkpoint does not contain).
    """

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled

    def truncate_after(self, step: int) -> None:
        if not (self.enabled and self.path.exists()):
            return
        rows = [r for r in self.rows() if r.get("step", 0) <= step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def write(self, step: int, **values: float) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        row = {"step": int(step), "time": round(time.time(), 2)}
        row.update({k: round(float(v), 6) for k, v in values.items()})
        with open(self.path, "a") as fh:
            fh.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict[str, float]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def active_seconds(rows: Sequence[Mapping[str, float]], pause_s: float = 120.0) -> float:
    """Training time from a metric log's wall-clock stamps, leaving out pauses.

    A run's own clock (``seconds`` in its checkpoints) also counts the time it was stopped (SIGSTOP to
    free the CPU for other work). Here every gap between consecutive log rows of one run counts,
    except gaps longer than ``pause_s`` (a pause, or the time between a stop and ``--resume``) and gaps
    after a resume (the step going back or standing still).
    """
    total = 0.0
    for before, after in zip(rows, rows[1:], strict=False):
        gap = float(after["time"]) - float(before["time"])
        if after["step"] > before["step"] and 0 < gap <= pause_s:
            total += gap
    return total


def training_seconds(rows: Sequence[Mapping[str, float]], state: Mapping[str, Any]) -> float:
    """A finished run's training time, as a manifest entry and its model card record it.

    rows: the run's metric log (:meth:`MetricLog.rows`; may be empty); state: its ``final.pt`` (the
    trainer's own clock in ``"seconds"``). The log's active time (:func:`active_seconds`, pauses left out)
    when the log has one, else the state's seconds (a run without a log, e.g. the DR-GAN judge).
    """
    return active_seconds(rows) or float(state["seconds"])


def _smooth(values: Sequence[float], window: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(v) < window:
        return v
    kernel = np.ones(window) / window
    head = np.array([v[: i + 1].mean() for i in range(window - 1)])
    return np.concatenate([head, np.convolve(v, kernel, mode="valid")])


def plot_curves(rows: Sequence[Mapping[str, float]], keys: Sequence[str], path: str | Path, title: str = "",
                smooth: int = 25) -> Path:  # fmt: skip
    """A PNG of the training curves (one panel per key, raw and smoothed), for model cards."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in keys if any(k in r for r in rows)]
    if not keys:
        raise ValueError("none of the keys is in the log")
    cols = min(3, len(keys))
    nrows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 2.6 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        steps, vals = zip(*pts, strict=True)
        ax.plot(steps, vals, color="#9bb", linewidth=0.6)
        ax.plot(steps, _smooth(vals, smooth), color="#07a", linewidth=1.4)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@contextlib.contextmanager
def timer() -> Iterator[dict[str, float]]:
    """``with timer() as t: ...`` then ``t["s"]`` holds the elapsed seconds."""
    box = {"s": 0.0}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start


def broadcast_module(module: nn.Module, runtime: Runtime) -> None:
    """Rank 0's parameters and buffers on every rank (models built on different ranks start equal)."""
    if not runtime.distributed:
        return
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def sync_gradients(module: nn.Module, runtime: Runtime) -> None:
    """Average the gradients of ``module`` over all processes (DDP's all-reduce, done by hand).

    For trainers with several networks and several optimiser steps per iteration (GANs), where a
    DDP wrapper per network would need every forward to go through it. A parameter without a
    gradient on this rank counts as zero, so every rank makes the same collective calls even when
    they took different random branches.
    """
    if not runtime.distributed:
        return
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= runtime.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n
