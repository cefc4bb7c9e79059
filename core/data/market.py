"""Market-1501 / DukeMTMC-reID folder layouts.

Market-1501 names: ``pppp_cCsS_ffffff_NN.jpg`` (person, camera, sequence, frame, box index),
with person -1 for junk and 0000 for distractors. DukeMTMC-reID names: ``pppp_cC_fFFFFFFF.jpg``.
Splits live in ``bounding_box_train``, ``query`` and ``bounding_box_test``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.data.annotations import with_annotations
from core.data.records import Sample

SPLITS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
EXTRA_SPLITS = {"gt_bbox": "gt_bbox"}  # Market-1501's hand-drawn boxes (DG-Net's multi-query set)
_MARKET = re.compile(r"^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})\.(jpg|png)$")
_DUKE = re.compile(r"^(-1|\d{4})_c(\d+)_f(\d+)\.(jpg|png)$")


def market_name(identity: int, camera: int, sequence: int, frame: int, box: int) -> str:
    """File name in Market-1501's convention."""
    pid = "-1" if identity < 0 else f"{identity:04d}"
    return f"{pid}_c{camera}s{sequence}_{frame:06d}_{box:02d}.jpg"


def parse_name(name: str) -> Sample:
    """Labels from a Market-1501 or DukeMTMC-reID file name (path-less Sample)."""
    m = _MARKET.match(name)
    if m:
        return Sample(path=Path(name), identity=int(m.group(1)), camera=int(m.group(2)), frame=int(m.group(4)))
    m = _DUKE.match(name)
    if m:
        return Sample(path=Path(name), identity=int(m.group(1)), camera=int(m.group(2)), frame=int(m.group(3)))
    raise ValueError(f"{name!r} is not a Market-1501 (pppp_cCsS_ffffff_NN.jpg) or DukeMTMC-reID file name")


def read_split(root: str | Path, split: str) -> list[Sample]:
    """Samples of one split ("train", "query" or "gallery"), sorted by file name."""
    folders = {**SPLITS, **EXTRA_SPLITS}
    if split not in folders:
        raise ValueError(f"split must be one of {', '.join(folders)}, got {split!r}")
    folder = Path(root) / folders[split]
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found: is {root} a Market-1501-style dataset root?")
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".jpg", ".png"):
            continue
        s = parse_name(path.name)
        out.append(Sample(path=path, identity=s.identity, camera=s.camera, frame=s.frame))
    return out


def read_market(root: str | Path, annotations: bool = False) -> dict[str, list[Sample]]:
    """All three splits of a Market-1501 / DukeMTMC-reID root (junk -1 and distractors 0 included:
    drop identity -1 to score as torchreid does). ``annotations``: attach each synthetic image's
    body and camera (``Sample.annotation``)."""
    splits = {split: read_split(root, split) for split in SPLITS}
    if annotations:
        splits = {split: with_annotations(samples, root) for split, samples in splits.items()}
    return splits


_TORCHREID = re.compile(r"([-\d]+)_c(\d)")


def check_market_layout(root: str | Path, layout: str = "market") -> list[str]:
    r"""What torchreid's Market-1501 (or DukeMTMC-reID) reader and DG-Net's scripts would reject
    or misread in a folder; empty when they all accept it (rules: docs/formats.md sections 2, 3).

    torchreid globs ``*.jpg`` only, takes pid and camera with ``([-\d]+)_c(\d)`` searched over the
    whole path, drops pid -1, asserts 0 <= pid <= 1501 and 1 <= camera <= 6 (Duke: camera 1-8) and
    indexes the first item of every split; DG-Net reads the pid from the first 4 characters.
    """
    root = Path(root)
    problems = []
    if _TORCHREID.search(str(root)):
        problems.append(f"the path {root} itself matches torchreid's pattern <digits>_c<digit>; move the set")
    max_cam = 6 if layout == "market" else 8
    detections: dict[str, str] = {}  # c#s#_frame_box -> the label that owns it (Market names)
    for split, folder in SPLITS.items():
        path = root / folder
        if not path.is_dir():
            problems.append(f"{folder}/ is missing")
            continue
        files = sorted(path.glob("*.jpg"))
        others = [p.name for p in path.iterdir() if p.suffix != ".jpg"]
        if others:
            problems.append(f"{folder}/ holds files torchreid never reads (only *.jpg): {others[:3]}")
        kept = 0
        for file in files:
            m = _TORCHREID.search(str(file))
            if m is None:
                problems.append(f"{folder}/{file.name}: no <pid>_c<camera> in the name")
                continue
            pid, cam = int(m.group(1)), int(m.group(2))
            if pid == -1 and layout == "market":
                if split == "train":
                    problems.append(f"{folder}/{file.name}: junk (-1) in the training split")
                continue
            if layout == "market" and not 0 <= pid <= 1501:
                problems.append(f"{folder}/{file.name}: pid {pid} outside 0..1501 (torchreid asserts)")
            if not 1 <= cam <= max_cam:
                problems.append(f"{folder}/{file.name}: camera {cam} outside 1..{max_cam} (torchreid asserts)")
            if split == "train" and pid == 0:
                problems.append(f"{folder}/{file.name}: a distractor (0000) in the training split")
            if not (file.name[:4].isdigit() or file.name.startswith("-1_")):
                problems.append(f"{folder}/{file.name}: DG-Net reads the pid from the first 4 characters")
            label, _, key = file.stem.partition("_")
            if layout == "market" and detections.setdefault(key, label) != label:
                problems.append(f"{folder}/{file.name}: detection {key} also belongs to label {detections[key]} "
                                "(a camera, sequence, frame and box name one detection)")  # fmt: skip
            kept += 1
        if kept == 0:
            problems.append(f"{folder}/ has no usable image (torchreid indexes the first item of every split)")
    return problems


# ------------------------------------------------------------------------------------------------
# in memory


def load_images(paths: Sequence[str | Path], size: tuple[int, int], resample: int = Image.BILINEAR) -> torch.Tensor:
    """Images as uint8 (N, 3, H, W) with (H, W) = ``size``; others are resized (``resample``, PIL)."""
    h, w = size
    out = torch.empty((len(paths), 3, h, w), dtype=torch.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (w, h):
                im = im.resize((w, h), resample)
            out[i] = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)
    return out


@dataclass(frozen=True)
class MarketImages:
    """One split in memory: uint8 images (N, 3, H, W), person ids (N,), 0-based camera ids (N,)."""

    images: torch.Tensor
    pids: np.ndarray
    camids: np.ndarray


def _market_root(root: Path) -> Path:
    """The folder holding bounding_box_train, also when nested as torchreid expects."""
    for sub in ("", "Market-1501-v15.09.15", "market1501/Market-1501-v15.09.15", "market1501", "DukeMTMC-reID",
                "dukemtmc-reid/DukeMTMC-reID"):  # fmt: skip
        if (root / sub / "bounding_box_train").is_dir():
            return root / sub
    return root  # read_market says what is missing


def load_market(
    root: str | Path, size: tuple[int, int] = (128, 64), resample: int = Image.BILINEAR
) -> dict[str, MarketImages]:
    """train / query / gallery of a Market-1501 root, images resized to ``size`` (H, W).

    Junk (pid -1) is dropped from every split, as torchreid does at load time; distractors (pid 0)
    stay. Cameras become 0-based.
    """
    splits = read_market(_market_root(Path(root)))
    out = {}
    for name, samples in splits.items():
        kept = [s for s in samples if s.identity != -1]
        if not kept:
            raise ValueError(f"the {name} split of {root} holds no image (junk aside)")
        out[name] = MarketImages(
            images=load_images([s.path for s in kept], size, resample),
            pids=np.array([s.identity for s in kept], dtype=np.int64),
            camids=np.array([s.camera - 1 for s in kept], dtype=np.int64),
        )
    return out
