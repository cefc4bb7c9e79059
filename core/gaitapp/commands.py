"""GaitNet's and DyGait's commands (this layer sits above both models and the gait pieces they share in
core/gait): ``train gaitnet``, ``train dygait``, ``eval gaitnet``, ``eval dygait``, ``bench gait``, ``ship gait``
and ``gait``.

The handlers import what they run (trainers, models, the renderer) inside themselves: the CLI imports every
method's commands module to build its parser, and ``python -m core --help`` should not load them all."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import cli_helpers as helpers
from core.cli_helpers import CliError
from core.registry import Command, Method, register_method


def _gait_root(text: str) -> Path:
    root = Path(text)
    if not (root / "sil").is_dir() and not any(root.glob("*/*/*/*.pkl")):
        raise CliError(f"{root} is not a gait set (no sil/ and no <id>/<condition>/<view>/*.pkl): "
                       "generate one with python -m core synth gait --out data/gait")  # fmt: skip
    return root


def _gait_config(model: str, preset: str, steps: int | None):
    from dataclasses import replace

    if model == "gaitnet":
        from core.gaitnet.config import GaitNetConfig as Config
    else:
        from core.dygait.config import DyGaitConfig as Config
    cfg = Config.from_preset(preset)
    return cfg if steps is None else replace(cfg, steps=helpers.positive("steps", steps))


def _cmd_train_gait(args: argparse.Namespace) -> int:
    cfg = _gait_config(args.model, args.preset, args.steps)
    if args.model == "gaitnet":
        from core.gaitnet.train import train_gaitnet as train
    else:
        from core.dygait.train import train_dygait as train
    name = {"gaitnet": "GaitNet", "dygait": "DyGait"}[args.model]
    result = train(_gait_root(args.data), args.out, cfg, resume=args.resume, device=args.device,
                   progress=helpers.train_progress(name), max_steps=args.max_steps)  # fmt: skip
    best = result.get("best_validation")
    return helpers.report_training(
        name, result, f"; best validation Rank-1 {100 * best:.1f}%" if isinstance(best, float) else ""
    )


def _gait_models(gaitnet: str | None, dygait: str | None):
    from core.gaitapp import api

    return api.load(gaitnet or None, dygait or None)


def _cmd_eval_gait(args: argparse.Namespace) -> int:

    from core.gait.evaluate import format_table
    from core.gaitapp import api

    models = _gait_models(args.checkpoint if args.model == "gaitnet" else None,
                          args.checkpoint if args.model == "dygait" else None)  # fmt: skip
    results = api.evaluate_models(models, _gait_root(args.data), split=args.split,
                                  progress=lambda text: print(f"  {text}", flush=True))  # fmt: skip
    print(f"CASIA-B protocol on the {args.split} subjects, Rank-1 (%), identical views excluded:\n")
    return helpers.report_eval(format_table(results, per_view=args.per_view), api.results_json(results), args.out)


def _cmd_gait(args: argparse.Namespace) -> int:
    import json

    from core.gait.clip import ClipError, read_clip
    from core.gaitapp import api

    try:
        clip = read_clip(args.clip)
    except ClipError as err:
        raise CliError(str(err)) from err
    for note in clip.notes:
        print(f"note: {note}")
    models = _gait_models(args.gaitnet, args.dygait)
    gallery = api.load_gallery() if not args.no_gallery else None
    out = Path(args.out)
    written = api.write_report(models, clip, out, gallery=gallery)
    summary = json.loads((out / "summary.json").read_text())
    for name, hits in summary.get("matches", {}).items():
        print(f"{name} top-5: " + ", ".join(f"{h['label']} ({h['distance']:.3f})" for h in hits))
    print(f"{len(clip.sil)} frames; wrote " + ", ".join(str(p) for p in written))
    return 0


def _cmd_ship_gait(args: argparse.Namespace) -> int:
    from core.gait.evaluate import format_table
    from core.gaitapp.ship import ship_gait

    helpers.require_finished((args.gaitnet_run, args.dygait_run), "python -m core train ... --resume")
    results = ship_gait(Path(args.gaitnet_run), Path(args.dygait_run), _gait_root(args.data),
                        progress=lambda text: print(f"  {text}", flush=True))  # fmt: skip
    return helpers.report_ship(format_table(results), "'gaitnet' and 'dygait' (checkpoints/gait/)")


def _train_arguments(model: str):
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", default="data/gait", help="gait set or OpenGait tree (default data/gait)")
        parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
        parser.add_argument("--max-steps", type=int, default=None, help="stop early with a checkpoint (resume later)")
        parser.add_argument("--preset", default="small", help="small (2-core CPU, the default), paper or tiny")
        parser.add_argument("--out", default=f"runs/{model}", help=f"run folder (default runs/{model})")
        parser.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
        parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
        parser.set_defaults(model=model)

    return add_arguments


def _eval_arguments(model: str):
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--checkpoint", default=model, help="registered name or a .pt file (default: shipped)")
        parser.add_argument("--data", default="data/gait", help="gait set (default data/gait)")
        parser.add_argument("--split", default="test", choices=("test", "train", "all"))
        parser.add_argument("--per-view", action="store_true", help="also the Rank-1 of every probe view")
        parser.add_argument("--out", default="", help="also write the numbers as JSON here")
        parser.set_defaults(model=model)

    return add_arguments


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gaitnet", default="gaitnet", help="registered name or a .pt file ('' for none)")
    parser.add_argument("--dygait", default="dygait", help="registered name or a .pt file ('' for none)")
    helpers.add_bench_arguments(parser, ["small", "paper"], 5)


def _gait_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", nargs="+", help="a clip (GIF; MP4 with the photo extra), its frames, or a .pkl")
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--gaitnet", default="gaitnet", help="registered name or a .pt file ('' for none)")
    parser.add_argument("--dygait", default="dygait", help="registered name or a .pt file ('' for none)")
    parser.add_argument("--no-gallery", action="store_true", help="skip the gallery matches")


_ship_arguments = helpers.path_arguments(gaitnet_run="runs/gaitnet", dygait_run="runs/dygait", data="data/gait")


METHOD = register_method(
    Method(
        "gait",
        "GaitNet (CVPR 2019) and DyGait (ICCV 2023): split walking frames into factors; recognise by gait",
        train=(
            Command(
                "GaitNet on masked RGB walks (appearance/pose split, LSTM)",
                _cmd_train_gait,
                _train_arguments("gaitnet"),
                name="gaitnet",
            ),
            Command(
                "DyGait on OpenGait silhouettes (dynamic augmentation)",
                _cmd_train_gait,
                _train_arguments("dygait"),
                name="dygait",
            ),
        ),
        eval=tuple(
            Command(
                f"{model}: CASIA-B Rank-1 per condition, with the GEI baseline",
                _cmd_eval_gait,
                _eval_arguments(model),
                name=model,
            )
            for model in ("gaitnet", "dygait")
        ),
        bench=helpers.bench_command(
            "gait: recognising one 30-frame walk per model (target 1 s), training steps",
            "core.gaitapp.bench",
            "bench_gait",
            lambda a: _gait_models(a.gaitnet, a.dygait),
            _bench_arguments,
            "bench_train_steps",
        ),
        ship=Command("GaitNet, DyGait and the app's gallery -> checkpoints/gait/", _cmd_ship_gait, _ship_arguments),
        commands=[
            Command(
                "GaitNet and DyGait on a walk: maps, trajectory, gallery matches",
                _cmd_gait,
                _gait_arguments,
                name="gait",
            )
        ],
    )
)
