"""What changes between two pictures of the same person: camera, light, background, bag, coat,
walk phase, sensor noise. Plus the procedural backgrounds.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

BACKGROUNDS: tuple[str, ...] = ("gradient", "noise", "floor-wall", "street")
BAGS: tuple[str, ...] = ("none", "backpack", "satchel")


@dataclass(frozen=True)
class Nuisance:
    """One picture's conditions. Angles in degrees, distances in metres, colours RGB in [0, 1].

    azimuth: camera azimuth around the person (0 = the person's front, 90 = their left side).
    framing: fraction of the image height the person's bounding box spans.
    background: kind (one of BACKGROUNDS) and colours come from ``seed``.
    pose: "walk" (at ``phase``) or "stand".
    """

    azimuth: float = 0.0
    elevation: float = 5.0
    distance: float = 6.0
    framing: float = 0.9
    light_direction: tuple[float, float, float] = (0.3, 0.8, 1.0)
    light_colour: tuple[float, float, float] = (1.0, 1.0, 1.0)
    light_intensity: float = 0.55
    ambient: float = 0.5
    background: str = "gradient"
    bag: str = "none"
    bag_colour: tuple[float, float, float] = (0.15, 0.15, 0.18)
    coat: bool = False
    pose: str = "walk"
    phase: float = 0.0
    noise: float = 0.0
    blur: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {BACKGROUNDS}, got {self.background!r}")
        if self.bag not in BAGS:
            raise ValueError(f"bag must be one of {BAGS}, got {self.bag!r}")
        if self.pose not in ("walk", "stand"):
            raise ValueError(f"pose must be 'walk' or 'stand', got {self.pose!r}")
        if not 0.0 <= self.phase < 1.0:
            raise ValueError(f"phase must be in [0, 1), got {self.phase}")
        if not -89.0 <= self.elevation <= 89.0:
            raise ValueError(f"elevation must be in [-89, 89] degrees, got {self.elevation}")
        if self.distance <= 0.5 or not 0.1 <= self.framing <= 1.5:
            raise ValueError("distance must be > 0.5 m and framing within [0.1, 1.5]")


def random_colour(rng: np.random.Generator, sat=(0.1, 0.6), val=(0.25, 0.9)) -> tuple[float, float, float]:
    h, s, v = rng.random(), rng.uniform(*sat), rng.uniform(*val)
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h, s, v))


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: tuple[int, int]) -> np.ndarray:
    grid = torch.from_numpy(rng.random((1, 1, *cells)).astype(np.float32))
    return F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)[0, 0].numpy().clip(0, 1)


def make_background(kind: str, seed: int, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) float32 background in [0, 1]; deterministic in (kind, seed, size)."""
    h, w = size
    rng = np.random.default_rng([seed, 0xB6])
    c1, c2 = np.array(random_colour(rng)), np.array(random_colour(rng))
    rows = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    if kind == "gradient":
        img = c1 * (1 - rows) + c2 * rows + 0.0 * np.zeros((h, w, 1))
    elif kind == "noise":
        n = _smooth_noise(rng, h, w, (int(rng.integers(3, 8)), int(rng.integers(2, 6))))[..., None]
        img = c1 * (1 - n) + c2 * n
    elif kind in ("floor-wall", "street"):
        horizon = int(h * rng.uniform(0.5, 0.8))
        img = np.empty((h, w, 3))
        img[:horizon] = c1
        floor_rows = np.linspace(0.0, 1.0, h - horizon)[:, None, None]
        img[horizon:] = c2 * (0.75 + 0.25 * floor_rows)
        if kind == "floor-wall":  # tiled wall
            tile = int(rng.integers(max(4, h // 16), max(5, h // 6)))
            ys, xs = np.mgrid[:horizon, :w]
            grout = ((ys % tile) == 0) | ((xs + (ys // tile % 2) * tile // 2) % tile == 0)
            img[:horizon][grout] *= 0.7
        else:  # a facade with windows
            win_w = int(rng.integers(max(3, w // 10), max(4, w // 4)))
            win_h = int(rng.integers(max(3, h // 12), max(4, h // 5)))
            gap = max(2, win_w // 2)
            dark = np.array(random_colour(rng, val=(0.05, 0.3)))
            for top in range(gap, horizon - win_h, win_h + gap):
                for left in range(int(rng.integers(0, gap + 1)), w - win_w, win_w + gap):
                    img[top : top + win_h, left : left + win_w] = dark
    else:
        raise ValueError(f"unknown background {kind!r}; choose one of {BACKGROUNDS}")
    grain = rng.normal(0.0, 0.015, (h, w, 1))
    return np.clip(img + grain, 0, 1).astype(np.float32)
