"""Trainers: the re-ID baseline (DG-Net's teacher) and DG-Net, on a tiny colour-coded Market set.

Real behaviour at toy scale: the losses are finite and every network's weights move, a resumed run
continues where the checkpoint stopped, a learnable set is learnt above chance, and the same
commands run as two gloo processes under torchrun.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from core.data.market import load_market, market_name
from core.dgnet.config import DGNetConfig
from core.dgnet.losses import loss_weights, soft_label_kl
from core.dgnet.model import DGNet
from core.dgnet.train import DGNetTrainer, train_dgnet
from core.reid.backbone import ReidBaseline
from core.reid.data import ReidTrainSet, random_erasing
from core.reid.train import BaselineConfig, load_baseline, train_baseline
from core.train import MetricLog, active_seconds, distributed_runtime, setup_runtime, training_seconds

REPO = Path(__file__).resolve().parents[1]
PALETTE = np.array([[220, 30, 30], [30, 200, 40], [40, 60, 220], [230, 220, 40], [200, 40, 210], [30, 210, 220],
                    [240, 140, 20], [120, 120, 120], [250, 250, 250], [20, 20, 20]], dtype=np.float32)  # fmt: skip


def _person(pid: int, rng: np.random.Generator) -> np.ndarray:
    """A 128x64 'person': a top colour and a bottom colour per identity, on a noisy grey background."""
    img = rng.normal(110, 25, (128, 64, 3))
    img[16:64, 16:48] = PALETTE[pid % 10] + rng.normal(0, 12, 3)
    img[64:120, 18:46] = PALETTE[(pid * 3 + 1) % 10] + rng.normal(0, 12, 3)
    return img.clip(0, 255).astype(np.uint8)


def _write_market(root: Path, train_ids: range, test_ids: range, cams: int = 3, per_cam: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for folder, ids in (("bounding_box_train", train_ids), ("bounding_box_test", test_ids)):
        (root / folder).mkdir(parents=True)
        for pid in ids:
            for cam in range(1, cams + 1):
                for k in range(per_cam):
                    name = market_name(pid, cam, 1, 100 * pid + 10 * cam + k, k + 1)
                    Image.fromarray(_person(pid, rng)).save(root / folder / name, quality=95)
    (root / "query").mkdir()
    for pid in test_ids:
        Image.fromarray(_person(pid, rng)).save(root / "query" / market_name(pid, 1, 1, 9000 + pid, 1), quality=95)
    return root


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    return _write_market(tmp_path_factory.mktemp("market"), range(1, 7), range(7, 11))


# ------------------------------------------------------------------------------------------------ pieces


def test_train_set_labels_and_positives(market):
    split = load_market(market, (64, 32))["train"]
    data = ReidTrainSet(split)
    assert data.num_classes == 6 and len(data) == 6 * 3 * 2
    assert list(data.pids) == [1, 2, 3, 4, 5, 6]  # sorted pid order = ImageFolder class order
    rng = np.random.default_rng(0)
    for i in range(len(data)):
        j = data.positive_of(i, rng)
        assert j != i and data.labels[j] == data.labels[i]
    batch = data.batch(4, rng, torch.Generator().manual_seed(0))
    assert batch.x.shape == batch.positive.shape == (4, 3, 64, 32)
    assert 0 <= float(batch.x.min()) and float(batch.x.max()) <= 1


def test_random_erasing_changes_only_a_rectangle():
    gen = torch.Generator().manual_seed(1)
    x = torch.ones(16, 3, 32, 16)
    out = random_erasing(x, gen, p=1.0)
    assert torch.equal(x, torch.ones_like(x)), "the input is not modified"
    erased = (out == 0).all(1)  # (B, H, W)
    for mask in erased:
        rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
        box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all(), "one solid rectangle"
        assert 0.02 * 512 * 0.5 <= mask.sum() <= 0.4 * 512 * 1.5
    assert torch.equal(random_erasing(x, gen, p=0.0), x)


def test_soft_label_kl_is_zero_at_the_target_and_positive_elsewhere():
    logits = torch.randn(4, 7)
    target = torch.softmax(logits, 1)
    assert float(soft_label_kl(logits, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(soft_label_kl(torch.zeros(4, 7), target)) > 0.01


def test_warm_up_weights_follow_the_official_ramp():
    loss = DGNetConfig.paper().loss
    assert loss_weights(loss, 30000).teacher == 0.0 and loss_weights(loss, 30000).recon_s == 0.0
    assert loss_weights(loss, 31000).recon_s == pytest.approx(0.5)
    assert loss_weights(loss, 32000).recon_s == 1.0 and loss_weights(loss, 40000).recon_s == 1.0
    assert loss_weights(loss, 34000).teacher == 2.0 and loss_weights(loss, 34000).recon_x_cyc == 2.0
    small = DGNetConfig.small(10).loss  # the same shape, compressed
    top = small.warm_iter + round(1 / small.warm_scale)
    assert loss_weights(small, top).recon_s == pytest.approx(1.0)


def test_one_dgnet_step_moves_every_network_with_finite_losses(market):
    cfg = DGNetConfig.tiny(6)
    torch.manual_seed(0)
    model = DGNet(cfg)
    teacher = ReidBaseline(6, "resnet18", 1)
    trainer = DGNetTrainer(model, teacher, setup_runtime("cpu"), bf16=False)
    data = ReidTrainSet(load_market(market, (cfg.height, cfg.width))["train"])
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    before = {name: [p.detach().clone() for p in getattr(model, name).parameters()] for name in ("gen", "id", "dis")}
    losses = trainer.step(data.batch(2, rng, gen), data.batch(2, rng, gen), 5, gen, rng)  # past the warm-up
    assert all(np.isfinite(v) for v in losses.values())
    assert {"teacher_kl", "fine", "recon_cyc", "gan", "recon_id"} <= set(losses)
    for name, old in before.items():
        moved = sum(not torch.equal(a, b) for a, b in zip(old, getattr(model, name).parameters(), strict=True))
        assert moved > 0.5 * len(old), f"{name}: only {moved} of {len(old)} tensors changed"
    assert all(not p.requires_grad for p in teacher.parameters())


def test_sharp_step_trains_the_generator_on_pairs_with_a_frozen_encoder(market):
    from core.dgnet.train import PairedSwapBatch

    tiny = DGNetConfig.tiny(6)
    sharp_train = replace(tiny.train, ema=0.9, freeze_appearance=True, beta1_d=0.5, weight_decay_d=0.0)
    cfg = replace(tiny, dis=replace(tiny.dis, gp_weight=0.0, init="kaiming"), train=sharp_train,
                  loss=replace(tiny.loss, paired_w=5.0, colour_w=2.0, recon_only_iter=2, gan_ramp_iter=4))  # fmt: skip
    torch.manual_seed(0)
    model = DGNet(cfg)
    trainer = DGNetTrainer(model, None, setup_runtime("cpu"), bf16=False)
    data = ReidTrainSet(load_market(market, (cfg.height, cfg.width))["train"])
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    pick = data.batch(2, rng, gen)
    paired = PairedSwapBatch(pick.x, pick.x.flip(0), pick.x)  # a truth that differs from the structure
    frozen = [p.detach().clone() for p in model.id.parameters()]
    gen_before = [p.detach().clone() for p in model.gen.parameters()]
    with pytest.raises(ValueError, match="training pairs"):
        trainer.step(data.batch(2, rng, gen), data.batch(2, rng, gen), 0, gen, rng)
    early = trainer.step(data.batch(2, rng, gen), data.batch(2, rng, gen), 0, gen, rng, paired, measure_dis=True)
    assert early["w_gan"] == 0.0 and early["gan"] == 0.0 and early["paired"] > 0 and 0.0 <= early["dis_auc"] <= 1.0
    assert early["colour"] > 0
    late = trainer.step(data.batch(2, rng, gen), data.batch(2, rng, gen), 9, gen, rng, paired)
    assert late["w_gan"] == cfg.loss.gan_w and late["gan"] > 0 and "dis_auc" not in late
    assert all(torch.equal(a, b) for a, b in zip(frozen, model.id.parameters(), strict=True))  # E_a kept
    assert any(not torch.equal(a, b) for a, b in zip(gen_before, model.gen.parameters(), strict=True))
    # the moving average trails the live generator: between its start and the trained weights
    ema = dict(trainer.inference_generator().named_parameters())
    name, live = next((n, p) for n, p in model.gen.named_parameters() if p.ndim > 1)
    start = dict(zip([n for n, _ in model.gen.named_parameters()], gen_before, strict=True))[name]
    assert not torch.equal(ema[name], live) and not torch.equal(ema[name], start)
    state = trainer.state_dict()
    assert "gen_ema" in state
    trainer.load_state_dict(state)


def test_appearance_from_swaps_lets_the_generation_losses_reach_e_a():
    tiny = DGNetConfig.tiny(6)
    torch.manual_seed(0)
    x = torch.rand(2, 3, tiny.height, tiny.width)

    def backbone_grad(from_swaps: bool) -> torch.Tensor | None:
        cfg = replace(tiny, train=replace(tiny.train, appearance_from_swaps=from_swaps))
        model = DGNet(cfg)
        DGNetTrainer(model, None, setup_runtime("cpu"), bf16=False)
        code, _ = model.id(x)
        model.gen.decode(model.gen.encode(model.structure_image(x)), code).abs().mean().backward()
        return model.id.model.conv1.weight.grad

    assert backbone_grad(False) is None  # the paper: the code is detached, only ID losses train E_a
    grad = backbone_grad(True)
    assert grad is not None and grad.abs().sum() > 0
    both = replace(tiny, train=replace(tiny.train, appearance_from_swaps=True, freeze_appearance=True))
    with pytest.raises(ValueError, match="freeze_appearance"):
        DGNetTrainer(DGNet(both), None, setup_runtime("cpu"), bf16=False)


# ------------------------------------------------------------------------------------------------ runs


def test_baseline_learns_and_resumes(market, tmp_path):
    cfg = BaselineConfig.tiny()
    run = tmp_path / "reid"
    first = train_baseline(market, run, cfg, device="cpu", max_steps=3)
    assert first["steps"] == 3
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 3
    # resumed, the run continues from step 3: the log holds steps 1..6 once
    result = train_baseline(market, run, cfg, resume=True, device="cpu")
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    model, loaded = load_baseline(result["path"])
    assert loaded == cfg and model.classifier.classifier[0].out_features == 6
    # colour-coded people: 40 steps put the true match above chance (4 test ids -> chance 25 %)
    longer = train_baseline(market, tmp_path / "reid2", replace(cfg, steps=40), device="cpu")
    assert longer["metrics"]["rank1"] > 0.5


def test_pcb_trains_with_the_same_trainer(market, tmp_path):
    from core.reid.pcb import PCB

    cfg = replace(BaselineConfig.from_preset("pcb-tiny"), steps=40, part_dim=32)
    result = train_baseline(market, tmp_path / "pcb", cfg, device="cpu")
    model, loaded = load_baseline(result["path"])
    assert isinstance(model, PCB) and loaded.head == "pcb" and len(model.heads) == 6
    assert result["metrics"]["rank1"] > 0.5  # 4 test ids: chance is 25 %


def test_dgnet_run_resumes_and_writes_final(market, tmp_path):
    teacher = train_baseline(market, tmp_path / "teacher", BaselineConfig.tiny(), device="cpu")["path"]
    run = tmp_path / "dgnet"
    train_dgnet(market, run, preset="tiny", teacher_path=teacher, device="cpu", bf16=False, max_iter=2, log_every=1)
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 2
    result = train_dgnet(market, run, preset="tiny", teacher_path=teacher, device="cpu", bf16=False, resume=True,
                         log_every=1)  # fmt: skip
    assert result["iterations"] == 4
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    final = torch.load(result["path"], weights_only=True)
    cfg = DGNetConfig.from_dict(final["config"])
    model = DGNet(cfg, with_discriminator=False)
    model.gen.load_state_dict(final["gen"])
    model.id.load_state_dict(final["id"])
    assert (run / "images" / "final.png").exists() and (run / "images" / "iter_00000002.png").exists()
    assert 0.0 <= result["metrics"]["rank1"] <= 1.0


def test_active_time_leaves_out_pauses_and_continued_runs_join(tmp_path):
    from core.dgnet.ship import training_log

    # 10 steps per row, 15 s apart; a 1-hour SIGSTOP after step 30; a resume that repeats step 40
    stamps = [(10, 0), (20, 15), (30, 30), (40, 3630), (50, 3645), (40, 4000), (50, 4015)]
    rows = [{"step": s, "time": t} for s, t in stamps]
    assert active_seconds(rows) == 15 + 15 + 15 + 15  # the pause and the resume's restart are not training
    assert active_seconds(rows, pause_s=1e9) == 15 + 15 + 3600 + 15 + 15
    first, second = tmp_path / "first", tmp_path / "second"
    for run, steps in ((first, range(10, 60, 10)), (second, range(30, 80, 10))):
        log = MetricLog(run / "log.jsonl")
        for step in steps:
            log.write(step, loss=float(step))
    joined = training_log(second, (first,))
    assert [r["step"] for r in joined] == [10, 20, 30, 40, 50, 60, 70]  # the earlier run up to where this one began
    assert training_log(second) == MetricLog(second / "log.jsonl").rows()


def test_shipped_time_leaves_out_pauses_and_falls_back_to_the_run_clock(tmp_path, monkeypatch):
    """ship_texgen (as ship_drgan and ship_gait) records the log's active time, not the run's own clock."""
    import core.ship
    import core.texgen.ship as ship

    # 10 steps per row, 15 s apart, a 1-hour SIGSTOP after step 30; the run's clock counted the pause
    rows = [{"step": s, "time": t, "loss": 1.0} for s, t in ((10, 0), (20, 15), (30, 30), (40, 3630), (50, 3645))]
    assert training_seconds(rows, {"seconds": 3700.0}) == 45.0  # three 15 s gaps; the paused one is left out
    assert training_seconds([], {"seconds": 3700.0}) == 3700.0  # no log: the run's clock
    unet_run, pcb_run, data = tmp_path / "unet", tmp_path / "pcb", tmp_path / "data"
    for folder in (unet_run, pcb_run, data):
        folder.mkdir()
    (unet_run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    weights = {"w": torch.ones(2)}
    torch.save({"config": {}, "model": weights, "steps": 50, "seconds": 3700.0}, unet_run / "final.pt")
    torch.save({"config": {}, "model": weights, "steps": 20, "seconds": 120.5, "metrics": {}}, pcb_run / "final.pt")
    # the model, its evaluation and the pictures are not what this test is about
    monkeypatch.setattr(ship.api, "load_files", lambda unet, pcb: SimpleNamespace(unet=None, reid_loss=lambda: None))
    monkeypatch.setattr(ship, "evaluate_texgen", lambda *args, **kwargs: {"methods": {}})
    monkeypatch.setattr(ship, "format_report", lambda report: "")
    monkeypatch.setattr(ship, "example_figure", lambda model, path: path)
    monkeypatch.setattr(core.ship, "plot_curves", lambda *args, **kwargs: None)
    manifest = tmp_path / "checkpoints" / "manifest.json"
    ship.ship_texgen(pcb_run, unet_run, data, out_dir=manifest.parent / "texgen", manifest=manifest)
    entries = {e["name"]: e for e in json.loads(manifest.read_text())["checkpoints"]}
    assert entries["texgen"]["seconds"] == 45.0  # not 3700: the hour-long pause is left out
    assert entries["texgen-pcb"]["seconds"] == 120.5  # the PCB run kept no log


def test_distributed_runtime_is_one_plain_process_without_torchrun(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    with distributed_runtime("cpu") as rt:
        assert (rt.rank, rt.world_size, rt.distributed, rt.device.type) == (0, 1, False, "cpu")
    assert not torch.distributed.is_initialized()
    with pytest.raises(KeyError), distributed_runtime("cpu"):
        raise KeyError("the trainer's error comes through unchanged")


def test_dgnet_refuses_a_teacher_with_other_classes(market, tmp_path):
    other = _write_market(tmp_path / "other", range(1, 4), range(7, 9))
    teacher = train_baseline(other, tmp_path / "t", BaselineConfig.tiny(), device="cpu")["path"]
    with pytest.raises(ValueError, match="3 classes, the data has 6"):
        train_dgnet(market, tmp_path / "dg", preset="tiny", teacher_path=teacher, device="cpu", max_iter=1)


def _torchrun(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "core", *args]  # fmt: skip
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_trainers_run_as_two_gloo_processes_under_torchrun(market, tmp_path):
    done = _torchrun(["train", "reid", "--preset", "tiny", "--data", str(market), "--out", "t", "--device", "cpu"],
                     tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "t" / "final.pt").exists()
    done = _torchrun(["train", "dgnet", "--preset", "tiny", "--data", str(market), "--out", "d", "--device", "cpu",
                      "--teacher", "t/final.pt", "--no-bf16"], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    final = torch.load(tmp_path / "d" / "final.pt", weights_only=True)
    assert final["iterations"] == 4


def test_bf16_autocast_only_where_the_hardware_runs_it(monkeypatch):
    """Emulated bf16 makes a CPU step about 2x slower: autocast is float32 unless the CPU has native bf16."""
    import core.train

    x = torch.ones(4, 4)
    monkeypatch.setattr(core.train, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_vnni"}))
    assert not core.train.bf16_runs_natively("cpu")
    with core.train.autocast(torch.device("cpu"), True):
        assert (x @ x).dtype == torch.float32
    for flags in ({"avx512_bf16"}, {"amx_bf16"}, {"bf16", "asimd"}):
        monkeypatch.setattr(core.train, "_cpu_flags", lambda flags=flags: frozenset(flags))
        assert core.train.bf16_runs_natively("cpu")
        with core.train.autocast(torch.device("cpu"), True):
            assert (x @ x).dtype == torch.bfloat16
        with core.train.autocast(torch.device("cpu"), False):
            assert (x @ x).dtype == torch.float32
    monkeypatch.undo()
    assert isinstance(core.train._cpu_flags(), frozenset)  # the real machine's, read without error
