"""Pictures for the docs: the body in several shapes, poses and views, textured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.render.preview import BodyStudio

# (label, betas, pose, phase, azimuth, elevation, texture)
GRID = [
    ("mean, T-pose", [0.0] * 10, "T-pose", 0.0, 0, 5, "UV checker"),
    ("beta0 +2, A-pose", [2.0] + [0.0] * 9, "A-pose", 0.0, 30, 5, "UV checker"),
    ("beta0 -2, walk", [-2.0] + [0.0] * 9, "Walk", 0.25, 90, 5, "UV checker"),
    ("beta1 +2, walk", [0.0, 2.0] + [0.0] * 8, "Walk", 0.6, 135, 10, "UV grid"),
    ("beta1 -2, back", [0.0, -2.0] + [0.0] * 8, "A-pose", 0.0, 180, 5, "UV grid"),
]


def body_grid(path: Path, image_size: tuple[int, int] = (320, 256)) -> Path:
    """Render GRID side by side into one PNG."""
    studio = BodyStudio(image_size=image_size)
    tiles = [
        studio.render(betas, pose, phase, az, el, studio.texture(tex)) for _, betas, pose, phase, az, el, tex in GRID
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=1)).save(path)
    return path


def _pad_to(img: np.ndarray, height: int, width: int, value: int = 255) -> np.ndarray:
    out = np.full((height, width, 3), value, np.uint8)
    out[: img.shape[0], : img.shape[1]] = img
    return out


def synth_grid(path: Path, identity_seed: int = 7) -> Path:
    """Three rows for one synthetic person: the 6 re-ID cameras, 11 gait views (silhouette over
    RGB), and the face at DR-GAN's 13 yaw bins."""
    import torch

    from core.data.face import YAW_BINS
    from core.synth.identity import sample_identity
    from core.synth.studio import DataStudio
    from core.synth.truth import face_at_yaw

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
