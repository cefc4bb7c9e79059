"""Who a synthetic person is: one seed -> body shape, skin, hair, face, clothes and gait style.

``sample_identity(seed)`` is deterministic: the same seed always gives the same person, on any
machine (numpy's PCG64 generator, no global random state).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field, replace

import numpy as np

from core.body.poses import WalkStyle

PATTERNS: tuple[str, ...] = ("solid", "stripes", "checks", "print", "two-tone")
HAIR_STYLES: tuple[str, ...] = ("short", "long", "bald", "bun")

# skin tones from light to dark (linear RGB in [0, 1]); a person's tone is a blend of two neighbours
SKIN_TONES = np.array(
    [[0.96, 0.80, 0.69], [0.90, 0.72, 0.58], [0.78, 0.57, 0.42], [0.63, 0.43, 0.30], [0.45, 0.30, 0.20],
     [0.30, 0.20, 0.14]]
)  # fmt: skip
HAIR_COLOURS = np.array(
    [[0.08, 0.06, 0.05], [0.25, 0.15, 0.08], [0.45, 0.30, 0.15], [0.75, 0.60, 0.35], [0.55, 0.20, 0.08],
     [0.70, 0.70, 0.70]]
)  # fmt: skip


@dataclass(frozen=True)
class Garment:
    """A piece of clothing painted on the UV texture.

    colour, colour2: RGB in [0, 1] (colour2 is used by stripes, checks, print and two-tone).
    pattern: one of PATTERNS. scale: pattern period in metres.
    length: sleeve (upper) or leg (lower) length as a fraction, 0 = none, 1 = to the wrist/ankle.
    """

    colour: tuple[float, float, float]
    colour2: tuple[float, float, float]
    pattern: str = "solid"
    scale: float = 0.08
    length: float = 1.0


@dataclass(frozen=True)
class Face:
    """The face look: eye colour, brow and lip colours, and how strong the brows are."""

    eye_colour: tuple[float, float, float]
    lip_colour: tuple[float, float, float]
    brow_strength: float


@dataclass(frozen=True)
class Identity:
    """Everything that stays the same for a person across cameras, lights and time."""

    seed: int
    betas: tuple[float, ...]
    skin: tuple[float, float, float]
    hair_colour: tuple[float, float, float]
    hair_style: str
    face: Face
    upper: Garment
    lower: Garment
    shoes: tuple[float, float, float]
    coat: Garment
    gait: WalkStyle = field(default_factory=WalkStyle)

    def with_clothes_of(self, other: Identity) -> Identity:
        """This body, face and gait wearing ``other``'s clothes (ground truth for appearance swaps)."""
        return replace(self, upper=other.upper, lower=other.lower, shoes=other.shoes, coat=other.coat)


def _colour(rng: np.random.Generator, saturation: tuple[float, float] = (0.2, 0.9)) -> tuple[float, float, float]:
    h = rng.random()
    s = rng.uniform(*saturation)
    v = rng.uniform(0.15, 0.95)
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h, s, v))


def _garment(rng: np.random.Generator, length: tuple[float, float]) -> Garment:
    return Garment(
        colour=_colour(rng),
        colour2=_colour(rng),
        pattern=str(rng.choice(PATTERNS, p=[0.4, 0.2, 0.15, 0.15, 0.1])),
        scale=float(rng.uniform(0.04, 0.12)),
        length=float(rng.uniform(*length)),
    )


def sample_identity(seed: int) -> Identity:
    """The person of a seed (any non-negative int)."""
    if seed < 0:
        raise ValueError(f"identity seed must be >= 0, got {seed}")
    rng = np.random.default_rng([seed, 0x1D])
    betas = np.clip(rng.normal(0.0, 1.0, 10), -2.5, 2.5) * np.array([1.0] * 4 + [0.6] * 6)
    tone = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(np.floor(tone))
    skin = SKIN_TONES[lo] * (1 - (tone - lo)) + SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] * (tone - lo)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15)
    face = Face(
        eye_colour=tuple(float(c) for c in rng.choice([[0.25, 0.15, 0.08], [0.2, 0.35, 0.55], [0.3, 0.45, 0.3]])),
        lip_colour=tuple(float(c) for c in skin * np.array([0.85, 0.55, 0.55])),
        brow_strength=float(rng.uniform(0.3, 1.0)),
    )
    upper = _garment(rng, (0.15, 1.0))
    lower = _garment(rng, (0.35, 1.0))
    shoes = _colour(rng, (0.0, 0.6))
    coat = _garment(rng, (0.9, 1.0))
    gait = WalkStyle(
        stride=float(rng.uniform(0.55, 0.8)),
        cadence=float(rng.uniform(95, 125)),
        arm_swing=float(rng.uniform(0.15, 0.5)),
        torso_lean=float(rng.uniform(0.0, 0.12)),
        knee_lift=float(rng.uniform(0.8, 1.2)),
    )
    return Identity(
        seed=int(seed),
        betas=tuple(float(b) for b in betas),
        skin=tuple(float(c) for c in skin),
        hair_colour=tuple(float(c) for c in np.clip(hair, 0, 1)),
        hair_style=str(rng.choice(HAIR_STYLES, p=[0.45, 0.3, 0.1, 0.15])),
        face=face,
        upper=upper,
        lower=lower,
        shoes=shoes,
        coat=coat,
        gait=gait,
    )
