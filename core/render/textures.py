"""Texture images for UV maps: a colour checker, a labelled grid, and user images.

Textures are float tensors (H, W, 3) in [0, 1]; row 0 is the top of the image (v = 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def uv_checker(size: int = 512, squares: int = 16) -> torch.Tensor:
    """Checkerboard whose hue changes with u and brightness with v, so seams and flips show."""
    if size < squares or squares < 2:
        raise ValueError("size must be >= squares >= 2")
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    v, u = torch.meshgrid(1.0 - coords, coords, indexing="ij")
    check = ((u * squares).floor() + (v * squares).floor()) % 2
    hue = torch.stack([u, 0.35 + 0.3 * v, 1.0 - u], dim=-1)
    return (0.25 + 0.75 * hue) * (0.55 + 0.45 * check[..., None])


def uv_grid(size: int = 512, lines: int = 8, width: int = 3) -> torch.Tensor:
    """Light background with dark grid lines every 1/lines of the UV square."""
    img = torch.full((size, size, 3), 0.92)
    step = size / lines
    for k in range(lines + 1):
        p = min(int(round(k * step)), size - width)
        img[p : p + width, :, :] = 0.15
        img[:, p : p + width, :] = 0.15
    img[: size // 2, : size // 2, 0] *= 0.75  # tint the top-left quarter so orientation is visible
    return img


def texture_from_image(image: str | Path | Image.Image | np.ndarray, size: int = 512) -> torch.Tensor:
    """Load a user image as a square (size, size, 3) texture in [0, 1].

    Raises:
        ValueError: if the image cannot be read or is empty.
    """
    if isinstance(image, (str, Path)):
        try:
            image = Image.open(image)
        except (OSError, ValueError) as err:
            raise ValueError(f"could not read the texture image {image}: {err}") from err
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or image.size == 0:
            raise ValueError(f"texture array must be (H, W) or (H, W, C), got shape {image.shape}")
        array = image.astype(np.float32)
        if np.issubdtype(image.dtype, np.integer):  # 8-bit images, however dark
            array = array / 255.0
        image = Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8))
    if image.width == 0 or image.height == 0:
        raise ValueError("texture image is empty")
    rgb = image.convert("RGB").resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0)


TEXTURES = {"UV checker": uv_checker, "UV grid": uv_grid}
