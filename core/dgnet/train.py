"""Train DG-Net: one iteration = one discriminator step, then one joint step of the generator
(Adam) and the appearance encoder (SGD), as the official trainer does.

``python -m core train dgnet --data DIR --teacher runs/reid/final.pt [--preset small] [--resume]``.
Runs unchanged under torchrun: the networks' gradients are averaged by hand
(:func:`core.train.sync_gradients`), because a GAN's several networks and optimiser steps per
iteration do not fit one DDP wrapper.

Departures from the official code, all for a CPU without downloads (each says why):
- E_a starts from the teacher's backbone, not ImageNet (no download; the teacher is the only
  re-ID-trained ResNet we have, and the paper's E_a is ImageNet-initialised, not random).
- The four real batches go through E_a together and the six decodes run as one batch; AdaIN,
  the decoder's LayerNorm and the structure encoder's InstanceNorm are per-sample, so only E_a's
  BatchNorm statistics see a larger batch.
- The frozen copies of E_s and E_a are the live weights read without gradient
  (``torch.func.functional_call`` on detached tensors), not deep copies made every iteration: the
  same values, without copying 30 M parameters per step.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from core.data.market import load_images, load_market
from core.dgnet.config import DGNetConfig
from core.dgnet.losses import loss_weights, recon_l1, soft_label_kl, teacher_soft_labels
from core.dgnet.model import DGNet, denormalise, paint_over
from core.engine import LossTerms, Task, fit
from core.nn.discriminator import discriminator_auc
from core.nn.losses import changed_colour_loss
from core.reid.data import ReidTrainSet, random_erasing
from core.reid.retrieval import evaluate_market, imagenet_normalise
from core.reid.train import load_baseline
from core.train import Runtime, autocast, broadcast_module, sync_gradients

__all__ = ["DGNetTask", "DGNetTrainer", "dgnet_embed", "train_dgnet"]


def _frozen_call(module: nn.Module, x: Tensor, bn_train: bool) -> Any:
    """``module(x)`` with its weights fixed (no gradient to them; the gradient still reaches x), in
    eval mode but with BatchNorm on batch statistics when ``bn_train`` (official ``train_bn``).
    Running statistics are updated on copies, so the live module is unchanged."""
    params = {k: v.detach() for k, v in module.named_parameters()}
    buffers = {k: v.clone() for k, v in module.named_buffers()}
    was_training = module.training
    module.eval()
    if bn_train:
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.train()
    try:
        return functional_call(module, {**params, **buffers}, (x,))
    finally:
        module.train(was_training)


def _id_param_groups(model: DGNet, lr: float) -> list[dict]:
    """The official E_a optimiser groups: backbone at lr2, both ID heads at 10 x lr2."""
    heads = [p for n, p in model.id.named_parameters() if n.startswith("classifier")]
    backbone = [p for n, p in model.id.named_parameters() if not n.startswith("classifier")]
    return [{"params": backbone, "lr": lr, "base_lr": lr}, {"params": heads, "lr": 10 * lr, "base_lr": 10 * lr}]


class DGNetTrainer:
    """Holds DG-Net, its teacher and optimisers; :meth:`step` runs one iteration.

    Args:
        model: the DG-Net to train (with its discriminator).
        teacher: frozen re-ID baseline giving soft labels over the same classes (or None: the
            primary/fine-grained terms are then left out, which the paper does not do).
        runtime: rank and device.
        bf16: bf16 autocast (the losses are computed in float32).
    """

    def __init__(self, model: DGNet, teacher: nn.Module | None, runtime: Runtime, bf16: bool = True) -> None:
        if model.dis is None:
            raise ValueError("training needs the discriminator: build DGNet(config, with_discriminator=True)")
        self.model, self.teacher, self.rt, self.bf16 = model, teacher, runtime, bf16
        cfg, t = model.config, model.config.train
        betas = (t.beta1, t.beta2)
        self.opt_gen = torch.optim.Adam(model.gen.parameters(), lr=t.lr_g, betas=betas, weight_decay=t.weight_decay)
        self.opt_dis = torch.optim.Adam(model.dis.parameters(), lr=t.lr_d, betas=(t.beta1_d, t.beta2),
                                        weight_decay=t.weight_decay_d)  # fmt: skip
        self.opt_id = torch.optim.SGD(_id_param_groups(model, t.lr2), momentum=0.9, nesterov=True,
                                      weight_decay=t.weight_decay)  # fmt: skip
        self.config = cfg
        # inference weights: an exponential moving average of the generator (train.ema; off in the paper)
        self.gen_ema = (AveragedModel(model.gen, multi_avg_fn=get_ema_multi_avg_fn(t.ema), use_buffers=True)
                        if t.ema > 0 else None)  # fmt: skip
        if t.freeze_appearance and t.appearance_from_swaps:
            raise ValueError("train.appearance_from_swaps trains E_a: it needs train.freeze_appearance false")
        model.id.detach_code = not t.appearance_from_swaps
        if t.freeze_appearance:
            model.id.requires_grad_(False)
        if teacher is not None:
            teacher.eval()
            for p in teacher.parameters():
                p.requires_grad_(False)

    # ------------------------------------------------------------------ schedule
    def set_learning_rates(self, iteration: int) -> None:
        """Multistep decay at the official milestones (gamma for gen/dis, gamma2 for E_a)."""
        t = self.config.train
        passed = sum(iteration >= m for m in t.lr_milestones)
        for opt, base, gamma in ((self.opt_gen, t.lr_g, t.gamma), (self.opt_dis, t.lr_d, t.gamma)):
            for g in opt.param_groups:
                g["lr"] = base * gamma**passed
        for g in self.opt_id.param_groups:
            g["lr"] = g["base_lr"] * t.gamma2**passed

    # ------------------------------------------------------------------ one iteration
    def step(
        self,
        a,
        b,
        iteration: int,
        gen: torch.Generator,
        rng: np.random.Generator,
        paired: Any = None,
        measure_dis: bool = False,
    ) -> dict[str, float]:
        """One iteration on two real batches ``a`` and ``b`` (:class:`core.reid.data.PairBatch`, [0, 1]).

        paired: a :class:`PairedSwapBatch` of training people with the rendered truth (needed when
            ``loss.paired_w`` > 0, a departure from the paper).
        measure_dis: also report D's AUC (generated vs real) on this batch, scored before D's update on
            it, so held-out for D; the curve that shows whether D takes part.
        Returns the loss terms (unweighted, floats) and the weights in force.
        """
        m, cfg, dev = self.model, self.config, self.rt.device
        w = loss_weights(cfg.loss, iteration)
        frozen_id = cfg.train.freeze_appearance
        self.set_learning_rates(iteration)
        n = a.x.shape[0]
        x_a, x_b = imagenet_normalise(a.x).to(dev), imagenet_normalise(b.x).to(dev)
        xp_a, xp_b = imagenet_normalise(a.positive).to(dev), imagenet_normalise(b.positive).to(dev)
        l_a, l_b = a.labels.to(dev), b.labels.to(dev)
        real = torch.cat([x_a, x_b, xp_a, xp_b])
        if w.paired > 0 and paired is None:
            raise ValueError("loss.paired_w > 0 needs training pairs: python -m core synth pairs --split train")
        use_pairs = w.paired > 0
        if use_pairs:
            x_pa, x_ps, x_pt = (imagenet_normalise(t).to(dev) for t in (paired.appearance, paired.structure,
                                                                       paired.truth))  # fmt: skip
            real_codes_in = torch.cat([real, x_pa])
        else:
            real_codes_in = real

        with autocast(dev, self.bf16):
            # ---- forward (official trainer.forward)
            structure_in = torch.cat([x_a, x_b, x_ps] if use_pairs else [x_a, x_b])
            structures = m.gen.encode(m.structure_image(structure_in)).float()
            s_a, s_b = structures[: 2 * n].split(n)
            if frozen_id:  # E_a fixed: its inference codes (eval-mode BatchNorm), no ID losses on real images
                with torch.no_grad():
                    was = m.id.training
                    codes = m.id.eval()(real_codes_in)[0].float()
                    m.id.train(was)
            else:
                codes, _ = m.id(real_codes_in)  # detached inside (official ft_netAB) unless appearance_from_swaps
                codes = codes.float()
                erased = random_erasing(real, gen, cfg.loss.erasing_p) if cfg.loss.erasing_p > 0 else real
                _, logits = m.id(erased)
                head1, head2 = logits[0].float().split(n), logits[1].float().split(n)
                p_a, p_b, pp_a, pp_b = ((head1[i], head2[i]) for i in range(4))  # (primary, fine-grained) logits
            f_a, f_b, fp_a, fp_b = codes[: 4 * n].split(n)
            s_in, f_in = [s_b, s_a, s_a, s_b, s_a, s_b], [f_a, f_b, f_a, f_b, fp_a, fp_b]
            if use_pairs:  # the training pair's structure person in its appearance person's clothes
                s_in.append(structures[2 * n :])
                f_in.append(codes[4 * n :])
            pictures = [x_b, x_a, x_a, x_b, x_a, x_b] + ([x_ps] if use_pairs else [])  # where each s_in came from
            fakes = paint_over(m.gen.decode(torch.cat(s_in), torch.cat(f_in)).float(), torch.cat(pictures))
            x_ba, x_ab, x_a_recon, x_b_recon, x_a_recon_p, x_b_recon_p = fakes[: 6 * n].split(n)
            x_p_swap = fakes[6 * n :]

            # ---- discriminator step (on the detached swaps; two official calls = 2 x the batched mean)
            generated, real_ab = torch.cat([x_ba, x_ab]).detach(), torch.cat([x_a, x_b])
            dis_auc = discriminator_auc(m.dis, generated, real_ab) if measure_dis else None
            d_loss, d_penalty = m.dis.dis_loss(generated, real_ab)
            d_loss = 2 * cfg.loss.gan_w * d_loss
        self.opt_dis.zero_grad(set_to_none=True)
        d_loss.float().backward()
        sync_gradients(m.dis, self.rt)
        self.opt_dis.step()

        with autocast(dev, self.bf16):
            swaps = torch.cat([x_ab, x_ba])
            if float(rng.random()) < cfg.loss.use_encoder_again:
                s_recon = m.gen.encode(m.structure_image(swaps.detach()))  # trainable E_s on detached images
            else:
                s_recon = _frozen_call(m.gen.enc_content, m.structure_image(swaps), bn_train=False)
            s_a_recon, s_b_recon = s_recon.float().split(n)  # x_ab carries a's structure, x_ba b's
            f_recon, p_recon = _frozen_call(m.id, torch.cat([x_ba, x_ab]), bn_train=cfg.loss.train_bn and not frozen_id)
            f_a_recon, f_b_recon = f_recon.float().split(n)
            p_a_recon, p_b_recon = p_recon[0].float().split(n)

            terms = LossTerms()
            terms.add("recon_x", recon_l1(x_a_recon, x_a) + recon_l1(x_b_recon, x_b), w.recon_x)
            terms.add("recon_xp", recon_l1(x_a_recon_p, x_a) + recon_l1(x_b_recon_p, x_b), w.recon_xp)
            terms.add("recon_s", recon_l1(s_a_recon, s_a) + recon_l1(s_b_recon, s_b), w.recon_s)
            # no gradient (official): the codes of E_a are detached
            terms.add("recon_f", recon_l1(f_a_recon, f_a) + recon_l1(f_b_recon, f_b), w.recon_f)
            if w.recon_x_cyc > 0:
                cyc = m.gen.decode(torch.cat([s_a_recon, s_b_recon]), torch.cat([f_a_recon, f_b_recon])).float()
                cyc = paint_over(cyc, swaps.float())  # s_a_recon came from x_ab, s_b_recon from x_ba
                x_aba, x_bab = cyc.split(n)
                terms.add("recon_cyc", recon_l1(x_aba, x_a) + recon_l1(x_bab, x_b), w.recon_x_cyc)
            ce = F.cross_entropy
            zero = x_a.new_zeros(())
            terms.add("id", zero if frozen_id else ce(p_a[0], l_a) + ce(p_b[0], l_b), w.id)
            terms.add("id_fine", zero if frozen_id else ce(p_a[1], l_a) + ce(p_b[1], l_b), w.teacher * w.fine)
            terms.add("pid", zero if frozen_id else ce(pp_a[0], l_a) + ce(pp_b[0], l_b), w.pid)
            terms.add("recon_id", ce(p_a_recon, l_a) + ce(p_b_recon, l_b), w.recon_id)
            terms.add("gan", 2 * m.dis.gen_loss(torch.cat([x_ba, x_ab])).float() if w.gan > 0 else zero, w.gan)
            if use_pairs:
                terms.add("paired", recon_l1(x_p_swap, x_pt), w.paired)
                if w.colour > 0:
                    terms.add("colour", changed_colour_loss(denormalise(x_p_swap), paired.truth.to(dev),
                                                            paired.structure.to(dev)), w.colour)  # fmt: skip
            if self.teacher is not None and w.teacher > 0 and not frozen_id:
                detached = torch.cat([x_ba, x_ab]).detach()
                soft = teacher_soft_labels(self.teacher, detached)
                _, student = m.id(detached)
                # the sum of the two official terms; fine-grained mining: head 2 names the STRUCTURE donor
                terms.add("teacher_kl", soft_label_kl(student[0].float(), soft) * 2, w.teacher)
                terms.add("fine", ce(student[1].float(), torch.cat([l_b, l_a])) * 2, w.teacher * w.fine)
            total = terms.total()
        self.opt_gen.zero_grad(set_to_none=True)
        self.opt_id.zero_grad(set_to_none=True)
        total.backward()
        sync_gradients(m.gen, self.rt)
        self.opt_gen.step()
        if not frozen_id:
            sync_gradients(m.id, self.rt)
            self.opt_id.step()
        if self.gen_ema is not None:
            self.gen_ema.update_parameters(m.gen)

        out = terms.values(total="total")
        out |= {"dis": float(d_loss.detach()), "dis_penalty": float(d_penalty.detach())}
        out |= {"w_teacher": w.teacher, "w_cyc": w.recon_x_cyc, "w_s": w.recon_s, "w_gan": w.gan}
        if dis_auc is not None:
            out["dis_auc"] = dis_auc
        return out

    def inference_generator(self) -> nn.Module:
        """The generator to ship and evaluate: the moving average when ``train.ema`` > 0, else the live one."""
        return self.gen_ema.module if self.gen_ema is not None else self.model.gen

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        state = {"gen": self.model.gen.state_dict(), "id": self.model.id.state_dict(),
                 "dis": self.model.dis.state_dict(), "opt_gen": self.opt_gen.state_dict(),
                 "opt_dis": self.opt_dis.state_dict(), "opt_id": self.opt_id.state_dict()}  # fmt: skip
        if self.gen_ema is not None:
            state["gen_ema"] = self.gen_ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.gen_ema is not None:
            if "gen_ema" not in state:
                raise ValueError("the checkpoint has no moving average of the generator, but train.ema > 0")
            self.gen_ema.load_state_dict(state["gen_ema"])
        self.model.gen.load_state_dict(state["gen"])
        self.model.id.load_state_dict(state["id"])
        self.model.dis.load_state_dict(state["dis"])
        self.opt_gen.load_state_dict(state["opt_gen"])
        self.opt_dis.load_state_dict(state["opt_dis"])
        self.opt_id.load_state_dict(state["opt_id"])


@dataclass(frozen=True)
class PairedSwapBatch:
    """Training pairs, [0, 1] (B, 3, H, W) each: appearance person i, structure person j, j in i's clothes."""

    appearance: Tensor
    structure: Tensor
    truth: Tensor


class PairedSwapSet:
    """A ``python -m core synth pairs --split train`` folder in memory (uint8), drawn with replacement."""

    def __init__(self, root: str | Path, size: tuple[int, int]) -> None:
        root = Path(root)
        if not (root / "pairs.csv").exists():
            raise FileNotFoundError(f"no pairs.csv in {root}: python -m core synth pairs --split train --out {root}")
        meta = json.loads((root / "meta.json").read_text()) if (root / "meta.json").exists() else {}
        if meta.get("config", {}).get("split", "test") != "train":
            raise ValueError(f"{root} holds TEST people's pairs; the paired loss must train on the training split "
                             "(python -m core synth pairs --split train)")  # fmt: skip
        rows = list(csv.DictReader(open(root / "pairs.csv")))
        self.images = {c: load_images([root / r[c] for r in rows], size) for c in ("appearance", "structure", "truth")}
        self.size = len(rows)

    def batch(self, batch_size: int, rng: np.random.Generator) -> PairedSwapBatch:
        idx = torch.from_numpy(rng.integers(0, self.size, batch_size))
        return PairedSwapBatch(*(self.images[c][idx].float() / 255.0 for c in ("appearance", "structure", "truth")))


def dgnet_embed(model: DGNet, alpha: float = 0.5) -> Callable[[Tensor], Tensor]:
    """DG-Net's retrieval feature (official ``test_2label``): primary and fine-grained BN outputs,
    each L2-normalised, the fine half weighted by ``alpha`` (0.5 reported) -> (B, 1024)."""

    def embed(x: Tensor) -> Tensor:
        primary, fine = model.id.embeddings(x)
        return torch.cat([F.normalize(primary.float(), dim=1), alpha * F.normalize(fine.float(), dim=1)], dim=1)

    return embed


def save_sample_grid(model: DGNet, a: Tensor, b: Tensor, path: Path) -> None:
    """A picture of training progress: rows = input a, input b, a reconstructed, b's appearance on a's
    structure, a's appearance on b's structure. a, b: [0, 1] (B, 3, H, W)."""
    from PIL import Image

    model.eval()
    with torch.no_grad():
        xa, xb = imagenet_normalise(a), imagenet_normalise(b)
        rows = [a, b, denormalise(model.swap(xa, xa)), denormalise(model.swap(xb, xa)),
                denormalise(model.swap(xa, xb))]  # fmt: skip
    model.train()
    grid = torch.cat([torch.cat(list(r.cpu()), dim=2) for r in rows], dim=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)


def train_dgnet(
    data: str | Path,
    run_dir: str | Path,
    config: DGNetConfig | None = None,
    teacher_path: str | Path | None = None,
    preset: str = "small",
    resume: bool = False,
    device: str = "auto",
    bf16: bool = True,
    seed: int = 0,
    checkpoint_every_s: float = 180.0,
    log_every: int = 10,
    max_iter: int | None = None,
    init_from_teacher: bool = True,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    warm_start: str | Path | None = None,
    init_from: str | Path | None = None,
    pairs: str | Path | None = None,
) -> dict[str, Any]:
    """Train DG-Net on ``data`` (a Market-1501-style root) and write ``run_dir/final.pt``.

    config: a full config, or None for ``preset`` with the data's number of classes.
    teacher_path: a trained baseline (:func:`core.reid.train.train_baseline`'s ``final.pt``) with
        the same classes; None trains without the teacher terms.
    max_iter: stop early (for tests and benchmarks; the schedule still follows the config).
    warm_start: another run's ``last.pt``: its networks, optimisers and iteration count are the start of
        this run, whose config may differ from that run's only in ``train`` (a longer schedule). Ignored
        when ``resume`` finds a checkpoint in ``run_dir``.
    init_from: a finished model (``final.pt`` or a shipped ``dgnet.pt``) whose generator and appearance
        encoder start this run (a fresh discriminator and optimisers, iteration 0); its networks must
        match the config's. Ignored when ``resume`` finds a checkpoint.
    pairs: training people's swap pairs with the rendered truth (``python -m core synth pairs --split
        train``), needed when ``loss.paired_w`` > 0.
    Returns {"iterations", "seconds", "path", "metrics"} (Market-protocol retrieval of DG-Net's features).
    """
    task = DGNetTask(Path(data), Path(run_dir), config, teacher_path, preset, bf16, seed, checkpoint_every_s,
                     log_every, max_iter, init_from_teacher, warm_start, init_from, pairs)  # fmt: skip
    out = fit(task, run_dir, resume=resume, device=device, progress=progress)
    final = out["final"]
    return {"iterations": out["steps"], "seconds": out["seconds"], "path": out["path"],
            "metrics": final["metrics"] if final else None}  # fmt: skip


def _load_warm_start(path: Path, cfg: DGNetConfig) -> dict[str, Any]:
    """A finished or interrupted run's checkpoint whose networks match ``cfg`` (only ``train`` may differ)."""
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to warm-start from at {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "trainer" not in state:
        raise ValueError(f"{path} is not a training checkpoint (use the run's last.pt, not final.pt)")
    theirs = {k: v for k, v in state["config"].items() if k != "train"}
    ours = {k: v for k, v in cfg.to_dict().items() if k != "train"}
    if theirs != ours:
        differ = sorted(k for k in ours if theirs.get(k) != ours[k])
        raise ValueError(f"{path} has other networks or losses ({', '.join(differ)}); only the schedule may change")
    return state


def _load_init(path: Path, model: DGNet) -> None:
    """Generator and appearance encoder from a finished model file whose networks match ``model``'s."""
    if not path.is_file():
        raise FileNotFoundError(f"no model to start from at {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "gen" not in state or "id" not in state or "config" not in state:
        raise ValueError(f"{path} is not a DG-Net model file (final.pt or a shipped dgnet.pt)")
    keys = ("height", "width", "gen", "appearance")
    theirs, ours = state["config"], model.config.to_dict()
    # E_s's input (gray or high-pass) changes no weight shape: a gray model may start a high-pass run
    inputs = ("structure_input", "highpass_sigma", "composite")
    theirs = theirs | {"gen": {k: v for k, v in theirs.get("gen", {}).items() if k not in inputs}}
    ours = ours | {"gen": {k: v for k, v in ours["gen"].items() if k not in inputs}}
    differ = [k for k in keys if theirs.get(k) != ours[k]]
    if differ:
        raise ValueError(f"{path} has other networks ({', '.join(differ)}) than this config")
    for part in ("gen", "id"):
        weights = {k: v.float() if v.is_floating_point() else v for k, v in state[part].items()}
        missing, unexpected = getattr(model, part).load_state_dict(weights, strict=False)
        new_mask = [k for k in missing if k.startswith("dec.mask.")]  # a composite run from a plain model
        if unexpected or len(new_mask) != len(missing):
            raise ValueError(f"{path}: {part} weights do not match (missing {missing}, unexpected {unexpected})")


class DGNetTask(Task):
    """DG-Net as a :class:`core.engine.Task`: two real batches (and training pairs) a step,
    :meth:`DGNetTrainer.step`, progress pictures every ``image_save_iter``; at the end the Market protocol on
    DG-Net's features. ``final.pt`` = {"config", "gen", "id", "iterations", "seconds", "metrics", "teacher",
    "init_from"}."""

    name = "DG-Net"

    def __init__(self, data: Path, run_dir: Path, config: DGNetConfig | None, teacher_path, preset: str, bf16: bool,
                 seed: int, every_s: float, log_every: int, max_iter: int | None, init_from_teacher: bool,
                 warm_start=None, init_from=None, pairs=None) -> None:  # fmt: skip
        self.data, self.run_dir, self.config, self.preset = data, run_dir, config, preset
        self.teacher_path, self.init_from_teacher, self.max_iter = teacher_path, init_from_teacher, max_iter
        self.warm_start, self.init_from, self.pairs = warm_start, init_from, pairs
        self.bf16, self.seed, self.checkpoint_every_s, self.log_every = bf16, seed, every_s, log_every

    def setup(self, runtime: Runtime) -> None:
        super().setup(runtime)
        probe = self.config or DGNetConfig.from_preset(self.preset, num_classes=2)  # only its image size is used
        self.market = load_market(self.data, (probe.height, probe.width))
        self.train = train = ReidTrainSet(self.market["train"])
        cfg = self.cfg = self.config or DGNetConfig.from_preset(self.preset, num_classes=train.num_classes)
        if cfg.appearance.num_classes != train.num_classes:
            raise ValueError(f"the config has {cfg.appearance.num_classes} classes, the data {train.num_classes}")
        self.total_steps = cfg.train.max_iter if self.max_iter is None else min(self.max_iter, cfg.train.max_iter)
        self.model = model = DGNet(cfg).to(runtime.device)
        teacher, tcfg = _load_teacher(self.teacher_path, cfg, train.num_classes, runtime.device)
        if teacher is not None and self.init_from_teacher:
            if tcfg.arch == cfg.appearance.backbone and tcfg.last_stride == cfg.appearance.stride:
                model.id.model.load_state_dict(teacher.model.state_dict())
        if self.init_from is not None:
            _load_init(Path(self.init_from), model)
        if cfg.loss.paired_w > 0 and self.pairs is None:
            raise ValueError("this config's paired loss needs training pairs (pairs=..., --pairs data/pairs-train)")
        self.paired = PairedSwapSet(self.pairs, (cfg.height, cfg.width)) if cfg.loss.paired_w > 0 else None
        broadcast_module(model, runtime)  # the same initial weights on every rank
        self.trainer = DGNetTrainer(model, teacher, runtime, self.bf16)
        shown = range(0, len(train), max(1, len(train) // 8))
        self.show_a = torch.stack([augment_free(train, i) for i in shown][:8])
        self.show_b = self.show_a.roll(1, 0)
        model.train()

    def config_dict(self) -> dict[str, Any]:
        return self.cfg.to_dict()

    def next_batch(self, step: int, rng: np.random.Generator):
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))  # the augmentations' stream
        size = self.cfg.train.batch_size
        a, b = self.train.batch(size, rng, gen), self.train.batch(size, rng, gen)
        return a, b, self.paired.batch(size, rng) if self.paired is not None else None, gen

    def step(self, batch, step: int, rng: np.random.Generator) -> dict[str, float]:
        a, b, paired, gen = batch
        return self.trainer.step(a, b, step, gen, rng, paired, measure_dis=self.logs(step + 1))

    def state_dict(self) -> dict[str, Any]:
        return self.trainer.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.trainer.load_state_dict(state)

    def start_state(self) -> Mapping[str, Any] | None:
        return _load_warm_start(Path(self.warm_start), self.cfg) if self.warm_start is not None else None

    def snapshot(self, step: int) -> None:
        if self.cfg.train.image_save_iter and step % self.cfg.train.image_save_iter == 0:
            save_sample_grid(self.model, self.show_a, self.show_b, self.run_dir / "images" / f"iter_{step:08d}.png")

    def final_state(self, step: int, seconds: float) -> dict[str, Any]:
        model = self.model
        broadcast_module(model, self.runtime)  # BatchNorm statistics differ per rank (their batches did); rank 0's
        if self.trainer.gen_ema is not None:  # ship and score the moving average (train.ema)
            model.gen.load_state_dict(self.trainer.inference_generator().state_dict())
        model.eval()
        result = evaluate_market(dgnet_embed(model), self.market["query"], self.market["gallery"],
                                 device=self.runtime.device)  # fmt: skip
        if self.runtime.is_main:
            save_sample_grid(model, self.show_a, self.show_b, self.run_dir / "images" / "final.png")
        return {"config": self.cfg.to_dict(), "gen": model.gen.state_dict(), "id": model.id.state_dict(),
                "iterations": step, "seconds": seconds,
                "metrics": {"rank1": result.rank1, "rank5": result.rank5, "mAP": result.mAP},
                "teacher": str(self.teacher_path) if self.teacher_path else None,
                "init_from": str(self.init_from) if self.init_from else None}  # fmt: skip


def _load_teacher(path, cfg: DGNetConfig, num_classes: int, device: torch.device) -> tuple[Any, Any]:
    """The trained re-ID baseline whose soft labels teach E_a and its config, or (None, None)."""
    if path is None:
        return None, None
    teacher, tcfg = load_baseline(path, device)
    known = teacher.classifier.classifier[0].out_features
    if known != num_classes:
        raise ValueError(f"the teacher {path} knows {known} classes, the data has {num_classes}: "
                         "train the teacher on the same data")  # fmt: skip
    if (tcfg.height, tcfg.width) != (cfg.height, cfg.width):
        raise ValueError(f"the teacher sees {tcfg.height}x{tcfg.width} images, DG-Net {cfg.height}x{cfg.width}")
    return teacher, tcfg


def augment_free(train: ReidTrainSet, index: int) -> Tensor:
    """Training image ``index`` as float [0, 1] (3, H, W), unaugmented (for progress pictures)."""
    return train.images[index].float() / 255.0
