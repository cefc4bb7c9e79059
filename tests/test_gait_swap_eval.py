"""GaitNet's evaluation for issue 23 on a tiny rendered set: the appearance swap's fair bar (the truth passes,
copying the pose walker fails, the no-learning fill beats copying), the colour-histogram baseline, the
clothes-swap identification (a colour feature names the clothes' owner, a silhouette feature the walk's
owner), the eval command's tables and shipping GaitNet with the shipped DyGait kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.gait.clothes_swap import clothes_swap_identification, format_clothes_swaps, read_donors, swap_set_problem
from core.gait.data import load_with_clothes_swaps
from core.gait.evaluate import colour_histogram, colour_histogram_features, gei_features
from core.gait.swap_eval import (
    FILL,
    RECONSTRUCTION,
    RETURN_I,
    RETURN_J,
    SWAP,
    format_swap_report,
    render_swap_walks,
    swap_pairs,
    swap_report,
)
from core.synth.gait_set import ClothesSwapConfig, GaitConfig, clothes_swap_plan, write_clothes_swaps, write_gait

# three test walkers (004-006); near views, so the silhouettes of one walker agree across them
CFG = GaitConfig(ids=6, train_ids=3, frames=8, views=(85, 90), conditions=("nm-01", "nm-05"), seed=5)
PAIRS = swap_pairs([4, 5, 6], shift=1)  # (4, 5), (5, 6), (6, 4)


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gait_swaps")
    write_gait(root / "gait", CFG)
    write_clothes_swaps(root / "swaps", ClothesSwapConfig(gait=CFG, donors=1, validation_ids=1,
                                                          walk_conditions=("nm-01",)))  # fmt: skip
    return {"gait": root / "gait", "swaps": root / "swaps"}


@pytest.fixture(scope="module")
def walks():
    return render_swap_walks(PAIRS, "nm-05", 90, CFG)


def test_swap_pairs_put_every_walker_once_on_each_side():
    pairs = swap_pairs(list(range(31, 51)))
    assert pairs[0] == (31, 38) and sorted(a for a, _ in pairs) == sorted(b for _, b in pairs) == list(range(31, 51))
    assert all(a != b for a, b in pairs)
    assert swap_pairs([1, 2], shift=2) == [(1, 2), (2, 1)]  # a shift of 0 would pair a walker with itself


def test_walker_donors_swap_clothes_within_training_and_within_validation():
    """walker_donors: cs walks after the new outfits' wear other walkers' clothes, trainers' among trainers and
    validation walkers' among validation walkers; the new outfits' rows stay as they were (the same walks)."""
    gait = GaitConfig()  # 30 training walkers, the last 8 validating here
    plain = clothes_swap_plan(ClothesSwapConfig(gait=gait, validation_ids=8))
    rows = clothes_swap_plan(ClothesSwapConfig(gait=gait, validation_ids=8, walker_donors=3))
    assert [r for r in rows if r["donor"] > gait.ids] == [r for r in plain if r["donor"] > gait.ids]
    extra = [r for r in rows if r["donor"] <= gait.ids and r["id"] <= gait.train_ids]
    assert len(extra) == 3 * 30 and {r["condition"] for r in extra} == {"cs-07", "cs-08", "cs-09"}
    for r in extra:
        assert r["donor"] != r["id"] and (r["id"] > 22) == (r["donor"] > 22)  # never across the validation line
    assert {r["donor"] for r in extra if r["id"] == 1} == {2, 3, 4}
    assert {r["donor"] for r in extra if r["id"] == 30} == {23, 24, 25}
    with pytest.raises(ValueError, match="walker_donors"):
        clothes_swap_plan(ClothesSwapConfig(gait=gait, validation_ids=8, walker_donors=8))


def test_the_truth_passes_the_bar_and_copying_the_pose_walker_does_not(walks):
    assert all(w.pose.truth.shape == w.pose.rgb.shape for w in walks)
    truths = {w.pose.rgb.tobytes(): w.pose.truth for w in walks}

    def truth(look, pose):  # the perfect swap: the rendered truth (its reconstruction: the walk itself)
        return truths.get(pose.rgb.tobytes(), pose.rgb) if look.rgb is not pose.rgb else pose.rgb

    perfect = swap_report(truth, PAIRS, "nm-05", 90, CFG, walks)
    assert all(c["passed"] for c in perfect["bar"]), perfect["bar"]
    rows = perfect["rows"]
    assert rows[SWAP]["clothes_delta_e"] == pytest.approx(0) and rows[SWAP]["wins"] == 1.0
    assert rows[RECONSTRUCTION]["person_ssim"] == pytest.approx(1) and rows[RECONSTRUCTION]["clothes_delta_e"] is None

    copy = swap_report(lambda look, pose: pose.rgb, PAIRS, "nm-05", 90, CFG, walks)
    bar = {c["check"]: c["passed"] for c in copy["bar"]}
    assert not bar["clothes ΔE below return i's"] and not bar["clothes ΔE below the silhouette fill's"]
    assert copy["rows"][SWAP] == copy["rows"][RETURN_J]
    # the pose walker's own frames keep its silhouette and what the truth keeps
    assert copy["rows"][SWAP]["silhouette_iou"] == 1.0 and copy["rows"][SWAP]["kept"] > copy["rows"][RETURN_I]["kept"]
    # the no-learning fill moves j's clothes toward i's colours
    assert rows[FILL]["clothes_delta_e"] < rows[RETURN_J]["clothes_delta_e"]
    json.dumps(perfect, allow_nan=False)  # eval.json holds it as it is

    text = format_swap_report(perfect)
    for name in (SWAP, RETURN_J, RETURN_I, FILL):
        assert f"\n| {name} |" in text
    assert "| *reference:* truth, Gaussian blur sigma 1 |" in text and f"| *reference:* {RECONSTRUCTION} |" in text
    assert text.count("| pass |") == 5 and "| the bar (issue 23) |" in text
    with pytest.raises(ValueError, match="must return uint8"):
        swap_report(lambda look, pose: pose.rgb[:, :32], PAIRS, "nm-05", 90, CFG, walks)


def test_colour_histogram_ignores_the_black_background_and_the_layout():
    walk = np.zeros((2, 64, 32, 3), np.uint8)
    walk[:, 10:30, 8:20] = (200, 30, 30)  # red top
    walk[:, 30:60, 8:20] = (20, 20, 150)  # blue trousers
    moved = np.roll(walk, 5, axis=2)  # the same colours elsewhere
    feature = colour_histogram(walk)
    assert feature.shape == (512,) and np.sum(feature**2) == pytest.approx(1)
    np.testing.assert_allclose(colour_histogram(moved), feature)
    assert np.count_nonzero(feature) == 2  # two colours, black left out
    other = walk.copy()
    other[:, 10:30, 8:20] = (30, 200, 30)  # green top
    assert np.linalg.norm(colour_histogram(other) - feature) > 0.5


def test_clothes_swaps_name_the_donor_by_colour_and_the_owner_by_silhouette(sets):
    assert swap_set_problem(sets["gait"], sets["swaps"]) is None
    assert "no clothes-swap set" in swap_set_problem(sets["gait"], sets["gait"].parent / "nowhere")
    data = load_with_clothes_swaps(sets["gait"], sets["swaps"], "test")
    donors = read_donors(sets["swaps"])
    assert {k: v for k, v in donors.items() if k[0] >= "004"} == {("004", "cs-01"): "005", ("005", "cs-01"): "006",
                                                                  ("006", "cs-01"): "004"}  # fmt: skip
    colour = clothes_swap_identification(colour_histogram_features(data), data, donors)
    shape = clothes_swap_identification(gei_features(data), data, donors)
    assert colour.donor_share >= 2 / 3 and colour.owner_rank1 <= 1 / 3  # 3 walkers: chance is 1/3
    assert shape.owner_rank1 >= 2 / 3 and shape.donor_share <= 1 / 3
    assert set(colour.owner.per_view["CS"]) == {"085", "090"}
    text = format_clothes_swaps({"colour histogram": colour, "GEI": shape})
    assert text.splitlines()[0] == "| method | names the walk's owner (%) | names the clothes' owner (%) |"
    assert f"| GEI | {100 * shape.owner_rank1:.1f} | {100 * shape.donor_share:.1f} |" in text
    with pytest.raises(ValueError, match="no donor"):
        clothes_swap_identification(gei_features(data), data, {})


def test_eval_gaitnet_prints_the_three_tables(sets, tmp_path, capsys):
    from core.cli import main

    out = tmp_path / "eval.json"
    code = main(["eval", "gaitnet", "--data", str(sets["gait"]), "--swaps", str(sets["swaps"]), "--swap-pairs", "1",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    methods = {"GaitNet", "GEI + nearest neighbour", "colour histogram + nearest neighbour"}
    assert set(report["recognition"]) == set(report["clothes_swap"]) == methods
    assert "| colour histogram + nearest neighbour |" in printed and "names the clothes' owner (%)" in printed
    assert report["swap"]["pairs"] == [[4, 5]] and len(report["swap"]["bar"]) == 5
    assert "| GaitNet swap |" in printed and "| the bar (issue 23) |" in printed
    # without the clothes-swap set: a note, the rest as before; --no-appearance-swap skips the rendering
    code = main(["eval", "gaitnet", "--data", str(sets["gait"]), "--swaps", str(tmp_path / "none"),
                 "--no-appearance-swap", "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and "clothes-swap identification skipped" in printed and "| GaitNet swap |" not in printed
    assert json.loads(out.read_text())["clothes_swap"] == {}


def test_ship_gaitnet_keeps_the_shipped_dygait(sets, tmp_path, monkeypatch):
    from core.checkpoints import CHECKPOINT_DIR, load_manifest
    from core.gaitapp import ship

    monkeypatch.setattr(ship, "example_figure", lambda models, path: path)  # renders the default set's walkers
    out_dir, manifest = tmp_path / "gait", tmp_path / "manifest.json"
    out_dir.mkdir()
    shutil.copy(CHECKPOINT_DIR / "gait" / "dygait.pt", out_dir / "dygait.pt")
    kept = {**load_manifest()["dygait"], "file": "gait/dygait.pt"}
    manifest.write_text(json.dumps({"checkpoints": [kept]}))
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(CHECKPOINT_DIR / "gait" / "gaitnet.pt", run / "final.pt")  # a finished run's layout
    before = (out_dir / "dygait.pt").read_bytes()
    shipped = ship.ship_gait(run, None, sets["gait"], out_dir, manifest, swaps=sets["swaps"])
    entries = load_manifest(manifest)
    assert entries["dygait"] == kept and (out_dir / "dygait.pt").read_bytes() == before
    assert not (out_dir / "curves_dygait.png").exists()
    metrics = entries["gaitnet"]["metrics"]
    assert set(metrics["clothes_swap"]) == {"owner_rank1", "donor_share"} and len(metrics["swap_bar"]) == 5
    report = json.loads((out_dir / "eval.json").read_text())
    assert set(report) >= {"recognition", "clothes_swap", "swap"} and "DyGait" in report["clothes_swap"]
    assert set(report["swap"]) >= {"rows", "bar"} and len(report["swap"]["pairs"]) == 3
    assert "| DyGait |" in shipped["markdown"] and "| GaitNet swap |" in (out_dir / "eval.md").read_text()
