"""A method's public ``train_<method>`` function, written once: :func:`train_function` builds it from the
method's :class:`~core.engine.task.Task` and the way it shapes :func:`~core.engine.fit.fit`'s result.

Every such function takes ``(data, run_dir, cfg, resume=False, device="auto", progress=None, max_steps=None)``
(see :func:`_standard`), plus the method's own task arguments: required ones after ``cfg`` (texgen's
``pcb_path``), optional ones after ``max_steps`` (DR-GAN's ``warm_start``). ``inspect.signature`` and
``help()`` show the whole signature.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.engine.fit import Progress, fit
from core.engine.task import Task

__all__ = ["TaskArgument", "train_function"]

TrainFunction = Callable[..., dict[str, Any]]
# (task, fit's result without "final", final.pt's contents or None) -> what train_<method> returns
Finish = Callable[[Any, dict[str, Any], dict[str, Any] | None], dict[str, Any]]
_RUN_OPTIONS = ("resume", "device", "progress", "max_steps")


def _standard(
    data: str | Path,
    run_dir: str | Path,
    cfg: Any,
    resume: bool = False,
    device: str = "auto",
    progress: Progress | None = None,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """The signature every ``train_<method>`` shares (never called)."""
    raise NotImplementedError


def TaskArgument(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:  # noqa: N802
    """A method's own argument of its train function, handed to its task's maker by name."""
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)


def _returns_out(task: Any, out: dict[str, Any], final: dict[str, Any] | None) -> dict[str, Any]:
    return out


def train_function(
    name: str,
    make_task: Callable[..., Task],
    config: type,
    doc: str,
    finish: Finish = _returns_out,
    required: tuple[inspect.Parameter, ...] = (),
    optional: tuple[inspect.Parameter, ...] = (),
) -> TrainFunction:
    """``name(data, run_dir, cfg, *required, resume, device, progress, max_steps, *optional)``: builds
    ``make_task(Path(data), Path(run_dir), cfg, **required, **optional)``, runs :func:`fit` with the run options
    and returns ``finish(task, out, final)`` (by default fit's result without ``"final"``)."""
    standard = inspect.signature(_standard)
    params = list(standard.parameters.values())
    params[2] = params[2].replace(annotation=config)
    signature = standard.replace(parameters=[*params[:3], *required, *params[3:], *optional])
    task_args = [p.name for p in (*required, *optional)]

    def train(*args: Any, **kwargs: Any) -> dict[str, Any]:
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        given = call.arguments
        run_dir = Path(given["run_dir"])
        task = make_task(Path(given["data"]), run_dir, given["cfg"], **{k: given[k] for k in task_args})
        out = fit(task, run_dir, **{k: given[k] for k in _RUN_OPTIONS})
        final = out.pop("final")
        return finish(task, out, final)

    train.__signature__ = signature  # type: ignore[attr-defined]
    train.__name__ = train.__qualname__ = name
    train.__doc__ = doc
    train.__module__ = make_task.__module__
    return train
