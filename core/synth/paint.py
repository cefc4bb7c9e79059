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


def paint_texture(identity: Identity, atlas: TexelAtlas, coat: bool = False) -> np.ndarray:
    """(S, S, 3) float32 texture in [0, 1] for the identity (wearing its coat if ``coat``)."""
    r = BodyRegions.from_atlas(atlas)
    pos = atlas.position
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    ax = np.abs(x)
    on_arm = (ax > r.shoulder_x - 0.01) & (y > r.waist_y + 0.1)  # legs also reach |x| > shoulder
    arm_t = (ax - r.shoulder_x) / (r.wrist_x - r.shoulder_x)  # 0 shoulder .. 1 wrist
    leg_s = (r.hip_y - y) / (r.hip_y - r.ankle_y)  # 0 hip .. 1 ankle
    torso = ~on_arm & (y > r.waist_y) & (y < r.neck_y - 0.015)
    below_waist = ~on_arm & (y <= r.waist_y)
    front = z > 0.0

    tex = np.empty(pos.shape, dtype=np.float64)
    tex[:] = identity.skin

    # garments: "along" runs down the torso/leg or out along the arm; "across" goes around it
    along = np.where(on_arm, ax, -y)
    across = np.where(on_arm, y + z, x + z)
    chest_y = r.neck_y - 0.17
    logo = front & ~on_arm & (np.hypot(x, y - chest_y) < 0.07)
    thigh_stripe = ~on_arm & (np.abs(ax - 0.16) < 0.02) & (np.abs(z) < 0.05)

    upper = torso | (on_arm & (arm_t < identity.upper.length) & (y > r.neck_y - 0.4))
    lower = below_waist & (leg_s < identity.lower.length)
    _fill(tex, lower, identity.lower, _pattern(identity.lower, along, across, x > 0, thigh_stripe))
    _fill(tex, upper, identity.upper, _pattern(identity.upper, along, across, y > chest_y, logo))
    if coat:
        coat_mask = (torso | (on_arm & (arm_t < 0.97)) | (below_waist & (leg_s < 0.45))) & (y > r.ankle_y)
        _fill(tex, coat_mask, identity.coat, _pattern(identity.coat, along, across, x > 0, logo))
    shoes = (y < r.ankle_y + 0.045) & ~on_arm
    tex[shoes] = identity.shoes

    _paint_head(tex, identity, atlas, r)
    # fabric and skin are not flat: a faint, fixed per-identity grain
    grain = np.random.default_rng([identity.seed, 0x7E]).normal(0.0, 0.025, pos.shape[:2])
    tex *= 1.0 + grain[..., None]
    return np.clip(tex, 0.0, 1.0).astype(np.float32)


def _paint_head(tex: np.ndarray, identity: Identity, atlas: TexelAtlas, r: BodyRegions) -> None:
    pos = atlas.position
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    head = (y > r.neck_y + 0.01) & (np.abs(x) < r.shoulder_x)
    lm = atlas.landmarks
    eye_y = 0.5 * (lm["leye"][1] + lm["reye"][1])
    nose_z = lm["nose"][2]
    face = identity.face

    style = identity.hair_style
    if style != "bald":
        hairline = eye_y + (0.055 if style != "bun" else 0.065)
        back = z < nose_z - 0.085
        hair = head & ((y > hairline) | (back & (y > eye_y - 0.02)))
        if style == "long":
            hair |= (z < nose_z - 0.1) & (y > r.neck_y - 0.12) & (np.abs(x) < 0.12) & (y < eye_y + 0.2)
            hair |= head & (np.abs(x) > 0.06) & (y > eye_y - 0.06) & (z < nose_z - 0.05)
        if style == "bun":
            top_back = np.array([0.0, eye_y + 0.09, nose_z - 0.17])
            hair |= head & (np.linalg.norm(pos - top_back, axis=-1) < 0.06)
        tex[hair] = identity.hair_colour

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
