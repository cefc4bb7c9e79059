"""Extra meshes carried with the body: a bag, a skirt, a hair piece and an object held in the hands.

Every picture has the same parts (so a batch renders in one call); a part that is absent is
collapsed to a point inside the torso, where it covers no pixel. Each part takes its colour from
one cell of a strip on the right of the texture (see :data:`PART_CELLS`).

Rigid parts ride on one joint: the bag on the spine or pelvis, the skirt on the pelvis (the legs
may show through a long skirt in a long stride -- it hangs from the hips, it does not swing), the
hair piece on the head. The held object sits between the posed wrists.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from core.body.skeleton import JOINT_NAMES
from core.synth.identity import Identity

PART_CELLS: tuple[str, ...] = ("bag", "skirt", "hair", "held")
SKIRT_SEGMENTS = 16

# a closed box: 8 corners, 12 triangles with outward normals
BOX_CORNERS = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
BOX_FACES = np.array(
    [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
     [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
)  # fmt: skip


def _frustum_faces(n: int) -> np.ndarray:
    """Side faces of an open frustum: ring 0 = vertices 0..n-1 (top), ring 1 = n..2n-1 (hem)."""
    faces = []
    for k in range(n):
        a, b = k, (k + 1) % n
        faces += [[a, n + b, n + a], [a, b, n + b]]  # outward normals: the renderer culls back faces
    return np.array(faces)


def part_topology() -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Faces (F, 3) indexing the parts' own vertices, the cell index of each face (F,), and the
    vertex count of each part (in PART_CELLS order)."""
    pieces = [BOX_FACES, _frustum_faces(SKIRT_SEGMENTS), BOX_FACES, BOX_FACES]
    counts = [8, 2 * SKIRT_SEGMENTS, 8, 8]
    faces, cells, start = [], [], 0
    for cell, (f, n) in enumerate(zip(pieces, counts, strict=True)):
        faces.append(f + start)
        cells.append(np.full(len(f), cell))
        start += n
    return np.concatenate(faces), np.concatenate(cells), counts


def _transform(matrix: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(4, 4) @ (N, 3) points -> (N, 3)."""
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def _box(size, centre) -> torch.Tensor:
    return torch.as_tensor(BOX_CORNERS, dtype=torch.float32) * torch.as_tensor(size) + torch.as_tensor(centre)


def _bag(kind: str, v: torch.Tensor, j: torch.Tensor) -> tuple[torch.Tensor, int] | None:
    spine3, pelvis = JOINT_NAMES.index("spine3"), JOINT_NAMES.index("pelvis")
    if kind == "backpack":
        centre_y = float(j[spine3, 1]) - 0.1
        band = (v[:, 1] - centre_y).abs() < 0.05
        back_z = float(v[band & (v[:, 0].abs() < 0.12), 2].min())
        return _box([0.3, 0.38, 0.14], [0.0, centre_y, back_z - 0.075]), spine3
    if kind == "satchel":
        side = float(j[JOINT_NAMES.index("left_hip"), 0]) + 0.13  # hangs at the left hip
        return _box([0.08, 0.26, 0.32], [side, float(j[pelvis, 1]) - 0.02, 0.0]), pelvis
    return None


def _skirt(identity: Identity, v: torch.Tensor, j: torch.Tensor) -> torch.Tensor | None:
    g = identity.lower
    if g.kind not in ("skirt", "dress"):
        return None
    hip_y = float(j[JOINT_NAMES.index("left_hip"), 1])
    ankle_y = float(j[JOINT_NAMES.index("left_ankle"), 1])
    waist_y = float(0.5 * (j[0, 1] + j[JOINT_NAMES.index("spine1"), 1]))
    top_y = waist_y if g.kind == "skirt" else hip_y + 0.02
    hem_y = hip_y - g.length * (hip_y - ankle_y)
    off_arm = v[:, 0].abs() < 0.25

    def radii(y: float, margin: float) -> tuple[float, float, float]:
        band = off_arm & ((v[:, 1] - y).abs() < 0.025)
        pts = v[band]
        cz = float(pts[:, 2].mean())
        return float(pts[:, 0].abs().max()) + margin, float((pts[:, 2] - cz).abs().max()) + margin, cz

    rx0, rz0, cz0 = radii(top_y, 0.012)
    rx1, rz1, cz1 = radii(hem_y, 0.03)
    flare = 1.0 + 0.25 * g.length  # long skirts stand off the knees more, so a stride fits inside
    rx1, rz1 = max(rx1, rx0 * 1.05) * flare, max(rz1, rz0 * 1.1) * flare + 0.02 * g.length
    angle = torch.arange(SKIRT_SEGMENTS, dtype=torch.float32) * (2 * math.pi / SKIRT_SEGMENTS)
    rings = []
    for rx, rz, cz, y in ((rx0, rz0, cz0, top_y), (rx1, rz1, cz1, hem_y)):
        rings.append(torch.stack([rx * torch.cos(angle), torch.full_like(angle, y), cz + rz * torch.sin(angle)], 1))
    return torch.cat(rings)


def _hair(identity: Identity, v: torch.Tensor, j: torch.Tensor) -> torch.Tensor | None:
    style = identity.hair_style
    if style not in ("long", "bun", "ponytail"):
        return None
    neck_y = float(j[JOINT_NAMES.index("neck"), 1])
    head = v[(v[:, 1] > neck_y + 0.02) & (v[:, 0].abs() < 0.12)]
    top_y, back_z = float(head[:, 1].max()), float(head[:, 2].min())
    eye_y = top_y - 0.115
    extra = identity.hair_volume
    if style == "long":
        bottom = neck_y - 0.06 - 0.12 * ((identity.seed % 7) / 6.0)  # shoulder length to mid-back
        return _box([0.17, eye_y + 0.06 - bottom, 0.05], [0.0, 0.5 * (eye_y + 0.06 + bottom), back_z + 0.01 - extra])
    if style == "bun":
        return _box([0.09, 0.08, 0.07], [0.0, eye_y + 0.07, back_z - 0.015 - extra])
    return _box([0.05, 0.2, 0.04], [0.0, eye_y - 0.06, back_z - 0.01 - extra])  # ponytail


def part_vertices(
    identities: list[Identity],
    bags: list[str],
    held: list[bool],
    v_shaped: torch.Tensor,
    joints_rest: torch.Tensor,
    joints_posed: torch.Tensor,
    transforms: torch.Tensor,
) -> torch.Tensor:
    """(B, P, 3) posed vertices of every part, in the order of :func:`part_topology`.

    v_shaped, joints_rest: the shaped rest body (B, V, 3), (B, 24, 3); joints_posed (B, 24, 3);
    transforms (B, 24, 4, 4) rest -> posed per joint.
    """
    out = []
    spine3, pelvis, head = (JOINT_NAMES.index(n) for n in ("spine3", "pelvis", "head"))
    lw, rw = JOINT_NAMES.index("left_wrist"), JOINT_NAMES.index("right_wrist")
    _, _, counts = part_topology()
    for b, ident in enumerate(identities):
        v, j, t = v_shaped[b], joints_rest[b], transforms[b]
        hidden = t[spine3, :3, 3]  # inside the chest: a collapsed part covers no pixel
        pieces = []
        bag = _bag(bags[b], v, j)
        pieces.append(_transform(t[bag[1]], bag[0]) if bag else hidden.expand(counts[0], 3))
        skirt = _skirt(ident, v, j)
        pieces.append(_transform(t[pelvis], skirt) if skirt is not None else hidden.expand(counts[1], 3))
        hair = _hair(ident, v, j)
        pieces.append(_transform(t[head], hair) if hair is not None else hidden.expand(counts[2], 3))
        if held[b]:
            rot = t[pelvis, :3, :3]
            centre = 0.5 * (joints_posed[b, lw] + joints_posed[b, rw]) + rot @ torch.tensor([0.0, -0.03, 0.1])
            span = float((joints_posed[b, lw] - joints_posed[b, rw]).norm())  # the box fills the hands
            corners = torch.as_tensor(BOX_CORNERS, dtype=torch.float32) * torch.tensor([max(0.2, span), 0.22, 0.26])
            pieces.append(corners @ rot.T + centre)
        else:
            pieces.append(hidden.expand(counts[3], 3))
        out.append(torch.cat(pieces))
    return torch.stack(out)
