"""Pictures for the docs: the body in several shapes, poses and views, textured (the synthetic people's
picture is :func:`core.synth.figures.synth_grid`)."""

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
