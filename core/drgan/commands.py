"""DR-GAN's commands: ``train drgan``, ``train drgan-judge``, ``eval drgan``, ``bench drgan``, ``ship drgan`` and
``rotate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import cli_helpers as helpers
from core.cli_helpers import CliError
from core.registry import Command, Method, register_method


def _face_root(text: str) -> Path:
    root = Path(text)
    if not (root / "labels.csv").is_file() or not (root / "split.json").is_file():
        raise CliError(f"{root} is not a face set (no labels.csv and split.json): "
                       "generate one with python -m core synth face --out data/face")  # fmt: skip
    return root


def _cmd_train_drgan(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from core.drgan.config import DRGANConfig
    from core.drgan.train import train_drgan

    cfg = DRGANConfig.from_preset(args.preset, multi=args.multi)
    if args.steps is not None:
        cfg = replace(cfg, steps=helpers.positive("steps", args.steps))
    warm = args.warm_start
    if warm is None and args.multi and not args.resume:
        warm = "runs/drgan/final.pt"
    if warm is not None and not Path(warm).is_file():
        raise CliError(f"no DR-GAN at {warm} to start from: train the single-image model first "
                       "(python -m core train drgan), or pass --warm-start ''")  # fmt: skip
    out = args.out if args.out != "runs/drgan" or not args.multi else "runs/drgan-multi"
    judge = teacher = None
    if cfg.validation_ids:
        judge = _model_file(args.select_judge, "judge to choose checkpoints with",
                            f"python -m core train drgan-judge --data {args.data}", "--select-judge")  # fmt: skip
    if cfg.identity_weight and cfg.identity_features == "teacher":
        teacher = _model_file(args.identity_teacher, "DR-GAN to teach identity",
                              "python -m core train drgan --preset small", "--identity-teacher")  # fmt: skip
    if warm is None and teacher is not None and not args.multi and not args.resume:
        warm = str(teacher)  # the preset fine-tunes its teacher
    result = train_drgan(_face_root(args.data), out, cfg, resume=args.resume, device=args.device,
                         progress=helpers.train_progress("DR-GAN" + (" multi" if args.multi else "")),
                         warm_start=warm or None, select_judge=judge, identity_teacher=teacher)  # fmt: skip
    return helpers.report_training("DR-GAN", result)


def _model_file(name: str, what: str, how: str, option: str) -> Path:
    """A registered name or a .pt file that must exist (a clear error naming ``option`` otherwise)."""
    from core.checkpoints import CheckpointError, resolve

    try:
        path = Path(name) if name.endswith(".pt") else resolve(name)
    except CheckpointError as err:
        raise CliError(f"{err} ({option})") from None
    if not path.is_file():
        raise CliError(f"no {what} at {path}: train one first ({how}) or pass {option}")
    return path


def _drgan_model(checkpoint: str, multi: str | None):
    """The shipped/registered DR-GAN (+ multi-image DR-GAN), or files."""
    from core.checkpoints import resolve
    from core.drgan import api

    def path(name: str) -> Path:
        return Path(name) if name.endswith(".pt") else resolve(name)

    return api.load_files(path(checkpoint), path(multi) if multi else None)


def _cmd_train_drgan_judge(args: argparse.Namespace) -> int:
    from core.drgan.judge import train_judge

    result = train_judge(_face_root(args.data), Path(args.out) / "final.pt", progress=helpers.train_progress("judge"))
    print(f"judge: {result['seconds'] / 60:.1f} min; yaw-bin accuracy on held-out faces "
          f"{100 * result['test_pose_accuracy']:.1f}% -> {result['path']}")  # fmt: skip
    return 0


def _cmd_eval_drgan(args: argparse.Namespace) -> int:

    from core.checkpoints import resolve
    from core.drgan.evaluate import evaluate_drgan, format_report
    from core.drgan.judge import load_judge

    model = _drgan_model(args.checkpoint, args.multi)
    judge, jcfg = load_judge(Path(args.judge) if args.judge.endswith(".pt") else resolve(args.judge))
    report = evaluate_drgan(model.single, judge, jcfg.image_size, _face_root(args.data), multi_model=model.multi,
                            progress=lambda text: print(f"  {text}", flush=True))  # fmt: skip
    return helpers.report_eval(format_report(report), report, args.out)


def _load_face_picture(path: str, model, align: str):
    """(1, 3, S, S) in [-1, 1] from an image file: aligned with the face detector (the 'photo' extra) or
    taken as it is; prints the notes."""
    from core.drgan import api

    image = helpers.read_rgb(path)[0]
    if align != "none":
        from core.drgan.align import FaceNotFound, PhotoExtraMissing, align_face

        photo = (image.permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        try:
            aligned = align_face(photo, model.config.load_size)
            image = aligned.crop
            for note in aligned.notes:
                print(f"note: {note}")
        except FaceNotFound as err:
            if align == "face":
                raise CliError(f"{err} (or pass --align none to use the picture as it is)") from err
            print(f"note: {err}; using the picture as it is")
        except PhotoExtraMissing as err:
            if align == "face":
                raise CliError(str(err)) from err
            print(f"note: {err}; using the picture as it is")
    x, notes = api.prepare_face(image, model)
    for note in notes:
        print(f"note: {note}")
    return x


def _cmd_rotate(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image

    from core.drgan import api

    model = _drgan_model(args.checkpoint, None)
    x = _load_face_picture(args.image, model, args.align)
    yaw_est, _ = api.estimate_yaw(model, x)
    if args.all:
        strip = api.all_poses(model, x, seed=args.seed)
        picture = torch.cat(list(strip), 2)
        what = "all 13 yaw bins, -90 to 90 degrees"
    else:
        try:
            picture, yaw = api.rotate(model, x, args.yaw, seed=args.seed)
        except ValueError as err:
            raise CliError(str(err)) from err
        what = f"yaw {yaw:+d} degrees" + (f" (the bin nearest {args.yaw:g})" if yaw != args.yaw else "")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((picture.permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(out)
    print(f"the discriminator puts the input at yaw {yaw_est:+.0f} degrees; wrote {out} ({what})")
    return 0


def _cmd_ship_drgan(args: argparse.Namespace) -> int:
    from core.drgan.evaluate import format_report
    from core.drgan.ship import ship_drgan

    helpers.require_finished((args.run, args.multi_run), "python -m core train drgan ... --resume")
    if not Path(args.judge).is_file():
        raise CliError(f"no judge at {args.judge}: python -m core train drgan-judge")
    report = ship_drgan(Path(args.run), Path(args.multi_run), Path(args.judge), _face_root(args.data),
                        progress=lambda text: print(f"  {text}", flush=True))  # fmt: skip
    return helpers.report_ship(format_report(report), "'drgan', 'drgan-multi' and 'drgan-judge' (checkpoints/drgan/)")


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="drgan", help="registered name or a .pt file")
    parser.add_argument("--multi", default="drgan-multi", help="registered name or a .pt file ('' for none)")
    helpers.add_bench_arguments(parser, ["small", "paper"], 5)


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--multi", action="store_true", help="the multi-image model (starts from runs/drgan/final.pt)")
    parser.add_argument("--warm-start", default=None, help="a trained DR-GAN's final.pt to start from")
    parser.add_argument("--select-judge", default="drgan-judge",
                        help="the judge (python -m core train drgan-judge) whose identification of the validation "
                        "people's turned faces chooses the checkpoint, for presets with validation_ids "
                        "(small-identity); a registered name (default: the shipped judge) or a .pt file")  # fmt: skip
    parser.add_argument("--identity-teacher", default="drgan-teacher",
                        help="the trained DR-GAN whose frozen encoder gives the identity loss and which "
                        "small-identity fine-tunes; a registered name (default: the shipped teacher) or a .pt "
                        "file")  # fmt: skip
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--data", default="data/face", help="face folder with labels.csv (default data/face)")
    parser.set_defaults(out_default="runs/drgan", preset_default="small-identity")
    helpers.add_run_arguments(parser, data=False)


def _judge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="data/face", help="face folder with labels.csv (default data/face)")
    parser.add_argument("--out", default="runs/drgan-judge", help="run folder")


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="drgan", help="registered name or a .pt file (default: shipped)")
    parser.add_argument("--multi", default="drgan-multi", help="multi-image model, name or .pt ('' for none)")
    parser.add_argument("--judge", default="drgan-judge", help="the independent judge, name or .pt")
    parser.add_argument("--data", default="data/face", help="face set (its held-out people)")
    parser.add_argument("--out", default="", help="also write the numbers as JSON here")


def _rotate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="a face picture (a photo is aligned with the face detector when it is installed)")
    parser.add_argument(
        "--yaw", type=float, default=0.0, help="target yaw in degrees, -90..90 (the nearest of 13 bins)"
    )
    parser.add_argument("--all", action="store_true", help="write the strip of all 13 yaws instead")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    parser.add_argument(
        "--align",
        default="auto",
        choices=("auto", "face", "none"),
        help="auto: detect the face when mediapipe is installed; face: require it; none: as it is",
    )
    parser.add_argument("-o", "--out", required=True, help="output image (PNG or JPEG)")
    parser.add_argument("--checkpoint", default="drgan", help="registered name or a .pt file (default: shipped)")


_ship_arguments = helpers.path_arguments(
    run="runs/drgan", multi_run="runs/drgan-multi", judge="runs/drgan-judge/final.pt", data="data/face"
)


METHOD = register_method(
    Method(
        "drgan",
        "DR-GAN (CVPR 2017): turn a face to any yaw; fuse several photos of one person",
        train=(
            Command("DR-GAN on a face set (--multi: the multi-image model)", _cmd_train_drgan, _train_arguments),
            Command(
                "the independent yaw/identity classifier of the DR-GAN eval",
                _cmd_train_drgan_judge,
                _judge_arguments,
                name="drgan-judge",
            ),
        ),
        eval=Command(
            "DR-GAN: recognition per yaw, rotations vs the rendered truth, fusion", _cmd_eval_drgan, _eval_arguments
        ),
        bench=helpers.bench_command(
            "DR-GAN: the 13-pose strip (target 0.5 s), fusion, training steps",
            "core.drgan.bench",
            "bench_drgan",
            lambda a: _drgan_model(a.checkpoint, a.multi),
            _bench_arguments,
        ),
        ship=Command(
            "the single- and multi-image DR-GAN and the judge -> checkpoints/drgan/", _cmd_ship_drgan, _ship_arguments
        ),
        commands=[Command("DR-GAN: a face turned to another yaw", _cmd_rotate, _rotate_arguments, name="rotate")],
    )
)
