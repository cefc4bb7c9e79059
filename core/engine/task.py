"""What a method hands to :func:`core.engine.fit`: a :class:`Task` (its data, its own ``step``, its state,
its validation and its final file) and, where it fits, :class:`LossTerms` (weighted loss terms, each logged by name).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.train import Runtime, autocast

__all__ = ["LossTerms", "StateParts", "Task"]


class LossTerms:
    """Weighted loss terms by name: ``terms.add("recon_x", loss, weight)``, then :meth:`total` to optimise and
    :meth:`values` to log (every term unweighted, by its name, plus the weighted ``total``).

    A mapping ``{name: (weight, term)}`` builds one as well: ``LossTerms({"xrecon": (1.0, l1), ...})``.
    """

    def __init__(self, terms: Mapping[str, tuple[float, Tensor]] | None = None) -> None:
        self.terms: dict[str, tuple[float, Tensor]] = {}
        for name, (weight, term) in (terms or {}).items():
            self.add(name, term, weight)

    def add(self, name: str, term: Tensor, weight: float = 1.0) -> Tensor:
        """Add ``weight * term`` to the total (``term`` a scalar, or a batch that is averaged); returns the term."""
        if name in self.terms:
            raise ValueError(f"loss term {name!r} added twice")
        self.terms[name] = (float(weight), term)
        return term

    def __contains__(self, name: str) -> bool:
        return name in self.terms

    def __getitem__(self, name: str) -> Tensor:
        return self.terms[name][1]

    def total(self) -> Tensor:
        """The sum of ``weight * mean(term)`` over the terms, in the order they were added; a term of weight 0
        is logged but left out (no gradient through it)."""
        if not self.terms:
            raise ValueError("no loss terms")
        parts = [weight * term.float().mean() for weight, term in self.terms.values() if weight != 0]
        if not parts:
            return next(iter(self.terms.values()))[1].float().mean() * 0.0
        return torch.stack(parts).sum() if len(parts) > 1 else parts[0]

    def values(self, total: str | None = "loss") -> dict[str, float]:
        """``{name: mean of the unweighted term}`` (floats, for the log), and the weighted total as ``total``."""
        out = {name: float(term.detach().float().mean()) for name, (_, term) in self.terms.items()}
        if total:
            out[total] = float(self.total().detach())
        return out


class StateParts:
    """``state_dict``/``load_state_dict`` over named parts (networks, optimisers, schedules, anything with its own
    ``state_dict``): a trainer lists them in :meth:`parts`, ``{"model": self.model, "opt": self.opt}``, and its
    state is ``{"model": model.state_dict(), "opt": opt.state_dict()}``."""

    def parts(self) -> dict[str, Any]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {key: part.state_dict() for key, part in self.parts().items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key, part in self.parts().items():
            part.load_state_dict(state[key])


class Task:
    """A method's part of a training run; :func:`core.engine.fit` owns the rest (seeding, device, DDP, the
    checkpoint and its random state, the averaged metric log, progress, time, final.pt, curves).

    The class attributes are the defaults; a method sets them from its config in ``__init__``.
    ``__init__`` only stores arguments: the networks and the data are built in :meth:`setup`, which runs
    after the engine has joined the process group and seeded this rank.

    Checkpoints (``run_dir/last.pt``) hold ``{"config": config_dict(), "trainer": state_dict(), "step",
    "rng" (one entry per rank), "seconds"}``; ``final.pt`` is what :meth:`final_state` returns.
    """

    name: str = "task"  # the title of curves.png
    seed: int = 0
    bf16: bool = False
    total_steps: int = 1
    log_every: int = 10  # a metric row (averaged over the steps since the last row and over the ranks)
    eval_every: int = 0  # validate() every this many steps and at the end (0: only at the end)
    checkpoint_every_s: float = 180.0
    curves: tuple[str, ...] = ()  # the log keys drawn in run_dir/curves.png at the end (none: no picture)
    resumable_fields: tuple[str, ...] = ()  # config fields a resumed session may change (e.g. "steps")
    runtime: Runtime
    trainer: Any = None  # where the method keeps its networks and optimisers in a trainer: its state is the task's

    # ------------------------------------------------------------------ what every task supplies
    def setup(self, runtime: Runtime) -> None:
        """Load the data, build the networks and optimisers on ``runtime.device`` (DDP-wrapped when
        ``runtime.distributed``). Called once, before any state is loaded."""
        self.runtime = runtime

    def config_dict(self) -> dict[str, Any]:
        """The run's config as plain data (checkpoints keep it; a resumed run must match it)."""
        raise NotImplementedError

    def next_batch(self, step: int, rng: np.random.Generator) -> Any:
        """This rank's batch for ``step`` (0-based), drawn from ``rng`` (the engine's per-rank stream)."""
        raise NotImplementedError

    def step(self, batch: Any, step: int, rng: np.random.Generator) -> dict[str, float]:
        """One training step (however many optimisers the method has); returns the values to log."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers, schedules and any running record (e.g. the best validation so far); by default
        the ``trainer``'s state."""
        if self.trainer is None:
            raise NotImplementedError
        return self.trainer.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self.trainer is None:
            raise NotImplementedError
        self.trainer.load_state_dict(state)

    # ------------------------------------------------------------------ optional
    def validate(self, step: int) -> dict[str, float]:
        """Rank 0 only, every ``eval_every`` steps and after the last: scores merged into that step's log row."""
        return {}

    def snapshot(self, step: int) -> None:
        """Rank 0 only, after every step: write progress pictures when the method wants them."""

    def start_state(self) -> Mapping[str, Any] | None:
        """A checkpoint to start from when there is nothing to resume (another run's ``last.pt``), or None."""
        return None

    def final_state(self, step: int, seconds: float) -> dict[str, Any] | None:
        """Every rank, once all ``total_steps`` are done: the contents of ``final.pt`` (written by rank 0), or
        None for none. The place for a last evaluation."""
        return None

    # ------------------------------------------------------------------ helpers for the method's code
    def logs(self, done: int) -> bool:
        """Whether the step that ends at ``done`` writes a log row (the same answer on every rank)."""
        return done % self.log_every == 0 or done == self.total_steps or self.validates(done)

    def validates(self, done: int) -> bool:
        return bool(self.eval_every and done % self.eval_every == 0) or done == self.total_steps

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """bf16 autocast on this task's device when ``bf16`` is set."""
        with autocast(self.runtime.device, self.bf16):
            yield
