"""What every dataset writer shares: identity seeds, tasks spread over processes, image and meta files,
and the claim on an output folder (a folder written with other settings is refused, not mixed).

Every writer (:mod:`core.synth.reid_set`, :mod:`core.synth.face_set`, :mod:`core.synth.gait_set`) splits its
work into tasks (one per identity, or identity x condition), renders each task in batches, skips tasks whose
files already exist (so an interrupted run resumes), and can spread tasks over processes. Everything is
deterministic in the dataset seed: the same seed and sizes give the same files.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.synth.identity import Identity
from core.synth.nuisance import Nuisance


def identity_seed(dataset_seed: int, person: int) -> int:
    """Seed of person ``person`` (1-based) in a dataset; the same people recur across datasets."""
    return dataset_seed * 100_000 + person


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def run_tasks(
    fn: Callable, tasks: list, workers: int = 1, progress: Callable[[Iterable, int], Iterable] | None = None
) -> list:
    """Results of fn(task) for every task, in task order; tasks spread over ``workers`` processes."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    wrap = progress or (lambda it, total: it)
    if workers == 1:
        return [r for r in wrap((fn(t) for t in tasks), len(tasks))]
    ctx = mp.get_context("fork")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(max(1, torch.get_num_threads() // workers),)) as pool:
        results = list(wrap(pool.imap(fn, tasks), len(tasks)))
    return results


def save_image(path: Path, image: torch.Tensor | np.ndarray, quality: int = 95) -> None:
    """(3, H, W) float in [0, 1] or (H, W, 3) uint8 -> file (atomically); ``quality`` for JPEG."""
    if isinstance(image, torch.Tensor):
        image = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    Image.fromarray(image).save(tmp, quality=quality) if path.suffix == ".jpg" else Image.fromarray(image).save(tmp)
    tmp.replace(path)


def write_meta(out: Path, kind: str, config, counts: dict, factors: list[dict]) -> None:
    with open(out / "factors.jsonl", "w") as fh:
        for row in factors:
            fh.write(json.dumps(row) + "\n")
    meta = {"kind": kind, "config": asdict(config), "counts": counts}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


class DatasetMismatchError(ValueError):
    """The output folder already holds a dataset made with other settings."""


def claim_folder(out: Path, kind: str, config) -> None:
    """Create ``out`` or check that it holds the same kind of set made with the same settings.

    Resuming keeps files that exist, so a folder made with another seed or size would silently
    mix two datasets; ``settings.json`` records what a folder holds.
    """
    out.mkdir(parents=True, exist_ok=True)
    settings = {"kind": kind, "config": json.loads(json.dumps(asdict(config)))}
    path = out / "settings.json"
    if path.exists():
        held = json.loads(path.read_text())
        if held != settings:
            raise DatasetMismatchError(
                f"{out} holds a {held.get('kind')} set made with other settings ({held.get('config')}); "
                "choose a new --out folder or delete this one to start again"
            )
    elif any(out.iterdir()):
        raise DatasetMismatchError(f"{out} is not empty and was not made by this writer; choose a new --out folder")
    else:
        path.write_text(json.dumps(settings, indent=2) + "\n")


def factor_row(file: str, identity: Identity, nuisance: Nuisance, **extra) -> dict:
    return {"file": file, "identity_seed": identity.seed, "nuisance": asdict(nuisance), **extra}


def annotation_row(file: str, params: dict) -> dict:
    """One row of annotations.jsonl: the file and its render parameters, floats rounded to 5 places."""

    def round_all(value):
        if isinstance(value, list):
            return [round_all(v) for v in value]
        return round(value, 5) if isinstance(value, float) else value

    return {"file": file, **{k: round_all(v) for k, v in params.items()}}


def merge_annotations(path: Path, notes: dict[str, dict]) -> None:
    """Add new rows to an annotations file (a resumed run only rendered what was missing)."""
    held = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            held[row["file"]] = row
    held.update(notes)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        for file in sorted(held):
            fh.write(json.dumps(held[file]) + "\n")
    tmp.replace(path)
