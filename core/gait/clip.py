"""A user's walk -> the models' inputs: silhouettes (T, 64, 44) for DyGait, masked RGB (T, 64, 32, 3) for GaitNet.

Accepted, in this order of preference:

- an OpenGait sequence pickle (uint8 (T, 64, 64) or (T, 64, 44)): used as it is (no RGB);
- silhouette frames (black and white pictures: several files, a folder or a .zip): pretreated as
  OpenGait's pretreatment does (:func:`core.data.opengait.normalise_silhouette`), no RGB;
- colour frames or a clip (.gif/.webp always; .mp4/.avi/.mov/.webm/.mkv with the ``photo`` extra, which
  brings OpenCV). Frames already cut out on black (like our masked RGB) are segmented by
  thresholding; others by MediaPipe Pose's person mask (the ``photo`` extra). Clips are thinned to
  about 12.5 frames per second, the training walks' rate.

Frames where OpenGait's pretreatment finds nobody are dropped (and counted in the notes).
"""

from __future__ import annotations

import io
import pickle
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from core.data.opengait import cut_silhouette, normalise_silhouette
from core.synth.gait_set import masked_rgb  # the writer of the training walks: the same cut

__all__ = ["ClipError", "GaitClip", "read_clip", "walk_from_frames", "walk_from_silhouettes"]

TARGET_FPS = 12.5
MAX_FRAMES = 90  # about 7 s at 12.5 fps: enough for several gait cycles, bounded work
MIN_FRAMES = 3  # DyGait's temporal aggregation groups 3 frames; one frame has no gait
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
RGB_SIZE = (64, 32)


class ClipError(ValueError):
    """The upload cannot be turned into a walk; the message says what to do."""


@dataclass
class GaitClip:
    """A walk ready for the models.

    sil: uint8 (T, 64, 44) silhouettes (OpenGait's cut of the 64 x 64 pretreatment output).
    rgb: uint8 (T, 64, 32, 3) the person on black, or None when only silhouettes were given.
    notes: what was done to the input (resizing, dropped frames, thinning), for the user.
    """

    sil: np.ndarray
    rgb: np.ndarray | None
    notes: list[str] = field(default_factory=list)


def _masked_rgb(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 and (H, W) bool -> uint8 (64, 32, 3): the person on black, 64 rows tall, centred."""
    import torch

    image = torch.from_numpy(np.array(frame)).permute(2, 0, 1).float() / 255.0
    return masked_rgb(image, torch.from_numpy(mask[None].astype(np.float32)), RGB_SIZE)


def walk_from_silhouettes(masks: Sequence[np.ndarray], notes: list[str] | None = None) -> GaitClip:
    """Person masks (H, W) (bool, or uint8 0-255 with soft edges) -> a walk without RGB (OpenGait's
    pretreatment; frames without a person dropped)."""
    notes = list(notes or [])
    sils = [s for s in (normalise_silhouette(np.asarray(m)) for m in masks) if s is not None]
    _enough(len(sils), len(masks), notes)
    return GaitClip(cut_silhouette(np.stack(sils)), None, notes)


def walk_from_frames(
    frames: Sequence[np.ndarray], masks: Sequence[np.ndarray], notes: list[str] | None = None
) -> GaitClip:
    """Colour frames (H, W, 3) uint8 with person masks (H, W) bool -> silhouettes and masked RGB."""
    notes = list(notes or [])
    sils, rgbs = [], []
    for frame, mask in zip(frames, masks, strict=True):
        sil = normalise_silhouette(mask)
        if sil is None:
            continue
        sils.append(sil)
        rgbs.append(_masked_rgb(frame, mask))
    _enough(len(sils), len(frames), notes)
    return GaitClip(cut_silhouette(np.stack(sils)), np.stack(rgbs), notes)


def _enough(kept: int, total: int, notes: list[str]) -> None:
    if kept < MIN_FRAMES:
        raise ClipError(
            f"a person was found in {kept} of {total} frame(s); gait needs at least {MIN_FRAMES} frames of one "
            "walking person, whole and upright (a clip of a few seconds, or its silhouette frames)"
        )
    if kept < total:
        notes.append(f"{total - kept} of {total} frames had no person large enough and were left out")


def _is_silhouette(frames: Sequence[np.ndarray]) -> bool:
    """Black-and-white pictures: grey, and nearly every pixel near 0 or 255."""
    sample = np.stack([f.astype(np.int16) for f in frames[:8]])
    grey = np.abs(sample - sample[..., :1]).max() <= 8
    extreme = float(((sample[..., 0] <= 24) | (sample[..., 0] >= 231)).mean())
    return bool(grey and extreme >= 0.9)  # pretreated silhouettes have soft (resized) edges


def _on_black(frames: Sequence[np.ndarray]) -> bool:
    """The person is already cut out: most of the border is black, and much of the picture too (a person
    cut out to the frame's height touches the top and bottom rows)."""
    sample = np.stack(frames[:8]).max(axis=-1)
    border = np.concatenate([sample[:, 0], sample[:, -1], sample[:, :, 0], sample[:, :, -1]], axis=1)
    return bool((border <= 8).mean() >= 0.6 and (sample <= 8).mean() >= 0.3)


def _person_masks(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """MediaPipe Pose's person mask in video mode (tracks the walker from frame to frame)."""
    try:
        import mediapipe as mp
    except ImportError as err:
        raise ClipError(
            "finding the person in a colour clip needs the 'photo' extra (pip install -e '.[photo]'); "
            "or upload the walk's silhouettes (black and white frames)"
        ) from err
    masks = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, enable_segmentation=True)
        try:
            for frame in frames:
                result = pose.process(np.ascontiguousarray(frame))
                seg = result.segmentation_mask
                masks.append(np.zeros(frame.shape[:2], bool) if seg is None else np.asarray(seg) > 0.5)
        finally:
            pose.close()
    return masks


def _thin(frames: list[np.ndarray], fps: float | None, notes: list[str]) -> list[np.ndarray]:
    if fps and fps > TARGET_FPS * 1.5:
        step = int(round(fps / TARGET_FPS))
        notes.append(f"the clip has {fps:.0f} frames per second; every {step}th frame is used (training walks: 12.5)")
        frames = frames[::step]
    if len(frames) > MAX_FRAMES:
        notes.append(f"the first {MAX_FRAMES} of {len(frames)} frames are used")
        frames = frames[:MAX_FRAMES]
    return frames


def _rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("RGB"))


def _animated_frames(data: bytes, name: str) -> tuple[list[np.ndarray], float | None]:
    try:
        image = Image.open(io.BytesIO(data))
        frames = [_rgb(f.copy()) for f in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, OSError) as err:
        raise ClipError(
            f"{name} is not a picture or clip this app can read (damaged, or another format); use GIF, MP4 or PNG"
        ) from err
    duration = image.info.get("duration")
    return frames, (1000.0 / duration if duration else None)


def _video_frames(path: Path) -> tuple[list[np.ndarray], float | None]:
    try:
        import cv2
    except ImportError as err:
        raise ClipError(
            f"reading {path.suffix} clips needs the 'photo' extra (pip install -e '.[photo]'), which brings OpenCV; "
            "or upload the clip as a GIF or as its frames"
        ) from err
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or None
    frames = []
    while len(frames) < MAX_FRAMES * 6:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise ClipError(f"{path.name} could not be decoded as a video; is it complete? Try an MP4 or a GIF")
    return frames, fps


# what a pickled numpy array needs, and nothing else: an uploaded pickle must not run code
_ARRAY_GLOBALS = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric")
    for name in ("_reconstruct", "scalar", "_frombuffer")
} | {("numpy", "ndarray"), ("numpy", "dtype")}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays only; any other global (os.system, builtins.eval, ...) is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a sequence pickle")
        return super().find_class(module, name)


def _read_pickle(path: Path) -> GaitClip:
    try:
        with open(path, "rb") as fh:
            frames = np.asarray(_ArrayUnpickler(fh).load())
    except Exception as err:  # a broken, foreign or hostile pickle: say so, whatever the unpickler raised
        raise ClipError(f"{path.name} is not an OpenGait sequence pickle (a pickled uint8 array)") from err
    if frames.ndim != 3 or frames.dtype != np.uint8 or frames.shape[1] != 64 or frames.shape[2] not in (44, 64):
        raise ClipError(
            f"{path.name} holds {frames.dtype} {tuple(frames.shape)}; an OpenGait sequence is uint8 (T, 64, 64) "
            "as its pretreatment writes it (or (T, 64, 44) after the cut)"
        )
    notes: list[str] = []
    person = frames.reshape(len(frames), -1).sum(1, dtype=np.int64) > 10000  # OpenGait's "no data" rule
    _enough(int(person.sum()), len(frames), notes)
    frames = frames[person]
    return GaitClip(cut_silhouette(frames) if frames.shape[2] == 64 else frames, None, notes)


def _image_files(paths: Sequence[Path]) -> list[tuple[str, bytes]]:
    """(name, bytes) of every picture in the given files, folders and zips, sorted by name."""
    items: list[tuple[str, bytes]] = []
    for path in paths:
        if path.is_dir():
            items += [(p.name, p.read_bytes()) for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        elif path.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(path) as archive:
                    for info in sorted(archive.infolist(), key=lambda i: i.filename):
                        if Path(info.filename).suffix.lower() in IMAGE_SUFFIXES and not info.is_dir():
                            items.append((info.filename, archive.read(info)))
            except zipfile.BadZipFile as err:
                raise ClipError(f"{path.name} is not a readable zip file") from err
        else:
            items.append((path.name, path.read_bytes()))
    return sorted(items, key=lambda item: item[0])


def read_clip(paths: str | Path | Sequence[str | Path]) -> GaitClip:
    """A walk from one clip, one sequence pickle, or picture frames (files, a folder or a zip).

    Raises:
        ClipError: nothing readable, too few frames with a person, or a missing extra (the message says
            which and what to do instead).
    """
    items = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
    if not items:
        raise ClipError("no file given: upload a clip (GIF or MP4), its frames, or an OpenGait .pkl sequence")
    missing = [p.name for p in items if not p.exists()]
    if missing:
        raise ClipError(f"not found: {', '.join(missing)}")
    notes: list[str] = []
    if len(items) == 1 and items[0].suffix.lower() == ".pkl":
        return _read_pickle(items[0])
    if len(items) == 1 and items[0].suffix.lower() in VIDEO_SUFFIXES:
        frames, fps = _video_frames(items[0])
    elif len(items) == 1 and items[0].is_file() and items[0].suffix.lower() in {".gif", ".webp", ".png", ".apng"}:
        frames, fps = _animated_frames(items[0].read_bytes(), items[0].name)
        if len(frames) == 1:
            raise ClipError(
                f"{items[0].name} is a single picture; gait needs a walk: a clip, or several frames (select them all)"
            )
    else:
        frames, fps = [], None
        for name, data in _image_files(items):
            frames += _animated_frames(data, name)[0]
        if not frames:
            raise ClipError("no pictures found in the upload; use PNG or JPEG frames, a GIF, an MP4 or a .pkl")
    frames = _thin(frames, fps, notes)
    sizes = {f.shape[:2] for f in frames}
    if len(sizes) > 1:
        raise ClipError(f"the frames differ in size ({len(sizes)} sizes); frames of one clip all have one size")
    if min(frames[0].shape[:2]) < 16:
        raise ClipError(f"the frames are {frames[0].shape[1]}x{frames[0].shape[0]} px; use at least 16 px per side")
    if _is_silhouette(frames):
        notes.append("black-and-white frames: read as silhouettes (GaitNet needs colour frames)")
        return walk_from_silhouettes([np.ascontiguousarray(f[..., 0]) for f in frames], notes)
    if _on_black(frames):
        notes.append("the person is already cut out on black: the mask is every non-black pixel")
        masks = [f.max(axis=-1) > 8 for f in frames]
    else:
        masks = _person_masks(frames)
        notes.append("the person was separated from the background by MediaPipe Pose")
    return walk_from_frames(frames, masks, notes)
