"""What the app, the CLI and the tests do with a DG-Net: load it, swap, interpolate, retrieve.

Images at this boundary are float [0, 1] RGB (B, 3, H, W) of any size; they are resized to the
model's input size (bicubic, as the official test transform) and normalised here.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.checkpoints import ModelRecipe, cast_floats, from_pretrained
from core.dgnet.config import DGNetConfig
from core.dgnet.model import DGNet, denormalise, normalise
from core.dgnet.train import dgnet_embed

__all__ = [
    "RECIPE",
    "export_checkpoint",
    "interpolate_appearance",
    "load",
    "load_file",
    "retrieve",
    "swap",
    "swap_grid",
]

DEFAULT_NAME = "dgnet"


def _joined_weights(state: dict) -> dict[str, Tensor]:
    """Key shim: DG-Net files keep the generator and the appearance encoder apart, ``{"gen": sd, "id": sd}``
    (as its trainer and the official release do); the model's state dict names them ``gen.*`` and ``id.*``."""
    return {f"{part}.{key}": value for part in ("gen", "id") for key, value in state[part].items()}


RECIPE = ModelRecipe(
    DGNetConfig,
    partial(DGNet, with_discriminator=False),
    "a DG-Net checkpoint of this project; for the official release files use core.dgnet.load_official",
    requires=("config", "gen", "id"),
    weights=_joined_weights,
)


def export_checkpoint(final: str | Path, out: str | Path, half: bool = True) -> Path:
    """A shippable file from a training run's ``final.pt``: config, generator and appearance
    encoder only (no discriminator, no optimiser), in half precision by default."""
    state = torch.load(final, map_location="cpu", weights_only=True)
    dtype = torch.float16 if half else torch.float32

    slim = {"config": state["config"], "gen": cast_floats(state["gen"], dtype), "id": cast_floats(state["id"], dtype),
            "iterations": state.get("iterations"), "metrics": state.get("metrics")}  # fmt: skip
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(slim, out)
    return out


def load(name: str | Path = DEFAULT_NAME, device: str | torch.device = "cpu") -> DGNet:
    """The DG-Net registered as ``name`` in checkpoints/manifest.json (sha256-checked), or the exported /
    ``final.pt`` file ``name``: eval mode, float32, no discriminator; its config is ``model.config``."""
    return from_pretrained(RECIPE, name, device)[0]


def load_file(path: str | Path, device: str | torch.device = "cpu") -> DGNet:
    """:func:`load` of a file (any suffix)."""
    return load(Path(path), device)


def _prepare(model: DGNet, images: Tensor, name: str) -> Tensor:
    """[0, 1] (B, 3, h, w) of any size -> normalised (B, 3, H, W) at the model's size."""
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{name} must be RGB images of shape (B, 3, H, W) in [0, 1], got {shape}")
    size = (model.config.height, model.config.width)
    x = images.float().clamp(0, 1)
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    return normalise(x.to(next(model.parameters()).device))


@torch.no_grad()
def swap(model: DGNet, appearance: Tensor, structure: Tensor) -> Tensor:
    """Each structure person wearing the paired appearance person's clothes: [0, 1] (B, 3, H, W).

    appearance, structure: [0, 1] (B, 3, h, w) (or one of them a batch of 1, paired with all).
    """
    return denormalise(model.swap(_prepare(model, appearance, "appearance"), _prepare(model, structure, "structure")))


@torch.no_grad()
def swap_grid(model: DGNet, appearance: Tensor, structure: Tensor) -> Tensor:
    """Every appearance on every structure: (A, S, 3, H, W) in [0, 1]; row a = appearance a."""
    xa, xs = _prepare(model, appearance, "appearance"), _prepare(model, structure, "structure")
    codes, _ = model.encode_appearance(xa)
    structure_codes = model.encode_structure(xs)
    a, s = len(codes), len(structure_codes)
    out = model.decode(structure_codes.repeat(a, 1, 1, 1), codes.repeat_interleave(s, 0), xs.repeat(a, 1, 1, 1))
    return denormalise(out).view(a, s, *out.shape[1:])


@torch.no_grad()
def interpolate_appearance(model: DGNet, first: Tensor, second: Tensor, structure: Tensor, steps: int = 7) -> Tensor:
    """The structure person as the appearance code moves from ``first`` to ``second`` (the
    official ``show_smooth``): (steps, 3, H, W) in [0, 1]. Each input is (1, 3, h, w)."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    codes, _ = model.encode_appearance(torch.cat([_prepare(model, first, "first"), _prepare(model, second, "second")]))
    t = torch.linspace(0, 1, steps, device=codes.device)[:, None]
    mixed = (1 - t) * codes[:1] + t * codes[1:]
    xs = _prepare(model, structure, "structure")
    s = model.encode_structure(xs)
    return denormalise(model.decode(s.expand(steps, -1, -1, -1), mixed, xs.expand(steps, -1, -1, -1)))


@torch.no_grad()
def retrieve(
    model: DGNet, query: Tensor, gallery: Tensor, k: int = 10, alpha: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k gallery indices and cosine scores for each query with DG-Net's re-ID feature (primary +
    alpha x fine-grained, flip-averaged). query (Q, 3, h, w), gallery (G, 3, h, w) in [0, 1]."""
    embed = dgnet_embed(model, alpha)

    def features(images: Tensor) -> Tensor:
        out = []
        for start in range(0, len(images), 64):
            x = _prepare(model, images[start : start + 64], "images")
            out.append(F.normalize(embed(x) + embed(x.flip(-1)), dim=1))
        return torch.cat(out)

    scores = features(query) @ features(gallery).T
    top = scores.topk(min(k, scores.shape[1]), dim=1)
    return top.indices.cpu().numpy(), top.values.cpu().numpy()
