"""DyGait: layer shapes (paper and small configs), the DAM block's projection shortcut, the losses on
hand-made tensors, dynamic maps, training on a generated OpenGait tree (validation, resume, torchrun)
and the OpenGait checkpoint round trip.

The tree is drawn here (procedural walkers whose proportions, stride and limb swing differ per subject,
put through OpenGait's pretreatment), so the tests need no data/ folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.data.opengait import normalise_silhouette, save_sequence
from core.dygait.api import (
    config_from_state_dict,
    dynamic_maps,
    embed,
    embed_many,
    load,
    load_dygait,
    load_opengait_checkpoint,
    save_opengait_checkpoint,
)
from core.dygait.config import DyGaitConfig
from core.dygait.losses import cross_entropy_parts
from core.dygait.model import DAMBlock, DyGait
from core.dygait.train import embed_set, train_dygait
from core.gait.data import load_gait_set
from core.gait.evaluate import evaluate_features
from core.nn.losses import triplet_loss

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "cl-01")
VIEWS = ("054", "090", "126")


# ---------------------------------------------------------------------------------------- walkers
def _capsules(shape: tuple[int, int], segments: list[tuple[tuple[float, float], tuple[float, float], float]]
              ) -> np.ndarray:  # fmt: skip
    """bool (H, W): the union of thick segments ((y0, x0), (y1, x1), radius)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    mask = np.zeros(shape, bool)
    for (y0, x0), (y1, x1), r in segments:
        dy, dx = y1 - y0, x1 - x0
        t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / max(dy * dy + dx * dx, 1e-6), 0, 1)
        mask |= (yy - y0 - t * dy) ** 2 + (xx - x0 - t * dx) ** 2 <= r * r
    return mask


def walker_frame(person: dict[str, float], t: float, view: str, condition: str) -> np.ndarray:
    """bool (128, 96) silhouette of a stick walker at frame t, seen from ``view`` degrees (090 = the side)."""
    angle = np.deg2rad(float(view))
    swing = np.sin(angle)  # away from the side view the swing is foreshortened and the legs separate
    spread = np.cos(angle) * person["torso"] * 0.6
    phase = 2 * np.pi * t / person["period"] + person["phase"]
    cx, top = 48.0, 10.0
    head_r = person["head"]
    neck = top + 2 * head_r
    hip = neck + person["trunk"]
    leg = person["leg"]
    segs = [((top + head_r, cx), (top + head_r, cx), head_r), ((neck + 3, cx), (hip, cx), person["torso"])]
    for side in (-1, 1):
        a = side * person["leg_swing"] * np.sin(phase)
        knee = (hip + 0.5 * leg * np.cos(a), cx + side * spread + swing * 0.5 * leg * np.sin(a))
        bend = person["knee"] * max(0.0, np.sin(phase + side * np.pi / 2))
        foot = (knee[0] + 0.5 * leg * np.cos(a - bend), knee[1] + swing * 0.5 * leg * np.sin(a - bend))
        segs += [((hip, cx + side * spread), knee, person["limb"]), (knee, foot, person["limb"] * 0.8)]
        b = -side * person["arm_swing"] * np.sin(phase)
        reach = 0.8 * person["trunk"]
        hand = (neck + 4 + reach * np.cos(b), cx + side * spread * 1.4 + swing * reach * np.sin(b))
        segs.append(((neck + 4, cx + side * spread * 1.4), hand, person["limb"] * 0.6))
    if condition.startswith("bg"):  # a bag at the hip: static, it should not light up the dynamic maps
        segs.append(((hip - 12, cx + 9), (hip - 2, cx + 9), 6.0))
    if condition.startswith("cl"):  # a coat: a wider torso down to the knees
        segs.append(((neck + 4, cx), (hip + 0.3 * leg, cx), person["torso"] * 1.5))
    return _capsules((128, 96), segs)


def make_person(subject: int) -> dict[str, float]:
    rng = np.random.default_rng(1000 + subject)
    return {"head": rng.uniform(5, 9), "trunk": rng.uniform(28, 42), "torso": rng.uniform(4, 10),
            "leg": rng.uniform(44, 60), "limb": rng.uniform(2.5, 4.5), "leg_swing": rng.uniform(0.25, 0.6),
            "arm_swing": rng.uniform(0.1, 0.5), "knee": rng.uniform(0.1, 0.7), "period": rng.uniform(7, 13),
            "phase": 0.0}  # fmt: skip


def write_walkers(
    root: Path, subjects: int = 12, train: int = 8, frames: int = 9, conditions: tuple[str, ...] = CONDITIONS[:6]
) -> Path:
    """A bare OpenGait tree ``root/<id>/<condition>/<view>/<view>.pkl`` (uint8 (T, 64, 64), OpenGait's
    pretreatment) with ``partition.json``: the first ``train`` subjects train, the rest test."""
    rng = np.random.default_rng(0)
    for s in range(subjects):
        person = make_person(s)
        for cond in conditions:
            for view in VIEWS:
                person["phase"] = rng.uniform(0, 2 * np.pi)
                sils = [normalise_silhouette(walker_frame(person, t, view, cond)) for t in range(frames)]
                save_sequence(root / f"{s + 1:03d}" / cond / view / f"{view}.pkl", np.stack(sils))
    ids = [f"{s + 1:03d}" for s in range(subjects)]
    (root / "partition.json").write_text(json.dumps({"TRAIN_SET": ids[:train], "TEST_SET": ids[train:]}))
    return root


@pytest.fixture(scope="module")
def walkers(tmp_path_factory) -> Path:
    return write_walkers(tmp_path_factory.mktemp("walkers") / "gait")


@pytest.fixture(scope="module")
def trained(walkers, tmp_path_factory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("run")
    out = train_dygait(walkers, run, DyGaitConfig.tiny(), device="cpu")
    return run, out


# ---------------------------------------------------------------------------------------- shapes
def test_paper_shapes_and_names():
    """64x44 in -> 31 parts of 128 channels; T = 30 -> 10 after LTA; OpenGait/DyGait layer names."""
    cfg = DyGaitConfig.from_preset("paper")
    model = DyGait(cfg, num_classes=74).eval()
    x = torch.rand(1, 30, 64, 44)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # fp32 conv3d is slow on CPU
        maps = model.LTA(model.conv3d1(model.MaxPool0(model.conv3d0(x.unsqueeze(1)))))
        assert maps.shape == (1, 64, 10, 32, 22)
        out = model(x[:, :3])
    assert out["embeddings"].shape == (1, 128, 31) and out["bnneck"].shape == (1, 128, 31)
    assert out["logits"].shape == (1, 74, 31)
    keys = set(model.state_dict())
    for key in ("conv3d0.conv1d.weight", "conv3d4.conv2s.weight", "LTA.0.conv3d.weight", "HPP.p", "Head0.fc_bin",
                "BNNecks.fc_bin", "BNNecks.bn1d.running_var"):  # fmt: skip
        assert key in keys
    assert model.state_dict()["LTA.0.conv3d.weight"].shape == (64, 64, 3, 1, 1)
    assert float(model.HPP.p.detach()) == pytest.approx(6.5)


@pytest.mark.parametrize("frames", [1, 2, 5])
def test_small_shapes_and_short_walks(frames):
    cfg = DyGaitConfig.small()
    model = DyGait(cfg, num_classes=25).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # as the preset trains
        out = model(torch.rand(2, frames, 64, 44))
    assert out["embeddings"].shape == (2, cfg.embedding_dim, cfg.parts) == (2, 32, 31)
    assert out["logits"].shape == (2, 25, 31)
    assert torch.isfinite(out["embeddings"]).all()
    norms = out["bnneck"].norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-4)  # the BNNeck feature is unit per part
    assert out["logits"].abs().max() <= 1 + 1e-5  # cosine logits


def test_walks_embedded_together_get_the_features_they_get_alone():
    """embed_many batches walks of equal length (eval-mode batch norm and per-walk pooling keep them apart), in
    the order given, whatever the lengths; a stored 64x64 OpenGait frame is cut as embed cuts it."""
    torch.manual_seed(0)
    model = DyGait(DyGaitConfig.small(), num_classes=5)
    model.train()  # embed_many switches to eval and back
    rng = np.random.default_rng(0)
    walks = [(rng.random((t, 64, 44)) > 0.5).astype(np.uint8) * 255 for t in (12, 9, 12, 12, 9)]
    walks[3] = np.pad(walks[3], ((0, 0), (0, 0), (10, 10)))  # (T, 64, 64), as OpenGait stores it
    many = embed_many(model, walks, batch=2, bf16=False)
    alone = np.stack([embed(model, w, bf16=False) for w in walks])
    assert model.training
    assert many.shape == (5, 32, 31)
    np.testing.assert_allclose(many, alone, rtol=1e-4, atol=1e-5)
    assert np.abs(many[0] - many[2]).max() > 1e-3  # different walks, different features (not one row repeated)


def test_projection_shortcut_where_channels_change():
    changing, same = DAMBlock(4, 8), DAMBlock(8, 8)
    assert isinstance(changing.shortcut, torch.nn.Conv3d) and changing.shortcut.kernel_size == (1, 1, 1)
    assert changing.shortcut.bias is None and same.shortcut is None
    assert changing(torch.rand(2, 4, 3, 8, 6)).shape == (2, 8, 3, 8, 6)
    assert not any(m.bias is not None for m in changing.modules() if isinstance(m, torch.nn.Conv3d))
    assert changing.conv1s.kernel_size == (1, 3, 3) and changing.conv2s.kernel_size == (1, 3, 3)
    assert DAMBlock(4, 8, static_3d_stage2=True).conv2s.kernel_size == (3, 3, 3)
    assert DAMBlock(4, 8, global_branch=False).conv1g is None
    model = DyGait(DyGaitConfig.from_preset("paper"), 3)
    assert [model.conv3d0.shortcut is not None, model.conv3d3.shortcut is None, model.conv3d4.shortcut is None] == [
        True, True, True]  # fmt: skip


def test_dam_dynamic_branch_ignores_what_does_not_move():
    """A static input has x - mean_T x = 0: only the static (and global) branches respond."""
    block = DAMBlock(1, 4, global_branch=False)
    still = torch.rand(1, 1, 1, 16, 12).repeat(1, 1, 5, 1, 1)
    d = block.conv1d(still - still.mean(2, keepdim=True))
    assert d.abs().max() < 1e-6


# ---------------------------------------------------------------------------------------- losses
def test_triplet_loss_known_answer():
    """1-D embeddings 0, 0.1 (subject 0) and 0.25, 1.0 (subject 1), margin 0.2: seven violated triples
    (0.05, 0.15, 0.05, 0.05, 0.7, 0.8, 0.05) in part 0; nothing violated in part 1 (10 apart)."""
    emb = torch.tensor([[[0.0, 0.0]], [[0.1, 0.0]], [[0.25, 10.0]], [[1.0, 10.0]]])  # (N=4, C=1, P=2)
    labels = torch.tensor([0, 0, 1, 1])
    loss, count = triplet_loss(emb, labels, margin=0.2)
    assert count.tolist() == [7.0, 0.0]
    assert float(loss) == pytest.approx((1.85 / 7 + 0.0) / 2, abs=1e-5)
    # a reference loop over all (anchor, positive, negative) triples, on random data
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(6, 3, 2, generator=gen) * 0.2
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    loss, count = triplet_loss(emb, labels, margin=0.3)
    expect = []
    for p in range(2):
        terms = [
            max(0.0, float((emb[a, :, p] - emb[i, :, p]).norm() - (emb[a, :, p] - emb[j, :, p]).norm()) + 0.3)
            for a in range(6)
            for i in range(6)
            for j in range(6)
            if labels[i] == labels[a] != labels[j]
        ]
        nonzero = [t for t in terms if t > 0]
        expect.append(sum(nonzero) / max(len(nonzero), 1))
        assert count[p] == len(nonzero)
    assert float(loss) == pytest.approx(float(np.mean(expect)), abs=1e-5)


def test_cross_entropy_known_answer():
    logits = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).unsqueeze(2)  # (N=2, K=3, P=1)
    labels = torch.tensor([0, 0])
    loss, acc = cross_entropy_parts(logits, labels)
    lse = np.log(np.e + 2)
    assert float(loss) == pytest.approx(((lse - 1) + lse) / 2, abs=1e-6)
    assert float(acc) == 0.5
    loss, _ = cross_entropy_parts(logits, labels, scale=16.0, label_smoothing=0.1)
    ref = F.cross_entropy(logits[:, :, 0] * 16, labels, label_smoothing=0.1)
    assert float(loss) == pytest.approx(float(ref), abs=1e-5)
    # parts are averaged: a second part identical to the first changes nothing
    loss2, _ = cross_entropy_parts(logits.repeat(1, 1, 2), labels, scale=16.0, label_smoothing=0.1)
    assert float(loss2) == pytest.approx(float(ref), abs=1e-5)


# ---------------------------------------------------------------------------------------- dynamic maps
def _a_walk() -> np.ndarray:
    """A real shipped walk when data/gait exists, else a drawn side-view walker: uint8 (T, 64, 44)."""
    real = ROOT / "data" / "gait" / "sil" / "001" / "nm-01" / "090" / "090.pkl"
    if real.exists():
        from core.data.opengait import load_sequence

        return load_sequence(real)
    frames = [normalise_silhouette(walker_frame(make_person(3), t, "090", "nm-01")) for t in range(20)]
    return np.stack(frames)[:, :, 10:-10]


def test_dynamic_maps_light_up_the_legs():
    torch.manual_seed(0)
    model = DyGait(DyGaitConfig.small(), 5).eval()
    walk = _a_walk()
    dynamic, static = dynamic_maps(model, walk)
    assert dynamic.shape == static.shape == walk.shape
    assert 0 <= dynamic.min() and dynamic.max() <= 1 and static.max() == pytest.approx(1.0)
    body = walk > 127
    rows = np.arange(64)[None, :, None]
    middle = body & (rows >= 21) & (rows < 43)
    legs = body & (rows >= 43)
    assert dynamic[legs].mean() > 1.5 * dynamic[middle].mean()


# ---------------------------------------------------------------------------------------- training
def test_generated_tree_reads_as_a_gait_set(walkers):
    train, test = load_gait_set(walkers, "train"), load_gait_set(walkers, "test")
    assert len(train.subjects) == 8 and len(test.subjects) == 4
    assert train.silhouettes(0).shape == (9, 64, 44) and train.silhouettes(0).dtype == np.uint8


def test_tiny_training_beats_chance_on_validation_and_test(walkers, trained):
    run, out = trained
    cfg = DyGaitConfig.tiny()
    final = torch.load(run / "final.pt", weights_only=True)
    assert set(final) == {"config", "model", "num_classes", "steps", "seconds", "best_step", "validation"}
    assert final["steps"] == cfg.steps and final["num_classes"] == 8 - cfg.validation_subjects
    assert final["validation"]["subjects"] == ["006", "007", "008"]  # the last training subjects, never test ones
    assert final["validation"]["mean"] > 1 / cfg.validation_subjects  # chance: one of 3 gallery subjects
    assert final["best_step"] in (cfg.eval_every, 2 * cfg.eval_every, cfg.steps)
    assert (run / "curves.png").exists() and (run / "log.jsonl").exists()
    model, loaded = load_dygait(run / "final.pt")
    assert loaded == cfg
    test = load_gait_set(walkers, "test")
    result = evaluate_features(embed_set(model, test), test)
    assert np.mean(list(result.mean.values())) > 1 / len(test.subjects)  # chance: 1 of 4


def test_resume_continues_the_step_count(walkers, tmp_path):
    cfg = DyGaitConfig.tiny()
    first = train_dygait(walkers, tmp_path, cfg, device="cpu", max_steps=2)
    assert first["steps"] == 2 and (tmp_path / "last.pt").exists() and not (tmp_path / "final.pt").exists()
    with pytest.raises(ValueError, match="another config"):
        train_dygait(walkers, tmp_path, replace(cfg, lr=1.0), resume=True, device="cpu")
    longer = cfg.with_steps(cfg.steps + 2)
    done = train_dygait(walkers, tmp_path, longer, resume=True, device="cpu")
    assert done["steps"] == longer.steps
    steps = [row["step"] for row in map(json.loads, (tmp_path / "log.jsonl").read_text().splitlines())]
    assert steps == list(range(1, longer.steps + 1))  # no step twice, none missing
    assert torch.load(tmp_path / "final.pt", weights_only=True)["steps"] == longer.steps


def test_opengait_checkpoint_round_trip(walkers, trained, tmp_path):
    run, _ = trained
    model, cfg = load_dygait(run / "final.pt")
    path = save_opengait_checkpoint(tmp_path / "DyGait-00006.pt", model, iteration=6)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"model", "iteration"} and raw["iteration"] == 6
    again = load_opengait_checkpoint(path, cfg, model.num_classes)
    inferred, inferred_cfg = load_dygait(path)  # no config in the file: sizes read from the weights
    assert config_from_state_dict(raw["model"])[1] == model.num_classes
    assert inferred_cfg.channels == cfg.channels and inferred_cfg.bins == cfg.bins
    walk = load_gait_set(walkers, "test").silhouettes(3)
    ref = embed(model, walk)
    assert ref.shape == (cfg.embedding_dim, cfg.parts)
    assert np.array_equal(embed(again, walk), ref)
    assert np.array_equal(embed(inferred, walk, bf16=cfg.bf16), ref)
    broken = {k: v for k, v in raw["model"].items() if "shortcut" not in k}
    torch.save({"model": broken, "iteration": 1}, tmp_path / "published.pt")
    with pytest.raises(ValueError, match="projection shortcuts"):
        load_opengait_checkpoint(tmp_path / "published.pt", cfg, model.num_classes)


def test_trains_as_two_gloo_processes_under_torchrun(walkers, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "core", "train", "dygait", "--preset", "tiny", "--data", str(walkers), "--out", "x",
           "--device", "cpu"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    final = torch.load(tmp_path / "x" / "final.pt", weights_only=True)
    assert final["steps"] == DyGaitConfig.tiny().steps
    rows = [json.loads(line) for line in (tmp_path / "x" / "log.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 6 and done.stdout.count("DyGait: 6 steps") == 1  # rank 0 alone reports


def test_bf16_clips_that_leave_two_frames_after_lta_are_refused():
    """This CPU's bf16 Conv3d weight gradient is wrong on 2-frame inputs (see DyGaitConfig): refuse them."""
    with pytest.raises(ValueError, match="2 frames after LTA"):
        replace(DyGaitConfig.tiny(), clip=7)
    assert replace(DyGaitConfig.tiny(), clip=7, bf16=False).clip == 7


def test_load_by_name_gives_the_shipped_model():
    from core.checkpoints import CheckpointError

    model = load("dygait")  # checkpoints/gait/dygait.pt (fp16 on disk), checked against its sha256
    assert isinstance(model, DyGait) and not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    sils = np.zeros((20, 64, 44), np.uint8)
    sils[:, 8:60, 14:30] = 255  # a standing block; the shapes are what this test checks
    feature = embed(model, sils)
    assert feature.shape == (model.cfg.channels[-1], model.cfg.parts) and np.isfinite(feature).all()
    dynamic, static = dynamic_maps(model, sils)
    assert dynamic.shape == static.shape == (20, 64, 44)
    with pytest.raises(CheckpointError, match="unknown checkpoint 'gaitnet-x'"):
        load("gaitnet-x")
