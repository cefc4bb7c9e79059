"""The pieces of the photo fit (:mod:`core.render.photo_fit`): the fit's result (:class:`BodyFit`), the
keypoint pairing and projection, the candidate cameras, the pose prior and the PyTorch3D soft silhouette."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F
from pytorch3d.renderer import BlendParams, FoVPerspectiveCameras, SoftSilhouetteShader, look_at_view_transform
from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
from pytorch3d.renderer.mesh.rasterizer import Fragments
from pytorch3d.structures import Meshes

from core.body.poses import stand_pose
from core.body.skeleton import JOINT_NAMES, LANDMARK_NAMES, NUM_JOINTS, joint_index
from core.data.annotations import Annotation
from core.render.photo_detect import KEYPOINT_MAP, MP_LANDMARKS, NUM_MP_LANDMARKS

NEUTRAL_ARM_ANGLE = 75.0  # degrees below horizontal: the synthetic people's relaxed standing arms
# how strongly each joint stays near the standing pose: the spine, collars, hands and feet are
# barely seen by 33 landmarks, so they move little; hips, knees, shoulders and elbows are seen
PRIOR_STIFFNESS: dict[str, float] = {
    "left_hip": 0.5, "right_hip": 0.5, "spine1": 8.0, "left_knee": 0.5, "right_knee": 0.5, "spine2": 8.0,
    "left_ankle": 4.0, "right_ankle": 4.0, "spine3": 8.0, "left_foot": 40.0, "right_foot": 40.0, "neck": 6.0,
    "left_collar": 20.0, "right_collar": 20.0, "head": 4.0, "left_shoulder": 0.3, "right_shoulder": 0.3,
    "left_elbow": 0.5, "right_elbow": 0.5, "left_wrist": 8.0, "right_wrist": 8.0, "left_hand": 40.0,
    "right_hand": 40.0,
}  # fmt: skip
HINGE_TWIST = 20.0  # knees bend about x and elbows about y only; other axes cost this much more


@dataclass(frozen=True, kw_only=True)
class BodyFit(Annotation):
    """A body and camera fitted to a photo: an :class:`core.data.annotations.Annotation` (float32 arrays
    betas (10,), body_pose (69,), global_orient (3,), transl (3,) = 0, PyTorch3D camera R (3, 3) and T (3,)
    world -> view with row vectors, fov in degrees over the shorter image side, image_size (H, W); a
    photo's pixels are square, so aspect_ratio 1), plus how well it fits.

    keypoint_error: mean pixel distance between the seen keypoints and the fitted body's.
    mask_iou: IoU of the fitted body's silhouette and the person mask (> 0.5).
    mask_coverage: share of the person mask the body covers (low: loose clothes, bags).
    warnings: plain-English notes on what is guessed or missing.
    keypoints (33, 2), visibility (33,): the detection fitted; projected (33, 2): where the fitted
    body puts the mapped keypoints (NaN for unmapped ones).
    """

    keypoint_error: float
    mask_iou: float
    mask_coverage: float
    warnings: tuple[str, ...]
    keypoints: np.ndarray
    visibility: np.ndarray
    projected: np.ndarray
    seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)

    def annotation(self) -> Annotation:
        """The fit as a plain :class:`core.data.annotations.Annotation` (the body and camera alone)."""
        return Annotation(**{f.name: getattr(self, f.name) for f in fields(Annotation)})

    def cameras(self, device: str | torch.device = "cpu"):
        """The fitted PyTorch3D camera (FoVPerspectiveCameras, batch 1), as core.render makes them."""
        return FoVPerspectiveCameras(
            R=torch.from_numpy(self.R)[None], T=torch.from_numpy(self.T)[None], fov=float(self.fov),
            znear=0.05, zfar=50.0, device=device,
        )  # fmt: skip

    def body_params(self) -> dict[str, torch.Tensor]:
        """Keyword arguments for :class:`core.body.BodyModel` (each (1, D))."""
        return {k: torch.from_numpy(getattr(self, k))[None] for k in ("betas", "body_pose", "global_orient", "transl")}


def keypoint_pairs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MediaPipe ids (K,), ids into our joints ++ landmarks (K,), pairing weights (K,)."""
    mp_ids, body_ids, weights = [], [], []
    for mp_name, kind, name, weight in KEYPOINT_MAP:
        mp_ids.append(MP_LANDMARKS.index(mp_name))
        body_ids.append(joint_index(name) if kind == "j" else NUM_JOINTS + LANDMARK_NAMES.index(name))
        weights.append(weight)
    return torch.tensor(mp_ids), torch.tensor(body_ids), torch.tensor(weights)


def body_keypoints(joints: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
    """The body's points that pair with MediaPipe landmarks: (B, 33, 3), NaN for unpaired ones.

    joints (B, 24, 3) and landmarks (B, 21, 3) as :class:`core.body.BodyOutput` holds them."""
    mp_ids, body_ids, _ = keypoint_pairs()
    points = torch.cat([joints, landmarks], dim=1)
    out = torch.full((points.shape[0], NUM_MP_LANDMARKS, 3), float("nan"), dtype=points.dtype)
    out[:, mp_ids] = points[:, body_ids]
    return out


def neutral_pose() -> torch.Tensor:
    """(1, 69) the pose prior's centre: standing, arms relaxed at the sides."""
    return stand_pose(NEUTRAL_ARM_ANGLE)


def project(points: torch.Tensor, R: torch.Tensor, T: torch.Tensor, fov: float, image_size) -> torch.Tensor:
    """World points (B, N, 3) -> pixel (x, y) (B, N, 2) through PyTorch3D FoV cameras R (B, 3, 3),
    T (B, 3) with fov over the shorter side; pixel centres at +0.5 as ``transform_points_screen``."""
    ndc = to_ndc(points, R, T, fov)
    return ndc_to_pixels(ndc[..., :2], image_size)


def to_ndc(points: torch.Tensor, R: torch.Tensor, T: torch.Tensor, fov: float) -> torch.Tensor:
    """(B, N, 3) world -> PyTorch3D NDC x, y (x left, y up; shorter side in [-1, 1]) and view depth z."""
    view = points @ R + T[:, None]
    depth = view[..., 2:3].clamp_min(1e-3)
    return torch.cat([view[..., :2] / (depth * math.tan(math.radians(fov) / 2)), view[..., 2:3]], dim=-1)


def ndc_to_pixels(xy: torch.Tensor, image_size) -> torch.Tensor:
    h, w = image_size
    half = min(h, w) / 2
    return torch.stack([w / 2 - half * xy[..., 0], h / 2 - half * xy[..., 1]], dim=-1)


class FitCamera(torch.nn.Module):
    """B candidate cameras around the body at the origin: azimuth and elevation (radians) of the
    viewing direction, as :func:`core.render.make_cameras`, plus a view-space shift (x, y) and a
    log distance, T = (x, y, distance). Looking at the body's origin off-centre is a shift."""

    def __init__(self, azimuth: torch.Tensor, elevation: torch.Tensor, distance: torch.Tensor) -> None:
        super().__init__()
        self.azimuth = torch.nn.Parameter(azimuth.clone().float())
        self.elevation = torch.nn.Parameter(elevation.clone().float())
        self.log_distance = torch.nn.Parameter(distance.clone().float().log())
        self.shift = torch.nn.Parameter(torch.zeros(len(azimuth), 2))

    def R(self) -> torch.Tensor:
        """(B, 3, 3) world -> view rotation (row vectors)."""
        rot, _ = look_at_view_transform(dist=1.0, elev=self.elevation, azim=self.azimuth, degrees=False)
        return rot

    def T(self) -> torch.Tensor:
        """(B, 3) world -> view translation."""
        return torch.cat([self.shift, self.log_distance.exp()[:, None]], dim=1)

    def select(self, index: int) -> FitCamera:
        cam = FitCamera(self.azimuth.data[index : index + 1], self.elevation.data[index : index + 1],
                      self.log_distance.data[index : index + 1].exp())  # fmt: skip
        cam.shift.data.copy_(self.shift.data[index : index + 1])
        return cam


def robust(residual: torch.Tensor, scale: float) -> torch.Tensor:
    """Geman-McClure on (..., 2) residuals: squared error for small ones, flat for outliers.

    Scaled so that it equals the squared error near zero (priors weigh against it simply)."""
    sq = residual.pow(2).sum(-1)
    return sq * scale**2 / (sq + scale**2)


def pose_prior(body_pose: torch.Tensor, neutral: torch.Tensor, stiffness: torch.Tensor) -> torch.Tensor:
    """(B,) weighted squared distance of (B, 69) poses from the standing pose, plus hinge limits."""
    diff = (body_pose - neutral).reshape(-1, NUM_JOINTS - 1, 3)
    prior = (stiffness * diff.pow(2)).sum((1, 2)) / (NUM_JOINTS - 1)
    pose = body_pose.reshape(-1, NUM_JOINTS - 1, 3)
    limits = []
    for side, sign in (("left", 1.0), ("right", -1.0)):
        knee = pose[:, joint_index(f"{side}_knee") - 1]
        elbow = pose[:, joint_index(f"{side}_elbow") - 1]
        # a knee bends the shin backwards (+x), an elbow the forearm forwards (-y left, +y right)
        limits += [F.relu(-knee[:, 0]) ** 2, F.relu(knee[:, 0] - 2.4) ** 2, F.relu(sign * elbow[:, 1]) ** 2,
                   F.relu(-sign * elbow[:, 1] - 2.6) ** 2]  # fmt: skip
        limits += [HINGE_TWIST * knee[:, 1:].pow(2).sum(1), HINGE_TWIST * elbow[:, [0, 2]].pow(2).sum(1)]
    return prior + 10.0 * torch.stack(limits, 1).sum(1)


def prior_stiffness() -> torch.Tensor:
    """(23, 3) per-joint prior weights in body_pose order."""
    return torch.tensor([[PRIOR_STIFFNESS[n]] * 3 for n in JOINT_NAMES[1:]])


# --- soft silhouette ---------------------------------------------------------------------------


class SoftSilhouette:
    """PyTorch3D soft silhouette (SoftSilhouetteShader) of one topology at a small size.

    PyTorch3D's CPU rasteriser tests every face at every pixel and its CPU backward pass walks the
    fragments element by element, which alone would spend the whole time budget. So the fragments
    are found without gradients in bands of rows, each with only the faces that reach it (as
    :class:`core.render.BodyRenderer` does for hard renders), and the signed pixel-to-triangle
    distances the shader blends are recomputed differentiably in torch: the same values and
    gradients PyTorch3D would give, at a fraction of the cost.

    Args:
        faces: (F, 3) long; image_size: (h, w) of the fit; faces_per_pixel: K nearest faces blended.
        edge_px: how far, in pixels, the soft edge reaches past the boundary.
    """

    def __init__(self, faces: torch.Tensor, image_size: tuple[int, int], faces_per_pixel: int = 24,
                 edge_px: float = 0.4, band_rows: int = 8) -> None:  # fmt: skip
        self.faces = faces
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.k = faces_per_pixel
        self.band_rows = band_rows
        h, w = self.image_size
        m = min(h, w)
        # sigmoid(-d^2 / sigma) falls to 1% at edge_px pixels (2 / m NDC units each) past the edge
        self.sigma = (edge_px * 2 / m) ** 2 / math.log(99.0)
        self.blur = math.log(1.0 / 1e-4 - 1.0) * self.sigma  # squared NDC distance, as PyTorch3D's tutorial
        self.shader = SoftSilhouetteShader(blend_params=BlendParams(sigma=self.sigma, gamma=1e-4))
        cols = w / m - (2 * torch.arange(w) + 1) / m
        rows = h / m - (2 * torch.arange(h) + 1) / m
        self.centres = torch.stack(torch.meshgrid(rows, cols, indexing="ij")[::-1], dim=-1)  # (h, w, 2) x, y

    def _fragments(self, verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """(h, w, K) index into ``faces`` of the K nearest faces at each pixel (-1: none); no grad."""
        h, w = self.image_size
        m = min(h, w)
        rows = (h / m - verts[:, 1]) * m / 2 - 0.5
        face_rows = rows[faces]
        lo, hi = face_rows.min(1).values, face_rows.max(1).values
        pad = math.sqrt(self.blur) * m / 2 + 0.5
        out = torch.full((h, w, self.k), -1, dtype=torch.long)
        for r0 in range(0, h, self.band_rows):
            r1 = min(h, r0 + self.band_rows)
            sel = torch.nonzero((hi >= r0 - 0.5 - pad) & (lo <= r1 - 0.5 + pad)).squeeze(1)
            if len(sel) == 0:
                continue
            hb = r1 - r0
            mb = min(hb, w)
            scale = m / mb
            band = verts * torch.tensor([scale, scale, 1.0])
            band[:, 1] += (hb - h + 2 * r0) / mb  # full-image row r0 + k -> band row k
            pix, _, _, _ = rasterize_meshes(
                Meshes(verts=[band], faces=[faces[sel]]), image_size=(hb, w), blur_radius=self.blur * scale**2,
                faces_per_pixel=self.k, bin_size=0, perspective_correct=False, clip_barycentric_coords=True,
            )  # fmt: skip
            pix = pix[0]
            out[r0:r1] = torch.where(pix >= 0, sel[pix.clamp_min(0)], -1)
        return out

    def __call__(self, verts_ndc: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """Soft silhouette (h, w) in [0, 1] of one mesh: verts_ndc (V, 3) NDC x, y and view depth,
        faces (F', 3) the faces to draw (e.g. the front-facing ones)."""
        with torch.no_grad():
            pix = self._fragments(verts_ndc.detach(), faces)
        hit = pix >= 0
        where = torch.nonzero(hit)  # (N, 3): row, col, k
        tri = verts_ndc[faces[pix[hit]], :2]  # (N, 3, 2)
        dist = _signed_sq_distance(self.centres[where[:, 0], where[:, 1]], tri)
        dists = torch.full(pix.shape, -1.0).index_put((where[:, 0], where[:, 1], where[:, 2]), dist)
        # the shader reads only pix_to_face and dists; zbuf and bary_coords just need their shapes
        frags = Fragments(pix_to_face=pix[None], zbuf=dists[None], dists=dists[None],
                          bary_coords=dists[None, ..., None].expand(-1, -1, -1, -1, 3))  # fmt: skip
        mesh = Meshes(verts=[verts_ndc], faces=[faces])
        return self.shader(frags, mesh)[0, ..., 3]


def _signed_sq_distance(points: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """(N,) squared 2D distance of points (N, 2) to triangles' edges (N, 3, 2), negative inside
    (PyTorch3D's ``dists`` convention)."""
    edge = tri.roll(-1, dims=1) - tri  # (N, 3, 2)
    rel = points[:, None] - tri
    t = ((rel * edge).sum(-1) / edge.pow(2).sum(-1).clamp_min(1e-12)).clamp(0.0, 1.0)
    sq = (rel - t[..., None] * edge).pow(2).sum(-1).min(1).values
    cross = edge[..., 0] * rel[..., 1] - edge[..., 1] * rel[..., 0]
    inside = (cross >= 0).all(1) | (cross <= 0).all(1)
    return torch.where(inside, -sq, sq)


def camera_centre(R: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """(B, 3) world position of cameras with view = world @ R + T."""
    return -(T[:, None] @ R.transpose(1, 2))[:, 0]
