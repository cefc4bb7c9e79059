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


# GaitNet presets that fine-tune a trained model -> the default start (None: the user must name one)
FINE_TUNES: dict[str, str | None] = {"small-swap": "gaitnet-base", "small-cs-gan": None, "small-cs-finetune": None,
                                     "small-cs-matte-gan": None, "small-cs-matte-finetune": None}  # fmt: skip


def _gaitnet_sources(args: argparse.Namespace, cfg) -> dict:
    """GaitNet's clothes-swap walks and warm start: the presets with aligned pairs need the swaps; small-swap
    starts from the earlier model (``gaitnet-base``) unless told otherwise, small-cs-gan and small-cs-finetune
    need a small-cs model named (``FINE_TUNES``); '' switches either off."""
    swaps = args.swaps if args.swaps is not None else ("data/gait-swaps" if cfg.aligned_pair_share > 0 else "")
    if swaps and not Path(swaps).is_dir():
        raise CliError(f"no clothes-swap walks at {swaps}: make them with python -m core synth gait-swaps "
                       f"--gait {args.data} --out {swaps}, or pass --swaps ''")  # fmt: skip
    if cfg.aligned_pair_share > 0 and not swaps:
        raise CliError(f"preset {args.preset} pairs clothes-swap walks: pass --swaps data/gait-swaps")
    warm = args.warm_start
    if warm is None and args.preset in FINE_TUNES and not args.resume:  # the others train from scratch
        warm = FINE_TUNES[args.preset]
        if warm is None:
            raise CliError(f"preset {args.preset} fine-tunes a trained small-cs model: pass --warm-start "
                           "runs/gaitnet-cs/final.pt (train it with --preset small-cs first)")  # fmt: skip
    return {"swaps": swaps or None, "warm_start": warm or None}


def _cmd_train_gait(args: argparse.Namespace) -> int:
    cfg = _gait_config(args.model, args.preset, args.steps)
    if args.model == "gaitnet":
        from core.gaitnet.train import train_gaitnet as train
    else:
        from core.dygait.train import train_dygait as train
    name = {"gaitnet": "GaitNet", "dygait": "DyGait"}[args.model]
    extra = _gaitnet_sources(args, cfg) if args.model == "gaitnet" else {}
    result = train(_gait_root(args.data), args.out, cfg, resume=args.resume, device=args.device,
                   progress=helpers.train_progress(name), max_steps=args.max_steps, **extra)  # fmt: skip
    best = result.get("best_validation")
    return helpers.report_training(
        name, result, f"; best validation Rank-1 {100 * best:.1f}%" if isinstance(best, float) else ""
    )


def _gait_models(gaitnet: str | None, dygait: str | None):
    from core.gaitapp import api

    return api.load(gaitnet or None, dygait or None)


def _say(text: str) -> None:
    print(f"  {text}", flush=True)


def _cmd_eval_gait(args: argparse.Namespace) -> int:
    from core.gaitapp import api

    appearance_swap = args.model == "gaitnet" and args.appearance_swap
    if appearance_swap and args.swap_pairs < 0:
        raise CliError(f"--swap-pairs must be >= 0 (0: every test walker), got {args.swap_pairs}")
    models = _gait_models(args.checkpoint if args.model == "gaitnet" else None,
                          args.checkpoint if args.model == "dygait" else None)  # fmt: skip
    root = _gait_root(args.data)
    evaluation = api.evaluate_gait(models, root, split=args.split, swaps=args.swaps or None, progress=_say)
    report = api.evaluation_json(evaluation)
    swap = None
    if appearance_swap:
        from core.gait.swap_eval import swap_pairs
        from core.gait.walkers import gait_config, test_subjects

        cfg = gait_config(root)
        if "nm-05" in cfg.conditions and 90 in cfg.views:
            pairs = swap_pairs(test_subjects(cfg))[: args.swap_pairs or None]
            swap = report["swap"] = api.swap_evaluation(models, root, pairs, progress=_say)
        else:
            print(f"note: {root}'s walkers have no nm-05 walk at 90°: appearance swap skipped")
    print(f"CASIA-B protocol on the {args.split} subjects, Rank-1 (%), identical views excluded:\n")
    return helpers.report_eval(api.format_evaluation(evaluation, swap, per_view=args.per_view), report, args.out)


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
    from core.gaitapp.ship import ship_gait

    keep = args.dygait_run in ("", "keep")
    if keep:
        from core.checkpoints import CheckpointError, resolve

        try:
            resolve("dygait")
        except CheckpointError as err:
            raise CliError(f"--dygait-run keep needs the shipped DyGait: {err}") from None
    helpers.require_finished([args.gaitnet_run] + ([] if keep else [args.dygait_run]),
                             "python -m core train ... --resume")  # fmt: skip
    shipped = ship_gait(Path(args.gaitnet_run), None if keep else Path(args.dygait_run), _gait_root(args.data),
                        progress=_say, swaps=Path(args.swaps) if args.swaps else None)  # fmt: skip
    entries = "'gaitnet' and 'dygait' (checkpoints/gait/)"
    if keep:
        entries = "'gaitnet' (checkpoints/gait/; DyGait kept as shipped)"
    return helpers.report_ship(shipped["markdown"], entries)


def _train_arguments(model: str):
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", default="data/gait", help="gait set or OpenGait tree (default data/gait)")
        parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
        parser.add_argument("--max-steps", type=int, default=None, help="stop early with a checkpoint (resume later)")
        if model == "gaitnet":
            from core.gaitnet.config import PRESETS

            parser.add_argument("--preset", default="small",
                                help=f"one of {', '.join(PRESETS)} (default small, the shipped model; each "
                                     "preset's docstring in core/gaitnet/config.py says what it changes)")  # fmt: skip
            parser.add_argument("--swaps", default=None,
                                help="clothes-swap walks (python -m core synth gait-swaps; default data/gait-swaps "
                                     "for small-swap and small-cs, '' for none)")  # fmt: skip
            parser.add_argument("--warm-start", default=None,
                                help="a trained GaitNet to start from (registered name or final.pt; default "
                                     "gaitnet-base for small-swap, '' for none)")  # fmt: skip
        else:
            parser.add_argument("--preset", default="small", help="small (2-core CPU, the default), paper or tiny")
        parser.add_argument("--out", default=f"runs/{model}", help=f"run folder (default runs/{model})")
        parser.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
        parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
        parser.set_defaults(model=model)

    return add_arguments


def _eval_arguments(model: str):
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--checkpoint", default=model,
                            help="registered name or a run's final.pt (default: shipped); for GaitNet also a run's "
                                 "last.pt, its last step's weights")  # fmt: skip
        parser.add_argument("--data", default="data/gait", help="gait set (default data/gait)")
        parser.add_argument("--split", default="test", choices=("test", "train", "all"))
        parser.add_argument("--per-view", action="store_true", help="also the Rank-1 of every probe view")
        parser.add_argument("--out", default="", help="also write the numbers as JSON here")
        parser.add_argument("--swaps", default="data/gait-swaps",
                            help="clothes-swap walks (python -m core synth gait-swaps): does each method name the "
                                 "walk's owner or the clothes'? '' for none (skipped when absent)")  # fmt: skip
        if model == "gaitnet":
            parser.add_argument("--appearance-swap", action=argparse.BooleanOptionalAction, default=True,
                                help="score the appearance swap against rendered truths on the fair bar (renders "
                                     "each pair's truth, 5-10 s a pair; default on)")  # fmt: skip
            parser.add_argument("--swap-pairs", type=int, default=0,
                                help="score the first N swap pairs only (0: all)")  # fmt: skip
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


def _ship_arguments(parser: argparse.ArgumentParser) -> None:
    helpers.path_arguments(gaitnet_run="runs/gaitnet", data="data/gait")(parser)
    parser.add_argument("--dygait-run", default="runs/dygait",
                        help="DyGait's finished run, or 'keep' ('' too) to keep the shipped dygait.pt, its manifest "
                             "entry and curves (and evaluate that file)")  # fmt: skip
    parser.add_argument("--swaps", default="data/gait-swaps",
                        help="clothes-swap walks to identify ('' for none; skipped when absent)")  # fmt: skip


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
