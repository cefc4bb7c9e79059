"""Pictures for the face-pose demo and the model card (no UI code): the 13-pose strip with its ground
truth, the confidence bars of a multi-image fusion, the similarity matrix and the "how it works" diagram."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from torch import Tensor

from core.data.face import YAW_BINS
from core.figures import BACKGROUND, INK, diagram, font, to_picture

__all__ = ["how_it_works_diagram", "omega_bars", "pose_strip_figure", "similarity_picture", "to_unit"]

TILE = 80  # display size of a face tile


def to_unit(images: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clamped."""
    return ((images.float() + 1) / 2).clamp(0, 1)


def pose_strip_figure(inputs: Tensor, strips: Tensor, truth: Tensor | None = None, path: str | Path | None = None,
                      labels: Sequence[str] | None = None, tile: int = TILE) -> np.ndarray:  # fmt: skip
    """Rows of people: the input face, then the generated face at every yaw bin; the rendered truth
    under each generated row when ``truth`` is given.

    inputs (P, 3, S, S), strips (P, N^p, 3, S, S), truth (P, N^p, 3, S, S) or None, all in [-1, 1].
    Returns (H, W, 3) uint8 and writes it to ``path`` when given.
    """
    p, n = strips.shape[:2]
    gap, head, label_w = 4, 22, 12
    rows_per = 2 if truth is not None else 1
    width = label_w + (n + 1) * (tile + gap) + 10
    height = head + p * rows_per * (tile + gap) + (p - 1) * 8 + gap
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    d = ImageDraw.Draw(canvas)
    x0 = label_w + tile + gap + 10
    d.text((label_w + tile / 2, head / 2), "input", fill=INK, font=font(12), anchor="mm")
    yaws = YAW_BINS if n == len(YAW_BINS) else tuple(range(n))
    for k in range(n):
        d.text((x0 + k * (tile + gap) + tile / 2, head / 2), f"{yaws[k]:+d}°" if n == len(YAW_BINS) else str(k),
               fill=INK, font=font(12), anchor="mm")  # fmt: skip
    y = head
    for i in range(p):
        canvas.paste(to_picture(to_unit(inputs[i])).resize((tile, tile)), (label_w, y))
        if labels:  # under the input, one or two lines ("\n")
            for k, line in enumerate(labels[i].split("\n")[:2]):
                d.text((label_w + tile / 2, y + tile + 8 + 12 * k), line[:16], fill=INK, font=font(10), anchor="mm")
        for row, images, name in ((0, strips[i], "G"), (1, truth[i] if truth is not None else None, "truth")):
            if images is None:
                continue
            yy = y + row * (tile + gap)
            d.text((x0 - 6, yy + tile / 2), name, fill=(90, 90, 90), font=font(10), anchor="rm")
            for k in range(n):
                canvas.paste(to_picture(to_unit(images[k])).resize((tile, tile)), (x0 + k * (tile + gap), yy))
        y += rows_per * (tile + gap) + 8
    out = np.asarray(canvas)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(out).save(path)
    return out


def omega_bars(omega: Sequence[float], inputs: Tensor, tile: int = TILE) -> np.ndarray:
    """The multi-image confidences: each input face with a bar of its omega and its share of the fusion."""
    omega = [float(w) for w in omega]
    total = sum(omega) or 1.0
    gap, bar_h = 8, 90
    width = gap + len(omega) * (tile + gap)
    height = tile + bar_h + 46
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    d = ImageDraw.Draw(canvas)
    for k, w in enumerate(omega):
        x = gap + k * (tile + gap)
        canvas.paste(to_picture(to_unit(inputs[k])).resize((tile, tile)), (x, 4))
        top = tile + 10
        d.rectangle((x + 10, top, x + tile - 10, top + bar_h), outline=(170, 170, 170))
        d.rectangle((x + 10, top + bar_h * (1 - w), x + tile - 10, top + bar_h), fill=(80, 130, 200))
        d.text((x + tile / 2, top + bar_h + 10), f"ω {w:.2f}", fill=INK, font=font(12), anchor="mm")
        d.text((x + tile / 2, top + bar_h + 26), f"{100 * w / total:.0f}% of f", fill=(90, 90, 90), font=font(11),
               anchor="mm")  # fmt: skip
    return np.asarray(canvas)


def similarity_picture(matrix: np.ndarray, row_images: Tensor, col_images: Tensor, tile: int = 56) -> np.ndarray:
    """A cosine-similarity matrix with the faces as row and column headers; each cell shows its value."""
    r, c = matrix.shape
    cell = tile
    width, height = (c + 1) * cell + 8, (r + 1) * cell + 8
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    d = ImageDraw.Draw(canvas)
    for j in range(c):
        canvas.paste(to_picture(to_unit(col_images[j])).resize((cell - 4, cell - 4)), ((j + 1) * cell + 2, 2))
    for i in range(r):
        canvas.paste(to_picture(to_unit(row_images[i])).resize((cell - 4, cell - 4)), (2, (i + 1) * cell + 2))
        for j in range(c):
            v = float(matrix[i, j])
            t = max(0.0, min(1.0, (v + 1) / 2))
            colour = (int(255 - 160 * t), int(255 - 90 * t), 255)
            box_xy = ((j + 1) * cell + 2, (i + 1) * cell + 2, (j + 2) * cell - 2, (i + 2) * cell - 2)
            d.rectangle(box_xy, fill=colour)
            d.text(((box_xy[0] + box_xy[2]) / 2, (box_xy[1] + box_xy[3]) / 2), f"{v:.2f}", fill=INK, font=font(12),
                   anchor="mm")  # fmt: skip
    return np.asarray(canvas)


@lru_cache(maxsize=1)
def how_it_works_diagram() -> np.ndarray:
    """DR-GAN's data flow as a (H, W, 3) uint8 picture."""
    return diagram(
        1000,
        330,
        """
        box 15 40 120 110 grey face x | any yaw
        box 150 40 300 110 blue encoder G_enc | 14 convs, BN+ELU
        box 330 30 480 120 green identity f(x) | 320-d | (+ confidence ω)
        box 330 150 480 200 orange pose code c | one-hot, 13 yaws
        box 330 220 480 270 grey noise z | 50-d, U(-1, 1)
        box 510 100 660 170 blue decoder G_dec | FC + 14 FConvs
        box 690 100 790 170 grey G(x, c, z) | face at yaw c
        box 820 60 990 210 purple discriminator D | identity: N^d + fake | pose: 13 yaws | (real: true labels)
        arrow 120,75 150,75
        arrow 300,75 330,75
        arrow 480,75 495,75 495,125 510,125
        arrow 480,175 495,175 495,145 510,145
        arrow 480,245 500,245 500,160 510,160
        arrow 660,135 690,135
        arrow 790,135 820,135
        text 500 300 12 mm ink G wants D to see the source identity and the requested yaw; D also learns to
        +  call G's faces 'fake'. So f(x) must carry who it is, and c where the face looks.
        text 410 15 12 mm 90,90,90 multi-image: f = Σ ω_i f_i / Σ ω_i
    """,
    )
