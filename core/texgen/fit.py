"""Fit our SMPL-compatible body to the person in a real photo (re-ID supervised texture generation).

A synthetic image comes with its body and camera (:class:`core.data.annotations.Annotation`); a photo
does not, so this module estimates them:

1. :func:`detect_person` -- 33 pose landmarks and a person mask from MediaPipe Pose (the optional
   ``photo`` extra: ``pip install -e '.[photo]'``). Its models ship inside the wheel; only the
   "full" landmark model (``model_complexity=1``) does, so that is the one used and nothing is
   downloaded.
2. :func:`fit_body` / :func:`fit_from_keypoints` -- betas, body pose, global orientation and a
   PyTorch3D camera, optimised in three stages: the camera on the torso keypoints (several starting
   azimuths at once, the best kept), then pose and shape on all keypoints, then a PyTorch3D soft
   silhouette against the mask. Priors keep the shape near the mean and the pose near a relaxed
   standing pose, and knees and elbows bend only their own way.
3. :func:`overlay_fit` -- the photo with the fitted body over it, so the user sees what the texture
   was lifted onto.

The fit has exactly the fields of an Annotation (the body at the origin, the camera around it), so a
photo can go wherever a synthetic image's annotation goes.

What fails, said plainly (and reported in :attr:`BodyFit.warnings`): loose clothes, coats, skirts,
bags and hair are outside the naked body, so the silhouette either misses them (they get no texture)
or fattens the body; occluded or cropped limbs are guessed from the standing prior; side views leave
which leg is in front uncertain; a person seen from the back relies on MediaPipe's left/right labels,
which it sometimes swaps; and only one person per photo is fitted.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.body.skeleton import LANDMARK_NAMES, NUM_BETAS, NUM_JOINTS, PARENTS, joint_index

# MediaPipe Pose's 33 landmarks, in its order ("left" = the person's left, as in SMPL)
MP_LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
NUM_MP_LANDMARKS = len(MP_LANDMARKS)  # 33

# MediaPipe landmark -> our body's joint ("j") or landmark ("l"), and how much to trust the pairing.
# SMPL's hip joints sit higher and further inside than MediaPipe's hip landmarks (which follow the
# skin), and hand landmarks are tiny and noisy, so both count less.
KEYPOINT_MAP: tuple[tuple[str, str, str, float], ...] = (
    ("nose", "l", "nose", 0.5), ("left_eye", "l", "leye", 0.3), ("right_eye", "l", "reye", 0.3),
    ("left_ear", "l", "lear", 0.5), ("right_ear", "l", "rear", 0.5),
    ("left_shoulder", "j", "left_shoulder", 1.0), ("right_shoulder", "j", "right_shoulder", 1.0),
    ("left_elbow", "j", "left_elbow", 1.0), ("right_elbow", "j", "right_elbow", 1.0),
    ("left_wrist", "j", "left_wrist", 1.0), ("right_wrist", "j", "right_wrist", 1.0),
    ("left_pinky", "l", "lpinky", 0.2), ("right_pinky", "l", "rpinky", 0.2),
    ("left_index", "l", "lindex", 0.2), ("right_index", "l", "rindex", 0.2),
    ("left_thumb", "l", "lthumb", 0.2), ("right_thumb", "l", "rthumb", 0.2),
    ("left_hip", "j", "left_hip", 0.4), ("right_hip", "j", "right_hip", 0.4),
    ("left_knee", "j", "left_knee", 1.0), ("right_knee", "j", "right_knee", 1.0),
    ("left_ankle", "j", "left_ankle", 1.0), ("right_ankle", "j", "right_ankle", 1.0),
    ("left_heel", "l", "LHeel", 0.6), ("right_heel", "l", "RHeel", 0.6),
    ("left_foot_index", "l", "LBigToe", 0.6), ("right_foot_index", "l", "RBigToe", 0.6),
)  # fmt: skip
TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
HEAD = ("nose", "left_ear", "right_ear")
LEGS = ("left_knee", "right_knee", "left_ankle", "right_ankle")
VISIBLE = 0.5  # MediaPipe visibility above which a landmark counts as seen

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


class PhotoFitError(ValueError):
    """A photo that cannot be fitted, or a missing extra; the message says what to do."""


class PhotoExtraMissing(PhotoFitError, ImportError):
    """MediaPipe (the 'photo' extra) is not installed; also an ImportError, so callers that fall
    back when an optional dependency is missing catch it as one."""


# --- detection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonDetection:
    """One person in a photo: keypoints (33, 2) pixel (x, y) in MediaPipe order (pixel centres at
    +0.5, as PyTorch3D's screen space), visibility (33,) in [0, 1], mask (H, W) float in [0, 1]."""

    keypoints: np.ndarray
    visibility: np.ndarray
    mask: np.ndarray

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.mask.shape[0]), int(self.mask.shape[1])


def _import_mediapipe():
    try:
        import mediapipe
    except ImportError as err:
        raise PhotoExtraMissing("real photos need the 'photo' extra: pip install -e '.[photo]'") from err
    return mediapipe


SMALL_CROP_PX = 256  # crops shorter than this are also tried enlarged (MediaPipe misses small people)


def _enlarge(image: np.ndarray, scale: int, margin: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (scale H + 2 margin, scale W + 2 margin, 3): bicubic upscale, edge-padded margin."""
    if scale == 1 and margin == 0:
        return image
    h, w = image.shape[:2]
    big = np.asarray(Image.fromarray(image).resize((w * scale, h * scale), Image.Resampling.BICUBIC))
    return np.pad(big, ((margin, margin), (margin, margin), (0, 0)), mode="edge") if margin else big


def _check_image(image) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an RGB or RGBA uint8 array, else PhotoFitError."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise PhotoFitError(f"the photo must be an RGB image (H x W x 3, uint8); got shape {shape}, type {dtype}")
    if min(image.shape[:2]) < 32:
        raise PhotoFitError(
            f"the photo is too small ({image.shape[0]}x{image.shape[1]} px); use at least 32 pixels on each side"
        )
    return np.ascontiguousarray(image[..., :3])


class PoseDetector:
    """MediaPipe Pose with segmentation, created on first use and kept for the next photos.

    Args:
        min_confidence: MediaPipe's minimum person-detection confidence.
    """

    def __init__(self, min_confidence: float = 0.5) -> None:
        self.min_confidence = float(min_confidence)
        self._pose = None

    def _model(self):
        if self._pose is None:
            mp = _import_mediapipe()
            # complexity 1 ("full") is the landmark model inside the wheel; 0 and 2 would be downloaded
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=True, model_complexity=1, enable_segmentation=True,
                min_detection_confidence=self.min_confidence,
            )  # fmt: skip
        return self._pose

    def __call__(self, image: np.ndarray) -> PersonDetection:
        """Detect the person in an (H, W, 3) uint8 RGB photo; PhotoFitError if there is none.

        MediaPipe misses most people in small, tight crops (a 128x64 re-ID crop: 2 of 8 found); a crop
        under :data:`SMALL_CROP_PX` rows is also tried upscaled x4 with a quarter of its height as margin,
        then upscaled alone (5 of 8 found), and the result mapped back to the crop's pixels.
        """
        image = _check_image(image)
        h, w = image.shape[:2]
        tries = [(1, 0)]
        if h < SMALL_CROP_PX:
            tries += [(4, round(h)), (4, 0)]  # (scale, margin in upscaled pixels: a quarter of the new height)
        for scale, margin in tries:
            found = self._detect(_enlarge(image, scale, margin))
            if found is not None:
                keypoints, visibility, mask = found
                keypoints = (keypoints - margin) / scale
                if scale != 1 or margin:
                    mask = mask[margin : mask.shape[0] - margin, margin : mask.shape[1] - margin]
                    mask = np.asarray(Image.fromarray(mask).resize((w, h), Image.Resampling.BILINEAR))
                break
        else:
            small = (f" The photo is {h}x{w} px; it was also tried enlarged x4 with a margin." if h < SMALL_CROP_PX
                     else "")  # fmt: skip
            raise PhotoFitError(
                "no person found in the photo: use a picture of one person, whole and upright, with some "
                f"background around them (best 256 px tall or more).{small}"
            )
        if float((mask > 0.5).mean()) < 0.01:
            raise PhotoFitError(
                "a person was found but hardly any of them could be separated from the background; "
                "try a photo where the person is larger and stands out from the background"
            )
        return PersonDetection(keypoints=keypoints.astype(np.float32), visibility=visibility, mask=mask)

    def _detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(keypoints (33, 2) px, visibility (33,), mask (H, W) float32 [0, 1]) or None when no person."""
        h, w = image.shape[:2]
        with warnings.catch_warnings():  # MediaPipe's protobuf use warns on every call
            warnings.simplefilter("ignore", UserWarning)
            result = self._model().process(image)
        if result.pose_landmarks is None:
            return None
        marks = result.pose_landmarks.landmark
        keypoints = np.array([[m.x * w, m.y * h] for m in marks], dtype=np.float32)
        visibility = np.array([m.visibility for m in marks], dtype=np.float32).clip(0.0, 1.0)
        if result.segmentation_mask is None:
            mask = np.zeros((h, w), np.float32)
        else:
            mask = np.asarray(result.segmentation_mask, dtype=np.float32).clip(0.0, 1.0)
        return keypoints, visibility, mask

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def detect_person(image: np.ndarray, detector: PoseDetector | None = None) -> PersonDetection:
    """Keypoints and mask of the person in an (H, W, 3) uint8 RGB photo (MediaPipe Pose).

    Pass a :class:`PoseDetector` to reuse it across photos; without one a detector is made and
    closed for this photo. Raises PhotoFitError when MediaPipe is missing or no person is found.
    """
    if detector is not None:
        return detector(image)
    with PoseDetector() as own:
        return own(image)


# --- the fit -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyFit:
    """A body and camera fitted to a photo: the fields of :class:`core.data.annotations.Annotation`
    (float32 arrays betas (10,), body_pose (69,), global_orient (3,), transl (3,) = 0, PyTorch3D
    camera R (3, 3) and T (3,) world -> view with row vectors, fov in degrees over the shorter image
    side, image_size (H, W)), plus how well it fits.

    keypoint_error: mean pixel distance between the seen keypoints and the fitted body's.
    mask_iou: IoU of the fitted body's silhouette and the person mask (> 0.5).
    mask_coverage: share of the person mask the body covers (low: loose clothes, bags).
    warnings: plain-English notes on what is guessed or missing.
    keypoints (33, 2), visibility (33,): the detection fitted; projected (33, 2): where the fitted
    body puts the mapped keypoints (NaN for unmapped ones).
    """

    betas: np.ndarray
    body_pose: np.ndarray
    global_orient: np.ndarray
    transl: np.ndarray
    R: np.ndarray
    T: np.ndarray
    fov: float
    image_size: tuple[int, int]
    keypoint_error: float
    mask_iou: float
    mask_coverage: float
    warnings: tuple[str, ...]
    keypoints: np.ndarray
    visibility: np.ndarray
    projected: np.ndarray
    aspect_ratio: float = 1.0  # PyTorch3D's pixel aspect: a photo's pixels are square
    seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)

    def annotation(self):
        """The fit as an :class:`core.data.annotations.Annotation` (box zoom 1, no shift)."""
        from core.data.annotations import Annotation

        return Annotation(
            betas=self.betas, body_pose=self.body_pose, global_orient=self.global_orient, transl=self.transl,
            R=self.R, T=self.T, fov=float(self.fov), image_size=self.image_size, aspect_ratio=self.aspect_ratio,
        )  # fmt: skip

    def cameras(self, device: str | torch.device = "cpu"):
        """The fitted PyTorch3D camera (FoVPerspectiveCameras, batch 1), as core.render makes them."""
        from pytorch3d.renderer import FoVPerspectiveCameras

        return FoVPerspectiveCameras(
            R=torch.from_numpy(self.R)[None], T=torch.from_numpy(self.T)[None], fov=float(self.fov),
            znear=0.05, zfar=50.0, device=device,
        )  # fmt: skip

    def body_params(self) -> dict[str, torch.Tensor]:
        """Keyword arguments for :class:`core.body.BodyModel` (each (1, D))."""
        return {k: torch.from_numpy(getattr(self, k))[None] for k in ("betas", "body_pose", "global_orient", "transl")}


def _map_indices() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
    mp_ids, body_ids, _ = _map_indices()
    points = torch.cat([joints, landmarks], dim=1)
    out = torch.full((points.shape[0], NUM_MP_LANDMARKS, 3), float("nan"), dtype=points.dtype)
    out[:, mp_ids] = points[:, body_ids]
    return out


def neutral_pose() -> torch.Tensor:
    """(1, 69) the pose prior's centre: standing, arms relaxed at the sides."""
    from core.body.poses import stand_pose

    return stand_pose(NEUTRAL_ARM_ANGLE)


def project(points: torch.Tensor, R: torch.Tensor, T: torch.Tensor, fov: float, image_size) -> torch.Tensor:
    """World points (B, N, 3) -> pixel (x, y) (B, N, 2) through PyTorch3D FoV cameras R (B, 3, 3),
    T (B, 3) with fov over the shorter side; pixel centres at +0.5 as ``transform_points_screen``."""
    ndc = _to_ndc(points, R, T, fov)
    return _ndc_to_pixels(ndc[..., :2], image_size)


def _to_ndc(points: torch.Tensor, R: torch.Tensor, T: torch.Tensor, fov: float) -> torch.Tensor:
    """(B, N, 3) world -> PyTorch3D NDC x, y (x left, y up; shorter side in [-1, 1]) and view depth z."""
    view = points @ R + T[:, None]
    depth = view[..., 2:3].clamp_min(1e-3)
    return torch.cat([view[..., :2] / (depth * math.tan(math.radians(fov) / 2)), view[..., 2:3]], dim=-1)


def _ndc_to_pixels(xy: torch.Tensor, image_size) -> torch.Tensor:
    h, w = image_size
    half = min(h, w) / 2
    return torch.stack([w / 2 - half * xy[..., 0], h / 2 - half * xy[..., 1]], dim=-1)


class _Camera(torch.nn.Module):
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
        from pytorch3d.renderer import look_at_view_transform

        rot, _ = look_at_view_transform(dist=1.0, elev=self.elevation, azim=self.azimuth, degrees=False)
        return rot

    def T(self) -> torch.Tensor:
        """(B, 3) world -> view translation."""
        return torch.cat([self.shift, self.log_distance.exp()[:, None]], dim=1)

    def select(self, index: int) -> _Camera:
        cam = _Camera(self.azimuth.data[index : index + 1], self.elevation.data[index : index + 1],
                      self.log_distance.data[index : index + 1].exp())  # fmt: skip
        cam.shift.data.copy_(self.shift.data[index : index + 1])
        return cam


def _robust(residual: torch.Tensor, scale: float) -> torch.Tensor:
    """Geman-McClure on (..., 2) residuals: squared error for small ones, flat for outliers.

    Scaled so that it equals the squared error near zero (priors weigh against it simply)."""
    sq = residual.pow(2).sum(-1)
    return sq * scale**2 / (sq + scale**2)


def _pose_prior(body_pose: torch.Tensor, neutral: torch.Tensor, stiffness: torch.Tensor) -> torch.Tensor:
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


def _stiffness() -> torch.Tensor:
    """(23, 3) per-joint prior weights in body_pose order."""
    from core.body.skeleton import JOINT_NAMES

    return torch.tensor([[PRIOR_STIFFNESS[n]] * 3 for n in JOINT_NAMES[1:]])


# --- soft silhouette ---------------------------------------------------------------------------


class _SoftSilhouette:
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
        from pytorch3d.renderer import BlendParams, SoftSilhouetteShader

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
        from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
        from pytorch3d.structures import Meshes

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
        from pytorch3d.renderer.mesh.rasterizer import Fragments
        from pytorch3d.structures import Meshes

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


def _camera_centre(R: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """(B, 3) world position of cameras with view = world @ R + T."""
    return -(T[:, None] @ R.transpose(1, 2))[:, 0]


# --- the optimisation --------------------------------------------------------------------------


@dataclass(frozen=True)
class FitWeights:
    """Loss weights of :func:`fit_from_keypoints` (keypoint residuals in image heights)."""

    robust_scale: float = 0.1  # residual (in image heights) beyond which a keypoint stops pulling
    betas: float = 2e-4
    pose: float = 2e-3
    global_orient: float = 2e-3
    elevation: float = 1e-3
    silhouette: float = 0.05


def _check_inputs(keypoints, visibility, mask, image_size) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    kp = torch.as_tensor(np.asarray(keypoints, dtype=np.float32))
    vis = torch.as_tensor(np.asarray(visibility, dtype=np.float32))
    if kp.shape != (NUM_MP_LANDMARKS, 2) or vis.shape != (NUM_MP_LANDMARKS,):
        raise ValueError(
            f"keypoints must be ({NUM_MP_LANDMARKS}, 2) and visibility ({NUM_MP_LANDMARKS},) in MediaPipe "
            f"order; got {tuple(kp.shape)} and {tuple(vis.shape)}"
        )
    target = torch.as_tensor(np.asarray(mask, dtype=np.float32))
    if target.shape != tuple(image_size):
        raise ValueError(f"the mask is {tuple(target.shape)} but image_size is {tuple(image_size)}")
    vis = torch.where(torch.isfinite(kp).all(1), vis.clamp(0.0, 1.0), torch.zeros(()))
    return torch.nan_to_num(kp), vis, target.clamp(0.0, 1.0)


def _initial_cameras(body_out, kp: torch.Tensor, weight: torch.Tensor, image_size, fov: float,
                     azimuths: torch.Tensor) -> _Camera:  # fmt: skip
    """One camera per starting azimuth (radians), at the distance that gives the torso its size in
    pixels, shifted so the torso centre lands on the detected one. Without a whole torso (a
    portrait, a cropped photo) the spread of the seen keypoints stands in for its size."""
    h, w = image_size
    focal = (min(h, w) / 2) / math.tan(math.radians(fov) / 2)  # pixels per unit of x / z
    points = body_keypoints(body_out.joints, body_out.landmarks)[0]
    torso = [MP_LANDMARKS.index(n) for n in TORSO]
    if bool((weight[torso] > 0).all()):
        top2d, bottom2d = kp[torso[:2]].mean(0), kp[torso[2:]].mean(0)
        top3d, bottom3d = points[torso[:2]].mean(0), points[torso[2:]].mean(0)
        size2d, size3d = float((top2d - bottom2d).norm()), float((top3d - bottom3d).norm())
        centre2d, centre3d = (top2d + bottom2d) / 2, (top3d + bottom3d) / 2
    else:
        seen = weight > 0
        flat2d, flat3d = kp[seen], points[seen]  # the rest body faces the camera: compare x, y
        centre2d, centre3d = flat2d.mean(0), flat3d.mean(0)
        size2d = float((flat2d - centre2d).norm(dim=1).mean())
        size3d = float((flat3d[:, :2] - centre3d[:2]).norm(dim=1).mean())
    distance = focal * size3d / max(size2d, 4.0)
    n = len(azimuths)
    cam = _Camera(azimuths, torch.full((n,), math.radians(5.0)), torch.full((n,), distance))
    with torch.no_grad():
        view = centre3d @ cam.R()  # (B, 3)
        depth = view[:, 2] + distance
        target = torch.stack([(w / 2 - centre2d[0]), (h / 2 - centre2d[1])]) / focal  # x / z, y / z wanted
        cam.shift.copy_(target[None] * depth[:, None] - view[:, :2])
    return cam


def fit_from_keypoints(
    keypoints: np.ndarray,
    visibility: np.ndarray,
    mask: np.ndarray,
    image_size: tuple[int, int],
    steps: int = 160,
    body=None,
    fov: float = 10.0,
    fit_height: int = 128,
    weights: FitWeights | None = None,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    threads: int | None = 1,
) -> BodyFit:
    """Fit betas, body pose, global orientation and camera to 2D keypoints and a person mask.

    Args:
        keypoints: (33, 2) pixel (x, y) in MediaPipe Pose order; visibility: (33,) in [0, 1] (0 for
            missing ones); mask: (H, W) in [0, 1]; image_size: (H, W).
        steps: optimisation steps in all: 3/8 camera on the torso, 3/8 pose and shape on all
            keypoints, 1/4 with the soft silhouette as well (the costly ones on a CPU).
        body: a :class:`core.body.BodyModel` (default: the shipped one; pass one to save its loading).
        fov: the camera's field of view in degrees over the shorter side (a photo does not say; it
            trades against distance and barely matters for a person crop).
        fit_height: the silhouette is compared at this many rows (CPU cost ~ pixels x faces).
        progress: called as progress(step, steps, {"loss": ...}).
        threads: torch threads during the fit (restored after; None keeps the current setting).
            The fit is thousands of tiny operations on a 3,002-vertex body: one thread is as fast
            on an idle CPU and many times faster on a busy one (measured: 5 s against 26 s beside
            two trainings on 2 cores), where threads wait on each other.
    Returns:
        :class:`BodyFit`. Deterministic: no random numbers are drawn.
    """
    from core.body import BodyModel

    start = time.perf_counter()
    image_size = (int(image_size[0]), int(image_size[1]))
    kp, vis, target = _check_inputs(keypoints, visibility, mask, image_size)
    mp_ids, _, pair_w = _map_indices()
    weight = torch.zeros(NUM_MP_LANDMARKS)
    weight[mp_ids] = pair_w * torch.where(vis[mp_ids] >= 0.3, vis[mp_ids], torch.zeros(()))
    if int((weight > 0).sum()) < 4:
        raise PhotoFitError("too few body keypoints are visible to fit a body (need at least four)")
    body = body if body is not None else BodyModel()
    steps = max(int(steps), 8)
    plan = (steps * 3 // 8, steps * 3 // 8)
    problem = _Problem(kp, vis, weight, target, image_size, fov, weights or FitWeights(), steps, progress)
    with _torch_threads(threads):
        cam = problem.fit_camera(body, plan[0])
        params, losses = problem.fit_body(body, cam, plan[1], steps - sum(plan), fit_height)
        with torch.no_grad():
            out = body(**params)
            R, T = cam.R(), cam.T()
            projected = project(body_keypoints(out.joints, out.landmarks), R, T, fov, image_size)[0]
            fitted_mask = _hard_mask(body, out.vertices, R, T, fov, image_size)
    return _finish(
        params, R, T, fov, image_size, kp, vis, weight, projected, target, fitted_mask,
        time.perf_counter() - start, losses,
    )  # fmt: skip


class _Problem:
    """The targets of one fit and its stages. kp (33, 2) pixels, vis (33,), weight (33,) per
    keypoint (pairing x visibility), target (H, W) person mask."""

    def __init__(self, kp, vis, weight, target, image_size, fov, weights: FitWeights, steps: int, progress) -> None:
        self.kp, self.vis, self.weight, self.target = kp, vis, weight, target
        self.image_size, self.fov, self.w, self.steps, self.progress = image_size, fov, weights, steps, progress
        self.done = 0
        self.neutral = neutral_pose()
        self.stiffness = _stiffness()

    def report(self, loss: torch.Tensor) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.steps, {"loss": float(loss.detach().min())})

    def keypoint_loss(self, points: torch.Tensor, cam: _Camera, weight: torch.Tensor) -> torch.Tensor:
        """(B,) weighted robust reprojection error of body points (B, 33, 3), in image heights."""
        pix = project(points, cam.R(), cam.T(), self.fov, self.image_size)
        rho = _robust((pix - self.kp) / self.image_size[0], self.w.robust_scale)
        return (rho * weight).sum(-1) / weight.sum().clamp_min(1e-6)

    def fit_camera(self, body, steps: int) -> _Camera:
        """Stage 1: the camera on the torso (and the head, whose direction tells front from back)
        from eight azimuths at once, the best kept; the standing body and mean shape stay fixed."""
        with torch.no_grad():
            rest = body(body_pose=self.neutral)
        azimuths = torch.arange(8) * (2 * math.pi / 8)
        cam = _initial_cameras(rest, self.kp, self.weight, self.image_size, self.fov, azimuths)
        weight = torch.zeros(NUM_MP_LANDMARKS)
        for name, share in [(n, 1.0) for n in TORSO] + [(n, 0.3) for n in HEAD]:
            i = MP_LANDMARKS.index(name)
            weight[i] = share * float(self.vis[i]) * float(self.vis[i] >= 0.3)
        if float(weight.sum()) <= 0:  # no torso or head: whatever is seen
            weight = self.weight
        points = torch.nan_to_num(body_keypoints(rest.joints, rest.landmarks)).expand(len(azimuths), -1, -1)

        def loss() -> torch.Tensor:
            return self.keypoint_loss(points, cam, weight) + self.w.elevation * cam.elevation.pow(2)

        opt = torch.optim.Adam(cam.parameters(), lr=0.03)
        sched = _decay(opt, steps)
        for _ in range(steps):
            opt.zero_grad()
            value = loss()
            value.sum().backward()
            opt.step()
            sched.step()
            self.report(value)
        with torch.no_grad():
            return cam.select(int(loss().argmin()))

    def fit_body(self, body, cam: _Camera, steps: int, silhouette_steps: int, fit_height: int):
        """Stages 2 and 3: pose, shape, orientation and camera on every keypoint, then the soft
        silhouette as well. Returns the body parameters (each (1, D)) and the last loss terms."""
        h, w = self.image_size
        params = {
            "betas": torch.zeros(1, NUM_BETAS, requires_grad=True),
            "body_pose": self.neutral.clone().requires_grad_(True),
            "global_orient": torch.zeros(1, 3, requires_grad=True),
        }
        fit_h = min(int(fit_height), h)
        fit_size = (fit_h, max(8, round(w * fit_h / h)))
        target = F.interpolate(self.target[None, None], size=fit_size, mode="area")[0, 0]
        silhouette = _SoftSilhouette(body.faces, fit_size)
        # one optimiser for both stages: a fresh Adam would first move every parameter by a full step
        # whatever its gradient, undoing the keypoint fit the silhouette is meant to refine
        opt = torch.optim.Adam(
            [
                {"params": list(cam.parameters()), "lr": 0.01},
                {"params": [params["global_orient"]], "lr": 0.02},
                {"params": [params["body_pose"]], "lr": 0.03},
                {"params": [params["betas"]], "lr": 0.05},
            ]
        )
        sched = _decay(opt, steps + silhouette_steps)
        terms: dict[str, torch.Tensor] = {}
        for step in range(steps + silhouette_steps):
            opt.zero_grad()
            terms = self.terms(body, cam, params)
            if step >= steps:
                terms["silhouette"] = self.w.silhouette * self.silhouette_loss(body, cam, params, silhouette, target)
            loss = sum(terms.values())
            loss.backward()
            opt.step()
            sched.step()
            self.report(loss)
        return {k: v.detach() for k, v in params.items()}, {k: float(v.detach()) for k, v in terms.items()}

    def terms(self, body, cam: _Camera, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Keypoint reprojection and the priors, each a scalar."""
        out = body(**params)
        points = torch.nan_to_num(body_keypoints(out.joints, out.landmarks))
        return {
            "keypoints": self.keypoint_loss(points, cam, self.weight)[0],
            "betas": self.w.betas * params["betas"].pow(2).sum(),
            "pose": self.w.pose * _pose_prior(params["body_pose"], self.neutral, self.stiffness)[0],
            "global_orient": self.w.global_orient * params["global_orient"].pow(2).sum(),
            "elevation": self.w.elevation * cam.elevation.pow(2).sum(),
        }

    def silhouette_loss(self, body, cam: _Camera, params, silhouette: _SoftSilhouette, target) -> torch.Tensor:
        """1 - soft IoU of the body's soft silhouette and the mask (h, w) at the fit size.

        The silhouette sets the build (betas); the keypoints set the limbs and the camera: its
        gradient (edge pixels only) is too sparse to steer 72 pose angles and only adds noise there."""
        shaped = body(
            betas=params["betas"],
            body_pose=params["body_pose"].detach(),
            global_orient=params["global_orient"].detach(),
        ).vertices
        R, T = cam.R().detach(), cam.T().detach()
        soft = silhouette(_to_ndc(shaped, R, T, self.fov)[0], _front_faces(shaped, body.faces, R, T))
        inter = (soft * target).sum()
        return 1.0 - inter / (soft + target - soft * target).sum().clamp_min(1e-6)


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` torch threads inside (None: leave as is); restore the old count on exit."""
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _decay(opt: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rates falling linearly to a tenth over a stage: Adam's steps shrink, so the last
    parameters are settled rather than jittering by one step size."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 - 0.9 * min(k, steps) / max(steps, 1))


def _front_faces(vertices: torch.Tensor, faces: torch.Tensor, R: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """(F', 3) faces of the first body that face the camera: a closed body's silhouette is the
    same without the others, and the rasteriser's cost halves."""
    from core.render.scene import front_facing

    with torch.no_grad():
        keep = front_facing(vertices[:1].detach(), faces, _camera_centre(R, T)[:1])[0]
    return faces[keep]


def _hard_mask(body, vertices: torch.Tensor, R: torch.Tensor, T: torch.Tensor, fov: float, image_size) -> torch.Tensor:
    """(H, W) binary silhouette of posed vertices (1, V, 3) at the photo's size."""
    from pytorch3d.renderer import FoVPerspectiveCameras

    from core.render import BodyRenderer

    cams = FoVPerspectiveCameras(R=R, T=T, fov=fov, znear=0.05, zfar=50.0)
    renderer = BodyRenderer(body.faces, body.verts_uvs, body.faces_uvs, image_size)
    return renderer.rasterize(vertices, cams).mask[0, 0]


def _finish(params: dict[str, torch.Tensor], R, T, fov, image_size, kp, vis, weight, projected, target, fitted_mask,
            seconds: float, losses: dict[str, float]) -> BodyFit:  # fmt: skip
    """Scores and plain-English warnings of a finished fit."""
    person = target > 0.5
    body_px = fitted_mask > 0.5
    inter = float((person & body_px).sum())
    union = float((person | body_px).sum())
    iou = inter / union if union else 0.0
    coverage = inter / float(person.sum()) if bool(person.any()) else 0.0
    inside = inter / float(body_px.sum()) if bool(body_px.any()) else 0.0
    seen = (weight > 0) & (vis >= VISIBLE)
    error = float((projected - kp)[seen].norm(dim=-1).mean()) if bool(seen.any()) else float("nan")
    notes = _warnings(kp, vis, target, coverage, inside, error, image_size)
    f32 = lambda t: t.detach().reshape(-1).numpy().astype(np.float32)  # noqa: E731
    return BodyFit(
        betas=f32(params["betas"]), body_pose=f32(params["body_pose"]), global_orient=f32(params["global_orient"]),
        transl=np.zeros(3, np.float32), R=R[0].detach().numpy().astype(np.float32), T=f32(T[0]), fov=float(fov),
        image_size=image_size, keypoint_error=error, mask_iou=iou, mask_coverage=coverage, warnings=notes,
        keypoints=kp.numpy().astype(np.float32), visibility=vis.numpy().astype(np.float32),
        projected=projected.numpy().astype(np.float32), seconds=seconds, losses=losses,
    )  # fmt: skip


def _warnings(kp, vis, mask, coverage: float, inside: float, error: float, image_size) -> tuple[str, ...]:
    """What the user should know about a fit, in plain words."""
    h, w = image_size
    seen = lambda names: [float(vis[MP_LANDMARKS.index(n)]) >= VISIBLE for n in names]  # noqa: E731
    notes = []
    if not all(seen(LEGS)):
        hidden = sum(1 for s in seen(LEGS) if not s)
        what = "the lower body is not visible" if hidden == len(LEGS) else "part of the legs is not visible"
        notes.append(f"{what} (occluded or cropped): the legs are guessed from a standing pose")
    for side in ("left", "right"):
        if not any(seen((f"{side}_elbow", f"{side}_wrist"))):
            notes.append(f"the {side} arm is hidden: its pose is guessed")
    if coverage < 0.8:
        notes.append(
            f"the fitted body covers only {coverage:.0%} of the person mask: loose clothes, a coat, a bag or "
            "long hair are not modelled, so that part of the photo is not lifted onto the texture"
        )
    if inside < 0.8:
        notes.append(
            f"{1 - inside:.0%} of the fitted body falls outside the person mask: the mask misses part of the "
            "person (occlusion, low contrast) or the pose is off there"
        )
    if math.isfinite(error) and error > 0.04 * h:
        notes.append(f"the keypoints fit poorly (mean error {error:.1f} px): the pose may be unusual or misdetected")
    person = mask > 0.5
    if bool(person[0].any()) or bool(person[-1].any()):
        notes.append("the person touches the top or bottom of the photo: cut-off parts are guessed")
    sh = [MP_LANDMARKS.index(n) for n in ("left_shoulder", "right_shoulder")]
    hp = [MP_LANDMARKS.index(n) for n in ("left_hip", "right_hip")]
    if all(seen(TORSO)):
        width = float((kp[sh[0]] - kp[sh[1]]).norm())
        length = float((kp[sh].mean(0) - kp[hp].mean(0)).norm())
        if width < 0.25 * length:
            notes.append("the person is seen from the side: which arm and leg are in front may be swapped")
    return tuple(notes)


def fit_body(
    detection: PersonDetection,
    image_size: tuple[int, int] | None = None,
    steps: int = 160,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    body=None,
    fov: float = 10.0,
) -> BodyFit:
    """Fit the body to a :class:`PersonDetection` (see :func:`fit_from_keypoints`).

    image_size: (H, W) of the photo; default the mask's size (they must agree)."""
    size = detection.image_size if image_size is None else (int(image_size[0]), int(image_size[1]))
    return fit_from_keypoints(
        detection.keypoints, detection.visibility, detection.mask, size, steps=steps, body=body, fov=fov,
        progress=progress,
    )  # fmt: skip


# --- showing the fit ---------------------------------------------------------------------------


def fitted_body(fit: BodyFit, body) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed vertices (1, V, 3) and joints (1, 24, 3) of a fit."""
    with torch.no_grad():
        out = body(**fit.body_params())
    return out.vertices, out.joints


def overlay_fit(
    image: np.ndarray,
    fit: BodyFit,
    body=None,
    color: tuple[int, int, int] = (40, 200, 255),
    alpha: float = 0.45,
) -> np.ndarray:
    """The photo with the fitted body over it: (H, W, 3) uint8.

    The body's silhouette is tinted in ``color`` with its outline drawn, its skeleton in white,
    detected keypoints as green dots and where the fitted body puts them as red dots, joined by a
    line when they disagree: what the texture was lifted onto, and where it was not.
    """
    from PIL import Image, ImageDraw

    from core.body import BodyModel

    image = _check_image(image)
    if tuple(image.shape[:2]) != tuple(fit.image_size):
        raise ValueError(f"the photo is {image.shape[:2]} but the fit was made for {fit.image_size}")
    body = body if body is not None else BodyModel()
    h, w = fit.image_size
    vertices, joints = fitted_body(fit, body)
    R, T = torch.from_numpy(fit.R)[None], torch.from_numpy(fit.T)[None]
    with torch.no_grad():
        sil = _hard_mask(body, vertices, R, T, fit.fov, fit.image_size).numpy() > 0.5
        joints2d = project(joints, R, T, fit.fov, fit.image_size)[0].numpy()
    out = image.astype(np.float32)
    out[sil] = (1 - alpha) * out[sil] + alpha * np.asarray(color, np.float32)
    edge = sil & ~_eroded(sil)
    out[edge] = np.asarray(color, np.float32)
    canvas = Image.fromarray(out.round().clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(min(h, w) / 96))
    for child, parent in enumerate(PARENTS):
        if parent >= 0:
            draw.line([tuple(joints2d[parent]), tuple(joints2d[child])], fill=(255, 255, 255), width=width)
    r = max(1.5, min(h, w) / 64)
    mp_ids, _, _ = _map_indices()
    for i in mp_ids.tolist():
        if fit.visibility[i] < VISIBLE:
            continue
        seen, put = fit.keypoints[i], fit.projected[i]
        if np.linalg.norm(seen - put) > r:
            draw.line([tuple(seen), tuple(put)], fill=(255, 230, 0), width=1)
        for (x, y), fill in ((seen, (40, 220, 60)), (put, (235, 40, 40))):
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
    return np.asarray(canvas)


def _eroded(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose four neighbours are all in the mask (the outline is the rest)."""
    padded = np.pad(mask, 1)
    return mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]


def fit_photo(
    image: np.ndarray,
    body=None,
    detector: PoseDetector | None = None,
    steps: int = 160,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> tuple[PersonDetection, BodyFit]:
    """Detect the person in an (H, W, 3) uint8 photo and fit the body: (detection, fit)."""
    detection = detect_person(image, detector)
    return detection, fit_body(detection, steps=steps, progress=progress, body=body)
