"""The command line works as documented and turns bad input into one clear line (exit 2)."""

import json
import subprocess
import sys

import pytest

from core import checkpoints


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, timeout=timeout)


def test_body_info_reports_sizes():
    res = run("body", "info")
    assert res.returncode == 0, res.stderr
    assert "vertices: " in res.stdout and "faces: " in res.stdout


def test_checkpoints_verify_passes_on_shipped_files():
    res = run("checkpoints", "verify")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ok   body" in res.stdout


def test_bench_render_prints_its_table():
    res = run("bench", "render", "--batch", "1", "--repeats", "1")
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stdout.splitlines() if line.startswith("| 128x64") or line.startswith("| 256x256")]
    assert len(lines) == 2
    ratio = float(lines[0].split("|")[5].strip().rstrip("x"))
    assert 0.05 < ratio < 5.0


@pytest.mark.parametrize(
    "args, message",
    [
        (("bench", "render", "--repeats", "0"), "--repeats"),
        (("body", "info", "--dir", "/nonexistent"), "no body model"),
    ],
)
def test_bad_arguments_give_one_clear_line(args, message):
    res = run(*args)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr


def test_unknown_command_is_rejected():
    res = run("teleport")
    assert res.returncode == 2 and "invalid choice" in res.stderr


def test_manifest_detects_a_corrupt_file(tmp_path):
    manifest = tmp_path / "manifest.json"
    (tmp_path / "w.bin").write_bytes(b"abc")
    checkpoints.save_entry(
        {"name": "x", "file": "w.bin", "sha256": checkpoints.sha256_of(tmp_path / "w.bin")}, manifest
    )
    assert checkpoints.resolve("x", manifest) == tmp_path / "w.bin"
    (tmp_path / "w.bin").write_bytes(b"abd")
    with pytest.raises(checkpoints.CheckpointError, match="sha256"):
        checkpoints.resolve("x", manifest)
    with pytest.raises(checkpoints.CheckpointError, match="unknown checkpoint"):
        checkpoints.resolve("y", manifest)
    assert json.loads(manifest.read_text())["checkpoints"][0]["name"] == "x"


def test_rotate_turns_a_face_with_the_shipped_model(tmp_path):
    """``python -m core rotate`` on a held-out rendered face: a 64x64 face at the asked yaw, or the 13-pose strip."""
    from PIL import Image

    from core.drgan import api

    face = api.example_face(0).image
    src = tmp_path / "face.png"
    Image.fromarray((face.permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(src)
    done = run("rotate", str(src), "--yaw", "40", "--align", "none", "-o", str(tmp_path / "out.png"))
    assert done.returncode == 0, done.stderr
    assert "yaw +45 degrees (the bin nearest 40)" in done.stdout and "discriminator puts the input" in done.stdout
    assert Image.open(tmp_path / "out.png").size == (64, 64)
    done = run("rotate", str(src), "--all", "--align", "none", "-o", str(tmp_path / "strip.png"))
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "strip.png").size == (13 * 64, 64)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    done = run("rotate", str(bad), "-o", str(tmp_path / "x.png"))
    assert done.returncode != 0 and "cannot read" in done.stderr and "Traceback" not in done.stderr
    done = run("rotate", str(src), "--yaw", "120", "--align", "none", "-o", str(tmp_path / "x.png"))
    assert done.returncode != 0 and "within [-90, 90]" in done.stderr


def test_gait_reports_a_walk_with_the_shipped_models(tmp_path):
    """``python -m core gait FRAMES -o OUT`` on a held-out walker: maps, plots, features and the gallery's
    nearest walkers, the right person first (GaitNet from colour frames, DyGait from the silhouettes);
    a single picture is refused with one line."""
    from PIL import Image

    from core.gaitapp import api

    walk = api.example_walk(31, "cl-01", 54)
    colour, silhouettes = [], []
    for t, (frame, sil) in enumerate(zip(walk.rgb, walk.sil, strict=True)):
        colour.append(str(tmp_path / f"f{t:02d}.png"))
        silhouettes.append(str(tmp_path / f"s{t:02d}.png"))
        Image.fromarray(frame).save(colour[-1])
        Image.fromarray(sil).save(silhouettes[-1])
    done = run("gait", *colour, "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == len(walk.rgb) and summary["models"] == ["GaitNet", "DyGait"]
    assert summary["matches"]["GaitNet"][0]["subject"] == "031" and len(summary["matches"]["DyGait"]) == 5
    for name in ("walk.gif", "dygait_maps.png", "gaitnet_reconstruction.png", "gaitnet_pose_trajectory.png",
                 "matches.png", "features.npz"):  # fmt: skip
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    done = run("gait", *silhouettes, "-o", str(tmp_path / "sil"))
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "sil" / "summary.json").read_text())
    assert set(summary["matches"]) == {"DyGait"} and summary["matches"]["DyGait"][0]["subject"] == "031"
    assert any("silhouettes" in note for note in summary["notes"])
    done = run("gait", colour[0], "-o", str(tmp_path / "bad"))
    assert done.returncode == 2 and "single picture" in done.stderr and "Traceback" not in done.stderr


def test_train_dgnet_set_changes_one_field_of_the_preset(tmp_path):
    """``train dgnet --set SECTION.FIELD=VALUE``: the preset's config with that field changed (JSON values),
    the class count read from the training folder, and a clear error for an unknown field."""
    from core.cli_helpers import CliError
    from core.dgnet.commands import _dgnet_overrides
    from core.dgnet.config import DGNetConfig

    train = tmp_path / "bounding_box_train"
    train.mkdir()
    for pid in (2, 2, 7, 9):
        (train / f"{pid:04d}_c1s1_{len(list(train.iterdir())):06d}_00.jpg").touch()
    cfg = _dgnet_overrides(tmp_path, "small-sharp", ["loss.colour_w=10", "gen.composite=false",
                                                     "gen.structure_input=gray"])  # fmt: skip
    expected = DGNetConfig.from_preset("small-sharp", num_classes=3)
    assert cfg.appearance.num_classes == 3 and cfg.loss.colour_w == 10.0
    assert not cfg.gen.composite and cfg.gen.structure_input == "gray"
    assert cfg.train == expected.train and cfg.dis == expected.dis
    for bad in ("loss.nothing=1", "colour_w=10", "gen.structure_input=edges"):
        with pytest.raises(CliError):
            _dgnet_overrides(tmp_path, "small-sharp", [bad])


def _subcommands(parser, *path: str) -> list[str]:
    """The subcommand names under ``python -m core PATH``, in the order --help lists them."""
    import argparse

    for name in path:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return list(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)


def test_the_parser_is_built_from_the_method_registry(capsys):
    """A method registered in a fresh registry gets its train/eval commands and its own top-level command in a
    freshly built parser, beside the generic commands only; running one dispatches to it (CliError -> exit 2);
    a method no one registered is refused with the registered names, and clashing registrations are refused."""
    from core import cli
    from core.cli_helpers import CliError
    from core.registry import Command, Method, Registry, UnknownMethod, register_method

    ran = []

    def arguments(parser):
        parser.add_argument("--steps", type=int, default=3, help="how many steps")

    def train(args):
        if args.steps < 0:
            raise CliError("--steps must be >= 0")
        ran.append(("train", args.steps, args.out))
        return 0

    registry = Registry()
    toy = Method(
        "toy",
        "a sixth method",
        train=Command("train the toy", train, lambda p: (arguments(p), p.set_defaults(out_default="runs/toy"))),
        eval=Command("evaluate the toy", lambda args: ran.append(("eval", args.steps)) or 0, arguments),
        commands=[Command("the toy's own command", lambda args: ran.append(("play",)) or 0, name="play")],
    )
    assert register_method(toy, registry) is toy and registry.names() == ["toy"]
    parser = cli.build_parser(registry)
    assert _subcommands(parser, "train") == ["toy"] and _subcommands(parser, "eval") == ["data", "toy"]
    assert _subcommands(parser, "bench") == ["render", "synth"] and _subcommands(parser, "ship") == []
    assert "play" in _subcommands(parser) and "swap" not in _subcommands(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "toy", "--help"])
    assert "how many steps" in capsys.readouterr().out
    assert cli.main(["train", "toy", "--steps", "5"], registry=registry) == 0
    assert cli.main(["eval", "toy"], registry=registry) == 0 and cli.main(["play"], registry=registry) == 0
    assert ran == [("train", 5, "runs/toy"), ("eval", 3), ("play",)]
    assert cli.main(["train", "toy", "--steps", "-1"], registry=registry) == 2
    assert "error: --steps must be >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser(registry).parse_args(["train", "dgnet"])
    assert exit_info.value.code == 2 and "invalid choice: 'dgnet'" in capsys.readouterr().err
    with pytest.raises(UnknownMethod, match="unknown method 'dgnet'; the registered methods are: toy"):
        registry.get("dgnet")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(toy)
    with pytest.raises(ValueError, match="python -m core play is already registered by 'toy'"):
        registry.register(Method("other", "clashes", commands=[Command("x", train, name="play")]))
    with pytest.raises(ValueError, match="needs a name"):
        Method("nameless", "an extra command without a name", commands=[Command("x", train)])


def test_every_method_command_comes_from_the_registry():
    """``python -m core``'s method commands are exactly the registered ones, and the command line lists the
    same commands as before the registry (the top-level method commands now in registration order)."""
    from core import cli
    from core.registry import REGISTRY

    parser = cli.build_parser()
    assert cli.load_methods() is REGISTRY and REGISTRY.names() == ["reid", "dgnet", "texgen", "drgan", "gait"]
    assert _subcommands(parser, "train") == [name for _, name, _ in REGISTRY.commands("train")] == [
        "reid", "pcb", "dgnet", "texgen", "drgan", "drgan-judge", "gaitnet", "dygait"]  # fmt: skip
    assert _subcommands(parser, "eval") == ["data", "dgnet", "texgen", "drgan", "gaitnet", "dygait"]
    assert _subcommands(parser, "bench") == ["render", "dgnet", "texgen", "drgan", "gait", "synth"]
    assert _subcommands(parser, "ship") == ["dgnet", "texgen", "drgan", "gait"]
    assert _subcommands(parser) == ["body", "bench", "synth", "eval", "train", "swap", "texture", "rotate", "gait",
                                    "ship", "demo-assets", "checkpoints"]  # fmt: skip
    assert REGISTRY.get("dgnet").description.startswith("DG-Net")
