"""Pictures for the gait tab, the ``gait`` command and the model cards (no UI code): rows of frames, heat
maps over silhouettes, the pose-feature trajectory plot, gallery matches marked right/wrong, an animated
walk and the "how it works" diagrams."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.figures import BACKGROUND, INK, diagram, font

__all__ = [
    "frame_rows",
    "gaitnet_diagram",
    "dygait_diagram",
    "heat",
    "hits_figure",
    "overlay",
    "pick_frames",
    "to_rgb",
    "trajectory_plot",
    "walk_gif",
]

TILE_H = 96  # display height of one frame
RIGHT, WRONG = (34, 160, 60), (210, 45, 45)


def to_rgb(frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W) silhouettes or (T, H, W, 3) RGB -> uint8 (T, H, W, 3)."""
    frames = np.asarray(frames)
    return np.repeat(frames[..., None], 3, axis=-1) if frames.ndim == 3 else frames


def heat(maps: np.ndarray) -> np.ndarray:
    """float (T, H, W) in [0, 1] -> uint8 (T, H, W, 3) in the jet colour map (blue low, red high)."""
    from matplotlib import colormaps

    return (colormaps["jet"](np.clip(maps, 0, 1))[..., :3] * 255).round().astype(np.uint8)


def overlay(silhouettes: np.ndarray, maps: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Jet heat ``maps`` (T, H, W) in [0, 1] over grey silhouettes (T, H, W) uint8 -> uint8 (T, H, W, 3);
    outside the person the map is dimmed so the body's outline stays readable."""
    base = to_rgb(silhouettes).astype(np.float32) * 0.35
    hot = heat(maps).astype(np.float32)
    inside = (silhouettes > 127)[..., None]
    mix = np.where(inside, (1 - alpha) * base + alpha * hot, 0.5 * base + 0.35 * hot)
    return mix.clip(0, 255).astype(np.uint8)


def pick_frames(length: int, count: int = 10) -> np.ndarray:
    """``count`` evenly spread frame indices of a walk of ``length`` frames."""
    return np.unique(np.linspace(0, length - 1, min(count, length)).round().astype(int))


def _tile(frame: np.ndarray, tile_h: int) -> Image.Image:
    pic = Image.fromarray(np.ascontiguousarray(frame))
    return pic.resize((max(1, round(pic.width * tile_h / pic.height)), tile_h), Image.Resampling.NEAREST)


def frame_rows(rows: Sequence[tuple[str, np.ndarray | None]], title: str, frames: Sequence[int] | None = None,
               tile_h: int = TILE_H, frame_labels: bool = True) -> np.ndarray:  # fmt: skip
    """Walks as rows of frames: ``rows`` = (label, uint8 (T, H, W) or (T, H, W, 3)); a None walk is drawn
    as a grey row with its label. ``frames`` picks the columns (default: 10 spread over the shortest walk).
    Returns uint8 (H, W, 3)."""
    walks = [to_rgb(w) for _, w in rows if w is not None]
    if not walks:
        raise ValueError("frame_rows needs at least one walk")
    shortest = min(len(w) for w in walks)
    cols = list(frames) if frames is not None else list(pick_frames(shortest))
    tw = max(round(w.shape[2] * tile_h / w.shape[1]) for w in walks)
    label_w, gap, head = 150, 3, 26 + (14 if frame_labels else 0)
    width = label_w + len(cols) * (tw + gap) + gap
    height = head + len(rows) * (tile_h + gap) + gap
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((width / 2, 13), title, fill=INK, font=font(15), anchor="mm")
    if frame_labels:
        for j, t in enumerate(cols):
            draw.text((label_w + j * (tw + gap) + tw / 2, 33), f"t={t}", fill=(90, 90, 90), font=font(11), anchor="mm")
    for i, (label, walk) in enumerate(rows):
        y = head + i * (tile_h + gap)
        for k, line in enumerate(label.split("\n")[:3]):
            draw.text((label_w - 8, y + tile_h / 2 + (k - (len(label.split("\n")[:3]) - 1) / 2) * 15), line,
                      fill=INK, font=font(12), anchor="rm")  # fmt: skip
        if walk is None:
            draw.rectangle((label_w, y, width - gap, y + tile_h - 1), fill=(226, 226, 226))
            continue
        walk = to_rgb(walk)
        for j, t in enumerate(cols):
            if t < len(walk):
                canvas.paste(_tile(walk[t], tile_h).resize((tw, tile_h)), (label_w + j * (tw + gap), y))
    return np.asarray(canvas)


def trajectory_plot(trajectories: Sequence[np.ndarray], labels: Sequence[str], title: str) -> np.ndarray:
    """Pose-feature trajectories projected to 2-D, (T, 2) each, as lines with the first frame marked.
    Returns uint8 (H, W, 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.2), dpi=100)
    for k, (traj, label) in enumerate(zip(trajectories, labels, strict=True)):
        colour = plt.get_cmap("tab10")(k % 10)
        ax.plot(traj[:, 0], traj[:, 1], "-o", ms=3, lw=1.4, color=colour, label=label, alpha=0.9)
        ax.plot(traj[0, 0], traj[0, 1], "s", ms=8, color=colour, mec="black")
    ax.set_xlabel("pose feature, 1st principal axis")
    ax.set_ylabel("2nd principal axis")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return np.asarray(Image.open(buf).convert("RGB"))


def hits_figure(rows: Sequence[tuple[str, Sequence[tuple[np.ndarray, str, bool | None]]]], title: str,
                tile_h: int = 120) -> np.ndarray:  # fmt: skip
    """Ranked matches: ``rows`` = (model name, [(thumbnail uint8 (H, W, 3), caption, right?)]); right
    matches get a green frame, wrong a red one, unknown (None, e.g. an upload) a grey one."""
    label_w, gap, border, head, cap = 90, 8, 5, 28, 30
    first = next(t for _, hits in rows for t, _, _ in hits)
    tw = round(first.shape[1] * tile_h / first.shape[0])
    slot = max(tw + 2 * border, 100)  # room for the caption under a narrow walker
    n = max(len(h) for _, h in rows)
    width = label_w + n * (slot + gap) + gap
    height = head + len(rows) * (tile_h + 2 * border + cap + gap)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((width / 2, 14), title, fill=INK, font=font(15), anchor="mm")
    for i, (name, hits) in enumerate(rows):
        y = head + i * (tile_h + 2 * border + cap + gap)
        draw.text((label_w - 10, y + tile_h / 2), name, fill=INK, font=font(14), anchor="rm")
        for j, (thumb, caption, right) in enumerate(hits):
            x = label_w + j * (slot + gap) + (slot - tw - 2 * border) // 2
            colour = (150, 150, 150) if right is None else (RIGHT if right else WRONG)
            draw.rectangle((x, y, x + tw + 2 * border - 1, y + tile_h + 2 * border - 1), fill=colour)
            canvas.paste(_tile(thumb, tile_h).resize((tw, tile_h)), (x + border, y + border))
            # the frame's colour says right or wrong; the word says it too (colour-blind readers, print)
            verdict = "" if right is None else (" right" if right else " wrong")
            lines = f"{j + 1}. {caption}".split("\n")[:2]
            lines[-1] += verdict
            for k, line in enumerate(lines):
                draw.text((x + tw / 2 + border, y + tile_h + 2 * border + 7 + 12 * k), line, fill=INK,
                          font=font(10), anchor="mm")  # fmt: skip
    return np.asarray(canvas)


def walk_gif(panels: Sequence[np.ndarray], path: str | Path | None = None, scale: int = 3, fps: float = 12.5) -> bytes:
    """An animated GIF of walks side by side: ``panels`` uint8 (T, H, W) or (T, H, W, 3), shown at the same
    height and looped over the shortest. Written to ``path`` when given; returns the GIF's bytes."""
    walks = [to_rgb(p) for p in panels]
    length, height = min(len(w) for w in walks), max(w.shape[1] for w in walks) * scale
    frames = []
    for t in range(length):
        tiles = [_tile(w[t], height) for w in walks]
        canvas = Image.new("RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), height), (0, 0, 0))
        x = 0
        for tile in tiles:
            canvas.paste(tile, (x, 0))
            x += tile.width + 4
        frames.append(canvas)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


@lru_cache(maxsize=1)
def gaitnet_diagram() -> np.ndarray:
    """GaitNet: each frame -> encoder -> appearance f_a and pose f_g; decoder rebuilds frames from
    (f_a, f_g); the f_g sequence -> 3-layer LSTM -> the averaged gait feature. The losses are named."""
    return diagram(
        900,
        300,
        """
        box 6 110 136 170 grey frame t | masked RGB 64x32
        box 160 110 270 170 blue encoder E | conv stack
        box 320 40 450 100 orange appearance f_a | clothes, colour
        box 320 180 450 240 green pose f_g | body, limbs
        box 500 40 640 100 blue decoder D | D(f_a[t1], f_g[t2])
        box 500 180 640 240 purple LSTM, 3 layers | over f_g(1..T)
        box 690 40 885 100 grey frame t2 rebuilt | L_xrecon (MSE)
        box 690 180 885 240 grey mean of h_t = gait feature | L_id-inc-avg (CE, w_t ~ t^2)
        arrow 136,140 160,140
        arrow 270,130 320,70
        arrow 270,150 320,210
        arrow 450,70 500,70
        arrow dashed 450,200 500,90
        arrow 450,210 500,210
        arrow 640,70 690,70
        arrow 640,210 690,210
        text 385 275 13 mm ink L_gait-sim: mean f_g of two walks of one person (e.g. normal vs coat) must match
    """,
    )


@lru_cache(maxsize=1)
def dygait_diagram() -> np.ndarray:
    """DyGait: silhouettes -> DAM blocks (dynamic: x - mean over time; static) -> local temporal
    aggregation -> max over time -> GeM horizontal parts -> separate FCs / BNNeck; triplet + CE."""
    return diagram(
        900,
        250,
        """
        box 10 95 115 155 grey silhouettes | T x 64 x 44
        box 150 20 320 80 orange dynamic branch | 3D conv on x - mean_T(x)
        box 150 170 320 230 green static branch | conv on x
        box 360 95 470 155 blue sum, stacked | DAM blocks
        box 500 95 600 155 blue LTA | 3 frames -> 1
        box 630 95 730 155 purple max over T | GeM parts
        box 760 95 890 155 grey FCs / BNNeck | triplet + CE
        arrow 115,120 150,50
        arrow 115,130 150,200
        arrow 320,50 360,115
        arrow 320,200 360,135
        arrow 470,125 500,125
        arrow 600,125 630,125
        arrow 730,125 760,125
        text 620 210 13 mm ink limbs move, torso and bag stay: x - mean_T(x) keeps the moving parts
    """,
    )
