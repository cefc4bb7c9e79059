"""DG-Net's commands: ``train dgnet``, ``eval dgnet``, ``bench dgnet``, ``ship dgnet`` and ``swap``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core import cli_helpers as helpers
from core.cli_helpers import CliError
from core.registry import Command, Method, register_method


def _dgnet_overrides(data: Path, preset: str, settings: list[str]):
    """The preset's config with ``section.field=value`` settings applied (values parsed as JSON, else text)."""
    from core.dgnet.config import DGNetConfig

    train_dir = data / "bounding_box_train"
    ids = {p.name.split("_")[0] for p in train_dir.glob("*.jpg")} if train_dir.is_dir() else set()
    if not ids:
        raise CliError(f"no training pictures in {train_dir}")
    values = DGNetConfig.from_preset(preset, num_classes=len(ids)).to_dict()
    for setting in settings:
        key, sep, raw = setting.partition("=")
        section, dot, field = key.partition(".")
        if not sep or not dot or not isinstance(values.get(section), dict) or field not in values[section]:
            raise CliError(f"--set takes SECTION.FIELD=VALUE with a field of the DG-Net config, got {setting!r}")
        try:
            values[section][field] = json.loads(raw)
        except json.JSONDecodeError:
            values[section][field] = raw
    try:
        return DGNetConfig.from_dict(values)
    except ValueError as err:
        raise CliError(str(err)) from None


def _cmd_train_dgnet(args: argparse.Namespace) -> int:
    from core.dgnet.train import train_dgnet

    teacher = None
    if args.teacher:
        teacher = Path(args.teacher)
        if not teacher.is_file():
            raise CliError(f"no teacher at {teacher}: train one with python -m core train reid --data DIR")
    config = _dgnet_overrides(helpers.data_root(args.data), args.preset, args.set) if args.set else None
    result = train_dgnet(helpers.data_root(args.data), args.out, config, teacher_path=teacher, preset=args.preset,
                         resume=args.resume, device=args.device, bf16=not args.no_bf16, max_iter=args.iterations,
                         progress=helpers.train_progress("DG-Net"), warm_start=args.warm_start,
                         init_from=args.init_from, pairs=args.pairs)  # fmt: skip
    return helpers.report_training("DG-Net", result, helpers.retrieval_note(result["metrics"]), count="iterations")


def _load_dgnet(checkpoint: str, official: str | None = None):
    """The shipped/registered DG-Net, a file, or an official release folder."""
    from core.dgnet import api

    if official:
        return _load_official_dir(Path(official))
    path = Path(checkpoint)
    return api.load_file(path) if path.suffix == ".pt" else api.load(checkpoint)


def _load_official_dir(folder: Path):
    """An official DG-Net run folder: config.yaml and checkpoints/gen_*.pt, id_*.pt (the last ones)."""
    from core.dgnet import load_official

    config = folder / "config.yaml"
    gens = sorted(folder.glob("checkpoints/gen_*.pt")) or sorted(folder.glob("gen_*.pt"))
    ids = sorted(folder.glob("checkpoints/id_*.pt")) or sorted(folder.glob("id_*.pt"))
    if not (config.exists() and gens and ids):
        raise CliError(f"{folder} is not an official DG-Net run folder: it needs config.yaml and "
                       "checkpoints/gen_XXXXXXXX.pt, checkpoints/id_XXXXXXXX.pt")  # fmt: skip
    return load_official(gens[-1], ids[-1], config)


def _cmd_swap(args: argparse.Namespace) -> int:
    from PIL import Image

    from core.dgnet import api

    model = _load_dgnet(args.checkpoint, args.official)
    out = api.swap(model, helpers.read_rgb(args.appearance), helpers.read_rgb(args.structure))[0]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((out.permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(args.out)
    print(f"wrote {args.out}: the person of {args.structure} wearing the clothes of {args.appearance}")
    return 0


def _cmd_eval_dgnet(args: argparse.Namespace) -> int:
    from core.dgnet.evaluate import evaluate_dgnet, format_report
    from core.reid.train import load_baseline

    model = _load_dgnet(args.checkpoint, args.official)
    teacher_path = Path(args.teacher)
    if teacher_path.suffix != ".pt":
        from core.checkpoints import resolve

        teacher_path = resolve(args.teacher)
    teacher, _ = load_baseline(teacher_path)
    pairs = Path(args.pairs)
    if not (pairs / "pairs.csv").exists():
        raise CliError(f"no swap pairs at {pairs}: python -m core synth pairs --out {pairs}")
    report = evaluate_dgnet(model, teacher, helpers.data_root(args.data), pairs)
    return helpers.report_eval(format_report(report), report, args.out)


def _named_run(value: str) -> tuple[str, Path]:
    """``NAME=RUN_DIR`` -> (name, run folder holding final.pt)."""
    name, sep, run = value.partition("=")
    if not sep or not name or not (Path(run) / "final.pt").exists():
        raise CliError(f"--stage-before takes NAME=RUN_DIR with a final.pt in RUN_DIR, got {value!r}")
    return name, Path(run)


def _cmd_ship_dgnet(args: argparse.Namespace) -> int:
    from core.dgnet.evaluate import format_report
    from core.dgnet.ship import ship_dgnet

    for run in (args.teacher_run, args.run):
        if not (Path(run) / "final.pt").exists() and not (run == args.teacher_run and Path(run).is_file()):
            raise CliError(f"no final.pt in {run}: finish its training first (python -m core train ... --resume)")
    try:
        report = ship_dgnet(Path(args.teacher_run), Path(args.run), helpers.data_root(args.data), Path(args.pairs),
                            earlier_runs=tuple(Path(r) for r in args.earlier_run),
                            continues_shipped=args.continues_shipped, stage_name=args.stage,
                            stages_before=tuple(_named_run(v) for v in args.stage_before))  # fmt: skip
    except ValueError as err:
        raise CliError(str(err)) from None
    return helpers.report_ship(format_report(report), "'dgnet' and 'dgnet-teacher' (checkpoints/dgnet/)")


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="dgnet", help="registered name or a .pt file")
    helpers.add_bench_arguments(parser, ["small", "small-sharp", "paper"], 2)


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", default="runs/reid/final.pt", help="teacher's final.pt ('' for none)")
    parser.add_argument("--iterations", type=int, default=None, help="stop after this many (default: the preset's)")
    parser.add_argument("--no-bf16", action="store_true", help="train in float32")
    parser.add_argument("--warm-start", default=None, help="continue another run's last.pt on this preset's schedule "
                      "(e.g. --preset small-long --warm-start runs/dgnet/last.pt)")  # fmt: skip
    parser.add_argument("--init-from", default=None, help="start the generator and appearance encoder from a "
                      "finished model (--preset small-sharp --init-from checkpoints/dgnet/dgnet.pt)")  # fmt: skip
    parser.add_argument("--pairs", default="data/pairs-train", help="training people's swap pairs with the rendered "
                      "truth, for presets with a paired loss (python -m core synth pairs --split train)")  # fmt: skip
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                      help="change one field of the preset's config, e.g. loss.colour_w=10; repeatable")  # fmt: skip
    parser.set_defaults(out_default="runs/dgnet")
    helpers.add_run_arguments(parser)


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="dgnet", help="registered name or a .pt file (default: shipped)")
    parser.add_argument("--official", default=None, help="an official DG-Net run folder instead")
    parser.add_argument("--teacher", default="dgnet-teacher", help="registered name or a .pt file (judges identity)")
    parser.add_argument("--data", default="data/reid", help="re-ID set (its test split)")
    parser.add_argument(
        "--pairs", default="data/pairs", help="swap pairs with ground truth (python -m core synth pairs)"
    )
    parser.add_argument("--out", default="", help="also write the numbers as JSON here")


def _swap_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("appearance", help="image whose clothes are taken (A)")
    parser.add_argument("structure", help="image whose person, pose and background are kept (B)")
    parser.add_argument("-o", "--out", required=True, help="output image (PNG or JPEG)")
    parser.add_argument("--checkpoint", default="dgnet", help="registered name or a .pt file (default: shipped)")
    parser.add_argument("--official", default=None, help="an official DG-Net run folder (config.yaml, checkpoints/)")


def _ship_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher-run", default="runs/reid", help="the teacher's run folder, or a shipped "
                         "teacher file to keep (checkpoints/dgnet/teacher.pt)")  # fmt: skip
    parser.add_argument("--continues-shipped", action="store_true", help="the run started from the registered "
                         "dgnet (train dgnet --init-from): add its steps and time, list both stages")  # fmt: skip
    parser.add_argument("--stage", default="training", help="name of this run's stage in the manifest")
    parser.add_argument("--run", default="runs/dgnet")
    parser.add_argument("--data", default="data/reid")
    parser.add_argument("--pairs", default="data/pairs")
    parser.add_argument("--earlier-run", action="append", default=[],
                         help="a run this one continued (--warm-start); repeat for a chain, oldest first")  # fmt: skip
    parser.add_argument("--stage-before", action="append", default=[], metavar="NAME=RUN_DIR",
                         help="with --continues-shipped: a run between the shipped model and --run (each started "
                         "--init-from the one before); repeat, oldest first")  # fmt: skip


METHOD = register_method(Method(
    "dgnet",
    "DG-Net (CVPR 2019): swap appearance and structure codes between people; retrieve a person across cameras",
    train=Command("DG-Net (needs a trained teacher: python -m core train reid)", _cmd_train_dgnet, _train_arguments),
    eval=Command("DG-Net: retrieval vs the teacher, swaps vs the rendered truth", _cmd_eval_dgnet, _eval_arguments),
    bench=helpers.bench_command("DG-Net: 4x4 swap grid (shipped model), one training iteration", "core.dgnet.bench",
                                "bench_dgnet", lambda a: _load_dgnet(a.checkpoint), _bench_arguments),
    ship=Command("DG-Net and its teacher -> checkpoints/dgnet/", _cmd_ship_dgnet, _ship_arguments),
    commands=[Command("DG-Net: the person of B wearing the clothes of A", _cmd_swap, _swap_arguments, name="swap")],
))  # fmt: skip
