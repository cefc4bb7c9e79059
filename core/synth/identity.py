"""Who a synthetic person is: one seed -> body shape, skin, hair, face, clothes and gait style.

``sample_identity(seed)`` is deterministic: the same seed always gives the same person, on any
machine (numpy's PCG64 generator, no global random state).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from core.body.poses import WalkStyle
from core.synth.palette import fabric_colour, shoe_colour

PATTERNS: tuple[str, ...] = ("solid", "stripes", "checks", "print", "two-tone")
PATTERN_WEIGHTS = (0.76, 0.08, 0.05, 0.07, 0.04)  # prints and logos are a minority
HAIR_STYLES: tuple[str, ...] = ("short", "long", "bald", "bun", "ponytail")
TOPS: tuple[str, ...] = ("t-shirt", "long-sleeve", "shirt", "sweater", "hoodie", "tank")
BOTTOMS: tuple[str, ...] = ("trousers", "jeans", "shorts", "skirt", "dress")
SHOES: tuple[str, ...] = ("trainers", "shoes", "boots")
OUTERS: tuple[str, ...] = ("jacket", "coat")

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
    """A piece of clothing: painted on the UV texture and given bulk in the geometry.

    kind: one of TOPS, BOTTOMS, SHOES or OUTERS.
    colour, colour2: RGB in [0, 1] (colour2 is used by stripes, checks, print and two-tone).
    pattern: one of PATTERNS. scale: pattern period in metres.
    length: sleeve (tops, outers) or leg (bottoms) length as a fraction, 0 = none, 1 = to the
        wrist/ankle; for skirts and dresses the hem's height between hip (0) and ankle (1).
    loose: how far the cloth stands off the skin, metres (offset along the body's normals).
    colour_name: the palette name of ``colour`` (for data cards and captions).
    """

    colour: tuple[float, float, float]
    colour2: tuple[float, float, float]
    pattern: str = "solid"
    scale: float = 0.08
    length: float = 1.0
    kind: str = "t-shirt"
    loose: float = 0.01
    colour_name: str = ""


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
    shoes: Garment
    coat: Garment
    gait: WalkStyle = field(default_factory=WalkStyle)
    outer: Garment | None = None  # a jacket worn every day (the coat is for the gait set's cl walks)
    hair_volume: float = 0.012  # metres of hair over the scalp

    def with_clothes_of(self, other: Identity) -> Identity:
        """This body, face and gait wearing ``other``'s clothes (ground truth for appearance swaps)."""
        return replace(self, upper=other.upper, lower=other.lower, shoes=other.shoes, coat=other.coat,
                       outer=other.outer)  # fmt: skip


def _pattern(rng: np.random.Generator) -> str:
    return str(rng.choice(PATTERNS, p=PATTERN_WEIGHTS))


def _second_colour(rng: np.random.Generator, part: str, first: str) -> tuple[float, float, float]:
    """A contrasting colour for stripes, checks, prints and two-tone (never the same name)."""
    for _ in range(8):
        name, rgb = fabric_colour(rng, part)
        if name != first:
            return rgb
    return rgb


# kind -> (sleeve or leg length range, looseness range in metres)
_TOP_SHAPES = {"t-shirt": ((0.2, 0.38), (0.006, 0.014)), "long-sleeve": ((0.9, 1.0), (0.005, 0.012)),
               "shirt": ((0.92, 1.0), (0.01, 0.018)), "sweater": ((0.95, 1.0), (0.014, 0.024)),
               "hoodie": ((0.95, 1.0), (0.02, 0.03)), "tank": ((0.0, 0.0), (0.004, 0.008))}  # fmt: skip
_BOTTOM_SHAPES = {"trousers": ((0.95, 1.0), (0.01, 0.022)), "jeans": ((0.93, 1.0), (0.005, 0.012)),
                  "shorts": ((0.3, 0.48), (0.015, 0.03)), "skirt": ((0.3, 0.7), (0.0, 0.0)),
                  "dress": ((0.35, 0.75), (0.0, 0.0))}  # fmt: skip


def _garment(rng: np.random.Generator, kind: str, part: str, shape: tuple) -> Garment:
    name, colour = fabric_colour(rng, part)
    pattern = _pattern(rng)
    return Garment(
        colour=colour, colour2=_second_colour(rng, part, name), pattern=pattern,
        scale=float(rng.uniform(0.04, 0.12)), length=float(rng.uniform(*shape[0])), kind=kind,
        loose=float(rng.uniform(*shape[1])), colour_name=name,
    )  # fmt: skip


def sample_coat(rng: np.random.Generator) -> Garment:
    """A coat or heavy jacket (gait cl walks may draw a different one per walk)."""
    kind = str(rng.choice(OUTERS, p=[0.4, 0.6]))
    return _garment(rng, kind, "bottom", ((0.96, 1.0), (0.025, 0.045)))


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
    top_kind = str(rng.choice(TOPS, p=[0.34, 0.16, 0.14, 0.14, 0.14, 0.08]))
    bottom_kind = str(rng.choice(BOTTOMS, p=[0.34, 0.3, 0.14, 0.12, 0.1]))
    upper = _garment(rng, top_kind, "top", _TOP_SHAPES[top_kind])
    lower = _garment(rng, bottom_kind, "bottom", _BOTTOM_SHAPES[bottom_kind])
    if bottom_kind == "dress":  # one piece: the skirt is the top's cloth
        lower = replace(lower, colour=upper.colour, colour2=upper.colour2, pattern=upper.pattern,
                        colour_name=upper.colour_name)  # fmt: skip
    shoe_kind = str(rng.choice(SHOES, p=[0.5, 0.3, 0.2]))
    shoe_name, shoe_rgb = shoe_colour(rng)
    shoes = Garment(colour=shoe_rgb, colour2=shoe_rgb, kind=shoe_kind, loose=float(rng.uniform(0.01, 0.02)),
                    length=0.1 if shoe_kind == "boots" else 0.0, colour_name=shoe_name)  # fmt: skip
    coat = sample_coat(rng)
    outer = None
    if rng.random() < 0.25:
        outer = _garment(rng, "jacket", "bottom", ((0.95, 1.0), (0.02, 0.035)))
    gait = WalkStyle(
        stride=float(rng.uniform(0.55, 0.8)),
        cadence=float(rng.uniform(95, 125)),
        arm_swing=float(rng.uniform(0.15, 0.5)),
        torso_lean=float(rng.uniform(0.0, 0.12)),
        knee_lift=float(rng.uniform(0.8, 1.2)),
    )
    style = str(rng.choice(HAIR_STYLES, p=[0.42, 0.25, 0.08, 0.1, 0.15]))
    volume = {"bald": 0.0, "short": rng.uniform(0.006, 0.016)}.get(style, rng.uniform(0.012, 0.024))
    return Identity(
        seed=int(seed),
        betas=tuple(float(b) for b in betas),
        skin=tuple(float(c) for c in skin),
        hair_colour=tuple(float(c) for c in np.clip(hair, 0, 1)),
        hair_style=style,
        face=face,
        upper=upper,
        lower=lower,
        shoes=shoes,
        coat=coat,
        gait=gait,
        outer=outer,
        hair_volume=float(volume),
    )
