"""Paint an identity's UV texture: skin, hair, face, garments with patterns, shoes, optional coat.

Regions are decided from each texel's rest position (see :mod:`core.synth.atlas`): in the T-pose
the arms lie along X, so "how far down the sleeve" is |x| past the shoulder and "how far down the
trouser leg" is the height below the hip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.body.skeleton import JOINT_NAMES
from core.synth.atlas import TexelAtlas
from core.synth.garments import body_coords, bottom_cover, outer_cover, outerwear, shoe_cover, top_cover
from core.synth.identity import Garment, Identity


@dataclass(frozen=True)
class BodyRegions:
    """Rest-pose coordinates that place the garments (metres)."""

    neck_y: float
    waist_y: float
    hip_y: float
    ankle_y: float
    shoulder_x: float
    wrist_x: float
    head_z: float

    @staticmethod
    def from_atlas(atlas: TexelAtlas) -> BodyRegions:
        j = {n: atlas.joints[i] for i, n in enumerate(JOINT_NAMES)}
        return BodyRegions(
            neck_y=float(j["neck"][1]),
            waist_y=float(0.5 * (j["pelvis"][1] + j["spine1"][1])),
            hip_y=float(j["left_hip"][1]),
            ankle_y=float(j["left_ankle"][1]),
            shoulder_x=float(j["left_shoulder"][0]),
            wrist_x=float(j["left_wrist"][0]),
            head_z=float(j["head"][2]),
        )


def _pattern(g: Garment, along: np.ndarray, across: np.ndarray, side: np.ndarray, print_mask: np.ndarray):
    """Per-texel choice (bool: use colour2) for a garment's pattern family."""
    if g.pattern == "stripes":
        return (np.floor(along / g.scale) % 2).astype(bool)
    if g.pattern == "checks":
        return ((np.floor(along / g.scale) + np.floor(across / g.scale)) % 2).astype(bool)
    if g.pattern == "print":
        return print_mask
    if g.pattern == "two-tone":
        return side
    return np.zeros_like(along, dtype=bool)


def _fill(tex: np.ndarray, mask: np.ndarray, g: Garment, choice: np.ndarray) -> None:
    c1, c2 = np.asarray(g.colour), np.asarray(g.colour2)
    tex[mask] = np.where(choice[mask, None], c2, c1)


def paint_texture(identity: Identity, atlas: TexelAtlas, coat: Garment | None = None) -> np.ndarray:
    """(S, S, 3) float32 texture in [0, 1] for the identity (wearing ``coat`` over its clothes if given)."""
    r = BodyRegions.from_atlas(atlas)
    pos = atlas.position
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    c = body_coords(pos, r)
    ax = np.abs(x)
    tex = np.empty(pos.shape, dtype=np.float64)
    tex[:] = identity.skin

    # garments: "along" runs down the torso/leg or out along the arm; "across" goes around it
    along = np.where(c.on_arm, ax, -y)
    across = np.where(c.on_arm, y + z, x + z)
    chest_y = r.neck_y - 0.17
    logo = c.front & ~c.on_arm & (np.abs(x) < 0.07) & (np.abs(y - chest_y) < 0.05)
    thigh_stripe = ~c.on_arm & (np.abs(ax - 0.16) < 0.02) & (np.abs(z) < 0.05)

    lower, upper = identity.lower, identity.upper
    _fill(tex, bottom_cover(c, lower), lower, _pattern(lower, along, across, x > 0, thigh_stripe))
    _fill(tex, top_cover(c, upper, r), upper, _pattern(upper, along, across, y > chest_y, logo))
    if upper.kind == "hoodie":  # the hood lies on the upper back
        hood = ~c.front & ~c.on_arm & (y > r.neck_y - 0.12) & (y < r.neck_y + 0.02) & (ax < 0.13)
        tex[hood] = np.asarray(upper.colour) * 0.8
    over = outerwear(identity, coat)
    if over is not None:
        cover = outer_cover(c, over, r)
        if over.kind == "jacket":  # worn open: the top shows down the front
            cover &= ~(c.front & ~c.on_arm & (ax < 0.045))
        _fill(tex, cover, over, _pattern(over, along, across, x > 0, np.zeros_like(logo)))
    tex[shoe_cover(c, identity.shoes)] = identity.shoes.colour
    sole = c.foot & (y < r.ankle_y - 0.035)
    tex[sole] = 0.6 * np.asarray(identity.shoes.colour) + 0.4 * np.array([0.15, 0.15, 0.15])

    _paint_head(tex, identity, atlas, r)
    # fabric and skin are not flat: a faint, fixed per-identity grain
    grain = np.random.default_rng([identity.seed, 0x7E]).normal(0.0, 0.025, pos.shape[:2])
    tex *= 1.0 + grain[..., None]
    return np.clip(tex, 0.0, 1.0).astype(np.float32)


def hair_mask(position: np.ndarray, identity: Identity, landmarks: dict, r: BodyRegions) -> np.ndarray:
    """Rest-pose points (..., 3) covered by the identity's hair (texels or vertices alike)."""
    x, y, z = position[..., 0], position[..., 1], position[..., 2]
    head = (y > r.neck_y + 0.01) & (np.abs(x) < r.shoulder_x)
    style = identity.hair_style
    if style == "bald":
        return np.zeros(head.shape, dtype=bool)
    eye_y = 0.5 * (landmarks["leye"][1] + landmarks["reye"][1])
    nose_z = landmarks["nose"][2]
    hairline = eye_y + (0.055 if style not in ("bun", "ponytail") else 0.065)
    back = z < nose_z - 0.085
    hair = head & ((y > hairline) | (back & (y > eye_y - 0.02)))
    if style == "long":
        hair |= (z < nose_z - 0.1) & (y > r.neck_y - 0.12) & (np.abs(x) < 0.12) & (y < eye_y + 0.2)
        hair |= head & (np.abs(x) > 0.06) & (y > eye_y - 0.06) & (z < nose_z - 0.05)
    return hair


def _paint_head(tex: np.ndarray, identity: Identity, atlas: TexelAtlas, r: BodyRegions) -> None:
    pos = atlas.position
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    head = (y > r.neck_y + 0.01) & (np.abs(x) < r.shoulder_x)
    lm = atlas.landmarks
    nose_z = lm["nose"][2]
    face = identity.face

    tex[hair_mask(pos, identity, lm, r)] = identity.hair_colour

    for key in ("leye", "reye"):
        centre = lm[key]
        d = np.linalg.norm(pos - centre, axis=-1)
        tex[(d < 0.0125) & head] = (0.92, 0.92, 0.9)
        tex[(d < 0.0065) & head] = face.eye_colour
        tex[(d < 0.003) & head] = (0.05, 0.05, 0.05)
        brow = head & (np.abs(x - centre[0]) < 0.022) & (y > centre[1] + 0.016) & (y < centre[1] + 0.026)
        brow &= z > nose_z - 0.05
        tex[brow] = (1 - face.brow_strength) * tex[brow] + face.brow_strength * np.asarray(identity.hair_colour)
    mouth_y = lm["nose"][1] - 0.04
    lips = head & (((x - lm["nose"][0]) / 0.024) ** 2 + ((y - mouth_y) / 0.009) ** 2 < 1) & (z > nose_z - 0.04)
    tex[lips] = face.lip_colour
