"""Texture generation's commands: ``train texgen``, ``eval texgen``, ``bench texgen``, ``ship texgen`` and
``texture``."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import cli_helpers as helpers
from core.cli_helpers import CliError
from core.registry import Command, Method, register_method


def _texgen_model(checkpoint: str, pcb: str | None):
    """The shipped/registered texture U-Net (+ PCB), or files."""
    from core.texgen import api

    if checkpoint.endswith(".pt"):
        return api.load_files(checkpoint, pcb if pcb else None)
    return api.load(checkpoint, pcb if pcb else None)


def _cmd_train_texgen(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from core.texgen.config import TexGenConfig
    from core.texgen.train import train_texgen

    pcb = Path(args.pcb)
    if not pcb.is_file():
        raise CliError(f"no PCB at {pcb}: train one with python -m core train pcb --data DIR")
    cfg = TexGenConfig.from_preset(args.preset)
    if args.steps is not None:
        cfg = replace(cfg, steps=helpers.positive("steps", args.steps))
    result = train_texgen(helpers.data_root(args.data), args.out, cfg, pcb, resume=args.resume, device=args.device,
                          progress=helpers.train_progress("texture U-Net"))  # fmt: skip
    return helpers.report_training("texture U-Net", result)


def _cmd_eval_texgen(args: argparse.Namespace) -> int:

    from core.texgen.evaluate import TexGenEvalConfig, evaluate_texgen, format_report

    model = _texgen_model(args.checkpoint, args.pcb)
    cfg = TexGenEvalConfig(people=helpers.positive("people", args.people), steps=helpers.positive("steps", args.steps))
    report = evaluate_texgen(model, helpers.data_root(args.data), cfg,
                             progress=lambda i, n: print(f"  person {i}/{n}", end="\r", flush=True))  # fmt: skip
    print()
    return helpers.report_eval(format_report(report), report, args.out)


def _annotation_for(path: Path):
    """The body and camera of a picture from one of our synthetic sets (annotations.jsonl above it), or None."""
    from core.data.annotations import read_annotations

    for root in list(path.resolve().parents)[:3]:
        if (root / "annotations.jsonl").exists():
            rel = path.resolve().relative_to(root).as_posix()
            note = read_annotations(root).get(rel)
            if note is not None:
                return note
    return None


def _fit_photo(image, method: str):
    """A body and camera for a photo: fitted to it (the 'photo' extra), else a default standing body,
    which only the U-Net can use (its texture does not depend on the body)."""
    import numpy as np

    from core.texgen import api

    try:
        from core.render.photo_detect import detect_person
        from core.render.photo_fit import fit_body
        from core.synth.engine import shared_renderer

        photo = (image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        result = fit_body(detect_person(photo), photo.shape[:2], body=shared_renderer().body)
    except Exception as err:  # noqa: BLE001 -- no extra, no person: say why, fall back where we can
        if method == "optimize":
            raise CliError(f"optimisation needs the body in the photo, and fitting it failed: {err}") from err
        print(f"note: no body fit ({err}); showing the texture on a default standing body")
        return api.default_annotation(), "a default standing body"
    for warning in result.warnings:
        print(f"note: {warning}")
    return result.annotation(), "a body fitted to the photo"


def _cmd_texture(args: argparse.Namespace) -> int:
    from core.texgen import api

    model = _texgen_model(args.checkpoint, args.pcb)
    image = helpers.read_rgb(args.image)
    note = _annotation_for(Path(args.image))
    source = "the synthetic set's annotation"
    if note is None:
        note, source = _fit_photo(image, args.method)
    out = Path(args.out)
    if args.method == "unet":
        texture = api.texture_unet(model, image, note)
    else:
        last = None
        for report in api.optimize(model, image, note, loss=args.loss, steps=helpers.positive("steps", args.steps)):
            print(f"  step {report.step}/{args.steps}: " + ", ".join(f"{k} {v:.4g}" for k, v in report.losses.items()),
                  end="\r", flush=True)  # fmt: skip
            last = report
        print()
        texture = last.texture
    png, glb = api.export(texture, note, out, stem=Path(args.image).stem)
    strip = api.orbit(texture, note, size=(256, 128))
    from PIL import Image

    picture = (strip.permute(2, 0, 3, 1).reshape(strip.shape[2], -1, 3).numpy() * 255).round().astype("uint8")
    Image.fromarray(picture).save(out / f"{Path(args.image).stem}_orbit.png")
    print(f"body: {source}\nwrote {png}, {glb} and {out / (Path(args.image).stem + '_orbit.png')}")
    return 0


def _cmd_ship_texgen(args: argparse.Namespace) -> int:
    from core.texgen.evaluate import TexGenEvalConfig, format_report
    from core.texgen.ship import ship_texgen

    pcb_run = Path(args.pcb_run) if args.pcb_run else None
    runs = [run for run in (pcb_run, args.run) if run is not None]
    helpers.require_finished(runs, "python -m core train ... --resume")
    cfg = TexGenEvalConfig(people=helpers.positive("people", args.people), steps=helpers.positive("steps", args.steps))
    report = ship_texgen(pcb_run, Path(args.run), helpers.data_root(args.data), cfg,
                         progress=lambda i, n: print(f"  person {i}/{n}", end="\r", flush=True))  # fmt: skip
    print()
    return helpers.report_ship(format_report(report), "'texgen' and 'texgen-pcb' (checkpoints/texgen/)")


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="texgen", help="registered name or a .pt file")
    parser.add_argument("--pcb", default="texgen-pcb", help="registered name or a .pt file")
    helpers.add_bench_arguments(parser, ["small"], 3)


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pcb", default="runs/pcb/final.pt", help="the PCB whose features are the re-ID loss")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.set_defaults(out_default="runs/texgen", preset_default="small")
    helpers.add_run_arguments(parser)


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="texgen", help="registered name or a .pt file (default: shipped)")
    parser.add_argument("--pcb", default="texgen-pcb", help="registered name or a .pt file ('' for no re-ID loss)")
    parser.add_argument("--data", default="data/reid", help="re-ID set with annotations (its query people)")
    parser.add_argument("--people", type=int, default=24, help="held-out people, one image each")
    parser.add_argument("--steps", type=int, default=100, help="optimisation steps per person and loss")
    parser.add_argument("--out", default="", help="also write the numbers as JSON here")


def _texture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="a person photo (a synthetic set's image uses its own body and camera)")
    parser.add_argument("--method", default="unet", choices=("unet", "optimize"))
    parser.add_argument("--loss", default="reid", choices=("reid", "l1", "both"), help="optimisation loss")
    parser.add_argument("--steps", type=int, default=200, help="optimisation steps")
    parser.add_argument("-o", "--out", required=True, help="output folder (texture PNG, GLB, orbit strip)")
    parser.add_argument("--checkpoint", default="texgen", help="registered name or a .pt file (default: shipped)")
    parser.add_argument("--pcb", default="texgen-pcb", help="registered name or a .pt file")


def _ship_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pcb-run", default=None, help="a PCB run to ship with the U-Net (default: keep the shipped PCB)"
    )
    parser.add_argument("--run", default="runs/texgen")
    parser.add_argument("--data", default="data/reid")
    parser.add_argument("--people", type=int, default=24, help="held-out people in the evaluation")
    parser.add_argument("--steps", type=int, default=100, help="optimisation steps per person and loss")


METHOD = register_method(Method(
    "texgen",
    "Re-ID supervised texture generation (CVPR 2019): a full-body texture on a 3D body from one image",
    train=Command("the texture U-Net (needs a trained PCB: python -m core train pcb)", _cmd_train_texgen,
                  _train_arguments),
    eval=Command("textures: input view vs the photo, unseen views vs the truth", _cmd_eval_texgen, _eval_arguments),
    bench=helpers.bench_command("texture: U-Net, optimisation steps (cached vs fresh raster), orbit",
                                "core.texgen.bench", "bench_texgen", lambda a: _texgen_model(a.checkpoint, a.pcb),
                                _bench_arguments),
    ship=Command("the texture U-Net and its PCB -> checkpoints/texgen/", _cmd_ship_texgen, _ship_arguments),
    commands=[Command("re-ID supervised texture of the body in a person photo", _cmd_texture, _texture_arguments,
                      name="texture")],
))  # fmt: skip
