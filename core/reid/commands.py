"""The re-ID baseline's and PCB's commands: ``train reid`` (DG-Net's teacher) and ``train pcb`` (the re-ID loss of
texture generation)."""

from __future__ import annotations

import argparse

from core import cli_helpers as helpers
from core.registry import Command, Method, register_method


def _cmd_train_reid(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from core.reid.train import BaselineConfig, train_baseline

    cfg = BaselineConfig.from_preset(args.preset)
    if args.steps is not None:
        cfg = replace(cfg, steps=helpers.positive("steps", args.steps))
    name = "PCB" if cfg.head == "pcb" else "re-ID baseline"
    result = train_baseline(helpers.data_root(args.data), args.out, cfg, resume=args.resume, device=args.device,
                            progress=helpers.train_progress(name))  # fmt: skip
    return helpers.report_training(name, result, helpers.retrieval_note(result.get("metrics")))


def _train_arguments(model: str, preset: str):
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
        parser.set_defaults(out_default=f"runs/{model}", preset_default=preset)
        helpers.add_run_arguments(parser)

    return add_arguments


METHOD = register_method(
    Method(
        "reid",
        "the plain re-ID baseline (DG-Net's teacher) and PCB (the texture's re-ID loss)",
        train=(
            Command("the plain re-ID baseline (DG-Net's teacher)", _cmd_train_reid, _train_arguments("reid", "small")),
            Command(
                "PCB, 6 stripes (the re-ID loss of texture generation)",
                _cmd_train_reid,
                _train_arguments("pcb", "pcb-small"),
                name="pcb",
            ),  # fmt: skip
        ),
    )
)
