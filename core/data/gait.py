"""OpenGait silhouette trees (``root/<id>/<condition>/<view>/<view>.pkl``) and their partition json.

Frames are uint8 [T, H, W]. OpenGait's pretreatment stores 64x64 (person 64 rows tall, centred on
the column where half the mass lies); its loader cuts 10 px per side, giving 64x44. Our synthetic
trees store the 64x44 cut already; :func:`load_sequence` returns 64x44 either way.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.records import Sample

CASIA_B_CONDITIONS = tuple([f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"])
CASIA_B_VIEWS = tuple(range(0, 181, 18))


def normalise_silhouette(mask: np.ndarray, height: int = 64) -> np.ndarray | None:
    """OpenGait pretreatment of one frame: (H, W) uint8 or bool -> (64, 64) uint8, or None if empty.

    Crop the rows the person occupies, resize to ``height`` rows keeping the aspect ratio, centre
    on the column where the cumulative mass passes half, and cut a ``height``-wide window.
    """
    scale = 255.0 if mask.dtype == bool or mask.max() <= 1 else 1.0
    img = (mask.astype(np.float32) * scale).astype(np.uint8)
    if int(img.sum(dtype=np.int64)) <= 10000:  # OpenGait drops (nearly) empty frames
        return None
    rows = np.flatnonzero(img.sum(1))
    img = img[rows[0] : rows[-1] + 1]
    width = max(1, round(img.shape[1] * height / img.shape[0]))
    img = np.asarray(Image.fromarray(img).resize((width, height), Image.BILINEAR))
    half = height // 2
    padded = np.pad(img, ((0, 0), (half, half)))
    mass = np.cumsum(padded.sum(0))
    centre = int(np.searchsorted(mass, mass[-1] / 2))
    return padded[:, centre - half : centre + half]


def cut_silhouette(frames: np.ndarray) -> np.ndarray:
    """Cut int(W // 64) * 10 columns off each side, as OpenGait's BaseSilCuttingTransform does:
    [T, 64, 64] -> [T, 64, 44]. Narrower frames (W < 64) pass through unchanged, as in OpenGait since
    2023-11 (its versions from 2023-02 to 2023-11 sliced [0:-0] and returned width 0; docs/formats.md)."""
    side = frames.shape[-1] // 64 * 10
    return frames if side == 0 else frames[..., side:-side]


def load_sequence(path: str | Path) -> np.ndarray:
    """uint8 [T, 64, 44] silhouettes from one pkl."""
    with open(path, "rb") as fh:
        frames = np.asarray(pickle.load(fh))
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: expected uint8 [T, H, W] silhouettes, got {frames.dtype} {frames.shape}")
    return cut_silhouette(frames)


def save_sequence(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(np.ascontiguousarray(frames, dtype=np.uint8), fh, protocol=4)
    tmp.replace(path)


def read_opengait(root: str | Path, partition: str | Path | None = None) -> dict[str, list[Sample]]:
    """Sequences of an OpenGait tree, split by a partition json ({"TRAIN_SET": [...], "TEST_SET": [...]}).

    Without a partition every sequence is in "all". ``Sample.path`` is the sequence's first pkl.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of <id>/<condition>/<view>/*.pkl")
    samples = []
    for view_dir in sorted(root.glob("*/*/*")):
        pkls = sorted(view_dir.glob("*.pkl"))
        if not pkls:
            continue
        ident, cond, view = view_dir.parts[-3:]
        view_deg = float(view) if view.replace(".", "").isdigit() else None
        samples.append(Sample(path=pkls[0], identity=int(ident), view=view_deg, condition=cond))
    if not samples:
        hint = f"; did you mean {root / 'sil'}?" if (root / "sil").is_dir() else ""
        raise FileNotFoundError(f"no <id>/<condition>/<view>/*.pkl sequences under {root}{hint}")
    if partition is None:
        return {"all": samples}
    part = json.loads(Path(partition).read_text())
    train, test = {int(i) for i in part["TRAIN_SET"]}, {int(i) for i in part["TEST_SET"]}
    return {
        "train": [s for s in samples if s.identity in train],
        "test": [s for s in samples if s.identity in test],
    }
