"""Colours people wear: mostly dark and neutral, shared by many people, so colour alone is ambiguous.

Weights are rough street-survey proportions (black, greys, navy and denim dominate); a few bright
colours stay rare. Colours are albedo RGB in [0, 1] (display space, as the texture is painted).
"""

from __future__ import annotations

import numpy as np

# name: (rgb, weight for tops, weight for bottoms)
FABRIC: dict[str, tuple[tuple[float, float, float], float, float]] = {
    "black": ((0.05, 0.05, 0.06), 12, 14),
    "charcoal": ((0.17, 0.17, 0.19), 7, 9),
    "grey": ((0.42, 0.42, 0.44), 8, 9),
    "light grey": ((0.68, 0.68, 0.68), 6, 4),
    "white": ((0.88, 0.88, 0.86), 11, 3),
    "navy": ((0.08, 0.10, 0.24), 9, 10),
    "denim": ((0.20, 0.29, 0.46), 4, 18),
    "light blue": ((0.55, 0.65, 0.80), 5, 4),
    "beige": ((0.76, 0.68, 0.55), 5, 7),
    "khaki": ((0.52, 0.48, 0.33), 3, 6),
    "brown": ((0.33, 0.21, 0.13), 4, 4),
    "olive": ((0.30, 0.32, 0.18), 3, 3),
    "dark green": ((0.10, 0.24, 0.15), 3, 1),
    "burgundy": ((0.37, 0.08, 0.12), 3, 1),
    "red": ((0.68, 0.12, 0.10), 3, 1),
    "pink": ((0.86, 0.58, 0.63), 3, 1),
    "yellow": ((0.84, 0.73, 0.22), 2.5, 0.5),
    "orange": ((0.83, 0.44, 0.15), 2, 0.5),
    "purple": ((0.34, 0.20, 0.44), 2.5, 0.8),
    "teal": ((0.10, 0.39, 0.41), 2.5, 0.8),
}
SHOE_COLOURS: dict[str, tuple[tuple[float, float, float], float]] = {
    "black": ((0.05, 0.05, 0.05), 40),
    "white": ((0.85, 0.85, 0.83), 25),
    "grey": ((0.4, 0.4, 0.42), 12),
    "brown": ((0.3, 0.18, 0.1), 15),
    "navy": ((0.1, 0.12, 0.25), 8),
}


def _pick(rng: np.random.Generator, table: dict, column: int) -> tuple[str, np.ndarray]:
    names = list(table)
    weights = np.array([table[n][column] for n in names], dtype=float)
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    return name, np.asarray(table[name][0], dtype=float)


def _dye(rng: np.random.Generator, rgb: np.ndarray) -> tuple[float, float, float]:
    """The same named colour varies a little between garments (dye lot, wear, fabric)."""
    shade = rng.uniform(0.85, 1.12) * rng.uniform(0.96, 1.04, 3)
    return tuple(float(c) for c in np.clip(rgb * shade, 0.0, 1.0))


def fabric_colour(rng: np.random.Generator, part: str = "top") -> tuple[str, tuple[float, float, float]]:
    """(name, rgb) of a garment colour; ``part`` is "top" or "bottom" (different weights)."""
    name, rgb = _pick(rng, FABRIC, 1 if part == "top" else 2)
    return name, _dye(rng, rgb)


def shoe_colour(rng: np.random.Generator) -> tuple[str, tuple[float, float, float]]:
    name, rgb = _pick(rng, SHOE_COLOURS, 1)
    return name, _dye(rng, rgb)
