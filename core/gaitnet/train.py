"""Train GaitNet: ``python -m core train gaitnet --data data/gait --out runs/gaitnet --preset small [--resume]``.

One step (the paper's, with the authors' CASIA-B weights): a batch of items, each two clips A and B of one
subject under different conditions (a normal walk against a bag or a coat, or bag against coat) and, by
default, the same view; every frame is encoded into (f_a, f_g); for K frames t2 of clip A (and of B with
``recon_both_clips``), D(f_a[t1], f_g[t2]) with a random other frame t1 of the same clip is regressed onto
frame t2 (cross-reconstruction); the
time-averaged f_g of A and B are pulled together (gait similarity); the LSTM's running averages over
every prefix of both clips are classified (incremental identity). Loss = xrecon + 10 gait_sim + inc_id
(+ ``triplet_weight`` x a triplet loss on the clips' gait features, not the paper's).

Model selection uses held-out *training* subjects only: the last ``validation_subjects`` subjects of the
train split are never trained on; every ``eval_every`` steps they are scored with the CASIA-B protocol
(cosine distance, mean of NM/BG/CL Rank-1) and the best weights are kept. The test split is never read.
(The authors' script kept the checkpoint with the best *test* Rank-1; we do not.)
Runs unchanged under torchrun (DDP, rank-dependent sampling); rank 0 validates, logs and writes files.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.optim.swa_utils import AveragedModel

from core.engine import LossTerms, RunOptions, StateParts, Task, fit
from core.gait.data import (
    GaitSet,
    clip_indices,
    load_with_clothes_swaps,
    repeated_walks,
    rgb_to_tensor,
    split_validation,
)
from core.gait.evaluate import GROUPS
from core.gaitnet.api import embed_many, load_gaitnet, reconstruct, swap
from core.gaitnet.config import GaitNetConfig
from core.gaitnet.losses import (
    accuracy,
    cross_reconstruction_loss,
    gait_similarity_loss,
    incremental_identity_loss,
    matte_loss,
)
from core.gaitnet.model import GaitNet
from core.metrics.gait import CASIA_B_PROBES, casia_b_rank1
from core.nn.augment import recolour
from core.nn.discriminator import MsImageDis, discriminator_auc
from core.nn.losses import changed_colour_loss, triplet_loss
from core.train import Runtime, autocast, broadcast_module, sync_gradients, wrap_ddp

__all__ = ["GaitNetTask", "GaitNetTrainer", "PairSampler", "train_gaitnet", "validate"]

CURVES = ("loss", "xrecon", "matte", "colour", "gait_sim", "inc_id", "triplet", "id_acc", "adv", "dis", "dis_auc",
          "val_mean", "val_NM", "val_BG", "val_CL", "val_CS", "lr")  # fmt: skip


class PairSampler:
    """Batches of clip pairs: per item one subject, two of its walks under different conditions.

    Walk B's condition type (nm / bg / cl / cs) differs from walk A's whenever the subject has such a walk
    (at A's view with ``same_view``), else B is another walk of the same type; a subject with a single walk
    there pairs it with itself (only in degenerate data).

    ``repeats`` (clothes-swap walk index -> the index of the walk it repeats, :func:`repeated_walks`) and
    ``aligned_share``: that share of the items is an *aligned* pair instead: a clothes-swap walk of the
    subject and the walk it repeats, clipped at the same frames (so frame t of both shows one pose).
    """

    def __init__(self, data: GaitSet, same_view: bool = True, repeats: Mapping[int, int] | None = None,
                 aligned_share: float = 0.0) -> None:  # fmt: skip
        if not data.has_rgb:
            raise ValueError("GaitNet trains on masked RGB frames; this gait set has no rgb/ folder")
        self.data, self.same_view = data, same_view
        self.kinds = [c.split("-")[0] for c in data.conditions]
        # subject label -> group key (its view, or "" for all views) -> walk indices
        self.groups: list[dict[str, list[int]]] = [{} for _ in data.subjects]
        for i, (label, view) in enumerate(zip(data.labels, data.views, strict=True)):
            self.groups[label].setdefault(view if same_view else "", []).append(i)
        self.aligned_share = aligned_share
        self.repeats: list[list[tuple[int, int]]] = [[] for _ in data.subjects]
        for swapped, own in (repeats or {}).items():
            self.repeats[int(data.labels[swapped])].append((swapped, own))
        if aligned_share > 0 and not any(self.repeats):
            raise ValueError("aligned pairs need clothes-swap walks (python -m core synth gait-swaps; --swaps)")

    def pair(self, label: int, rng: np.random.Generator) -> tuple[int, int]:
        """Walk indices (A, B) of subject ``label``."""
        groups = self.groups[label]
        walks = groups[sorted(groups)[int(rng.integers(len(groups)))]]
        a = walks[int(rng.integers(len(walks)))]
        others = [i for i in walks if self.kinds[i] != self.kinds[a]] or [i for i in walks if i != a] or [a]
        return a, others[int(rng.integers(len(others)))]

    def sample(self, items: int, clip: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """uint8 (items, 2, clip, 64, 32, 3) clips A and B, int64 (items,) subject labels and bool (items,)
        aligned (A and B show the same frames of one walk in two sets of clothes).

        Subjects are drawn uniformly with replacement (as the authors' loader); each clip is ``clip``
        consecutive frames from a random start."""
        labels = rng.integers(0, len(self.data.subjects), size=items)
        clips = np.empty((items, 2, clip, self.data.rgb(0).shape[1], self.data.rgb(0).shape[2], 3), np.uint8)
        aligned = np.zeros(items, bool)
        for n, label in enumerate(labels):
            walks = self.pair(int(label), rng)
            if self.repeats[label] and rng.random() < self.aligned_share:
                swapped, own = self.repeats[label][int(rng.integers(len(self.repeats[label])))]
                # a walk keeps only frames whose noisy silhouette is usable, so lengths can differ: then the
                # frames no longer correspond and the pair is an ordinary one
                if len(self.data.rgb(swapped)) == len(self.data.rgb(own)):
                    walks, aligned[n] = (swapped, own), True
            frames = [self.data.rgb(w) for w in walks]
            shared = clip_indices(len(frames[0]), clip, rng) if aligned[n] else None
            for p, rgb in enumerate(frames):
                clips[n, p] = rgb[shared if shared is not None else clip_indices(len(rgb), clip, rng)]
        return clips, labels.astype(np.int64), aligned


class GaitNetTrainer(StateParts):
    """A GaitNet, its Adam optimiser and step-wise learning-rate decay, and :meth:`step`.

    The authors kept one Adam per network (E, D, LSTM) with the same settings; Adam is per-parameter, so
    one optimiser over all of them is the same update.
    """

    def __init__(self, cfg: GaitNetConfig, num_classes: int, device: torch.device, runtime: Runtime | None = None):
        self.cfg, self.device = cfg, device
        self.model = GaitNet(cfg, num_classes).to(device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        unused = cfg.xrecon_weight == 0  # the decoder then never runs
        self.net = wrap_ddp(self.model, runtime, find_unused=unused) if runtime is not None else self.model
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                    weight_decay=cfg.weight_decay)  # fmt: skip
        # lr_step 0: a constant rate (a StepLR with gamma 1 keeps the state format the same)
        step, gamma = (cfg.lr_step, cfg.lr_gamma) if cfg.lr_step > 0 else (1, 1.0)
        self.schedule = torch.optim.lr_scheduler.StepLR(self.opt, step, gamma)
        self.runtime = runtime
        self.dis: MsImageDis | None = None
        if cfg.adv_weight > 0:  # not DDP-wrapped: its gradients are averaged by hand (two backward passes a step)
            self.dis = MsImageDis(cfg.dis).to(device)
            if runtime is not None:
                broadcast_module(self.dis, runtime)
            self.opt_dis = torch.optim.Adam(self.dis.parameters(), lr=cfg.dis_lr, betas=(0.5, 0.999))
        # cfg.average_from: a uniform average of the weights after every step from then on (batch-norm buffers too)
        self.average = AveragedModel(self.model, use_buffers=True) if cfg.average_from > 0 else None

    def inference_model(self) -> GaitNet:
        """The GaitNet to score: the weight average once it has begun (``cfg.average_from``), else the live one."""
        if self.average is not None and int(self.average.n_averaged) > 0:
            return self.average.module
        return self.model

    def warm_start(self, path: str | Path) -> None:
        """Start from a trained GaitNet (a registered name or final.pt) of the same sizes and classes."""
        model, _ = load_gaitnet(path, "cpu")
        if model.num_classes != self.model.num_classes:
            raise ValueError(f"{path} classifies {model.num_classes} walkers, this data has {self.model.num_classes}")
        self.model.load_state_dict(model.state_dict())

    def step(self, clips: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
             aligned: np.ndarray | None = None, step: int = 0) -> dict[str, float]:  # fmt: skip
        """One optimiser step on uint8 clips (N, 2, T, 64, 32, 3), labels (N,) and, optionally, which items are
        aligned clothes-swap pairs (N,) bool (their clips are rebuilt in each other's pose); ``step`` (0-based)
        says whether the adversarial term is on yet. Then, with a discriminator, D's step. Returns the loss
        terms."""
        cfg, dev = self.cfg, self.device
        x = rgb_to_tensor(clips, dev)  # (N, 2, T, 3, 64, 32)
        if cfg.recolour_share > 0:
            x = recolour(x, rng, cfg.recolour_share)[0]
        y = torch.from_numpy(labels).to(dev)
        n, pairs, t = x.shape[:3]
        k = cfg.targets_per_clip if cfg.xrecon_weight > 0 else 0
        rebuilt = 2 if cfg.recon_both_clips else 1
        targets = torch.from_numpy(np.sort(rng.choice(t, size=k, replace=False))).to(dev)
        # t1 != t2: draw from the T - 1 other frames, so f_a always comes from another moment
        offsets = rng.integers(1, t, size=(n, rebuilt, k))
        source = torch.from_numpy((targets.cpu().numpy()[None, None] + offsets) % t).to(dev)
        cross = torch.from_numpy(aligned).to(dev) if aligned is not None and aligned.any() and k else None
        self.net.train()
        with autocast(dev, cfg.bf16):
            out = self.net(x, source, targets, cross)
        pose, logits = out["pose"], out["logits"]
        terms = LossTerms()
        if k:
            truth = x[:, :rebuilt, targets]  # (N, Q, K, 3, H, W)
            terms.add("xrecon", cross_reconstruction_loss(out["recon"], truth, t), cfg.xrecon_weight)
            if "matte" in out:
                terms.add("matte", matte_loss(out["matte"], truth, t), cfg.matte_weight)
            if cross is not None and cfg.colour_weight > 0:  # aligned items: the twin clip shows the other clothes
                twin = x[:, [1, 0]][:, :, targets][cross].flatten(0, 2)
                colour = changed_colour_loss(out["recon"][cross].flatten(0, 2), truth[cross].flatten(0, 2), twin)
                terms.add("colour", colour, cfg.colour_weight)
        adversarial = self.dis is not None and k > 0
        if adversarial:  # D sees frames in [-1, 1]
            # (float32: under bf16 autocast the decoder's frames are bf16, and the AUC runs outside autocast)
            fake, real = out["recon"].float().flatten(0, 2) * 2 - 1, truth.flatten(0, 2) * 2 - 1
            if 0 < cfg.adv_frames < len(fake):  # D costs more than GaitNet's encoder: a random subset of frames
                pick = torch.from_numpy(rng.choice(len(fake), cfg.adv_frames, replace=False)).to(dev)
                fake, real = fake[pick], real[pick]
            if step >= cfg.adv_start:
                with autocast(dev, cfg.bf16):
                    terms.add("adv", self.dis.gen_loss(fake.contiguous()).float(), cfg.adv_weight)
        terms.add("gait_sim", gait_similarity_loss(pose[:, 0], pose[:, 1]), cfg.gait_sim_weight)
        terms.add("inc_id", incremental_identity_loss(logits.flatten(0, 1), y.repeat_interleave(pairs)), cfg.id_weight)
        if cfg.triplet_weight > 0:  # cosine geometry, as the test's: Euclidean distances of unit vectors
            unit = F.normalize(out["feature"].float().flatten(0, 1), dim=-1).unsqueeze(-1)  # (N*P, H, 1)
            triplet, _ = triplet_loss(unit, y.repeat_interleave(pairs), cfg.triplet_margin)
            terms.add("triplet", triplet, cfg.triplet_weight)
        loss = terms.total()
        values = {"lr": self.opt.param_groups[0]["lr"]}  # the rate this step uses
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.schedule.step()  # per iteration, as the authors' StepLR(500, 0.9)
        if self.average is not None and step + 1 >= cfg.average_from:  # the weights after (1-based) step + 1
            self.average.update_parameters(self.model)
        values.update(terms.values())
        if adversarial:
            values.update(self.dis_step(fake.detach().contiguous(), real.contiguous()))
        values["id_acc"] = float(accuracy(logits[:, :, -1].flatten(0, 1), y.repeat_interleave(pairs)))
        if cross is not None:
            values["aligned"] = float(cross.float().mean())
        return values

    def dis_step(self, fake: Tensor, real: Tensor) -> dict[str, float]:
        """D's LSGAN step on decoded (``fake``) and real frames (B, 3, 64, 32) in [-1, 1]; its AUC on them is
        measured first (frames it has not trained on)."""
        auc = discriminator_auc(self.dis, fake, real)
        with autocast(self.device, self.cfg.bf16):
            loss, _ = self.dis.dis_loss(fake, real)
        self.opt_dis.zero_grad(set_to_none=True)  # also drops what the decoder's adversarial term left here
        loss.float().backward()
        if self.runtime is not None:
            sync_gradients(self.dis, self.runtime)
        self.opt_dis.step()
        return {"dis": float(loss.detach()), "dis_auc": auc}

    def parts(self) -> dict[str, Any]:
        parts = {"model": self.model, "opt": self.opt, "schedule": self.schedule}
        if self.dis is not None:
            parts.update(dis=self.dis, opt_dis=self.opt_dis)
        if self.average is not None:
            parts["average"] = self.average
        return parts


def validate(model: GaitNet, data: GaitSet, batch: int = 32) -> dict[str, float]:
    """CASIA-B Rank-1 (fractions) of ``data`` with cosine distance: {"NM", "BG", "CL", "CS" (those present),
    "mean"}; CS probes are the clothes-swap walks (cs-NN), scored for the walk's owner."""
    was_training = model.training
    features = embed_many(model, [data.rgb(i) for i in range(len(data))], batch)
    model.train(was_training)
    swapped = tuple(sorted({c for c in data.conditions if c.startswith("cs-")}))
    probes = {**CASIA_B_PROBES, **({"CS": swapped} if swapped else {})}
    result = casia_b_rank1(features, data.subject_ids, data.conditions, data.views, probes=probes, metric="cosine")
    scores = {g: result.mean[g] for g in (*GROUPS, "CS") if g in result.mean}
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores


def _sample_walks(data: GaitSet, count: int = 4) -> list[int]:
    """Walks for the sample image: different subjects, alternating normal / coat / bag walks, view 090
    when there is one."""
    views = sorted(set(data.views))
    view = "090" if "090" in views else views[len(views) // 2]
    kinds = ("nm", "cl", "bg")
    chosen: list[int] = []
    for n, subject in enumerate(data.subjects[:count]):
        walks = data.indices(subject=subject, view=view, condition=kinds[n % 3]) or data.indices(subject=subject)
        chosen.append(walks[0])
    return chosen


def save_samples(model: GaitNet, data: GaitSet, path: Path, frames: int = 6) -> Path:
    """A PNG of inputs, reconstructions and swaps on ``data``'s walks.

    Left, per walk: ``frames`` input frames, then their reconstructions D(f_a, f_g). Right, the paper's
    swap grid: first row = pose sources (the middle frame of each walk), first column = appearance sources;
    cell (i, j) = D(mean f_a of walk i, f_g of walk j's middle frame), which should show walk i's clothes
    in walk j's pose."""
    from PIL import Image

    walks = [data.rgb(i) for i in _sample_walks(data)]
    h, w = walks[0].shape[1:3]
    blank = np.zeros((h, w, 3), np.uint8)
    rows = []
    for rgb in walks:
        pick = np.linspace(0, len(rgb) - 1, frames).round().astype(int)
        rows.append(np.concatenate([*rgb[pick], blank, *reconstruct(model, rgb[pick])], 1))
    middle = [rgb[len(rgb) // 2] for rgb in walks]
    grid = [np.concatenate([blank, *middle], 1)]
    for source, face in zip(walks, middle, strict=True):
        cells = [swap(model, source, rgb[len(rgb) // 2 : len(rgb) // 2 + 1])[0] for rgb in walks]
        grid.append(np.concatenate([face, *cells], 1))
    left, right = np.concatenate(rows, 0), np.concatenate(grid, 0)
    height = max(left.shape[0], right.shape[0])
    left, right = (np.pad(a, ((0, height - a.shape[0]), (0, 0), (0, 0))) for a in (left, right))
    image = np.concatenate([left, np.full((height, 4, 3), 255, np.uint8), right], 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).resize((image.shape[1] * 2, image.shape[0] * 2), Image.NEAREST).save(path)
    return path


def train_gaitnet(
    data: str | Path,
    run_dir: str | Path,
    cfg: GaitNetConfig,
    swaps: str | Path | None = None,
    warm_start: str | Path | None = None,
    **run: Unpack[RunOptions],
) -> dict[str, Any]:
    """Train on ``data``'s train split minus its last ``cfg.validation_subjects`` subjects, joined by the
    clothes-swap walks of ``swaps`` (``python -m core synth gait-swaps``) when given; ``warm_start``: a
    trained GaitNet (registered name or final.pt) to start from.

    Writes ``run_dir/last.pt`` (resume), ``log.jsonl``, ``curves.png``, ``images/`` and, once all
    ``cfg.steps`` are done, ``final.pt`` = {"config", "model" (the best weights on validation, or the weight
    average with ``cfg.average_from``),
    "num_classes", "steps", "seconds", "best_step", "warm_start", "validation"}. ``max_steps`` stops early with a
    checkpoint (``resume`` continues). Returns {"steps", "seconds", "path", "best_validation"}.
    """
    task = GaitNetTask(Path(data), Path(run_dir), cfg, Path(swaps) if swaps else None, warm_start)
    out = fit(task, run_dir, **run)
    out.pop("final")
    return {**out, "best_validation": task.best["validation"]}


class GaitNetTask(Task):
    """GaitNet as a :class:`core.engine.Task`: clip pairs from :class:`PairSampler`, :meth:`GaitNetTrainer.step`;
    every ``eval_every`` steps rank 0 scores the held-out training subjects and keeps the best weights, which
    ``final.pt`` holds. A resumed session may change only the number of steps."""

    name = "GaitNet"
    curves = CURVES
    resumable_fields = ("steps",)

    def __init__(self, data: Path, run_dir: Path, cfg: GaitNetConfig, swaps: Path | None = None,
                 warm_start: str | Path | None = None) -> None:  # fmt: skip
        self.data, self.run_dir, self.cfg, self.swaps, self.warm_start = data, run_dir, cfg, swaps, warm_start
        # what the weights started from, kept through resumes (a resumed session passes no warm start)
        self.started_from = None if warm_start is None else str(warm_start)
        self.seed, self.bf16, self.total_steps, self.log_every = cfg.seed, cfg.bf16, cfg.steps, cfg.log_every
        self.eval_every, self.checkpoint_every_s = cfg.eval_every, cfg.checkpoint_every_s
        self.best: dict[str, Any] = {"step": 0, "validation": None, "model": None}
        self.history: list[dict[str, float]] = []

    def setup(self, runtime: Runtime) -> None:
        super().setup(runtime)
        walks = load_with_clothes_swaps(self.data, self.swaps, "train")
        self.train, self.val = split_validation(walks, self.cfg.validation_subjects)
        repeats = repeated_walks(self.train, self.swaps) if self.swaps is not None else {}
        self.sampler = PairSampler(self.train, self.cfg.same_view_pairs, repeats, self.cfg.aligned_pair_share)
        self.trainer = GaitNetTrainer(self.cfg, len(self.train.subjects), runtime.device, runtime)
        if self.warm_start is not None:  # a resumed run's own state replaces these weights
            self.trainer.warm_start(self.warm_start)

    def config_dict(self) -> dict[str, Any]:
        return self.cfg.to_dict()

    def next_batch(self, step: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.sampler.sample(self.cfg.batch_size, self.cfg.clip_len, rng)

    def step(self, batch: tuple[np.ndarray, np.ndarray, np.ndarray], step: int, rng: np.random.Generator
             ) -> dict[str, float]:  # fmt: skip
        clips, labels, aligned = batch
        return self.trainer.step(clips, labels, rng, aligned, step)

    def validate(self, step: int) -> dict[str, float]:
        model = self.trainer.inference_model()
        scores = validate(model, self.val)
        self.history.append({"step": step, **scores})
        if self.best["validation"] is None or scores["mean"] > self.best["validation"]["mean"]:
            self.best = {"step": step, "validation": scores, "model": copy.deepcopy(model.state_dict())}
        return {f"val_{key}": value for key, value in scores.items()}

    def snapshot(self, step: int) -> None:
        if self.cfg.sample_every and (step % self.cfg.sample_every == 0 or step == self.cfg.steps):
            save_samples(self.trainer.model, self.val, self.run_dir / "images" / f"step_{step:06d}.png")

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best": self.best, "history": self.history, "warm_start": self.started_from}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.best, self.history = dict(state["best"]), list(state["history"])
        self.started_from = state.get("warm_start", self.started_from)

    def final_state(self, step: int, seconds: float) -> dict[str, Any]:
        best, model = self.best, self.trainer.inference_model()
        if model is not self.trainer.model:  # the weight average (cfg.average_from), not the validation pick
            weights, chosen = model.state_dict(), step
        else:
            weights = best["model"] if best["model"] is not None else model.state_dict()
            chosen = best["step"]
        return {"config": self.cfg.to_dict(), "model": weights, "num_classes": len(self.train.subjects), "steps": step,
                "seconds": seconds, "best_step": chosen, "warm_start": self.started_from,
                "validation": {"best": best["validation"], "history": self.history, "subjects": list(self.val.subjects),
                               "metric": "cosine", "protocol": "CASIA-B rank-1, identical views excluded"}}  # fmt: skip
