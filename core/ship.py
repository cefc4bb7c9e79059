"""What every method's ship recipe shares (``python -m core ship <method>``): a run's state and log, the
manifest entry of a shipped file, the training curves and the model card's eval.json / eval.md.

A method's ``ship.py`` keeps its own pieces (which files, which evaluation, which curves and example figure)
and calls these for the rest:

    state = load_state(run / "final.pt")
    file = half_precision_copy(run / "final.pt", out_dir / "model.pt")
    ship_entry("name", "method", file, state, data_summary(data), metrics, manifest, run_log(run))
    curves(run_log(run), ("loss",), out_dir / "curves.png", "Model training")
    write_report(out_dir, report, format_report(report))

The recorded training time is the log's active time (:func:`core.train.training_seconds`): pauses are left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from core.checkpoints import half_precision_copy, save_entry, sha256_of
from core.train import MetricLog, plot_curves, training_seconds

__all__ = ["curves", "half_precision_copy", "load_state", "run_log", "ship_entry", "write_report"]


def load_state(path: Path) -> dict[str, Any]:
    """A run's ``final.pt`` (or a shipped file): config, steps, seconds, metrics and weights, on the CPU."""
    return torch.load(path, map_location="cpu", weights_only=True)


def run_log(run: Path) -> list[dict[str, float]]:
    """The rows of a run's ``log.jsonl`` (empty when it has none)."""
    return MetricLog(run / "log.jsonl").rows()


def ship_entry(name: str, method: str, file: Path, state: Mapping[str, Any] | None, data: Any, metrics: Any,
               manifest: Path, rows: Sequence[Mapping[str, float]] = (), *, config: Any = None,
               steps: int | None = None, seconds: float | None = None,
               stages: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """Register a shipped file in ``manifest`` and return its entry.

    The entry's keys, in order: name, method, file (relative to the manifest's folder), sha256, config, data,
    steps, seconds, stages (only when given), metrics. config, steps and seconds default to the run's:
    ``state["config"]``, ``state["steps"]`` and its active training time from ``rows``
    (:func:`core.train.training_seconds`), rounded to 0.1 s.
    """
    entry = {
        "name": name,
        "method": method,
        "file": str(file.relative_to(manifest.parent)),
        "sha256": sha256_of(file),
        "config": state["config"] if config is None and state is not None else config,
        "data": data,
        "steps": int(state["steps"]) if steps is None and state is not None else steps,
        "seconds": round(training_seconds(rows, state) if seconds is None and state is not None else seconds, 1),
    }
    if stages is not None:
        entry["stages"] = stages
    entry["metrics"] = metrics
    save_entry(entry, manifest)
    return entry


def curves(rows: Sequence[Mapping[str, float]], keys: Sequence[str], path: Path, title: str) -> Path | None:
    """The training curves of a log as a PNG for the model card; nothing for an empty log."""
    return plot_curves(rows, keys, path, title=title) if rows else None


def write_report(out_dir: Path, report: Mapping[str, Any], markdown: str) -> None:
    """The model card's numbers: ``eval.json`` (the report, indented) and ``eval.md`` (the tables, as given)."""
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "eval.md").write_text(markdown)
