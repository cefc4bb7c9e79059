"""What the demo, the CLI and the tests call: load a trained DyGait, embed a walk, compare walks.

>>> from core.dygait import api
>>> model = api.load("dygait")                                # the shipped checkpoint (checkpoints/manifest.json)
>>> model, cfg = api.load_dygait("runs/dygait/final.pt")     # or an OpenGait-layout checkpoint
>>> feature = api.embed(model, sils)                          # sils uint8 (T, 64, 44) -> float32 (C, P)
>>> api.distance(feature, other)                              # OpenGait's per-part Euclidean, averaged
>>> dynamic, static = api.dynamic_maps(model, sils)           # (T, 64, 44) each, in [0, 1]

Checkpoint layouts (both read with ``torch.load(weights_only=True)``):

``final.pt`` (written by :func:`core.dygait.train.train_dygait`)::

    {"config": DyGaitConfig.to_dict(), "model": state_dict (the best-on-validation weights),
     "num_classes": int, "steps": int, "seconds": float, "best_step": int,
     "validation": {"NM", "BG", "CL", "mean": Rank-1 fractions, "subjects": [ids]}}

OpenGait's layout (``BaseModel.save_ckpt``, ``<save_name>-<iteration:05d>.pt``)::

    {"model": state_dict, "optimizer": optimiser state_dict, "scheduler": scheduler state_dict,
     "iteration": int}

OpenGait's loader treats a missing "optimizer" / "scheduler" as "restore none"; this module writes them
only when given. The state dict's keys and shapes (c0..c3 = ``cfg.channels``, P = ``cfg.parts``, K the
number of training subjects; the paper's CASIA-B config: 32, 64, 128, 128, P = 31, K = 74)::

    conv3d{i}.conv1g.weight    (c_i, c_in, 3, 3, 3)     global branch, stage 1 (absent without it)
    conv3d{i}.conv1d.weight    (c_i, c_in, 3, 3, 3)     dynamic branch, stage 1, on x - mean_T x
    conv3d{i}.conv1s.weight    (c_i, c_in, 1, 3, 3)     static branch, stage 1
    conv3d{i}.conv2g.weight    (c_i, c_i, 3, 3, 3)      stage 2 (absent without the global branch)
    conv3d{i}.conv2d.weight    (c_i, c_i, 3, 3, 3)
    conv3d{i}.conv2s.weight    (c_i, c_i, 1, 3, 3)      (c_i, c_i, 3, 3, 3) with static_3d_stage2
    conv3d{i}.shortcut.weight  (c_i, c_in, 1, 1, 1)     only where c_in != c_i (i = 0, 1, 2; not 3, 4 if
                                                        c2 == c3); c_in = 1, c0, c1, c2, c3 for i = 0..4
    LTA.0.conv3d.weight        (c1, c1, 3, 1, 1)
    HPP.p                      (1,)                     GeM exponent
    Head0.fc_bin               (P, c3, c3)              SeparateFCs
    BNNecks.fc_bin             (P, c3, K)
    BNNecks.bn1d.{weight, bias, running_mean, running_var}  (c3 * P,); BNNecks.bn1d.num_batches_tracked ()

conv3d4 has c_i = c_in = c3. All weights are float32; convolutions have no bias.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.checkpoints import ModelRecipe, from_pretrained, load_weights
from core.data.opengait import cut_silhouette
from core.dygait.config import INPUT_SIZE, DyGaitConfig
from core.dygait.model import DyGait
from core.gait.data import equal_length_batches, sil_to_tensor
from core.metrics.gait import part_distance
from core.train import autocast

__all__ = [
    "config_from_state_dict",
    "distance",
    "dynamic_maps",
    "embed",
    "embed_many",
    "load",
    "load_dygait",
    "load_opengait_checkpoint",
    "save_opengait_checkpoint",
]


def _unprefixed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Key shim: the state dict without a DDP ``module.`` prefix (OpenGait may save the wrapped model)."""
    return {key.removeprefix("module."): value for key, value in state.items()}


def _bins_for(parts: int, preferred: tuple[int, ...]) -> tuple[int, ...]:
    """GeM bins giving ``parts`` parts: ``preferred`` if it does, else a halving pyramid (16-8-4-2-1 = 31,
    8-4-2-1 = 15, 4-2-1 = 7, 2-1 = 3) or one bin of ``parts`` strips (16, 8, 4, 2, 1): no two share a count."""
    rows = INPUT_SIZE[0] // 4
    if sum(preferred) == parts:
        return tuple(preferred)
    for top in (16, 8, 4, 2):
        pyramid = tuple(top >> i for i in range(top.bit_length()))
        if sum(pyramid) == parts and rows % top == 0:
            return pyramid
    if parts >= 1 and rows % parts == 0:
        return (parts,)
    raise ValueError(f"{parts} parts match no GeM bins for {INPUT_SIZE[0]}-row input; pass a config")


def config_from_state_dict(state: dict[str, torch.Tensor], base: DyGaitConfig | None = None
                           ) -> tuple[DyGaitConfig, int]:  # fmt: skip
    """(config, number of classes) that build a network with this state dict's shapes.

    Widths, branch switches and the number of parts come from the weights; the GeM bins are ``base``'s
    when their sum is the number of parts, else a halving pyramid or a single bin (see :func:`_bins_for`).
    Training settings are ``base``'s (the paper's by default).
    """
    base = base or DyGaitConfig()
    state = _unprefixed(state)
    try:
        channels = tuple(int(state[f"conv3d{i}.conv1d.weight"].shape[0]) for i in range(4))
        parts, _, num_classes = (int(v) for v in state["BNNecks.fc_bin"].shape)
    except KeyError as err:
        raise ValueError(f"not a DyGait state dict (no {err.args[0]})") from None
    global_branch = "conv3d0.conv1g.weight" in state
    static_3d = int(state["conv3d0.conv2s.weight"].shape[2]) == 3
    bins = _bins_for(parts, base.bins)
    cfg = replace(base, channels=channels, bins=bins, global_branch=global_branch, static_3d_stage2=static_3d)
    return cfg, num_classes


def _shortcut_hint(missing: list[str], unexpected: list[str]) -> str:
    if any(k.endswith(".shortcut.weight") for k in missing):
        return " (the published DyGait code has no projection shortcuts; see core.dygait.model, departure 1)"
    return ""


def _num_classes(state: dict[str, Any]) -> int:
    """Our ``final.pt``'s ``num_classes``, or for an OpenGait file the classes read from the weights."""
    return int(state["num_classes"]) if "num_classes" in state else config_from_state_dict(state["model"])[1]


def _weights(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    return _unprefixed(state["model"])


def _config(state: dict[str, Any]) -> DyGaitConfig:
    return config_from_state_dict(state["model"])[0]


RECIPE = ModelRecipe(
    DyGaitConfig,
    DyGait,
    "a DyGait checkpoint (python -m core train dygait writes one; OpenGait's layout loads too)",
    count=_num_classes,
    requires=("model",),
    weights=_weights,
    infer_config=_config,
    hint=_shortcut_hint,
)


def save_opengait_checkpoint(path: str | Path, model: DyGait, iteration: int, optimizer: Any = None,
                             scheduler: Any = None) -> Path:  # fmt: skip
    """Write ``model`` in OpenGait's checkpoint layout (``{"model", "optimizer", "scheduler", "iteration"}``;
    the last two only when given), loadable by OpenGait's ``BaseModel`` with this network's layers."""
    state: dict[str, Any] = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                             "iteration": int(iteration)}  # fmt: skip
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def load_opengait_checkpoint(path: str | Path, cfg: DyGaitConfig, num_classes: int) -> DyGait:
    """A DyGait built from ``cfg`` alone with an OpenGait-layout checkpoint's weights, loaded strictly
    (every key, every shape), in eval mode on the CPU."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} is not an OpenGait checkpoint (a dict with 'model')")
    return load_weights(DyGait(cfg, num_classes), _unprefixed(state["model"]), str(path), _shortcut_hint).eval()


def load_dygait(path: str | Path, device: str | torch.device = "cpu") -> tuple[DyGait, DyGaitConfig]:
    """A trained DyGait in eval mode: a registered name, our ``final.pt`` (its config) or an OpenGait-layout
    checkpoint (the network sizes read from the weights, see :func:`config_from_state_dict`)."""
    return from_pretrained(RECIPE, path, device)


def load(name: str | Path = "dygait", device: str | torch.device = "cpu") -> DyGait:
    """The registered (shipped) DyGait ``name``, checked against its sha256 in checkpoints/manifest.json, or
    a file: float32, eval mode, on ``device``; its config is ``model.cfg``. It embeds a uint8 (T, 64, 44)
    walk as float32 (C, P) = (``cfg.channels[-1]``, ``cfg.parts``) (:func:`embed`)."""
    return load_dygait(name, device)[0]


def _as_walk(sils: np.ndarray) -> np.ndarray:
    """uint8 (T, 64, 44) silhouettes; stored OpenGait frames (T, 64, 64) are cut as OpenGait's transform does."""
    sils = np.asarray(sils)
    if sils.ndim != 3 or sils.dtype != np.uint8 or len(sils) == 0:
        raise ValueError(f"expected uint8 silhouettes (T, 64, 44), got {sils.dtype} {sils.shape}")
    sils = cut_silhouette(sils) if sils.shape[1:] == (64, 64) else sils
    if sils.shape[1:] != INPUT_SIZE:
        raise ValueError(f"expected frames of 64x44 (or OpenGait's stored 64x64), got {sils.shape[1:]}")
    return sils


@torch.no_grad()
def embed(model: DyGait, sils: np.ndarray, bf16: bool | None = None) -> np.ndarray:
    """The whole walk's feature: uint8 (T, 64, 44) silhouettes -> float32 (C, P) (batch 1, eval mode).

    ``bf16`` (default: the model's config) runs the blocks under bf16 autocast; the head is float32.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = sil_to_tensor(_as_walk(sils)[None], device)
    with autocast(device, model.cfg.bf16 if bf16 is None else bf16):
        feature = model(x)["embeddings"][0]
    model.train(was_training)
    return feature.float().cpu().numpy()


@torch.no_grad()
def embed_many(model: DyGait, walks: Sequence[np.ndarray], batch: int = 8, bf16: bool | None = None) -> np.ndarray:
    """Features of many walks, float32 (N, C, P): walks of equal length run ``batch`` at a time.

    The same numbers as :func:`embed` (up to rounding): in eval mode BatchNorm uses its running statistics and
    TP pools each walk on its own. Much faster on a CPU: with one walk the narrow layers of the ``small``
    preset (8 channels) take PyTorch's slow conv3d path instead of oneDNN's (its heuristic asks for a batch
    above 1 or N*C*T*H > 20480): the shipped model embeds the app's 60 gallery walks in 29 s one by one and
    in 5.9 s eight at a time, on one thread."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    bf16 = model.cfg.bf16 if bf16 is None else bf16
    walks = [_as_walk(w) for w in walks]
    out = np.zeros((len(walks), model.cfg.embedding_dim, model.cfg.parts), np.float32)
    for chunk in equal_length_batches(walks, batch):
        sils = sil_to_tensor(np.stack([walks[i] for i in chunk]), device)
        with autocast(device, bf16):
            out[chunk] = model(sils)["embeddings"].float().cpu().numpy()
    model.train(was_training)
    return out


def distance(a: np.ndarray, b: np.ndarray, metric: str = "euclidean") -> float:
    """Distance between two (C, P) walk features: per-part distance averaged over parts (OpenGait)."""
    return float(part_distance(np.asarray(a)[None], np.asarray(b)[None], metric)[0, 0])  # type: ignore[arg-type]


@torch.no_grad()
def dynamic_maps(model: DyGait, sils: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dynamic, static) float32 (T, 64, 44) maps in [0, 1] of a uint8 (T, 64, 44) walk
    (:meth:`DyGait.dynamic_maps`: where the first DAM block sees motion, and where it sees shape)."""
    device = next(model.parameters()).device
    dynamic, static = model.dynamic_maps(sil_to_tensor(_as_walk(sils), device))
    return dynamic.cpu().numpy(), static.cpu().numpy()
