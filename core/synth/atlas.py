"""TexelAtlas: for every texel of the body's UV map, where it sits on the rest-pose body.

Garments, hair and patterns are painted as functions of a texel's rest position (metres, SMPL
frame), not of its UV coordinates, so stripes and garment edges run continuously across UV seams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.body.skeleton import JOINT_NAMES, LANDMARK_NAMES


@dataclass
class TexelAtlas:
    """Per-texel body facts at texture size S.

    position: (S, S, 3) rest-pose (T-pose, mean shape) position of the texel, metres.
    joint: (S, S) int, SMPL joint that most influences the texel (-1 off the body).
    valid: (S, S) bool, the texel is used by some face.
    landmarks: name -> (3,) rest position (nose, eyes, ears, ...).
    joints: (24, 3) rest joint positions.
    """

    position: np.ndarray
    joint: np.ndarray
    valid: np.ndarray
    landmarks: dict[str, np.ndarray]
    joints: np.ndarray

    @property
    def size(self) -> int:
        return self.position.shape[0]

    def joint_mask(self, *names: str) -> np.ndarray:
        """(S, S) bool: texels dominated by any of the named joints."""
        ids = [JOINT_NAMES.index(n) for n in names]
        return np.isin(self.joint, ids)


def _rasterise_uv(uv_tri: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Face index (S, S) (-1 = none) and barycentric coords (S, S, 3) of each texel centre.

    uv_tri: (F, 3, 2) UV triangles in [0, 1]; row 0 of the map is v = 1 (the image top).
    """
    face = -np.ones((size, size), dtype=np.int64)
    bary = np.zeros((size, size, 3))
    px = uv_tri[..., 0] * size - 0.5  # texel-centre coordinates
    py = (1.0 - uv_tri[..., 1]) * size - 0.5
    for f in range(len(uv_tri)):
        x, y = px[f], py[f]
        x0, x1 = max(int(np.floor(x.min())), 0), min(int(np.ceil(x.max())), size - 1)
        y0, y1 = max(int(np.floor(y.min())), 0), min(int(np.ceil(y.max())), size - 1)
        if x1 < x0 or y1 < y0:
            continue
        gx, gy = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        d = (y[1] - y[2]) * (x[0] - x[2]) + (x[2] - x[1]) * (y[0] - y[2])
        if abs(d) < 1e-12:
            continue
        a = ((y[1] - y[2]) * (gx - x[2]) + (x[2] - x[1]) * (gy - y[2])) / d
        b = ((y[2] - y[0]) * (gx - x[2]) + (x[0] - x[2]) * (gy - y[2])) / d
        c = 1.0 - a - b
        inside = (a >= -1e-3) & (b >= -1e-3) & (c >= -1e-3)
        face[gy[inside], gx[inside]] = f
        bary[gy[inside], gx[inside]] = np.stack([a[inside], b[inside], c[inside]], -1)
    return face, bary


def _dilate(face: np.ndarray, bary: np.ndarray, steps: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Grow the covered texels a little so bilinear sampling at face edges finds body colours."""
    for _ in range(steps):
        empty = face < 0
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            shifted_f = np.roll(face, (dy, dx), axis=(0, 1))
            shifted_b = np.roll(bary, (dy, dx), axis=(0, 1))
            take = empty & (shifted_f >= 0)
            face[take], bary[take] = shifted_f[take], shifted_b[take]
            empty = face < 0
    return face, bary


def build_atlas(body, size: int = 256) -> TexelAtlas:
    """Rasterise the body's UV layout at ``size`` x ``size`` and look up each texel's rest facts."""
    with torch.no_grad():
        rest = body()
    verts = rest.vertices[0].numpy()
    uv_tri = body.verts_uvs.numpy()[body.faces_uvs.numpy()]
    face, bary = _rasterise_uv(uv_tri, size)
    valid = face >= 0
    face, bary = _dilate(face, bary)
    tri = verts[body.faces.numpy()]  # (F, 3, 3)
    position = np.einsum("hwk,hwkc->hwc", bary, tri[np.maximum(face, 0)])
    weights = body.smpl.lbs_weights.numpy()[body.faces.numpy()]  # (F, 3, 24)
    texel_w = np.einsum("hwk,hwkj->hwj", bary, weights[np.maximum(face, 0)])
    joint = np.where(face >= 0, texel_w.argmax(-1), -1)
    landmarks = dict(zip(LANDMARK_NAMES, rest.landmarks[0].numpy(), strict=True))
    return TexelAtlas(position=position, joint=joint, valid=valid, landmarks=landmarks, joints=rest.joints[0].numpy())
