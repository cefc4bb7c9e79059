"""What several methods' commands share: the one-line error, argument checks, dataset roots, image reading,
the training progress bar and last line, the ship commands' check for finished runs, the benchmark table and
the options every trainer takes.

Imported by core/cli.py and by each method's ``commands.py``; it imports neither.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from core.benchmark import format_rows
from core.registry import Command


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def positive(name: str, value: int, allow_zero: bool = False) -> int:
    if value < (0 if allow_zero else 1):
        raise CliError(f"--{name} must be {'>= 0' if allow_zero else '>= 1'}, got {value}")
    return value


def data_root(text: str) -> Path:
    root = Path(text)
    if not (root / "bounding_box_train").is_dir():
        raise CliError(f"{root} is not a Market-1501-style root (no bounding_box_train/): "
                       "generate one with python -m core synth reid --out data/reid")  # fmt: skip
    return root


def read_rgb(path: str):
    """[0, 1] (1, 3, H, W) from an image file, with a clear error for non-images."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (FileNotFoundError, UnidentifiedImageError, OSError) as err:
        raise CliError(f"cannot read {path} as an image ({err.__class__.__name__}); give a JPEG or PNG") from err
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


def train_progress(desc: str):
    """A tqdm bar advanced by a trainer's ``progress(step, total, losses)`` callback (rank 0 only)."""
    from tqdm import tqdm

    state: dict = {}

    def update(step: int, total: int, losses: dict[str, float]) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, initial=0, desc=desc, unit="step", mininterval=5)
        bar.update(step - bar.n)
        bar.set_postfix({k: f"{v:.3g}" for k, v in list(losses.items())[:4]}, refresh=False)
        if step >= total:
            bar.close()

    return update


def report_training(name: str, result: Mapping[str, Any], extra: str = "", count: str = "steps") -> int:
    """A train command's last line, on rank 0 only: ``name: N steps in M min[extra] -> final.pt``; returns 0."""
    if os.environ.get("RANK", "0") == "0":
        print(f"{name}: {result[count]} {count} in {result['seconds'] / 60:.1f} min{extra} -> {result['path']}")
    return 0


def retrieval_note(metrics: Mapping[str, float] | None) -> str:
    """``"; Rank-1 x%, mAP y%"`` for :func:`report_training` (empty without metrics, e.g. on ranks other than 0)."""
    return f"; Rank-1 {100 * metrics['rank1']:.1f}%, mAP {100 * metrics['mAP']:.1f}%" if metrics else ""


def require_finished(runs: Iterable[str | Path], resume: str) -> None:
    """A ship command's check: each run folder holds final.pt, or a CliError saying how to finish it."""
    for run in runs:
        if not (Path(run) / "final.pt").exists():
            raise CliError(f"no final.pt in {run}: finish its training first ({resume})")


def bench_command(help: str, module: str, inference: str, model: Callable[[argparse.Namespace], Any],
                  add_arguments: Callable[[argparse.ArgumentParser], None], train_step: str = "bench_train_step"
                  ) -> Command:  # fmt: skip
    """A method's ``bench`` :class:`~core.registry.Command`: :func:`bench_method` with ``model(args)`` loading what
    the inference rows time."""
    return Command(help, lambda args: bench_method(args, module, inference, lambda: model(args), train_step),
                   add_arguments)  # fmt: skip


def bench_method(args: argparse.Namespace, module: str, inference: str, model: Callable[[], Any],
                 train_step: str = "bench_train_step") -> int:  # fmt: skip
    """``python -m core bench <method>``: the bench ``module``'s ``inference(model(), repeats=...)`` rows and
    :func:`print_bench`'s ``train_step`` rows for ``args.presets`` (the module is imported only now: torch-heavy)."""
    bench = importlib.import_module(module)
    run = getattr(bench, inference)
    return print_bench(lambda: run(model(), repeats=args.repeats), getattr(bench, train_step), args.presets,
                       args.repeats)  # fmt: skip


def add_bench_arguments(parser: argparse.ArgumentParser, presets: list[str], repeats: int) -> None:
    """``--presets`` (the training presets to time) and ``--repeats`` (best of how many runs) of a method's bench."""
    parser.add_argument("--presets", nargs="*", default=presets, help="training presets to time")
    parser.add_argument("--repeats", type=int, default=repeats, help="best of this many runs")


def path_arguments(**defaults: str) -> Callable[[argparse.ArgumentParser], None]:
    """A Command's arguments: one ``--name`` path option per keyword (``_`` -> ``-``) with its default, as
    a ship command's runs and data folders."""

    def add(parser: argparse.ArgumentParser) -> None:
        for name, default in defaults.items():
            parser.add_argument("--" + name.replace("_", "-"), default=default)

    return add


def report_eval(table: str, report: Any, out: str = "") -> int:
    """What ``python -m core eval <method>`` prints: the table; with ``out`` also the numbers as JSON there."""
    print(table)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {out}")
    return 0


def report_ship(table: str, entries: str) -> int:
    """What ``python -m core ship <method>`` prints last: the evaluation table and the manifest entries written."""
    print(table)
    print(f"wrote the manifest entries {entries}")
    return 0


def print_bench(inference, train_step, presets: list[str], repeats: int) -> int:
    """Print the table of ``inference()``'s rows (skipped, saying why, when no model is shipped) and one
    ``train_step(preset, repeats=...)`` row (or list of rows) per preset."""
    rows = []
    try:
        rows.extend(inference())
    except (OSError, ValueError, RuntimeError) as err:  # no shipped model yet: say so, bench the rest
        print(f"(no inference rows: {err})")
    for preset in presets:
        row = train_step(preset, repeats=repeats)
        rows.extend(row if isinstance(row, list) else [row])  # one row, or one per model (gait)
    print(format_rows(rows))
    return 0


def add_run_arguments(parser: argparse.ArgumentParser, data: bool = True) -> None:
    """The options of the re-ID, PCB, DG-Net, texture and DR-GAN trainers: ``--data`` (a Market-1501-style root,
    unless the trainer adds its own), ``--preset``, ``--out``, ``--resume``, ``--device``. ``--out`` and ``--preset``
    default to the parser's ``out_default``/``preset_default`` (``main`` fills them in)."""
    if data:
        parser.add_argument("--data", default="data/reid", help="Market-1501-style root (default data/reid)")
    parser.add_argument(
        "--preset",
        default=None,
        help="small (2-core CPU, the default) or paper; for pcb: pcb-small (default) or pcb; for drgan: "
        "small-identity (default), small or paper",
    )
    parser.add_argument("--out", default=None, help="run folder (default runs/<model>)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
