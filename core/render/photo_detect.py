"""Find the person in a real photo for the body fit (:mod:`core.render.photo_fit`): 33 pose landmarks and a
person mask from MediaPipe Pose (the optional ``photo`` extra: ``pip install -e '.[photo]'``). Its models ship
inside the wheel; only the "full" landmark model (``model_complexity=1``) does, so that is the one used and
nothing is downloaded. Also: which of our body's joints and landmarks each MediaPipe landmark pairs with.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

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
        import mediapipe  # lazy: the optional 'photo' extra, and seconds to import; only photos need it
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


def check_image(image) -> np.ndarray:
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
        image = check_image(image)
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
