"""Using a trained GaitNet: load it, embed walks for recognition, rebuild and swap frames, trace f_g.

Walks come in as the data set stores them, uint8 (T, 64, 32, 3) masked RGB, and frames go out the same
way. Everything runs in eval mode without gradients, in float32 on the model's device.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.checkpoints import ModelRecipe, from_pretrained
from core.gait.data import equal_length_batches, rgb_to_tensor
from core.gaitnet.config import GaitNetConfig
from core.gaitnet.model import GaitNet

__all__ = [
    "embed",
    "embed_many",
    "load",
    "load_gaitnet",
    "pose_trajectory",
    "project_2d",
    "reconstruct",
    "swap",
    "to_uint8",
]


def _last_step_weights(resume: dict[str, Any]) -> dict[str, Any]:
    """A run's ``last.pt`` -> final.pt's layout with the last step's weights (final.pt holds the validation
    pick; on 8 validation walkers the last weights have scored better on the test walkers)."""
    weights = resume["trainer"]["model"]
    return {"config": resume["config"], "model": weights, "num_classes": int(weights["classifier.0.weight"].shape[0]),
            "steps": int(resume["step"]), "best_step": int(resume["step"])}  # fmt: skip


RECIPE = ModelRecipe(GaitNetConfig, GaitNet, "a GaitNet model (python -m core train gaitnet writes final.pt)",
                     "num_classes", from_resume=_last_step_weights)  # fmt: skip


def load_gaitnet(path: str | Path, device: str | torch.device = "cpu") -> tuple[GaitNet, GaitNetConfig]:
    """A trained GaitNet (a registered name, a ``final.pt`` file, or a run's ``last.pt`` for its last step's
    weights; float32, eval mode) and its config."""
    return from_pretrained(RECIPE, path, device)


def load(name: str | Path = "gaitnet", device: str | torch.device = "cpu") -> GaitNet:
    """The registered (shipped) GaitNet ``name``, checked against its sha256 in checkpoints/manifest.json, or
    a file: float32, eval mode, on ``device``; its config is ``model.cfg``. It embeds a uint8 (T, 64, 32, 3)
    walk as float32 (``model.feature_dim``,) (:func:`embed`) and rebuilds frames as uint8 (T, 64, 32, 3)."""
    return load_gaitnet(name, device)[0]


def _device(model: GaitNet) -> torch.device:
    return next(model.parameters()).device


def _frames(model: GaitNet, rgb: np.ndarray) -> Tensor:
    """uint8 (T, 64, 32, 3) -> float (1, T, 3, 64, 32) on the model's device."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 4 or rgb.shape[1:] != (model.cfg.height, model.cfg.width, 3) or rgb.dtype != np.uint8:
        raise ValueError(f"expected uint8 (T, {model.cfg.height}, {model.cfg.width}, 3) frames, got "
                         f"{rgb.dtype} {rgb.shape}")  # fmt: skip
    if len(rgb) == 0:
        raise ValueError("the walk has no frames")
    return rgb_to_tensor(rgb, _device(model))[None]


def to_uint8(frames: Tensor) -> np.ndarray:
    """float (..., 3, H, W) in [0, 1] -> uint8 (..., H, W, 3)."""
    return (frames.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).movedim(-3, -1).cpu().numpy()


@torch.no_grad()
def embed(model: GaitNet, rgb: np.ndarray) -> np.ndarray:
    """The gait feature of one walk: uint8 (T, 64, 32, 3) -> float32 (H,), compared by cosine similarity.

    Every frame of the walk goes through the LSTM (no padding to a fixed length, unlike the authors'
    evaluation, which zero-padded walks to 50 frames and ran the padding through the LSTM too)."""
    model.eval()
    _, pose = model.encode(_frames(model, rgb))
    return model.gait_feature(pose)[0].cpu().numpy()


@torch.no_grad()
def embed_many(model: GaitNet, walks: Sequence[np.ndarray], batch: int = 32) -> np.ndarray:
    """Gait features of many walks, float32 (N, H): walks of equal length are run ``batch`` at a time
    (the same numbers as :func:`embed`, as eval-mode batch norm does not mix walks)."""
    model.eval()
    out = np.zeros((len(walks), model.feature_dim), np.float32)
    for chunk in equal_length_batches(walks, batch):
        frames = torch.cat([_frames(model, walks[i]) for i in chunk])
        _, pose = model.encode(frames)
        out[chunk] = model.gait_feature(pose).cpu().numpy()
    return out


@torch.no_grad()
def reconstruct(model: GaitNet, rgb: np.ndarray) -> np.ndarray:
    """Each frame rebuilt from its own f_a and f_g: uint8 (T, 64, 32, 3) -> uint8 (T, 64, 32, 3)."""
    model.eval()
    appearance, pose = model.encode(_frames(model, rgb))
    return to_uint8(model.decode(appearance, pose)[0])


@torch.no_grad()
def swap(
    model: GaitNet, appearance_rgb: np.ndarray, pose_rgb: np.ndarray, appearance_frame: int | None = None
) -> np.ndarray:
    """One walk's look with another walk's movement: uint8 (T1, 64, 32, 3), uint8 (T, 64, 32, 3) ->
    uint8 (T, 64, 32, 3), frame t = D(f_a of the appearance walk, f_g of frame t of the pose walk).

    f_a is the mean over the appearance walk's frames (``appearance_frame`` None): f_a should not change
    during a walk, so the mean keeps what all frames agree on (clothes, body) and averages away what
    leaks from any one frame's pose. ``appearance_frame`` = t uses frame t's f_a alone, as in training
    (cross-reconstruction decodes a single frame's f_a) and the paper's swap grid.
    """
    model.eval()
    appearance, _ = model.encode(_frames(model, appearance_rgb))
    if appearance_frame is None:
        source = appearance.mean(1)
    else:
        if not -appearance.shape[1] <= appearance_frame < appearance.shape[1]:
            raise ValueError(f"appearance_frame {appearance_frame} is outside the {appearance.shape[1]}-frame walk")
        source = appearance[:, appearance_frame]
    _, pose = model.encode(_frames(model, pose_rgb))
    return to_uint8(model.decode(source[:, None].expand(-1, pose.shape[1], -1), pose)[0])


@torch.no_grad()
def pose_trajectory(model: GaitNet, rgb: np.ndarray) -> np.ndarray:
    """f_g of every frame: uint8 (T, 64, 32, 3) -> float32 (T, Dg)."""
    model.eval()
    _, pose = model.encode(_frames(model, rgb))
    return pose[0].float().cpu().numpy()


def project_2d(trajectories: Sequence[np.ndarray]) -> list[np.ndarray]:
    """PCA to 2-D fitted on all the given trajectories together: list of (T_i, D) -> list of (T_i, 2).

    One projection for all of them, so walks can be compared in one plot (axes = the two directions of
    largest variance of all their frames). Fewer than 2 informative directions leave zeros."""
    if not trajectories:
        return []
    dims = {np.asarray(t).shape[1] for t in trajectories if np.asarray(t).ndim == 2}
    if len(dims) != 1 or any(np.asarray(t).ndim != 2 for t in trajectories):
        raise ValueError("trajectories must all be (T, D) arrays with the same D")
    points = np.concatenate([np.asarray(t, np.float64) for t in trajectories])
    centre = points.mean(0)
    _, _, vt = np.linalg.svd(points - centre, full_matrices=False)
    axes = np.zeros((points.shape[1], 2))
    axes[:, : min(2, vt.shape[0])] = vt[:2].T
    return [((np.asarray(t, np.float64) - centre) @ axes).astype(np.float32) for t in trajectories]
