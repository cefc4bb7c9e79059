"""The shared gait pieces: walks from a written gait set, P x K clips, the GEI baseline under the CASIA-B
protocol, walkers rendered on demand (equal to the stored ones), the swap truth, user clips and the gate."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.opengait import load_sequence
from core.gait.clip import ClipError, read_clip
from core.gait.data import clip_indices, gei, load_gait_set, split_validation
from core.gait.evaluate import evaluate_features, format_table, gei_features
from core.synth.gait_set import GaitConfig, render_gait_walk, write_gait
from tests.corpus import _walker_frames, clip_files

CONDITIONS = ("nm-01", "nm-05", "bg-01", "cl-01")
# near views: a GEI changes a lot with the view, and the protocol compares different views only
CFG = GaitConfig(ids=4, train_ids=1, frames=6, views=(72, 90), conditions=CONDITIONS, seed=5)


@pytest.fixture(scope="module")
def gait_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gait")
    write_gait(root, CFG)
    return root


def test_walks_and_clips(gait_root):
    train, test = load_gait_set(gait_root, "train"), load_gait_set(gait_root, "test")
    assert train.subjects == ["001"] and test.subjects == ["002", "003", "004"]
    assert len(test) == 3 * len(CONDITIONS) * 2 and test.has_rgb
    assert test.silhouettes(0).shape[1:] == (64, 44) and test.rgb(0).shape[1:] == (64, 32, 3)
    # frame t of rgb is frame t of sil: the person's columns agree
    sil, rgb = test.silhouettes(0), test.rgb(0)
    assert len(sil) == len(rgb)
    frames, labels = test.sample_pk(3, 2, 5, np.random.default_rng(0))
    assert frames.shape == (6, 5, 64, 44) and sorted(set(labels.tolist())) == [0, 1, 2]
    assert (labels[::2] == labels[1::2]).all()
    rgb_frames, _ = test.sample_pk(2, 2, 5, np.random.default_rng(0), rgb=True)
    assert rgb_frames.shape == (4, 5, 64, 32, 3)
    fit, val = split_validation(test, 1)
    assert fit.subjects == ["002", "003"] and val.subjects == ["004"]
    # a bare OpenGait tree (the sil folder itself) reads too, without RGB
    bare = load_gait_set(gait_root / "sil", "all")
    assert len(bare) == len(train) + len(test) and not bare.has_rgb
    with pytest.raises(ValueError, match="no partition.json"):
        load_gait_set(gait_root / "sil", "test")


def test_clip_indices_are_ordered_and_cycle():
    idx = clip_indices(10, 4, np.random.default_rng(1))
    assert (np.diff(idx) == 1).all() and 0 <= idx[0] <= 6
    assert clip_indices(3, 7).tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_gei_baseline_scores_above_chance_with_the_protocol(gait_root):
    test = load_gait_set(gait_root, "test")
    g = gei(test.silhouettes(0))
    assert g.shape == (64, 44) and 0 < g.mean() < 1
    result = evaluate_features(gei_features(test), test)
    assert set(result.mean) == {"NM", "BG", "CL"} and result.views == ("072", "090")
    assert result.mean["NM"] > 1 / 3  # 3 subjects: chance is 1/3
    # the same features shuffled between walks lose the identity
    shuffled = gei_features(test)[np.random.default_rng(0).permutation(len(test))]
    assert evaluate_features(shuffled, test).mean["NM"] < result.mean["NM"]
    table = format_table({"GEI": result})
    assert table.splitlines()[0] == "| method | NM | BG | CL | mean |"


def test_render_on_demand_equals_the_stored_walk(gait_root):
    walk = render_gait_walk(CFG, 4, "nm-05", 90)
    stored = load_sequence(gait_root / "sil" / "004" / "nm-05" / "090" / "090.pkl", cut=False)
    assert walk.sil.shape == stored.shape and (walk.sil == stored).all()


def test_swap_truth_changes_the_clothes_and_keeps_the_walk():
    plain = render_gait_walk(CFG, 3, "nm-05", 90)
    swapped = render_gait_walk(CFG, 3, "nm-05", 90, clothes_of=4)
    assert (swapped.sil == plain.sil).all() and swapped.kept == plain.kept  # the same frames of the same walk
    person = plain.rgb.max(-1) > 8
    diff = np.abs(swapped.truth.astype(int) - plain.rgb.astype(int)).max(-1)
    assert diff[person].mean() > 10  # other clothes
    assert swapped.truth.shape == plain.rgb.shape
    own = render_gait_walk(CFG, 3, "nm-05", 90, clothes_of=3)
    assert (own.truth == plain.rgb).all()  # the person's own clothes: the truth is the stored walk itself


def test_user_clips(tmp_path):
    for case in clip_files(tmp_path / "clips"):
        if case.accept:
            clip = read_clip(case.value)
            assert clip.sil.dtype == np.uint8 and clip.sil.shape[1:] == (64, 44) and len(clip.sil) >= 3, case.kind
            assert clip.rgb is None or clip.rgb.shape == (len(clip.sil), 64, 32, 3), case.kind
        else:
            with pytest.raises(ClipError):
                read_clip(case.value)
    # a long GIF at 25 fps is thinned to about 12.5
    frames = [Image.fromarray(f) for f in _walker_frames(40)]
    frames[0].save(tmp_path / "fast.gif", save_all=True, append_images=frames[1:], duration=40)
    clip = read_clip(tmp_path / "fast.gif")
    assert len(clip.sil) == 20 and any("every 2th" in n for n in clip.notes)


def test_a_pickle_cannot_run_code(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ClipError, match="not an OpenGait sequence pickle"):
        read_clip(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_files_check_of_the_gate(tmp_path):
    from demos.gate import Files, InputError

    check = Files("clip", "Your walk", decode=read_clip)
    cases = {c.kind: c for c in clip_files(tmp_path / "clips")}
    assert check.parse([str(p) for p in cases["12 silhouette PNG frames"].value]).sil.shape[0] == 12
    assert check.parse([{"path": str(cases["walk GIF (person on black)"].value[0])}]).rgb is not None
    for raw, message in (
        (None, "nothing was uploaded"),
        ([1, 2], "expected uploaded files"),
        (str(tmp_path / "nope.gif"), "is gone"),
        (str(cases["one picture"].value[0]), "single picture"),
    ):
        with pytest.raises(InputError, match=message) as err:
            check.parse(raw)
        assert str(err.value).startswith("Your walk:")
    many = Files("clip", "Frames", max_files=3)
    with pytest.raises(InputError, match="over the limit of 3"):
        many.parse([str(p) for p in cases["12 silhouette PNG frames"].value])


def test_eval_command_prints_the_table_with_the_baseline(gait_root, tmp_path):
    """``python -m core eval dygait`` with the shipped model on a small written set: every group, the GEI row."""
    import json
    import subprocess
    import sys

    out = tmp_path / "eval.json"
    command = [sys.executable, "-m", "core", "eval", "dygait", "--data", str(gait_root), "--out", str(out),
               "--swaps", str(tmp_path / "no-swaps")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "| DyGait |" in done.stdout and "| GEI + nearest neighbour |" in done.stdout
    assert "clothes-swap identification skipped" in done.stdout  # no clothes-swap set: said, not failed
    numbers = json.loads(out.read_text())["recognition"]
    assert set(numbers) == {"DyGait", "GEI + nearest neighbour", "colour histogram + nearest neighbour"}
    assert set(numbers["DyGait"]["mean"]) == {"NM", "BG", "CL"}
    assert numbers["DyGait"]["mean"]["NM"] > 1 / 3  # 3 test walkers: chance is 1/3
