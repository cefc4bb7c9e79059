"""GaitNet (CVPR 2019): shapes, losses on known tensors, the pair sampler and validation split, a tiny
training run (learns, resumes, keeps the best weights on held-out training subjects), the api, and DDP
under torchrun. Data: a tiny gait tree of procedurally drawn walkers written to tmp_path, so the tests
need no data/ folder."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import core.train
from core.data.opengait import normalise_silhouette, save_sequence
from core.gait.data import (
    load_gait_set,
    load_with_clothes_swaps,
    repeated_walks,
    rgb_to_tensor,
    split_validation,
)
from core.gaitnet import api
from core.gaitnet.config import GaitNetConfig
from core.gaitnet.losses import (
    cross_reconstruction_loss,
    gait_similarity_loss,
    incremental_identity_loss,
    incremental_weights,
    matte_loss,
)
from core.gaitnet.model import GaitNet
from core.gaitnet.train import GaitNetTrainer, PairSampler, train_gaitnet

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = ("nm-01", "nm-02", "nm-05", "bg-01", "cl-01")
VIEWS = ("000", "090")
SUBJECTS = 10  # 7 train (of which tiny's last 2 validate), 3 test
FRAMES = 12


# ---------------------------------------------------------------------- a tiny gait set of drawn walkers
def _segment(yy: np.ndarray, xx: np.ndarray, a: tuple[float, float], b: tuple[float, float], r: float) -> np.ndarray:
    """bool (H, W): pixels within r of the segment a-b (points as (y, x))."""
    ay, ax = a
    dy, dx = b[0] - ay, b[1] - ax
    u = np.clip(((yy - ay) * dy + (xx - ax) * dx) / max(dy * dy + dx * dx, 1e-9), 0, 1)
    return (yy - ay - u * dy) ** 2 + (xx - ax - u * dx) ** 2 <= r * r


def _walker_frames(subject: int, condition: str, view: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A coloured stick walker: silhouettes uint8 (T, 64, 64) and masked RGB uint8 (T, 64, 32, 3).

    Per subject: swing amplitude, cadence, limb thickness, trouser and shirt colours; a coat (cl) is a
    longer, wider torso of another colour; a bag (bg) a box at the hip; the view scales the swing."""
    ids = np.random.default_rng(1000 + subject)
    swing, cadence, limb = ids.uniform(3, 9), ids.uniform(0.45, 0.95), ids.uniform(1.6, 2.8)
    shirt, trousers = ids.integers(40, 255, 3), ids.integers(40, 255, 3)
    coat = condition.startswith("cl")
    if coat:
        shirt = (255 - shirt) // 2 + 60
    side = abs(math.sin(math.radians(float(view))))
    amp = swing * (0.35 + 0.65 * side)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    cx, phase = 32.0, rng.uniform(0, 2 * math.pi)
    sils, rgbs = [], []
    for t in range(FRAMES):
        s = math.sin(phase + cadence * t)
        img = np.zeros((64, 64, 3), np.uint8)
        legs = _segment(yy, xx, (34, cx), (62, cx + amp * s), limb)
        legs |= _segment(yy, xx, (34, cx), (62, cx - amp * s), limb)
        arms = _segment(yy, xx, (16, cx), (32, cx - 0.6 * amp * s), limb * 0.8)
        arms |= _segment(yy, xx, (16, cx), (32, cx + 0.6 * amp * s), limb * 0.8)
        torso = _segment(yy, xx, (14, cx), (44 if coat else 35, cx), 5.5 if coat else 4.0)
        head = (yy - 8) ** 2 + (xx - cx) ** 2 <= 20
        img[legs] = trousers
        img[torso | arms] = shirt
        img[head] = (220, 180, 150)
        mask = legs | arms | torso | head
        if condition.startswith("bg"):
            bag = (np.abs(yy - 36) <= 4) & (np.abs(xx - cx - 6) <= 3)
            img[bag] = (90, 60, 30)
            mask |= bag
        sils.append(normalise_silhouette(mask))
        rgbs.append(img[:, 16:48])
    return np.stack(sils), np.stack(rgbs)


def write_walkers(root: Path, subjects: int = SUBJECTS, train: int = 7) -> Path:
    """root/sil/<id>/<cond>/<view>/<view>.pkl, root/rgb/<same>.pkl and root/partition.json."""
    rng = np.random.default_rng(0)
    names = [f"{i + 1:03d}" for i in range(subjects)]
    for s, name in enumerate(names):
        for cond in CONDITIONS:
            for view in VIEWS:
                sil, rgb = _walker_frames(s, cond, view, rng)
                save_sequence(root / "sil" / name / cond / view / f"{view}.pkl", sil)
                save_sequence(root / "rgb" / name / cond / view / f"{view}.pkl", rgb)
    (root / "partition.json").write_text(json.dumps({"TRAIN_SET": names[:train], "TEST_SET": names[train:]}))
    return root


@pytest.fixture(scope="module")
def walkers(tmp_path_factory) -> Path:
    return write_walkers(tmp_path_factory.mktemp("gait") / "gait")


def _tiny(**changes) -> GaitNetConfig:
    return replace(GaitNetConfig.tiny(), **changes)


# ---------------------------------------------------------------------- shapes
def test_paper_shapes():
    """64x32 in, 512x4x2 after four stride-2 stages, f_a 256 + f_g 64, LSTM 256, Sigmoid frames out."""
    cfg = GaitNetConfig.from_preset("paper")
    assert (cfg.batch_size, cfg.clip_len, cfg.lr, cfg.gait_sim_weight, cfg.feature_dim) == (16, 20, 1e-4, 10.0, 320)
    model = GaitNet(cfg, num_classes=7).eval()
    frames = torch.rand(2, 3, 3, 64, 32)
    assert model.encoder.convs(frames[0]).shape == (3, 512, 4, 2)
    assert sum(isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2) for m in model.encoder.modules()) == 4
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in model.decoder.modules()) == 4
    appearance, pose = model.encode(frames)
    assert appearance.shape == (2, 3, 256) and pose.shape == (2, 3, 64)
    assert model.decode(appearance, pose).shape == (2, 3, 3, 64, 32)
    assert model.gait_feature(pose).shape == (2, 256)
    assert model.incremental_logits(pose).shape == (2, 3, 7)
    assert model.lstm.num_layers == 3 and model.lstm.hidden_size == 256


def test_small_shapes_and_training_forward():
    cfg = GaitNetConfig.small()
    model = GaitNet(cfg, num_classes=5)
    clips = torch.rand(2, 2, cfg.clip_len, 3, 64, 32)
    k = cfg.targets_per_clip
    source = torch.randint(0, cfg.clip_len, (2, 2, k))
    out = model(clips, source, torch.arange(k))
    assert out["appearance"].shape == (2, 2, cfg.clip_len, cfg.appearance_dim)
    assert out["pose"].shape == (2, 2, cfg.clip_len, cfg.pose_dim)
    assert out["logits"].shape == (2, 2, cfg.clip_len, 5)
    assert out["recon"].shape == (2, 2, k, 3, 64, 32)
    one = model(clips, source[:, :1], torch.arange(k))  # only clip A rebuilt
    assert one["recon"].shape == (2, 1, k, 3, 64, 32)


@torch.no_grad()
def test_decoder_output_is_in_unit_range():
    model = GaitNet(GaitNetConfig.tiny(), num_classes=3).eval()
    cfg = model.cfg
    frames = model.decode(torch.randn(2, 4, cfg.appearance_dim) * 50, torch.randn(2, 4, cfg.pose_dim) * 50)
    assert frames.shape == (2, 4, 3, 64, 32)
    assert float(frames.min()) >= 0.0 and float(frames.max()) <= 1.0  # Sigmoid, even for huge codes


@torch.no_grad()
def test_nearest_upsampling_decoder_has_no_checkerboard_source():
    """decoder_upsample "nearest": no transposed convolution (whose uneven overlap of taps draws a 2-pixel
    checkerboard), frames of the same shape in [0, 1]; the paper's decoder stays the default."""
    torch.manual_seed(0)
    model = GaitNet(_tiny(decoder_upsample="nearest"), num_classes=3).eval()
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules())
    cfg = model.cfg
    frames = model.decode(torch.randn(1, 2, cfg.appearance_dim), torch.randn(1, 2, cfg.pose_dim))
    assert frames.shape == (1, 2, 3, 64, 32) and 0.0 <= float(frames.min()) <= float(frames.max()) <= 1.0
    with pytest.raises(ValueError, match="decoder_upsample"):
        _tiny(decoder_upsample="bilinear")
    assert GaitNetConfig.from_preset("small-cs-upsample").decoder_upsample == "nearest"
    assert GaitNetConfig().decoder_upsample == "transpose"  # the paper's


def test_matte_decoder_cuts_its_outline_in_eval_and_learns_the_silhouette():
    """decoder_matte: 4 channels drawn; the training frame is colour x the soft matte, the eval frame colour x
    [matte >= 0.5] (black exactly where the matte is below 0.5); the matte loss is BCE against the target's
    non-black pixels, near 0 for a matte equal to them and large for its inverse."""
    torch.manual_seed(0)
    model = GaitNet(_tiny(decoder_matte=True, decoder_upsample="nearest"), num_classes=3)
    cfg = model.cfg
    appearance, pose = torch.randn(1, 3, cfg.appearance_dim), torch.randn(1, 3, cfg.pose_dim)
    model.train()
    soft, matte = model.decode_with_matte(appearance, pose)
    assert soft.shape == (1, 3, 3, 64, 32) and matte.shape == (1, 3, 1, 64, 32)
    assert soft.requires_grad and 0.0 <= float(soft.min()) <= float(soft.max()) <= 1.0
    model.eval()
    with torch.no_grad():
        hard, matte = model.decode_with_matte(appearance, pose)
        colour = model.decoder(appearance.flatten(0, 1), pose.flatten(0, 1))[:, :3].view(1, 3, 3, 64, 32)
    assert torch.equal(hard, colour * (matte >= 0.5))
    assert 0 < int((matte >= 0.5).sum()) < matte.numel()  # a random decoder cuts somewhere: the test can fail
    assert torch.equal(model.decode(appearance, pose), hard)
    target = torch.zeros(2, 4, 3, 64, 32)
    target[..., 0, 16:48, 8:24] = 0.6  # a red walker on black
    exact = (target.amax(-3, keepdim=True) > 0).float().clamp(0.001, 0.999)
    assert float(matte_loss(exact, target)) < 0.01 * 4
    assert float(matte_loss(1 - exact, target)) > 5 * 4
    assert math.isclose(float(matte_loss(exact, target, clip_len=20)), float(matte_loss(exact, target)) * 5,
                        rel_tol=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match="matte"):
        matte_loss(exact[..., :16], target)
    assert GaitNetConfig.from_preset("small-cs-matte").decoder_matte and not GaitNetConfig().decoder_matte


def test_incremental_logits_classify_running_means():
    """Row t of incremental_logits is the classifier on the gait feature of the first t frames."""
    model = GaitNet(GaitNetConfig.tiny(), num_classes=4).eval()
    pose = torch.randn(3, 5, model.cfg.pose_dim)
    logits = model.incremental_logits(pose)
    for t in (1, 3, 5):
        expected = model.classifier(model.gait_feature(pose[:, :t]))
        assert torch.allclose(logits[:, t - 1], expected, atol=1e-5)


def test_clip_feature_is_the_gait_feature_of_the_whole_clip():
    """forward's "feature" is the last prefix's feature: what gait_feature gives for the clip, with the batch's
    statistics (train mode) and with the running ones (eval mode)."""
    model = GaitNet(GaitNetConfig.tiny(), num_classes=4)
    clips = torch.rand(3, 2, 6, 3, 64, 32)
    empty = torch.zeros(3, 2, 0, dtype=torch.long), torch.arange(0)
    for train in (True, False):
        model.train(train)
        torch.manual_seed(0)
        out = model(clips, *empty)
        pose = out["pose"].flatten(0, 1)
        expected = model.gait_feature(pose)  # in train mode: the same batch's statistics
        assert out["feature"].shape == (3, 2, model.cfg.lstm_hidden)
        assert torch.allclose(out["feature"].flatten(0, 1), expected, atol=1e-5)


def test_triplet_term_pulls_a_walkers_clips_together():
    """With triplet_weight > 0 a step reports the term, and a few steps on one batch make each clip's nearest
    other clip (by cosine) its walker's own more often than at the start."""
    torch.manual_seed(0)
    cfg = _tiny(triplet_weight=1.0, xrecon_weight=0.0, id_weight=0.0, gait_sim_weight=0.0, lr=3e-3, batch_size=6)
    trainer = GaitNetTrainer(cfg, 6, torch.device("cpu"))
    rng = np.random.default_rng(0)
    clips = (rng.random((6, 2, cfg.clip_len, 64, 32, 3)) * 255).astype(np.uint8)
    labels = np.arange(6)

    def own_nearest() -> float:
        trainer.model.train()  # batch statistics, as the loss sees them
        with torch.no_grad():
            feature = trainer.model(rgb_to_tensor(clips), *empty)["feature"].flatten(0, 1)
        unit = torch.nn.functional.normalize(feature, dim=-1)
        similarity = unit @ unit.T - 2 * torch.eye(len(unit))
        return float((similarity.argmax(1) // 2 == torch.arange(len(unit)) // 2).float().mean())

    empty = torch.zeros(6, 2, 0, dtype=torch.long), torch.arange(0)
    before = own_nearest()
    values = [trainer.step(clips, labels, rng) for _ in range(30)]
    assert "triplet" in values[0] and all(math.isfinite(v["triplet"]) for v in values)
    assert values[-1]["triplet"] < values[0]["triplet"]
    assert own_nearest() > before
    with pytest.raises(ValueError, match="triplet"):
        GaitNetConfig(triplet_margin=0.0).validate()
    triplet = GaitNetConfig.from_preset("small-cs-matte-triplet")
    assert (GaitNetConfig().triplet_weight, triplet.triplet_weight) == (0, 1)


# ---------------------------------------------------------------------- losses
def test_incremental_weights_are_t_squared_and_sum_to_one():
    w = incremental_weights(4)
    assert torch.allclose(w, torch.tensor([1.0, 4.0, 9.0, 16.0]) / 30.0)
    assert math.isclose(float(incremental_weights(20).sum()), 1.0, rel_tol=1e-6)


def test_incremental_identity_loss_on_known_logits():
    labels = torch.tensor([0, 2])
    uniform = torch.zeros(2, 4, 3)  # CE = log 3 at every prefix
    assert math.isclose(float(incremental_identity_loss(uniform, labels)), math.log(3), rel_tol=1e-6)
    sure = torch.full((2, 4, 3), -30.0)
    sure[0, :, 0] = sure[1, :, 2] = 30.0  # every prefix certain and right: ~0
    assert float(incremental_identity_loss(sure, labels)) < 1e-6
    sure[:, 3] = 0.0  # only the last prefix is uniform: its weight 16/30 times log 3
    assert math.isclose(float(incremental_identity_loss(sure, labels)), 16 / 30 * math.log(3), rel_tol=1e-5)


def test_gait_similarity_loss_compares_time_averages():
    a = torch.randn(3, 6, 8)
    assert float(gait_similarity_loss(a, a)) == 0.0
    assert float(gait_similarity_loss(a, a.flip(1))) < 1e-12  # the order of frames does not matter
    assert math.isclose(float(gait_similarity_loss(a, a + 1.0)), 1.0, rel_tol=1e-6)
    assert math.isclose(float(gait_similarity_loss(a, torch.cat([a, a], 1))), 0.0, abs_tol=1e-12)


def test_cross_reconstruction_loss_sums_over_frames():
    x = torch.rand(2, 5, 3, 64, 32)
    assert float(cross_reconstruction_loss(x, x)) == 0.0
    off = (x + 0.1).clamp(max=10)
    assert math.isclose(float(cross_reconstruction_loss(off, x)), 5 * 0.01, rel_tol=1e-4)
    # 5 of 20 frames rebuilt: scaled to the clip's 20
    assert math.isclose(float(cross_reconstruction_loss(off, x, clip_len=20)), 20 * 0.01, rel_tol=1e-4)
    with pytest.raises(ValueError):
        cross_reconstruction_loss(x, x[:, :4])


# ---------------------------------------------------------------------- config, data, sampler
def test_presets_and_config_round_trip():
    for name in ("paper", "small", "tiny"):
        cfg = GaitNetConfig.from_preset(name)
        assert GaitNetConfig.from_dict(cfg.to_dict()) == cfg
    assert GaitNetConfig.from_preset("paper").validation_subjects == 5
    with pytest.raises(ValueError):
        GaitNetConfig.from_preset("huge")
    with pytest.raises(ValueError):
        GaitNetConfig(height=128)


def test_validation_split_and_pair_sampler(walkers):
    full = load_gait_set(walkers, "train")
    train, val = split_validation(full, GaitNetConfig.tiny().validation_subjects)
    assert len(full.subjects) == 7 and len(train.subjects) == 4 and len(val.subjects) == 3
    assert val.subjects == ["005", "006", "007"] and not set(train.subjects) & set(val.subjects)
    assert len(train) == 4 * len(CONDITIONS) * len(VIEWS)
    sampler = PairSampler(train, same_view=True)
    rng = np.random.default_rng(0)
    for label in range(len(train.subjects)):
        for _ in range(10):
            a, b = sampler.pair(label, rng)
            assert train.labels[a] == train.labels[b] == label
            assert train.views[a] == train.views[b]
            assert train.conditions[a].split("-")[0] != train.conditions[b].split("-")[0]
    clips, labels, aligned = sampler.sample(3, 6, rng)
    assert clips.shape == (3, 2, 6, 64, 32, 3) and clips.dtype == np.uint8 and labels.shape == (3,)
    assert aligned.shape == (3,) and not aligned.any()  # no clothes-swap walks: ordinary pairs only


# ---------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def trained(walkers, tmp_path_factory):
    """A tiny run of 100 steps, validated every 50; records which splits training read."""
    import core.gait.data as data_module

    splits = []
    original = data_module.load_gait_set

    def spy(root, split="train", cache=True):
        splits.append(split)
        return original(root, split, cache)

    run = tmp_path_factory.mktemp("run")
    cfg = _tiny(steps=100, eval_every=50, sample_every=100)
    data_module.load_gait_set = spy
    try:
        torch.manual_seed(0)
        started = time.perf_counter()
        result = train_gaitnet(walkers, run, cfg, device="cpu")
        seconds = time.perf_counter() - started
    finally:
        data_module.load_gait_set = original
    return {"run": run, "cfg": cfg, "result": result, "splits": splits, "seconds": seconds}


def test_training_never_reads_the_test_split(trained):
    assert trained["splits"] == ["train"]


def test_tiny_run_recognises_held_out_subjects_and_learns_to_reconstruct(trained, walkers):
    run, cfg = trained["run"], trained["cfg"]
    final = torch.load(run / "final.pt", weights_only=True)
    assert set(final) >= {"config", "model", "num_classes", "steps", "seconds", "best_step", "validation"}
    assert final["steps"] == cfg.steps and final["num_classes"] == 4
    history = final["validation"]["history"]
    assert [h["step"] for h in history] == [50, 100]
    best = max(history, key=lambda h: h["mean"])
    assert final["best_step"] == best["step"] and final["validation"]["best"]["mean"] == best["mean"]
    assert final["validation"]["subjects"] == ["005", "006", "007"]
    assert trained["result"]["best_validation"]["mean"] > 1 / 3  # 3 held-out subjects: chance is 1/3

    model, loaded = api.load_gaitnet(run / "final.pt")
    assert loaded == cfg
    val = split_validation(load_gait_set(walkers, "train"), cfg.validation_subjects)[1]
    untrained = GaitNet(cfg, 4).eval()  # the same init as step 0 (seeded like the run)
    errors = []
    for net in (untrained, model):
        err = [np.mean((api.reconstruct(net, val.rgb(i)).astype(float) - val.rgb(i)) ** 2) for i in range(4)]
        errors.append(float(np.mean(err)))
    assert errors[1] < 0.7 * errors[0]
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any("val_mean" in row for row in log) and any("xrecon" in row for row in log)
    assert (run / "curves.png").exists() and (run / "images" / "step_000100.png").exists()


# ---------------------------------------------------------------------- clothes-swap walks
def write_clothes_swaps(walkers: Path, root: Path) -> Path:
    """A clothes-swap tree beside ``walkers``: each training walker's nm-01 repeated as cs-01 with the colour
    channels rotated (other clothes on the same frames), and factors.jsonl naming the repeated walk."""
    rows = []
    for subject in ("001", "002", "003", "004", "005", "006"):
        for view in VIEWS:
            rel = Path(subject) / "cs-01" / view / f"{view}.pkl"
            own = Path(subject) / "nm-01" / view / f"{view}.pkl"
            sil = np.asarray(pickle.loads((walkers / "sil" / own).read_bytes()))
            rgb = np.asarray(pickle.loads((walkers / "rgb" / own).read_bytes()))
            save_sequence(root / "sil" / rel, sil)
            save_sequence(root / "rgb" / rel, np.ascontiguousarray(rgb[..., [2, 0, 1]]))
            rows.append({"file": str(rel), "id": int(subject), "condition": "cs-01", "donor": 0, "walk": "nm-01",
                         "view": int(view), "frames": len(sil)})  # fmt: skip
    (root / "factors.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "partition.json").write_text((walkers / "partition.json").read_text())
    return root


def test_aligned_pairs_show_one_walk_in_two_sets_of_clothes(walkers, tmp_path):
    swaps = write_clothes_swaps(walkers, tmp_path / "swaps")
    full = load_with_clothes_swaps(walkers, swaps, "train")
    train, val = split_validation(full, GaitNetConfig.tiny().validation_subjects)
    assert "cs-01" in set(val.conditions) and "cs-01" in set(train.conditions)
    repeats = repeated_walks(train, swaps)
    assert len(repeats) == 4 * len(VIEWS)  # training walkers 001-004 at both views
    for swapped, own in repeats.items():
        assert train.describe(own) == train.describe(swapped).replace("cs-01", "nm-01")
    sampler = PairSampler(train, True, repeats, aligned_share=1.0)
    clips, labels, aligned = sampler.sample(6, 5, np.random.default_rng(1))
    assert aligned.all()
    # clip A is the cs walk, clip B the walk it repeats, on the same frames: A is B with rotated channels
    np.testing.assert_array_equal(clips[:, 0], clips[:, 1][..., [2, 0, 1]])
    half = PairSampler(train, True, repeats, aligned_share=0.5).sample(200, 5, np.random.default_rng(2))[2]
    assert 0.35 < half.mean() < 0.65
    with pytest.raises(ValueError, match="clothes-swap walks"):
        PairSampler(load_gait_set(walkers, "train"), True, {}, aligned_share=0.5)


def test_cross_decoding_takes_the_pose_from_the_other_clip():
    torch.manual_seed(0)
    cfg = _tiny()
    model = GaitNet(cfg, 3).eval()
    clips = torch.rand(2, 2, 4, 3, 64, 32)
    targets = torch.tensor([1, 3])
    source = torch.zeros(2, 2, 2, dtype=torch.long)
    out = model(clips, source, targets, torch.tensor([True, False]))
    appearance, pose = out["appearance"], out["pose"]
    for n, q in ((0, 0), (0, 1), (1, 0)):
        other = 1 - q if n == 0 else q
        expected = model.decode(appearance[n, q, [0, 0]][None], pose[n, other, targets][None])[0]
        torch.testing.assert_close(out["recon"][n, q], expected)


def test_training_with_clothes_swaps_scores_them_in_validation(walkers, tmp_path):
    swaps = write_clothes_swaps(walkers, tmp_path / "swaps")
    # every clip recoloured at random (small-cs-recolour's augmentation)
    cfg = _tiny(steps=4, eval_every=4, sample_every=0, aligned_pair_share=0.5, colour_weight=2.0, recolour_share=1.0)
    result = train_gaitnet(walkers, tmp_path / "run", cfg, swaps=swaps, device="cpu")
    assert set(result["best_validation"]) == {"NM", "BG", "CL", "CS", "mean"}
    final = torch.load(tmp_path / "run" / "final.pt", weights_only=True)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any("val_CS" in row for row in log)
    assert any(row.get("colour", 0) > 0 for row in log)  # aligned items were cross-decoded and colour-scored
    # a warm start begins from those weights; another number of walkers is refused
    trainer = GaitNetTrainer(cfg, 4, torch.device("cpu"))
    trainer.warm_start(tmp_path / "run" / "final.pt")
    for key, value in trainer.model.state_dict().items():
        torch.testing.assert_close(value, final["model"][key].to(value.dtype), msg=key)
    with pytest.raises(ValueError, match="classifies 4 walkers"):
        GaitNetTrainer(cfg, 5, torch.device("cpu")).warm_start(tmp_path / "run" / "final.pt")
    with pytest.raises(ValueError, match="aligned_pair_share"):
        replace(cfg, recon_both_clips=False).validate()
    with pytest.raises(ValueError, match="colour_weight"):
        replace(cfg, aligned_pair_share=0.0).validate()
    with pytest.raises(ValueError, match="recolour_share"):
        replace(cfg, recolour_share=2.0).validate()
    assert final["config"]["aligned_pair_share"] == 0.5 and final["config"]["recolour_share"] == 1.0
    assert final["warm_start"] is None  # trained from scratch
    # what a run started from survives a resume (the resumed session passes no warm start)
    start = tmp_path / "run" / "final.pt"
    train_gaitnet(walkers, tmp_path / "warm", cfg, swaps=swaps, warm_start=start, device="cpu", max_steps=2)
    train_gaitnet(walkers, tmp_path / "warm", cfg, swaps=swaps, device="cpu", resume=True)
    assert torch.load(tmp_path / "warm" / "final.pt", weights_only=True)["warm_start"] == str(start)


def test_resume_continues_the_step_count(walkers, tmp_path):
    # with a weight average from step 2 (small-cs-matte-swa's), which the checkpoint carries through the resume
    cfg = _tiny(steps=6, eval_every=3, sample_every=0, average_from=2)
    first = train_gaitnet(walkers, tmp_path, cfg, device="cpu", max_steps=3)
    assert first["steps"] == 3 and not (tmp_path / "final.pt").exists()
    resume = torch.load(tmp_path / "last.pt", weights_only=True)
    assert resume["step"] == 3
    assert int(resume["trainer"]["average"]["n_averaged"]) == 2  # the weights after steps 2 and 3
    # eval can name last.pt: the model is the last step's live weights (not the average final.pt will hold)
    at_step3, _ = api.load_gaitnet(tmp_path / "last.pt")
    weights = at_step3.state_dict()
    assert weights.keys() == resume["trainer"]["model"].keys()
    assert all(
        torch.equal(weights[k], v.float() if v.is_floating_point() else v)
        for k, v in resume["trainer"]["model"].items()
    )
    second = train_gaitnet(walkers, tmp_path, cfg, resume=True, device="cpu")
    assert second["steps"] == 6
    final = torch.load(tmp_path / "final.pt", weights_only=True)
    assert final["steps"] == 6 and [h["step"] for h in final["validation"]["history"]] == [3, 6]
    averaged = torch.load(tmp_path / "last.pt", weights_only=True)["trainer"]["average"]
    assert int(averaged["n_averaged"]) == 5 and final["best_step"] == 6  # final.pt holds the average, not a pick
    for key, value in final["model"].items():
        torch.testing.assert_close(value, averaged[f"module.{key}"], msg=key)
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert sorted(set(steps)) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="another config"):
        train_gaitnet(walkers, tmp_path, replace(cfg, lr=1.0), resume=True, device="cpu")


def test_weight_average_is_the_mean_of_the_weights_after_each_step_from_average_from():
    torch.manual_seed(0)
    cfg = _tiny(average_from=2, lr=1e-2)
    trainer = GaitNetTrainer(cfg, 3, torch.device("cpu"))
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (4, 2, cfg.clip_len, 64, 32, 3), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0])
    after = []
    for step in range(4):
        trainer.step(clips, labels, rng, None, step)
        after.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
        if step == 0:  # nothing averaged yet: the live weights are scored
            assert trainer.inference_model() is trainer.model
    averaged = trainer.inference_model().state_dict()
    assert trainer.inference_model() is not trainer.model
    for key, value in averaged.items():
        if value.is_floating_point():  # steps 2, 3 and 4 (1-based); batch-norm statistics too
            torch.testing.assert_close(value, torch.stack([a[key] for a in after[1:]]).mean(0), msg=key)
    assert not torch.equal(averaged["classifier.0.weight"], after[-1]["classifier.0.weight"])
    with pytest.raises(ValueError, match="average_from"):
        replace(cfg, average_from=-1).validate()


# ---------------------------------------------------------------------- api
def test_checkpoint_round_trip_gives_identical_embeddings(walkers, tmp_path):
    cfg = GaitNetConfig.tiny()
    model = GaitNet(cfg, 4)
    model(torch.rand(4, 2, 6, 3, 64, 32), torch.zeros(4, 2, 2, dtype=torch.long), torch.arange(2))  # BN stats
    model.eval()
    torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "num_classes": 4}, tmp_path / "m.pt")
    loaded, loaded_cfg = api.load_gaitnet(tmp_path / "m.pt")
    assert loaded_cfg == cfg
    walk = load_gait_set(walkers, "train").rgb(0)
    first, again = api.embed(model, walk), api.embed(loaded, walk)
    assert first.shape == (cfg.lstm_hidden,) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    many = api.embed_many(loaded, [walk, walk[:7], walk])
    np.testing.assert_allclose(many[0], first, atol=1e-5)
    np.testing.assert_allclose(many[1], api.embed(loaded, walk[:7]), atol=1e-5)
    with pytest.raises(ValueError):
        api.embed(model, walk[..., 0])  # silhouettes are not masked RGB


def test_swap_reconstruct_trajectories(walkers):
    model = GaitNet(GaitNetConfig.tiny(), 4).eval()
    data = load_gait_set(walkers, "train")
    look, move = data.rgb(0)[:8], data.rgb(5)[:5]
    for out in (api.swap(model, look, move), api.swap(model, look, move, appearance_frame=2)):
        assert out.shape == (5, 64, 32, 3) and out.dtype == np.uint8
    rebuilt = api.reconstruct(model, look)
    assert rebuilt.shape == look.shape and rebuilt.dtype == np.uint8
    paths = [api.pose_trajectory(model, data.rgb(i)) for i in (0, 1)]
    assert paths[0].shape == (FRAMES, model.cfg.pose_dim)
    flat = api.project_2d(paths)
    assert [p.shape for p in flat] == [(FRAMES, 2), (FRAMES, 2)]
    assert abs(float(np.concatenate(flat).mean())) < 1e-4  # centred on all the given frames
    assert rgb_to_tensor(look).shape == (8, 3, 64, 32)


def test_recognition_of_a_walk_is_fast():
    """One 30-frame walk through the small model's encoder and LSTM, well under a second on a CPU."""
    model = GaitNet(GaitNetConfig.small(), 25).eval()
    walk = (np.random.default_rng(0).random((30, 64, 32, 3)) * 255).astype(np.uint8)
    api.embed(model, walk)
    started = time.perf_counter()
    api.embed(model, walk)
    assert time.perf_counter() - started < 1.0


def test_discriminator_trains_beside_and_then_on_the_decoder(walkers, tmp_path, monkeypatch):
    """adv_weight > 0: D learns from step 0 (its AUC logged), the decoder gets the adversarial term from
    adv_start; D and its optimiser resume with the run; final.pt holds the GaitNet alone. With the matte
    decoder (as small-cs-matte-gan) the matte's loss is logged every step."""
    # bf16 autocast as the small presets (the decoder's frames come out in bf16), on any CPU
    monkeypatch.setattr(core.train, "bf16_runs_natively", lambda device: True)
    cfg = replace(GaitNetConfig.tiny_gan(), steps=4, eval_every=4, sample_every=0, log_every=1, bf16=True,
                  decoder_matte=True, decoder_upsample="nearest")  # fmt: skip
    train_gaitnet(walkers, tmp_path / "run", cfg, device="cpu", max_steps=2)
    train_gaitnet(walkers, tmp_path / "run", cfg, device="cpu", resume=True)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(0.0 <= r["dis_auc"] <= 1.0 and r["dis"] > 0 for r in rows)
    assert [("adv" in r) for r in rows] == [False, False, True, True]  # steps 0, 1 are D's alone
    assert all(0.0 < r["matte"] < 100.0 for r in rows)
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert any(k.startswith("cnns.0.") for k in last["trainer"]["dis"])
    final = torch.load(tmp_path / "run" / "final.pt", weights_only=True)
    assert not any(k.startswith("dis") for k in final["model"]) and final["config"]["adv_weight"] == 0.1
    _, loaded = api.load_gaitnet(tmp_path / "run" / "final.pt", "cpu")
    assert loaded.dis.dim == 8 and loaded.adv_weight == 0.1
    with pytest.raises(ValueError, match="adv_weight"):
        replace(cfg, adv_weight=-1.0).validate()
    with pytest.raises(ValueError, match="decoded frames"):
        replace(cfg, xrecon_weight=0.0).validate()


# ---------------------------------------------------------------------- DDP
def test_gaitnet_trains_as_two_gloo_processes_under_torchrun(walkers, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           "core", "train", "gaitnet", "--preset", "tiny-gan", "--data", str(walkers), "--out", "x",
           "--device", "cpu"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[:3000] + "\n...\n" + done.stderr[-2000:]
    final = torch.load(tmp_path / "x" / "final.pt", weights_only=True)
    assert final["steps"] == GaitNetConfig.tiny().steps
    rows = [json.loads(line) for line in (tmp_path / "x" / "log.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 4 and done.stdout.count("GaitNet: 4 steps") == 1  # rank 0 alone reports
    assert "dis_auc" in rows[-1] and "adv" in rows[-1]  # the discriminator's gradients averaged by hand


def test_load_by_name_gives_the_shipped_model():
    from core.checkpoints import CheckpointError

    model = api.load("gaitnet")  # checkpoints/gait/gaitnet.pt (fp16 on disk), checked against its sha256
    assert isinstance(model, GaitNet) and not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    walk = np.random.default_rng(0).integers(0, 256, (12, model.cfg.height, model.cfg.width, 3), dtype=np.uint8)
    feature = api.embed(model, walk)
    assert feature.shape == (model.feature_dim,) and feature.dtype == np.float32 and np.isfinite(feature).all()
    assert api.reconstruct(model, walk).shape == walk.shape == (12, 64, 32, 3)
    with pytest.raises(CheckpointError, match="unknown checkpoint 'dygait-x'"):
        api.load("dygait-x")


def test_clothes_swap_presets_choose_their_start(tmp_path):
    """small-swap fine-tunes gaitnet-base; small-cs starts from scratch; both take the clothes-swap walks and
    refuse to run without them."""
    import argparse

    from core.cli_helpers import CliError
    from core.gaitapp.commands import _gaitnet_sources

    (tmp_path / "swaps").mkdir()

    def sources(preset: str, swaps: str | None, resume: bool = False) -> dict:
        args = argparse.Namespace(preset=preset, swaps=swaps, warm_start=None, resume=resume, data="data/gait")
        return _gaitnet_sources(args, GaitNetConfig.from_preset(preset))

    assert sources("small-swap", str(tmp_path / "swaps")) == {"swaps": str(tmp_path / "swaps"),
                                                              "warm_start": "gaitnet-base"}  # fmt: skip
    assert sources("small-swap", str(tmp_path / "swaps"), resume=True)["warm_start"] is None
    assert sources("small-cs", str(tmp_path / "swaps")) == {"swaps": str(tmp_path / "swaps"), "warm_start": None}
    cs = GaitNetConfig.from_preset("small-cs")
    assert cs.aligned_pair_share == 0.25 and cs.steps == GaitNetConfig.from_preset("small").steps
    # the fine-tunes of a small-cs model need it named; resuming does not
    with pytest.raises(CliError, match="--warm-start"):
        sources("small-cs-gan", str(tmp_path / "swaps"))
    assert sources("small-cs-gan", str(tmp_path / "swaps"), resume=True)["warm_start"] is None
    start = str(tmp_path / "start.pt")
    args = argparse.Namespace(preset="small-cs-finetune", swaps=str(tmp_path / "swaps"), warm_start=start,
                              resume=False, data="data/gait")  # fmt: skip
    assert _gaitnet_sources(args, GaitNetConfig.from_preset("small-cs-finetune"))["warm_start"] == start
    with pytest.raises(CliError, match="--warm-start"):
        sources("small-cs-matte-gan", str(tmp_path / "swaps"))
    matte_gan = GaitNetConfig.from_preset("small-cs-matte-gan")
    assert matte_gan.decoder_matte and matte_gan.adv_weight > 0 and matte_gan.validation_subjects == 8
    matte_finetune = GaitNetConfig.from_preset("small-cs-matte-finetune")
    assert matte_finetune.decoder_matte and matte_finetune.adv_weight == 0 and matte_finetune.steps == 3000
    with pytest.raises(CliError, match="--warm-start"):
        sources("small-cs-matte-finetune", str(tmp_path / "swaps"))
    gan, finetune = GaitNetConfig.from_preset("small-cs-gan"), GaitNetConfig.from_preset("small-cs-finetune")
    assert gan.adv_weight > 0 and finetune.adv_weight == 0 and gan.steps == finetune.steps == 3000
    recoloured = GaitNetConfig.from_preset("small-cs-recolour")
    assert recoloured.recolour_share == 1.0 and cs.recolour_share == 0.0 and recoloured.steps == 10000
    assert sources("small-cs-recolour", str(tmp_path / "swaps"))["warm_start"] is None
    with pytest.raises(CliError, match="pass --swaps"):
        sources("small-cs", "")
    with pytest.raises(CliError, match="synth gait-swaps"):
        sources("small-cs", str(tmp_path / "missing"))
    assert sources("small", None) == {"swaps": None, "warm_start": None}
