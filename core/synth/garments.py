"""Where each garment sits on the body, for painting (texels) and for bulk (vertices) alike.

Both the texture painter and the geometry ask the same question -- "is this rest-pose point under
the jacket?" -- of :func:`body_coords`, so the painted cloth and the cloth's bulk always agree.
Bulk is an offset along the rest-pose normals (skinned with the body); skirts, dresses, long hair,
buns and ponytails are extra meshes (see :mod:`core.synth.parts`) because an offset cannot bridge
the gap between the legs or hang hair off the head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.synth.identity import Garment, Identity


@dataclass(frozen=True)
class BodyCoords:
    """Per-point garment coordinates of rest-pose (T-pose) points (all arrays share one shape).

    on_arm: the point is on an arm (arms lie along X in the T-pose).
    arm_t: 0 at the shoulder .. 1 at the wrist. leg_s: 0 at the hip .. 1 at the ankle.
    torso: between the waist and the neck, off the arms. below_waist: legs and hips.
    foot: below the ankle band. head: above the neck. front: z > 0.
    """

    on_arm: np.ndarray
    arm_t: np.ndarray
    leg_s: np.ndarray
    torso: np.ndarray
    below_waist: np.ndarray
    foot: np.ndarray
    head: np.ndarray
    front: np.ndarray
    y: np.ndarray


def body_coords(position: np.ndarray, regions) -> BodyCoords:
    """Coordinates of rest-pose points ``position`` (..., 3) given :class:`BodyRegions`."""
    x, y, z = position[..., 0], position[..., 1], position[..., 2]
    ax = np.abs(x)
    on_arm = (ax > regions.shoulder_x - 0.01) & (y > regions.waist_y + 0.1)  # legs also reach |x| > shoulder
    return BodyCoords(
        on_arm=on_arm,
        arm_t=(ax - regions.shoulder_x) / (regions.wrist_x - regions.shoulder_x),
        leg_s=(regions.hip_y - y) / (regions.hip_y - regions.ankle_y),
        torso=~on_arm & (y > regions.waist_y) & (y < regions.neck_y - 0.015),
        below_waist=~on_arm & (y <= regions.waist_y),
        foot=~on_arm & (y < regions.ankle_y + 0.045),
        head=(y > regions.neck_y + 0.01) & (ax < regions.shoulder_x),
        front=z > 0.0,
        y=y,
    )


def top_cover(c: BodyCoords, g: Garment, regions) -> np.ndarray:
    """Points under a top (torso and sleeves to ``g.length``)."""
    sleeve = c.on_arm & (c.arm_t < g.length) & (c.y > regions.neck_y - 0.4)
    return c.torso | sleeve


def bottom_cover(c: BodyCoords, g: Garment) -> np.ndarray:
    """Points under trousers or shorts; under a skirt or dress only the hips and upper thighs
    (the skirt mesh hangs over the rest)."""
    reach = 0.22 if g.kind in ("skirt", "dress") else g.length
    return c.below_waist & (c.leg_s < reach)


def outer_cover(c: BodyCoords, g: Garment, regions) -> np.ndarray:
    """Points under a jacket (to the hips) or a coat (to the knees)."""
    reach = 0.55 if g.kind == "coat" else 0.12
    sleeve = c.on_arm & (c.arm_t < g.length)
    return (c.torso | sleeve | (c.below_waist & (c.leg_s < reach))) & (c.y > regions.ankle_y)


def shoe_cover(c: BodyCoords, g: Garment) -> np.ndarray:
    """Points inside the shoes (boots reach higher)."""
    return c.foot | (~c.on_arm & (c.leg_s > 1.0 - g.length))


def outerwear(identity: Identity, coat: Garment | None) -> Garment | None:
    """What is worn over the top: the picture's coat if any, else the person's everyday jacket."""
    return coat if coat is not None else identity.outer


def bulk(identity: Identity, coat: Garment | None, c: BodyCoords, regions, scalp: np.ndarray) -> np.ndarray:
    """Offset along the normal (metres) of each rest-pose point: the cloth's standing-off from
    the skin, layered (a jacket stands off the top it covers); ``scalp`` marks the hair."""
    offset = np.zeros(c.y.shape, dtype=np.float32)
    offset = np.where(bottom_cover(c, identity.lower), identity.lower.loose, offset)
    offset = np.where(top_cover(c, identity.upper, regions), identity.upper.loose, offset)
    over = outerwear(identity, coat)
    if over is not None:
        offset = np.where(outer_cover(c, over, regions), offset + over.loose, offset)
    offset = np.where(shoe_cover(c, identity.shoes), identity.shoes.loose, offset)
    offset = np.where(scalp, identity.hair_volume, offset)
    return offset.astype(np.float32)
