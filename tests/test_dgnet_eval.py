"""DG-Net's evaluation and CLI on a tiny synthetic set: the swap scores behave as their definitions
say (the truth scores perfectly, the trivial baselines fail where they must), the eval and swap
commands run end to end and refuse bad input with a message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli import main
from core.data.market import load_market
from core.dgnet import DGNet, DGNetConfig
from core.dgnet.api import export_checkpoint, load_file, swap, swap_grid
from core.dgnet.evaluate import read_pairs, swap_scores
from core.reid.backbone import ReidBaseline
from core.reid.train import BaselineConfig, train_baseline
from core.synth.reid_set import ReidConfig, write_reid
from core.synth.truth import PairsConfig, write_pairs

TRAIN_IDS, TEST_IDS = 3, 4


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dgnet_eval")
    reid = ReidConfig(train_ids=TRAIN_IDS, test_ids=TEST_IDS, cameras=2, images_per_camera=2, distractors=0, junk=0)
    write_reid(root / "reid", reid)
    write_pairs(root / "pairs", PairsConfig(pairs=4, first_person=TRAIN_IDS + 1, people=TEST_IDS))
    return {"reid": root / "reid", "pairs": root / "pairs", "root": root}


@pytest.fixture(scope="module")
def checkpoint(sets) -> Path:
    torch.manual_seed(0)
    cfg = DGNetConfig.small(TRAIN_IDS)
    model = DGNet(cfg, with_discriminator=False)
    final = sets["root"] / "final.pt"
    torch.save({"config": cfg.to_dict(), "gen": model.gen.state_dict(), "id": model.id.state_dict(),
                "iterations": 0, "metrics": {}}, final)  # fmt: skip
    return export_checkpoint(final, sets["root"] / "dgnet.pt")


def test_exported_checkpoint_is_half_and_loads_back(checkpoint):
    state = torch.load(checkpoint, weights_only=True)
    assert all(v.dtype == torch.float16 for v in state["gen"].values() if v.is_floating_point())
    assert "dis" not in state
    model = load_file(checkpoint)
    x = torch.rand(2, 3, 200, 90)  # any size: resized to the model's 128x64
    out = swap(model, x, x.flip(0))
    assert out.shape == (2, 3, 128, 64) and 0 <= float(out.min()) and float(out.max()) <= 1
    grid = swap_grid(model, x, x[:1])
    assert grid.shape == (2, 1, 3, 128, 64)
    torch.testing.assert_close(grid[1, 0], swap(model, x[1:2], x[:1])[0], atol=1e-5, rtol=1e-4)


def test_swap_scores_rank_the_truth_and_the_trivial_answers(sets):
    pairs = read_pairs(sets["pairs"])
    gallery = load_market(sets["reid"])["gallery"]
    teacher = ReidBaseline(TRAIN_IDS, "resnet18", 1).eval()
    truth = swap_scores(pairs.truth, pairs, teacher.features, gallery)
    assert truth["ssim"] == pytest.approx(1.0) and truth["l1"] == pytest.approx(0.0)
    structure = swap_scores(pairs.structure, pairs, teacher.features, gallery)
    appearance = swap_scores(pairs.appearance, pairs, teacher.features, gallery)
    # returning j keeps j's silhouette; returning i (another person in another scene) does not
    assert structure["structure_miou"] > 0.6 > appearance["structure_miou"]
    assert truth["structure_miou"] > 0.5  # j's body in i's clothes covers roughly j's silhouette
    # another scene is "person everywhere": the background class scores it down
    from core.dgnet.evaluate import mean_iou

    everything = torch.ones_like(pairs.structure_mask)
    assert mean_iou(everything, pairs.structure_mask).max() <= 0.5
    assert structure["ssim"] > appearance["ssim"]
    for scores in (truth, structure, appearance):
        assert 0 <= scores["identity_rank1"] <= 1 and 0 <= scores["balance"] <= 1


def test_eval_and_swap_commands(sets, checkpoint, tmp_path, capsys):
    cfg = BaselineConfig.tiny()
    from dataclasses import replace

    teacher = train_baseline(sets["reid"], tmp_path / "t", replace(cfg, height=128, width=64), device="cpu")["path"]
    out = tmp_path / "report.json"
    code = main(["eval", "dgnet", "--checkpoint", str(checkpoint), "--teacher", teacher, "--data", str(sets["reid"]),
                 "--pairs", str(sets["pairs"]), "--out", str(out)])  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report["swap"]) == {"DG-Net swap", "return image i (appearance)", "return image j (structure)",
                                   "no-learning recolour"}  # fmt: skip
    assert set(report["retrieval"]) == {"teacher (re-ID baseline)", "DG-Net"}
    assert set(report["reference"]) == {"truth, Gaussian blur sigma 1", "truth, Gaussian blur sigma 2"}
    assert report["pairs"] == 4 and len(report["bar"]) == 6
    rows = report["swap"] | report["reference"]
    soft, softer = rows["truth, Gaussian blur sigma 1"], rows["truth, Gaussian blur sigma 2"]
    i, j = rows["return image i (appearance)"], rows["return image j (structure)"]
    # the fair bar's scores order the references and the copies as their definitions say
    assert soft["clothes_delta_e"] < 3 < j["clothes_delta_e"]  # j's clothes are not i's
    assert soft["kept"] > softer["kept"] and soft["kept"] > i["kept"]
    assert soft["person_ssim"] > softer["person_ssim"] and soft["sharpness"] > softer["sharpness"]
    assert soft["beats_return_i"] == 1.0 and j["beats_return_i"] <= 0.5
    assert soft["structure_miou"] > 0.6
    for check in report["bar"]:
        assert check["passed"] == (check["value"] < check["target"] if "below" in check["check"]
                                   else check["value"] >= check["target"])  # fmt: skip
    printed = capsys.readouterr().out
    assert "| DG-Net swap |" in printed and "DG-Net reconstruction of j (scored against j)" in printed
    assert "| the bar (issue 20) |" in printed

    a, b = sets["pairs"] / "0000_appearance.jpg", sets["pairs"] / "0000_structure.jpg"
    assert main(["swap", str(a), str(b), "-o", str(tmp_path / "s.png"), "--checkpoint", str(checkpoint)]) == 0
    assert np.asarray(Image.open(tmp_path / "s.png")).shape == (128, 64, 3)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    assert main(["swap", str(bad), str(b), "-o", str(tmp_path / "x.png"), "--checkpoint", str(checkpoint)]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["swap", str(a), str(b), "-o", str(tmp_path / "x.png"), "--official", str(tmp_path)]) == 2
    assert "not an official DG-Net run folder" in capsys.readouterr().err


def test_ship_exports_registers_and_documents(sets, tmp_path):
    from core.checkpoints import load_manifest, resolve
    from core.dgnet.ship import ship_dgnet
    from core.dgnet.train import train_dgnet

    teacher_run, run = tmp_path / "teacher", tmp_path / "dgnet"
    train_baseline(sets["reid"], teacher_run, BaselineConfig.tiny(), device="cpu")
    train_dgnet(sets["reid"], run, preset="tiny", teacher_path=teacher_run / "final.pt", device="cpu", bf16=False,
                log_every=1)  # fmt: skip
    manifest = tmp_path / "ckpt" / "manifest.json"
    report = ship_dgnet(teacher_run, run, sets["reid"], sets["pairs"], tmp_path / "ckpt" / "dgnet", manifest)
    entries = load_manifest(manifest)
    assert set(entries) == {"dgnet", "dgnet-teacher"}
    assert entries["dgnet"]["steps"] == 4 and entries["dgnet"]["metrics"]["swap"] == report["swap"]
    assert entries["dgnet"]["metrics"]["bar"] == report["bar"]
    model = load_file(resolve("dgnet", manifest))  # sha256-checked
    assert model.config.height == 64
    for name in ("dgnet_curves.png", "teacher_curves.png", "eval.json", "eval.md"):
        assert (tmp_path / "ckpt" / "dgnet" / name).exists(), name
    picture = np.asarray(Image.open(tmp_path / "ckpt" / "dgnet" / "examples.png"))
    mid = picture.shape[1] // 2
    assert (picture[:, mid - 5 : mid + 5] == 255).all()  # two grids side by side: swaps | rendered truth
    assert picture[:, :mid].std() > 10 and picture[:, mid:].std() > 10  # people drawn on both sides
    # a second stage started from the shipped model, with the shipped teacher file kept as it is
    teacher_entry = entries["dgnet-teacher"]
    shipped = tmp_path / "ckpt" / "dgnet"
    ship_dgnet(shipped / "teacher.pt", run, sets["reid"], sets["pairs"], shipped, manifest, continues_shipped=True,
               stage_name="sharp", stages_before=(("gray", run),))  # fmt: skip
    entries = load_manifest(manifest)
    assert entries["dgnet-teacher"] == teacher_entry
    stages = entries["dgnet"]["stages"]
    assert entries["dgnet"]["steps"] == 12 and [s["stage"] for s in stages] == ["training", "gray", "sharp"]
    assert entries["dgnet"]["seconds"] == pytest.approx(sum(s["seconds"] for s in stages), abs=0.2)
