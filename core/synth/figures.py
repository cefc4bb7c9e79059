"""Pictures for the docs of the synthetic people: one person through the re-ID cameras, the gait views and the
face yaws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.data.face import YAW_BINS
from core.synth.identity import sample_identity
from core.synth.studio import DataStudio
from core.synth.truth import face_at_yaw


def _pad_to(img: np.ndarray, height: int, width: int, value: int = 255) -> np.ndarray:
    out = np.full((height, width, 3), value, np.uint8)
    out[: img.shape[0], : img.shape[1]] = img
    return out


def synth_grid(path: Path, identity_seed: int = 7) -> Path:
    """Three rows for one synthetic person: the 6 re-ID cameras, 11 gait views (silhouette over
    RGB), and the face at DR-GAN's 13 yaw bins."""
    studio = DataStudio()
    cams = np.concatenate([img for img, _ in studio.reid_cameras(identity_seed)], axis=1)
    views = studio.gait_views(identity_seed, "bg-01", 0.3)
    sils = np.concatenate([np.repeat(s[..., None], 3, -1) for s, _, _ in views], axis=1)
    rgbs = np.concatenate([np.pad(r, ((0, 0), (6, 6), (0, 0))) for _, r, _ in views], axis=1)
    ident = sample_identity(identity_seed)
    faces = [face_at_yaw(ident, float(y), size=96) for y in YAW_BINS[::2]]
    face_row = (torch.cat(faces, dim=2).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    width = max(cams.shape[1], sils.shape[1], face_row.shape[1])
    rows = [_pad_to(r, r.shape[0], width) for r in (cams, np.concatenate([sils, rgbs], 0), face_row)]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return path
