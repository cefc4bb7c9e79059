"""The training engine (core/engine): a run stopped half-way and resumed logs the same losses as one that
was not stopped (a tiny task and the re-ID trainer), the weighted-terms aggregator, the checkpoint's keys
and the reading of checkpoints written before the engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core.engine import LossTerms, Task, checkpoint_step, fit, trainer_state


class Regression(Task):
    """y = x @ w + noise with dropout (the torch generator) and batches drawn from the engine's stream."""

    name = "regression"
    curves = ("loss",)

    def __init__(self, steps: int = 8, log_every: int = 1) -> None:
        self.total_steps, self.log_every = steps, log_every
        self.snapshots: list[int] = []

    def setup(self, runtime) -> None:
        super().setup(runtime)
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.3), nn.Linear(16, 1))
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.05, momentum=0.9)

    def config_dict(self) -> dict:
        return {"steps": self.total_steps, "lr": 0.05}

    def next_batch(self, step, rng):
        x = torch.from_numpy(rng.normal(size=(8, 4))).float()
        return x, x.sum(1, keepdim=True) + 0.1 * torch.randn(8, 1)

    def step(self, batch, step, rng):
        x, y = batch
        terms = LossTerms({"mse": (1.0, (self.net(x) - y).pow(2)), "l1": (0.5, (self.net(x) - y).abs())})
        self.opt.zero_grad()
        terms.total().backward()
        self.opt.step()
        return terms.values()

    def state_dict(self):
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state):
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])

    def snapshot(self, step):
        self.snapshots.append(step)

    def final_state(self, step, seconds):
        return {"config": self.config_dict(), "model": self.net.state_dict(), "steps": step}


def _losses(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "time"} for row in rows]


def test_a_resumed_run_logs_the_same_losses_as_an_uninterrupted_one(tmp_path):
    whole = fit(Regression(), tmp_path / "whole", device="cpu")
    half = fit(Regression(), tmp_path / "split", device="cpu", max_steps=4)
    assert half["steps"] == 4 and half["final"] is None and not (tmp_path / "split" / "final.pt").exists()
    task = Regression()
    rest = fit(task, tmp_path / "split", resume=True, device="cpu")
    assert task.snapshots == [5, 6, 7, 8] and rest["steps"] == whole["steps"] == 8
    assert _losses(tmp_path / "split") == _losses(tmp_path / "whole")
    assert [r["step"] for r in _losses(tmp_path / "whole")] == list(range(1, 9))
    assert {"mse", "l1", "loss"} <= set(_losses(tmp_path / "whole")[0])
    a = torch.load(tmp_path / "whole" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "final.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert (tmp_path / "whole" / "curves.png").exists()
    last = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    assert set(last) == {"config", "trainer", "step", "rng", "seconds"} and len(last["rng"]) == 1


def test_rows_average_the_steps_since_the_last_row(tmp_path):
    fit(Regression(steps=6, log_every=1), tmp_path / "each", device="cpu")
    fit(Regression(steps=6, log_every=3), tmp_path / "three", device="cpu")
    each, three = _losses(tmp_path / "each"), _losses(tmp_path / "three")
    assert [r["step"] for r in three] == [3, 6]
    assert three[0]["mse"] == pytest.approx(np.mean([r["mse"] for r in each[:3]]), rel=1e-5)


def test_resume_refuses_another_config_and_reads_older_checkpoints(tmp_path):
    fit(Regression(), tmp_path / "run", device="cpu", max_steps=2)
    with pytest.raises(ValueError, match="another config"):
        fit(Regression(steps=9), tmp_path / "run", resume=True, device="cpu")
    longer = Regression(steps=9)
    longer.resumable_fields = ("steps",)
    assert fit(longer, tmp_path / "run", resume=True, device="cpu")["steps"] == 9
    # before the engine: DG-Net counted "iteration"s, the re-ID trainer kept its state at the top level
    old = {"config": {}, "model": {"w": 1}, "optimizer": {"lr": 2}, "iteration": 7, "seconds": 1.0}
    assert checkpoint_step(old) == 7 and trainer_state(old) == {"model": {"w": 1}, "optimizer": {"lr": 2}}
    gait = {"config": {}, "trainer": {"model": 1}, "step": 3, "rng": {}, "seconds": 1.0, "best": 2, "history": []}
    assert trainer_state(gait) == {"model": 1, "best": 2, "history": []}


def test_loss_terms_weigh_and_name_every_term():
    terms = LossTerms()
    terms.add("a", torch.tensor([1.0, 3.0]), 2.0)
    terms.add("b", torch.tensor(5.0), 0.0)
    assert float(terms.total()) == 4.0 and terms.values() == {"a": 2.0, "b": 5.0, "loss": 4.0}
    with pytest.raises(ValueError, match="twice"):
        terms.add("a", torch.tensor(1.0))


def test_the_reid_trainer_resumes_to_the_same_losses(tmp_path):
    from test_trainers import _write_market

    from core.reid.train import BaselineConfig, train_baseline

    market = _write_market(tmp_path / "market", range(1, 7), range(7, 11))
    cfg = BaselineConfig.tiny()
    train_baseline(market, tmp_path / "whole", cfg, device="cpu")
    train_baseline(market, tmp_path / "split", cfg, device="cpu", max_steps=3)
    train_baseline(market, tmp_path / "split", cfg, resume=True, device="cpu")
    whole, split = _losses(tmp_path / "whole"), _losses(tmp_path / "split")
    assert [r["step"] for r in whole] == list(range(1, cfg.steps + 1))
    assert split == whole
