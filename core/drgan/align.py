"""Find and crop a face in a real photo the way the training faces are cropped (the ``photo`` extra).

The training faces are head-centred renders: the crop's centre is near the midpoint of the ears and its
side is a fixed multiple of the head's size. MediaPipe's face detector (shipped inside the
``mediapipe==0.10.14`` wheel, no download) gives six keypoints: the eyes, the nose tip, the mouth centre and
both ear tragions. The crop below was calibrated on our own renders (12 people, yaws -45..45, 220 px):
side = 4.4 x the eye-to-mouth distance (4.29 frontal .. 4.53 at 45 degrees), centre = the ears' midpoint
moved up by 0.43 x that distance (mean over the same renders). Faces beyond about 60 degrees of yaw are
often not detected; the caller then says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["AlignedFace", "FaceNotFound", "PhotoExtraMissing", "align_face"]

SIDE_PER_EYE_MOUTH = 4.4
CENTRE_ABOVE_EARS = 0.43  # in eye-to-mouth distances


class FaceNotFound(ValueError):
    """No face in the picture (or none the detector is sure of)."""


class PhotoExtraMissing(RuntimeError):
    """mediapipe is not installed: pip install -e '.[photo]'."""


@dataclass
class AlignedFace:
    """crop (3, side, side) in [0, 1] (square, centred like a training face); box (x0, y0, x1, y1) in the
    photo's pixels (may extend past its border: the crop repeats the edge there); score the detector's."""

    crop: Tensor
    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # (6, 2) pixels: right eye, left eye, nose, mouth, right ear, left ear
    notes: list[str] = field(default_factory=list)


def _detector():
    try:
        import mediapipe as mp
    except ImportError as err:
        raise PhotoExtraMissing("face detection needs the 'photo' extra: pip install -e '.[photo]'") from err
    return mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)


def align_face(photo: np.ndarray, out_size: int = 110) -> AlignedFace:
    """The most confident face of ``photo`` (H, W, 3) uint8, cropped and resized to ``out_size``."""
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 photo, got {photo.shape} {photo.dtype}")
    h, w = photo.shape[:2]
    if min(h, w) < 24:
        raise FaceNotFound(f"the picture is too small to find a face in ({w}x{h} px): use one at least 64 px high")
    with _detector() as det:
        result = det.process(np.ascontiguousarray(photo))
    if not result.detections:
        raise FaceNotFound("no face was found in the picture: use a photo where one face is clearly visible, "
                           "turned less than about 60 degrees from the camera")  # fmt: skip
    best = max(result.detections, key=lambda d: d.score[0])
    pts = np.array([[k.x * w, k.y * h] for k in best.location_data.relative_keypoints], dtype=np.float64)
    eyes, mouth, ears = (pts[0] + pts[1]) / 2, pts[3], (pts[4] + pts[5]) / 2
    em = float(np.linalg.norm(mouth - eyes))
    if em < 4:
        raise FaceNotFound(f"the face is too small ({em:.0f} px from eyes to mouth): use a closer photo")
    side = SIDE_PER_EYE_MOUTH * em
    cx, cy = ears[0], ears[1] - CENTRE_ABOVE_EARS * em
    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    notes = []
    if len(result.detections) > 1:
        notes.append(f"{len(result.detections)} faces found: the most confident one was used")
    if box[0] < 0 or box[1] < 0 or box[2] > w or box[3] > h:
        notes.append("the face is near the picture's border: the crop repeats the edge pixels there")
    if side / SIDE_PER_EYE_MOUTH < 20:
        notes.append(f"the face is small ({em:.0f} px eyes to mouth): the result will be blurry")
    crop = _crop(photo, box, out_size)
    return AlignedFace(crop, tuple(float(v) for v in box), float(best.score[0]), pts, notes)


def _crop(photo: np.ndarray, box: tuple[float, float, float, float], size: int) -> Tensor:
    """(3, size, size) in [0, 1]: the box resampled (bilinear, border pixels repeated outside the photo)."""
    h, w = photo.shape[:2]
    img = torch.from_numpy(photo).permute(2, 0, 1).float().div(255)[None]
    x0, y0, x1, y1 = box
    xs = torch.linspace(x0, x1, size) / (w - 1) * 2 - 1
    ys = torch.linspace(y0, y1, size) / (h - 1) * 2 - 1
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], -1)[None]
    if (x1 - x0) / size > 2:  # shrinking a lot: smooth first, as a camera would
        k = int((x1 - x0) / size)
        img = F.avg_pool2d(img, k, stride=1, padding=k // 2, count_include_pad=False)[..., :h, :w]
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)[0].clamp(0, 1)
