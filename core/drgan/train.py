"""Train DR-GAN: ``python -m core train drgan --data data/face [--multi] [--preset small] [--resume]``.

One step (the authors' schedule, G updated ``g_steps_per_d`` times per D update): encode a batch, ask the
decoder for each face at a random target yaw bin with fresh noise; on D's steps, D learns real identities
and poses and calls the syntheses "fake"; then G learns to make D see the source identity and the target
pose. The multi-image model (``multi=True``) takes P people x n images, fuses each person's features
with the predicted confidences (omega dropout leaves random images out) and adds the fused syntheses to
both losses: 2(n + 1) generator terms per person. It starts from a trained single-image model
(``warm_start``), as the confidence branch is the only new part. Runs unchanged under torchrun.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from core.drgan.api import load_drgan
from core.drgan.config import DRGANConfig
from core.drgan.data import FaceBatch, FaceSet, load_face_set
from core.drgan.evaluate import judge_identification
from core.drgan.figures import pose_strip_figure
from core.drgan.judge import load_judge
from core.drgan.losses import accuracy, discriminator_loss, generator_loss
from core.drgan.model import DRGAN
from core.engine import RunOptions, StateParts, Task, fit
from core.train import Runtime, autocast, wrap_ddp

__all__ = ["DRGANTask", "DRGANTrainer", "load_drgan", "train_drgan"]


class DRGANTrainer(StateParts):
    """A DR-GAN, its two Adam optimisers and :meth:`step`."""

    def __init__(self, cfg: DRGANConfig, num_ids: int, device: torch.device, runtime: Runtime | None = None) -> None:
        self.cfg, self.device = cfg, device
        self.model = DRGAN(cfg, num_ids).to(device)
        self.gen = wrap_ddp(self.model.generator, runtime) if runtime is not None else self.model.generator
        self.dis = wrap_ddp(self.model.discriminator, runtime) if runtime is not None else self.model.discriminator
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.model.generator.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.model.discriminator.parameters(), lr=cfg.lr, betas=betas)
        self.teacher: DRGAN | None = None  # set_teacher, for identity_features="teacher"
        # the weights to ship: a moving average of G's weights (cfg.ema; off in the paper); see inference_model
        self.gen_ema = (AveragedModel(self.model.generator, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema))
                        if cfg.ema > 0 else None)  # fmt: skip

    def batch(self, data: FaceSet, rng: np.random.Generator) -> FaceBatch:
        cfg = self.cfg
        if cfg.multi:
            people = max(1, cfg.batch_size // cfg.images_per_person)
            return data.sample_people(people, cfg.images_per_person, cfg.image_size, rng, cfg.flip)
        return data.sample(cfg.batch_size, cfg.image_size, rng, cfg.flip)

    def step(self, batch: FaceBatch, step: int, rng: np.random.Generator) -> dict[str, float]:
        cfg, dev = self.cfg, self.device
        x, ids, poses = batch.images.to(dev), batch.ids.to(dev), batch.poses.to(dev)
        targets, truth = batch.targets.to(dev), batch.truth.to(dev)
        b = x.shape[0]
        noise = self.model.noise(b).to(dev)
        kwargs: dict[str, Any] = {}
        fake_ids, fake_targets, fake_truth = ids, targets, truth
        if cfg.multi:
            n = cfg.images_per_person
            people = b // n
            keep = torch.from_numpy(rng.random((people, n)) < cfg.omega_keep).float()
            keep[torch.arange(people), torch.from_numpy(rng.integers(0, n, people))] = 1.0  # never an empty set
            kwargs = {"images_per_person": n, "fused_target": targets[::n], "keep": keep.to(dev),
                      "fused_noise": self.model.noise(people).to(dev)}  # fmt: skip
            fake_ids, fake_targets = torch.cat([ids, ids[::n]]), torch.cat([targets, targets[::n]])
            fake_truth = torch.cat([truth, truth[::n]])
        self.gen.train()
        self.dis.train()
        with autocast(dev, cfg.bf16):
            fakes, _, omega = self.gen(x, targets, noise, **kwargs)
        values: dict[str, torch.Tensor] = {}
        if step % cfg.g_steps_per_d == 0:
            with autocast(dev, cfg.bf16):  # real and fake batches keep their own BN statistics, as in G's step
                both_id, both_pose = self.dis(torch.cat([x, fakes.detach().to(x.dtype)]), split=b)
            real_id, real_pose, fake_id = both_id[:b], both_pose[:b], both_id[b:]
            d = discriminator_loss(real_id, real_pose, fake_id, ids, poses)
            self.opt_d.zero_grad(set_to_none=True)
            d["d_loss"].backward()
            self.opt_d.step()
            values.update(d)
            values["d_acc_id"] = accuracy(real_id[:, :-1], ids)
            values["d_acc_pose"] = accuracy(real_pose, poses)
            values["d_acc_fake"] = (fake_id.argmax(1) == fake_id.shape[1] - 1).float().mean()
        with autocast(dev, cfg.bf16):
            fake_id, fake_pose, fake_features = self.dis(fakes, with_features=True)
        g = generator_loss(fake_id, fake_pose, fake_ids, fake_targets)
        loss = g["g_loss"]
        if cfg.pair_l1_weight > 0:
            g["pair_l1"] = F.l1_loss(fakes.float(), fake_truth)
            loss = loss + cfg.pair_l1_weight * g["pair_l1"]
        if cfg.identity_weight > 0:
            g["identity"] = self.identity_loss(fakes, fake_features, fake_truth)
            loss = loss + cfg.identity_weight * g["identity"]
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if self.gen_ema is not None:
            self.gen_ema.update_parameters(self.model.generator)
        values.update(g)
        values["g_acc_pose"] = accuracy(fake_pose, fake_targets)
        if omega is not None:
            values["omega_mean"] = omega.mean()
        return {k: float(v.detach()) for k, v in values.items()}

    def identity_loss(self, fakes: torch.Tensor, fake_features: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        """1 - cosine of identity features of the syntheses (M, 3, S, S) and of the true faces at the target yaws
        (M, 3, S, S), averaged, so G must keep what tells people apart, not just the pixels L1 rewards.

        The features are the frozen teacher's f(x) (``identity_features="teacher"``: a trained DR-GAN's
        pose-invariant recognition feature) or D's pooled trunk (``fake_features``, from G's own D call;
        D is not updated by this term: its gradients are cleared before its own step)."""
        with autocast(self.device, self.cfg.bf16):
            if self.teacher is not None:
                fake_features = self.teacher.encode(fakes)[0]
            with torch.no_grad():
                net = self.teacher.encoder if self.teacher is not None else self.model.discriminator.features
                target = net(truth)[0] if self.teacher is not None else net(truth)
        return (1 - F.cosine_similarity(fake_features.float(), target.float(), dim=1)).mean()

    def set_teacher(self, path: str | Path) -> None:
        """The frozen DR-GAN whose encoder gives the identity loss's features (eval mode: its BN statistics)."""
        teacher, _ = load_drgan(path, "cpu")
        self.teacher = teacher.float().to(self.device).eval().requires_grad_(False)

    def inference_model(self, faces: FaceSet, batches: int = 16) -> DRGAN:
        """The DR-GAN to score and ship: the live one, or a copy whose generator has the moving-average weights.

        Only the weights are averaged: BatchNorm's running statistics of the average are measured anew on
        ``batches`` training batches (as SWA does), since an average of running statistics lags the weights
        by thousands of steps (the variance starts at 1, the live one is ~1e-3: the average drew flat grey)."""
        if self.gen_ema is None:
            return self.model
        model = copy.deepcopy(self.model)
        gen = model.generator
        for mine, averaged in zip(gen.parameters(), self.gen_ema.module.parameters(), strict=True):
            mine.data.copy_(averaged.data)
        norms = [m for m in gen.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a plain mean over the batches below
        rng = np.random.default_rng(0)
        gen.train()  # dropout on f(x) as in training, whose statistics the live model's BN holds too
        # a fixed stream for the dropout and the noise, which leaves the training's own stream as it was
        with torch.random.fork_rng(devices=[]), torch.no_grad(), autocast(self.device, self.cfg.bf16):
            torch.manual_seed(0)
            for _ in range(batches):
                b = faces.sample(self.cfg.batch_size, self.cfg.image_size, rng, self.cfg.flip)
                gen(b.images.to(self.device), b.targets.to(self.device), model.noise(len(b.images)).to(self.device))
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        return model.eval()

    def parts(self) -> dict[str, Any]:
        parts = {"model": self.model, "opt_g": self.opt_g, "opt_d": self.opt_d}
        return parts | ({"gen_ema": self.gen_ema} if self.gen_ema is not None else {})

    def warm_start(self, path: str | Path) -> list[str]:
        """Networks from a trained DR-GAN (final.pt) with the same sizes; returns the keys it lacked
        (the confidence branch when a single-image model starts a multi-image one). A model trained on
        other people gives all but D's identity/pose head, which starts anew for this data's people."""
        model, _ = load_drgan(path, "cpu")
        state = model.state_dict()
        if model.num_ids != self.model.num_ids:
            state = {k: v for k, v in state.items() if not k.startswith("discriminator.head.")}
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        fresh = ("generator.encoder.confidence", "discriminator.head.")
        if unexpected or any(not k.startswith(fresh) for k in missing):
            raise ValueError(f"{path} has other networks: missing {missing[:4]}, unexpected {unexpected[:4]}")
        return list(missing)


def _save_samples(model: DRGAN, data: FaceSet, cfg: DRGANConfig, path: Path, people: int = 4) -> None:
    """Each row: an input face, then the person at all 13 yaw bins (the real ones underneath)."""
    rows = [
        data.row(label, 3, min(1, data.num_lights - 1))
        for label in range(0, data.num_ids, max(1, data.num_ids // people))
    ][:people]
    x = data.crop(np.array(rows), cfg.image_size, None, np.zeros(len(rows), bool))
    model.eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        f = model.encode(x)[0]
        strips = torch.stack([model.all_poses(fi, model.noise(1, gen)[0]) for fi in f])
    model.train()
    truth = torch.stack([data.person_strip(r, cfg.image_size) for r in rows])
    pose_strip_figure(x, strips, truth, path)


def train_drgan(
    data: str | Path,
    run_dir: str | Path,
    cfg: DRGANConfig,
    warm_start: str | Path | None = None,
    select_judge: str | Path | None = None,
    identity_teacher: str | Path | None = None,
    **run: Unpack[RunOptions],
) -> dict[str, Any]:
    """Train on ``data``'s training identities; write ``run_dir/final.pt`` ({"config", "model", "num_ids",
    "steps", "seconds", "best_step", "validation"}). ``max_steps`` stops early with a checkpoint (resume
    continues). ``warm_start``: a trained model's final.pt whose networks start this run (a single-image
    model for ``--multi``). ``select_judge``: the judge whose identification of the validation people's
    turned faces chooses the checkpoint (needed when ``cfg.validation_ids`` > 0). ``identity_teacher``: the
    trained DR-GAN whose frozen encoder gives the identity loss (``cfg.identity_features == "teacher"``).
    Returns {"steps", "seconds", "path"}."""
    task = DRGANTask(Path(data), Path(run_dir), cfg, warm_start, select_judge, identity_teacher)
    out = fit(task, run_dir, **run)
    out.pop("final")
    return out


class DRGANTask(Task):
    """DR-GAN as a :class:`core.engine.Task`: :meth:`DRGANTrainer.batch` and :meth:`DRGANTrainer.step`, pose-strip
    pictures every ``sample_every`` steps; with ``validation_ids`` every ``eval_every`` steps rank 0 scores the
    judge's identification of the validation people's turned faces and keeps the best weights (a tie goes to
    the later step), which ``final.pt`` holds. A resumed session may change only the number of steps (the
    learning rate is constant)."""

    name = "DR-GAN"
    resumable_fields = ("steps",)

    def __init__(self, data: Path, run_dir: Path, cfg: DRGANConfig, warm_start: str | Path | None = None,
                 select_judge: str | Path | None = None,
                 identity_teacher: str | Path | None = None) -> None:  # fmt: skip
        if cfg.validation_ids and select_judge is None:
            raise ValueError("validation_ids > 0 chooses checkpoints with a judge: pass select_judge")
        if cfg.identity_weight and cfg.identity_features == "teacher" and identity_teacher is None:
            raise ValueError('identity_features="teacher" needs a trained DR-GAN: pass identity_teacher')
        self.identity_teacher = identity_teacher
        self.data, self.run_dir, self.cfg, self.warm_start = data, run_dir, cfg, warm_start
        self.select_judge = select_judge
        self.seed, self.bf16, self.total_steps = cfg.seed, cfg.bf16, cfg.steps
        self.log_every, self.checkpoint_every_s, self.eval_every = cfg.log_every, cfg.checkpoint_every_s, cfg.eval_every
        self.best: dict[str, Any] = {"score": -1.0, "step": 0, "model": None}

    def setup(self, runtime: Runtime) -> None:
        super().setup(runtime)
        self.train = load_face_set(self.data, "train", self.cfg.load_size)
        self.val: FaceSet | None = None
        if self.cfg.validation_ids:
            self.train, self.val = self.train.split_people(self.cfg.validation_ids)
            self.judge, self.judge_cfg = load_judge(Path(self.select_judge))
        if self.cfg.num_poses != self.train.num_poses:
            raise ValueError(f"the config has {self.cfg.num_poses} yaw bins, {self.data} has {self.train.num_poses}")
        self.trainer = DRGANTrainer(self.cfg, self.train.num_ids, runtime.device, runtime)
        if self.warm_start is not None:  # a resumed run's own state replaces these weights
            self.trainer.warm_start(self.warm_start)
        if self.cfg.identity_weight and self.cfg.identity_features == "teacher":
            self.trainer.set_teacher(self.identity_teacher)

    def config_dict(self) -> dict[str, Any]:
        return self.cfg.to_dict()

    def next_batch(self, step: int, rng: np.random.Generator) -> FaceBatch:
        return self.trainer.batch(self.train, rng)

    def step(self, batch: FaceBatch, step: int, rng: np.random.Generator) -> dict[str, float]:
        return self.trainer.step(batch, step, rng)

    def validate(self, step: int) -> dict[str, float]:
        """The judge's identification of the validation people's turned faces, for the moving average and (with
        one) the live weights: the better of the two is a candidate, as the average lags early in training."""
        if self.val is None:
            return {}
        average = self.trainer.gen_ema is not None
        candidates = [
            ("val_judge_id", "moving average" if average else "live", self.trainer.inference_model(self.train))
        ]
        if average:
            candidates.append(("val_judge_id_live", "live", self.trainer.model))
        scores = {}
        for key, weights, model in candidates:
            # eval mode on the judge's device: the live model is copied (left as it was); the average is a copy already
            scored = (copy.deepcopy(model) if model is self.trainer.model else model).cpu().float()
            scores[key] = judge_identification(scored, self.judge, self.judge_cfg.image_size, self.val)
            if scores[key] >= self.best["score"]:  # a tie goes to the later, longer-trained weights
                self.best = {"score": scores[key], "step": step, "weights": weights,
                             "model": copy.deepcopy(model.state_dict())}  # fmt: skip
        return scores

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best": self.best}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.best = dict(state.get("best", self.best))

    def snapshot(self, step: int) -> None:
        if self.cfg.sample_every and step % self.cfg.sample_every == 0:
            _save_samples(self.trainer.inference_model(self.train), self.train, self.cfg,
                          self.run_dir / "images" / f"step_{step:06d}.png")  # fmt: skip

    def final_state(self, step: int, seconds: float) -> dict[str, Any]:
        model = self.trainer.inference_model(self.train)
        if self.runtime.is_main and self.cfg.sample_every:
            _save_samples(model, self.train, self.cfg, self.run_dir / "images" / "final.png")
        best = self.best if self.best["model"] is not None else {"score": None, "step": step,
                                                                   "model": model.state_dict()}  # fmt: skip
        return {"config": self.cfg.to_dict(), "model": best["model"], "num_ids": self.train.num_ids,
                "steps": step, "seconds": seconds, "best_step": best["step"],
                "validation": {"judge_id": best["score"], "weights": best.get("weights", "live"),
                               "people": [] if self.val is None else sorted(set(self.val.identities.tolist()))},
                "warm_start": str(self.warm_start) if self.warm_start else None,
                "identity_teacher": str(self.identity_teacher) if self.identity_teacher else None}  # fmt: skip
