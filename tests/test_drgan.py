"""DR-GAN: the paper's layer shapes, fusion, the mirrored batches, training (single, multi, resume,
torchrun), the judge and the evaluation on a small rendered face set."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from core.drgan.config import DRGANConfig
from core.drgan.data import FaceSet, load_face_set
from core.drgan.model import DRGAN, fuse_features
from core.drgan.train import DRGANTrainer, load_drgan, train_drgan
from core.synth.face_set import FaceConfig, write_face

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces") / "face"
    write_face(root, FaceConfig(ids=5, illuminations=2, stored_size=40, test_fraction=0.4, seed=5))
    return root


@pytest.fixture(scope="module")
def judge_file(faces, tmp_path_factory):
    """A small judge trained on the face set's training people, and the trainer's report."""
    from core.drgan.judge import JudgeConfig, train_judge

    jcfg = JudgeConfig(image_size=32, load_size=36, widths=(8, 16, 32, 32), steps=300, batch_size=16, lr=3e-3,
                       bf16=False)  # fmt: skip
    path = tmp_path_factory.mktemp("judge") / "judge.pt"
    return path, jcfg, train_judge(faces, path, jcfg)


def test_paper_shapes():
    """96x96 in, 6x6 maps after 4 stride-2 convs, f(x) 320-d, N^d + 1 + 13 discriminator outputs."""
    cfg = DRGANConfig.from_preset("paper")
    model = DRGAN(cfg, num_ids=7).eval()
    x = torch.rand(2, 3, 96, 96) * 2 - 1
    last, before = model.encoder.trunk(x)
    assert last.shape == (2, 320, 6, 6) and before.shape == (2, 160, 6, 6)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.encoder.modules()) == 14
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in model.decoder.modules()) == 14
    f, omega = model.encode(x)
    assert f.shape == (2, 320) and omega is None
    out = model.decode(f, torch.tensor([0, 12]), model.noise(2))
    assert out.shape == (2, 3, 96, 96) and out.abs().max() <= 1
    ident, pose = model.discriminate(x)
    assert ident.shape == (2, 8) and pose.shape == (2, 13)
    assert model.decoder.fc.in_features == 320 + 13 + 50
    multi = DRGAN(replace(cfg, multi=True), num_ids=7).eval()
    _, omega = multi.encode(x)
    assert omega.shape == (2,) and ((omega > 0) & (omega < 1)).all()


def test_fusion_is_the_confidence_weighted_mean():
    f = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]]])  # one person, 3 images
    omega = torch.tensor([[0.75, 0.25, 0.5]])
    fused = fuse_features(f, omega, eps=0.0)
    assert torch.allclose(fused, (0.75 * f[0, 0] + 0.25 * f[0, 1] + 0.5 * f[0, 2]) / 1.5)
    keep = torch.tensor([[1.0, 1.0, 0.0]])  # the third image dropped from the set
    assert torch.allclose(fuse_features(f, omega, keep, eps=0.0), (0.75 * f[0, 0] + 0.25 * f[0, 1]) / 1.0)
    assert torch.allclose(fuse_features(f[:, :1], omega[:, :1]), f[0, 0], atol=1e-5)


def _toy_set() -> FaceSet:
    """2 people x 3 bins x 2 lights of random pixels: rows are told apart by their pixels."""
    g = torch.Generator().manual_seed(0)
    ids, poses, lights = np.meshgrid(np.arange(2), np.arange(3), np.arange(2), indexing="ij")
    n = ids.size
    return FaceSet(images=torch.randint(0, 256, (n, 3, 10, 10), generator=g, dtype=torch.uint8),
                   ids=torch.from_numpy(ids.ravel()), identities=torch.from_numpy(ids.ravel() + 1),
                   poses=torch.from_numpy(poses.ravel()), lights=torch.from_numpy(lights.ravel()),
                   num_poses=3, num_lights=2)  # fmt: skip


def test_mirrored_batches_mirror_yaw_light_and_truth():
    data = _toy_set()
    rng = np.random.default_rng(1)
    batch = data.sample(64, 8, rng)
    for k in range(64):
        x, label, pose, target = batch.images[k], int(batch.ids[k]), int(batch.poses[k]), int(batch.targets[k])
        # find which stored image the input was cropped from, and whether it was mirrored
        found = None
        for row in np.flatnonzero(data.ids.numpy() == label):
            for top in range(3):
                for left in range(3):
                    img = data.images[row, :, top : top + 8, left : left + 8].float() / 255 * 2 - 1
                    if torch.equal(img, x):
                        found = (row, False)
                    elif torch.equal(img.flip(2), x):
                        found = (row, True)
        assert found is not None
        row, flipped = found
        stored_pose, stored_light = int(data.poses[row]), int(data.lights[row])
        assert pose == (2 - stored_pose if flipped else stored_pose)
        want = data.row(label, 2 - target if flipped else target, 1 - stored_light if flipped else stored_light)
        truth = data.images[want, :, 1:9, 1:9].float() / 255 * 2 - 1
        assert torch.equal(batch.truth[k], truth.flip(2) if flipped else truth)


def test_generator_learns_a_fixed_batch():
    """The generator's objective falls when it trains on one batch: the losses have gradients where they should."""
    cfg = replace(DRGANConfig.tiny(), width=0.25, feature_dim=32, lr=2e-3)
    data = _toy_set()
    colours = torch.randint(0, 256, (len(data), 3, 1, 1), generator=torch.Generator().manual_seed(1))
    data.images = colours.expand(-1, -1, 36, 36).to(torch.uint8).contiguous()  # one flat colour per face
    torch.manual_seed(0)
    trainer = DRGANTrainer(cfg, data.num_ids, torch.device("cpu"))
    rng = np.random.default_rng(0)
    batch = data.sample(8, 32, rng)
    first = trainer.step(batch, 1, rng)
    # 120 steps: the ratio reaches 0.64 (1 thread) / 0.67 (2 threads) here; at 40 steps it was 0.85-0.88 on
    # some CPUs and 0.78 on others, too close to the bar for a test that must pass on any x86-64 machine
    for step in range(120):
        last = trainer.step(batch, 2 * step + 1, rng)  # odd steps: G only, D fixed
    assert last["pair_l1"] < 0.8 * first["pair_l1"]
    assert last["g_loss"] < first["g_loss"]


def test_moving_average_generator_measures_its_own_batchnorm_statistics():
    """The shipped generator averages the weights only: its BN statistics are measured on training batches
    for those weights (an average of running statistics kept the initial variance of 1: flat grey faces)."""
    cfg = replace(DRGANConfig.tiny(), width=0.25, feature_dim=32, lr=2e-3, ema=0.9, num_poses=3)
    data = _toy_set()
    data.images = torch.nn.functional.interpolate(data.images.float(), size=36).to(torch.uint8)
    torch.manual_seed(0)
    trainer = DRGANTrainer(cfg, data.num_ids, torch.device("cpu"))
    rng = np.random.default_rng(0)
    for step in range(30):
        trainer.step(data.sample(8, 32, rng), step, rng)
    model = trainer.inference_model(data, batches=4)
    assert model is not trainer.model and not model.training
    averaged = dict(trainer.gen_ema.module.named_parameters())
    for name, p in model.generator.named_parameters():
        assert torch.equal(p, averaged[name])  # the averaged weights
    live = dict(trainer.model.generator.named_parameters())
    assert any(not torch.equal(p, live[n]) for n, p in model.generator.named_parameters())
    live_norms = [m for m in trainer.model.generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for mine in (m for m in model.generator.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        assert mine.momentum == live_norms[0].momentum and int(mine.num_batches_tracked) == 4
    x = data.crop(np.arange(4), 32, None, np.zeros(4, bool))
    pose, noise = torch.tensor([0, 1, 2, 0]), model.noise(4)
    with torch.no_grad():
        out = model.rotate(x, pose, noise)
    assert out.std() > 0.05  # faces, not the flat grey of stale statistics
    for m in live_norms:  # statistics that lag (the reset values): the average must not read them
        m.reset_running_stats()
    with torch.no_grad():
        again = trainer.inference_model(data, batches=4).rotate(x, pose, noise)
    assert torch.allclose(again, out, atol=1e-5)


def test_train_resume_and_multi_warm_start(faces, tmp_path):
    cfg = DRGANConfig.tiny()
    half = train_drgan(faces, tmp_path / "single", cfg, device="cpu", max_steps=2)
    assert half["steps"] == 2 and not (tmp_path / "single" / "final.pt").exists()
    done = train_drgan(faces, tmp_path / "single", cfg, resume=True, device="cpu")
    assert done["steps"] == cfg.steps
    rows = [line for line in (tmp_path / "single" / "log.jsonl").read_text().splitlines() if line]
    assert [int(r.split(",")[0].split(":")[1]) for r in rows] == list(range(1, cfg.steps + 1))
    model, loaded = load_drgan(tmp_path / "single" / "final.pt")
    assert loaded == cfg and model.num_ids == 3
    multi_cfg = replace(cfg, multi=True)
    train_drgan(faces, tmp_path / "multi", multi_cfg, device="cpu", warm_start=tmp_path / "single" / "final.pt")
    multi, _ = load_drgan(tmp_path / "multi" / "final.pt")
    single_enc = dict(model.encoder.trunk.named_parameters())
    assert any(not torch.equal(p, single_enc[k]) for k, p in multi.encoder.trunk.named_parameters())
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    fused, omega = multi.fuse(x)
    assert fused.shape == (cfg.feature_dim,) and omega.shape == (3,)
    with pytest.raises(ValueError, match="another config"):
        train_drgan(faces, tmp_path / "single", replace(cfg, lr=1e-3), resume=True, device="cpu")
    longer = train_drgan(faces, tmp_path / "single", replace(cfg, steps=cfg.steps + 2), resume=True, device="cpu")
    assert longer["steps"] == cfg.steps + 2  # the LR is constant: a session may extend the schedule


def test_drgan_trains_as_two_gloo_processes_under_torchrun(faces, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "core",
           "train", "drgan", "--preset", "tiny", "--data", str(faces), "--out", "x", "--device", "cpu"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    final = torch.load(tmp_path / "x" / "final.pt", weights_only=True)
    assert final["steps"] == DRGANConfig.tiny().steps


def test_face_masks_match_the_stored_faces(faces):
    """The evaluation re-renders each face for its mask: the re-render must be the stored picture."""
    from core.drgan.evaluate import face_masks

    test = load_face_set(faces, "test", 40)
    rows = np.array([0, 5, len(test) - 1])
    masks, images = face_masks(faces, test, rows, 40, with_images=True)
    assert masks.shape == (3, 1, 40, 40)
    stored = test.images[rows].float() / 255
    assert (images - stored).abs().mean() < 0.02  # PNG rounding and resampling only
    for m in masks:
        share = float((m > 0.5).float().mean())
        assert 0.15 < share < 0.9  # a head fills part of the crop, not all of it


def test_checkpoint_is_chosen_by_the_judges_identification_of_validation_people(faces, judge_file, tmp_path):
    """small-identity's parts on the tiny preset: the identity loss and the moving average train, the last
    people of the training split are left out, and final.pt holds the weights of the best validation score."""
    import json

    from core.drgan.evaluate import judge_identification
    from core.drgan.judge import load_judge

    path, _, _ = judge_file
    teacher = tmp_path / "teacher"  # a DR-GAN trained on all 3 training people teaches the identity
    train_drgan(faces, teacher, DRGANConfig.tiny(), device="cpu")
    cfg = replace(DRGANConfig.tiny(), steps=6, identity_weight=1.0, identity_features="teacher", ema=0.5,
                  validation_ids=2, eval_every=2)  # fmt: skip
    with pytest.raises(ValueError, match="select_judge"):
        train_drgan(faces, tmp_path / "g", cfg, device="cpu", identity_teacher=teacher / "final.pt")
    with pytest.raises(ValueError, match="identity_teacher"):
        train_drgan(faces, tmp_path / "g", cfg, device="cpu", select_judge=path)
    # fine-tuned from the teacher, which knew 3 people: all but D's identity head carries over
    train_drgan(faces, tmp_path / "g", cfg, device="cpu", select_judge=path, identity_teacher=teacher / "final.pt",
                warm_start=teacher / "final.pt")  # fmt: skip
    final = torch.load(tmp_path / "g" / "final.pt", weights_only=True)
    assert final["num_ids"] == 1  # 3 training people, 2 of them held out for validation
    assert final["validation"]["people"] == [2, 3]
    rows = [json.loads(line) for line in (tmp_path / "g" / "log.jsonl").read_text().splitlines() if line]
    assert all(r["identity"] >= 0 for r in rows)
    # both the moving average and the live weights are candidates at every validation
    scores = {(r["step"], w): r[k] for r in rows if "val_judge_id" in r
              for k, w in (("val_judge_id", "moving average"), ("val_judge_id_live", "live"))}  # fmt: skip
    assert sorted({s for s, _ in scores}) == [2, 4, 6]
    best = max(scores.values())
    assert final["validation"]["judge_id"] == pytest.approx(best, abs=1e-6)  # the log keeps 6 decimals
    # a tie goes to the later step, and within a step to the live weights (scored second)
    last = max((key for key, v in scores.items() if v == best), key=lambda k: (k[0], k[1] == "live"))
    assert (final["best_step"], final["validation"]["weights"]) == last
    # the kept weights score what the log says (the validation people, the same noise)
    model, _ = load_drgan(tmp_path / "g" / "final.pt")
    judge, jcfg = load_judge(path)
    val = load_face_set(faces, "train", cfg.load_size).split_people(2)[1]
    assert judge_identification(model, judge, jcfg.image_size, val) == pytest.approx(best)


def test_judge_and_evaluation_report(faces, judge_file, tmp_path):
    from core.drgan.evaluate import AVERAGE, DRGANEvalConfig, evaluate_drgan, format_report
    from core.drgan.judge import load_judge

    path, jcfg, out = judge_file
    assert out["test_pose_accuracy"] > 2 / 13  # yaw bins of people it never saw, well above chance
    judge, loaded = load_judge(path)
    assert loaded == jcfg
    cfg = DRGANConfig.tiny()
    train_drgan(faces, tmp_path / "g", cfg, device="cpu")
    model, _ = load_drgan(tmp_path / "g" / "final.pt")
    report = evaluate_drgan(model, judge, 32, faces, cfg=DRGANEvalConfig(multi_counts=(1, 2), multi_draws=1))
    assert report["people"] == 2
    rec = report["recognition"]["raw pixels (baseline)"]
    assert len(rec["per_yaw"]) == 13 and 0 <= rec["mean"] <= 1
    rot = report["rotation"]
    assert set(rot) == {
        "DR-GAN",
        "input (baseline)",
        "mirrored input (baseline)",
        AVERAGE,
        "another person's true face (reference)",
    }
    for scores in rot.values():
        assert -1 <= scores["ssim"] <= 1 and 0 <= scores["pose_acc"] <= 1 and 0 <= scores["face_l1"] <= 1
        assert 0 <= scores["judge_id"] <= 1
    # the input never is at the target yaw (the same yaw is excluded), so the judge cannot call it right
    # more often than it confuses neighbouring bins; a true face of another person at the target yaw is
    # at the right yaw
    assert rot["input (baseline)"]["face_ssim"] < 1.0
    # the input is never at the target yaw, and the judge reads yaws of real faces: it calls the input right
    # less often than it calls another person's true face at the target yaw right
    assert rot["input (baseline)"]["pose_acc"] < rot["another person's true face (reference)"]["pose_acc"]
    assert set(report["multi_image"]["by_count"]) == {"1", "2"}
    one = report["multi_image"]["by_count"]["1"]
    # one face: the omega-weighted mean of one feature is that feature, as is the uniform mean
    assert one["rank1"] == one["rank1_uniform"] and 0 <= one["judge_id"] <= 1
    text = format_report(report)
    assert "Rank-1" in text and "mirrored input (baseline)" in text and "identified by the judge (of 2)" in text


def test_scores_of_the_truth_against_itself_are_perfect():
    """The rotation scores: the true face against itself has SSIM 1, face L1 0 and identity similarity 1."""
    from core.drgan.evaluate import _scores
    from core.drgan.judge import FaceJudge, JudgeConfig

    judge = FaceJudge(JudgeConfig(widths=(4, 8)), num_ids=3).eval()
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    mask = torch.zeros(4, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    with torch.no_grad():
        embed = judge.embed(truth)
        # four "people", each seen once: the judge finds each true face among all four
        people = embed[:, None].expand(-1, 4, -1)
        own = _scores(truth, truth, mask, torch.zeros(4, dtype=torch.long), judge, 32, embed, people, 0)
        found = [_scores(truth[p : p + 1].expand(4, -1, -1, -1), truth, mask, torch.zeros(4, dtype=torch.long), judge,
                         32, embed, people, p)["judge_id"] for p in range(4)]  # fmt: skip
        other = _scores(truth.roll(1, 0), truth, mask, torch.zeros(4, dtype=torch.long), judge, 32, embed)
    assert torch.allclose(own["ssim"], torch.ones(4), atol=1e-5) and torch.allclose(
        own["face_ssim"], torch.ones(4), atol=1e-5
    )
    assert own["face_l1"].abs().max() < 1e-6 and torch.allclose(own["identity_sim"], torch.ones(4), atol=1e-5)
    assert all(f.sum() == 4 for f in found)  # a face is always nearest to itself
    assert (other["face_ssim"] < 0.9).all() and (other["face_l1"] > 0.1).all()
    # outside the mask nothing counts: changing the background leaves the face scores alone
    moved = truth * mask + (1 - mask) * truth.roll(1, 0)
    with torch.no_grad():
        masked = _scores(moved, truth, mask, torch.zeros(4, dtype=torch.long), judge, 32, embed)
    assert masked["face_l1"].abs().max() < 1e-6 and torch.allclose(masked["face_ssim"], torch.ones(4), atol=1e-5)
