"""Pictures for the texture demo and the model card (no UI code): the "how it works" diagram, the orbit
strip with its ground truth, the texture map, the loss curve."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from core.figures import diagram, labelled_strip, to_picture

__all__ = ["how_it_works_diagram", "loss_curve", "orbit_picture", "texture_picture"]


@lru_cache(maxsize=1)
def how_it_works_diagram() -> np.ndarray:
    """The method's data flow as a (H, W, 3) uint8 picture."""
    return diagram(
        1000,
        330,
        """
        box 20 60 130 130 grey photo | 128 x 64
        box 165 60 320 130 blue project to UV, | then a U-Net in UV | (corrects the fill)
        box 355 60 490 130 green UV texture | 64 x 64
        box 525 50 720 140 orange PyTorch3D render | body + camera of the photo | (rasterise once, re-shade)
        box 755 60 880 130 grey render over | a background
        box 590 215 880 290 purple PCB re-ID network (frozen) | layer1..4 features, L2-normalised
        box 165 215 470 290 purple face & hand texels | <- a real texture (MSE prior)
        box 905 60 990 130 purple same | person?
        arrow 130,95 165,95
        arrow 320,95 355,95
        arrow 490,95 525,95
        arrow 720,95 755,95
        arrow 880,95 905,95
        arrow dashed 815,130 815,215
        arrow dashed 75,130 75,180 650,180 650,215
        arrow dashed 420,130 420,215
        text 500 18 16 mm ink Re-ID supervised texture generation: a texture the re-ID network cannot tell from
        +  the photo
        text 20 305 12 - 90,90,90 loss = 5000 x MSE(PCB features) + 10 x L1 on the body, in the photo's view and
        +  another view of the person, + 1 x face/hand prior; dashed: training only
    """,
    )


def orbit_picture(strip: torch.Tensor, truth: torch.Tensor | None, photo: torch.Tensor | None,
                  title: str, tile_h: int = 192) -> np.ndarray:  # fmt: skip
    """The 8-view strip (N, 3, H, W) with the photo first; the true texture's strip as a second row."""
    n = strip.shape[0]
    labels = [f"{round(360 * k / n)} deg" for k in range(n)]
    tiles = list(strip)
    if photo is not None:
        tiles, labels = [photo, *tiles], ["the photo", *labels]
    rows = [labelled_strip(tiles, labels, title, tile_h=tile_h, separators=(1,) if photo is not None else ())]
    if truth is not None:
        true_tiles = list(truth)
        true_labels = [f"truth {lab}" for lab in labels[-n:]]
        if photo is not None:
            true_tiles, true_labels = [torch.ones_like(photo), *true_tiles], ["", *true_labels]
        title = "ground truth: the person's painted texture on the same body"
        rows.append(labelled_strip(true_tiles, true_labels, title, tile_h=tile_h,
                                   separators=(1,) if photo is not None else ()))  # fmt: skip
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(padded, axis=0)


def texture_picture(texture: torch.Tensor, size: int = 256) -> np.ndarray:
    """A (1, 3, S, S) texture as a (size, size, 3) uint8 picture (nearest: texels stay visible)."""
    pic = to_picture(texture[0])
    return np.asarray(pic.resize((size, size), Image.Resampling.NEAREST))


def loss_curve(history: Sequence[dict[str, float]], size: tuple[int, int] = (420, 220)) -> np.ndarray:
    """The optimisation's losses per step, each divided by its first value, as a small plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(size[0] / 100, size[1] / 100), dpi=100)
    for key in sorted({k for row in history for k in row}):
        values = np.array([row[key] for row in history if key in row], dtype=float)
        if len(values) and values[0] > 0:
            ax.plot(np.arange(1, len(values) + 1), values / values[0], label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss / first")
    ax.grid(alpha=0.3)
    if history:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image
