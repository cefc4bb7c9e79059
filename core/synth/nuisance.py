"""What changes between two pictures of the same person: camera, light, background, bag, coat,
walk phase, sensor noise. Plus the procedural backgrounds.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.synth.palette import fabric_colour

BACKGROUNDS: tuple[str, ...] = ("gradient", "noise", "floor-wall", "street", "corridor", "shopfront", "park")
BAGS: tuple[str, ...] = ("none", "backpack", "satchel")
POSES: tuple[str, ...] = ("walk", "stand", "turn", "carry")
OCCLUDERS: tuple[str, ...] = ("none", "person", "pole", "bin", "car", "sign")


@dataclass(frozen=True)
class Nuisance:
    """One picture's conditions. Angles in degrees, distances in metres, colours RGB in [0, 1].

    The person: pose ("walk" at ``phase``, "stand", "turn" by ``turn`` radians while walking,
    "carry" a box held in both hands), bag, coat (``coat_seed`` 0 = the person's own coat, else a
    coat drawn from that seed).
    The camera: azimuth around the person (0 = the person's front, 90 = their left side), elevation,
    distance, ``framing`` (fraction of the image height the body spans).
    The scene: background kind (one of BACKGROUNDS) and ``seed`` (the scene), ``crop`` = where in the
    scene the picture is cut (x, y in [0, 1]) and how much it is zoomed (>= 1).
    The capture (all off by default): box jitter ``shift`` (dx, dy as fractions of the image) and
    ``zoom`` of the person layer (a detector's loose or cut-off box), ``stretch`` (> 1 widens: the
    detector's box was narrower than the crop's 1:2 and was resized to it); white balance gains, exposure
    (EV), gamma and saturation (the camera's colour response); ``low_res`` (the picture was taken
    at 1/low_res of the size and upscaled), Gaussian ``blur`` (px), ``motion_blur`` (px, at
    ``motion_angle`` degrees), sensor ``noise`` (std) drawn from ``noise_seed`` (never from the
    scene: two pictures of one scene differ), and an ``occluder`` in front (seeded by
    ``occluder_seed``).
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
    coat_seed: int = 0
    pose: str = "walk"
    phase: float = 0.0
    turn: float = 0.0
    held_colour: tuple[float, float, float] = (0.55, 0.42, 0.28)
    noise: float = 0.0
    noise_seed: int = 0
    blur: float = 0.0
    seed: int = 0
    crop: tuple[float, float, float] = (0.5, 0.5, 1.0)
    shift: tuple[float, float] = (0.0, 0.0)
    zoom: float = 1.0
    stretch: float = 1.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    exposure: float = 0.0
    gamma: float = 1.0
    saturation: float = 1.0
    low_res: float = 1.0
    motion_blur: float = 0.0
    motion_angle: float = 0.0
    occluder: str = "none"
    occluder_seed: int = 0

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {BACKGROUNDS}, got {self.background!r}")
        if self.bag not in BAGS:
            raise ValueError(f"bag must be one of {BAGS}, got {self.bag!r}")
        if self.pose not in POSES:
            raise ValueError(f"pose must be one of {POSES}, got {self.pose!r}")
        if self.occluder not in OCCLUDERS:
            raise ValueError(f"occluder must be one of {OCCLUDERS}, got {self.occluder!r}")
        if not 0.0 <= self.phase < 1.0:
            raise ValueError(f"phase must be in [0, 1), got {self.phase}")
        if not -89.0 <= self.elevation <= 89.0:
            raise ValueError(f"elevation must be in [-89, 89] degrees, got {self.elevation}")
        if self.distance <= 0.5 or not 0.1 <= self.framing <= 1.5:
            raise ValueError("distance must be > 0.5 m and framing within [0.1, 1.5]")
        if not (1.0 <= self.low_res <= 8.0 and 0.5 <= self.zoom <= 2.0 and 0.2 <= self.gamma <= 5.0):
            raise ValueError("low_res must be in [1, 8], zoom in [0.5, 2] and gamma in [0.2, 5]")
        if not 0.5 <= self.stretch <= 2.0:
            raise ValueError(f"stretch must be in [0.5, 2], got {self.stretch}")
        if self.crop[2] < 1.0 or not all(0.0 <= c <= 1.0 for c in self.crop[:2]):
            raise ValueError("crop is (x, y) in [0, 1] and a zoom >= 1")


def random_colour(rng: np.random.Generator, sat=(0.1, 0.6), val=(0.25, 0.9)) -> tuple[float, float, float]:
    h, s, v = rng.random(), rng.uniform(*sat), rng.uniform(*val)
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h, s, v))


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: tuple[int, int]) -> np.ndarray:
    grid = torch.from_numpy(rng.random((1, 1, *cells)).astype(np.float32))
    return F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)[0, 0].numpy().clip(0, 1)


SCENE_SATURATION = 0.3
CLUTTER_MUTE = 0.85


def _clutter(img: np.ndarray, rng: np.random.Generator, count: int, top: int, bottom: int) -> None:
    """Rectangles in clothing colours (signs, posters, parked things, passers-by far away), so a
    colour seen in a picture is not the person's by default."""
    h, w = img.shape[:2]
    for _ in range(count):
        bh, bw = int(rng.integers(max(2, h // 20), max(3, h // 4))), int(rng.integers(max(2, w // 12), max(3, w // 2)))
        y0 = int(rng.integers(top, max(top + 1, bottom - bh)))
        x0 = int(rng.integers(-bw // 2, w))
        colour = np.asarray(fabric_colour(rng, "top" if rng.random() < 0.5 else "bottom")[1])
        colour = CLUTTER_MUTE * colour.mean() + (1 - CLUTTER_MUTE) * colour  # faded by distance and dust
        img[max(0, y0) : y0 + bh, max(0, x0) : x0 + bw] = colour * rng.uniform(0.6, 1.1)


def make_scene(kind: str, seed: int, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) float32 scene in [0, 1]; deterministic in (kind, seed, size)."""
    h, w = size
    rng = np.random.default_rng([seed, 0xB6])
    # built surroundings are mostly greys, beiges and browns: a scene's colour should not outshout a person's
    c1 = np.array(random_colour(rng, sat=(0.0, SCENE_SATURATION), val=(0.35, 0.75)))
    c2 = np.array(random_colour(rng, sat=(0.0, SCENE_SATURATION), val=(0.3, 0.65)))
    rows = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    if kind == "gradient":
        img = c1 * (1 - rows) + c2 * rows + np.zeros((h, w, 1))
    elif kind == "noise":
        n = _smooth_noise(rng, h, w, (int(rng.integers(3, 8)), int(rng.integers(2, 6))))[..., None]
        img = c1 * (1 - n) + c2 * n
    elif kind == "park":  # foliage over a path
        horizon = int(h * rng.uniform(0.45, 0.7))
        leaves = _smooth_noise(rng, h, w, (int(rng.integers(6, 14)), int(rng.integers(4, 10))))[..., None]
        green = np.array([0.24, 0.3, 0.2]) * rng.uniform(0.7, 1.3)  # foliage in shade reads grey-green
        img = green * (0.5 + leaves) + np.zeros((h, w, 3))
        path = np.array(random_colour(rng, sat=(0.0, 0.2), val=(0.35, 0.7)))
        img[horizon:] = path * (0.85 + 0.3 * _smooth_noise(rng, h - horizon, w, (3, 4))[..., None])
        _clutter(img, rng, int(rng.integers(0, 3)), horizon - h // 6, horizon + h // 10)
    else:  # built scenes: a wall or facade above a floor
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
        elif kind == "corridor":  # doors and lights along a wall, floor tiles
            for left in range(int(rng.integers(0, w // 3)), w, int(rng.integers(w // 3, w))):
                door_w = int(rng.integers(max(3, w // 8), max(4, w // 4)))
                img[horizon - int(horizon * 0.7) : horizon, left : left + door_w] = random_colour(rng, val=(0.2, 0.6))
            img[: max(1, h // 40)] = 0.95
            _clutter(img, rng, int(rng.integers(1, 4)), horizon // 3, horizon)
        elif kind == "shopfront":  # windows with goods, signs
            _clutter(img, rng, int(rng.integers(2, 6)), 0, horizon)
            img[horizon - max(2, h // 30) : horizon] *= 0.6
        else:  # street: a facade with windows
            win_w = int(rng.integers(max(3, w // 10), max(4, w // 4)))
            win_h = int(rng.integers(max(3, h // 12), max(4, h // 5)))
            gap = max(2, win_w // 2)
            dark = np.array(random_colour(rng, val=(0.05, 0.3)))
            for top in range(gap, horizon - win_h, win_h + gap):
                for left in range(int(rng.integers(0, gap + 1)), w - win_w, win_w + gap):
                    img[top : top + win_h, left : left + win_w] = dark
            _clutter(img, rng, int(rng.integers(0, 4)), horizon // 2, horizon + h // 8)
        if kind not in BACKGROUNDS:
            raise ValueError(f"unknown background {kind!r}; choose one of {BACKGROUNDS}")
    # light falls off across a real scene: a smooth shading field
    shading = 0.8 + 0.4 * _smooth_noise(rng, h, w, (3, 3))[..., None]
    grain = rng.normal(0.0, 0.012, (h, w, 1))
    return np.clip(img * shading + grain, 0, 1).astype(np.float32)


SCENE_SCALE = 1.6  # a scene is this much larger than the pictures cut from it


def make_background(
    kind: str, seed: int, size: tuple[int, int], crop: tuple[float, float, float] = (0.5, 0.5, 1.0)
) -> np.ndarray:
    """(H, W, 3) float32 picture background: a window of the scene (kind, seed).

    crop: (x, y) where the window sits (0 = left/top, 1 = right/bottom) and a zoom >= 1 (a
    narrower window, upscaled: the camera zoomed in).
    """
    if kind not in BACKGROUNDS:
        raise ValueError(f"unknown background {kind!r}; choose one of {BACKGROUNDS}")
    h, w = size
    scene = make_scene(kind, seed, (round(h * SCENE_SCALE), round(w * SCENE_SCALE)))
    sh, sw = scene.shape[:2]
    ch, cw = max(2, round(sh / SCENE_SCALE / crop[2])), max(2, round(sw / SCENE_SCALE / crop[2]))
    top, left = round((sh - ch) * crop[1]), round((sw - cw) * crop[0])
    window = torch.from_numpy(scene[top : top + ch, left : left + cw]).permute(2, 0, 1)[None]
    if (ch, cw) != (h, w):
        window = F.interpolate(window, size=(h, w), mode="bilinear", align_corners=False)
    return window[0].permute(1, 2, 0).numpy().clip(0, 1)
