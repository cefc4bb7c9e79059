"""Market-1501 / DukeMTMC-reID folder layouts.

Market-1501 names: ``pppp_cCsS_ffffff_NN.jpg`` (person, camera, sequence, frame, box index),
with person -1 for junk and 0000 for distractors. DukeMTMC-reID names: ``pppp_cC_fFFFFFFF.jpg``.
Splits live in ``bounding_box_train``, ``query`` and ``bounding_box_test``.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.data.records import Sample

SPLITS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
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
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    folder = Path(root) / SPLITS[split]
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found: is {root} a Market-1501-style dataset root?")
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".jpg", ".png"):
            continue
        s = parse_name(path.name)
        out.append(Sample(path=path, identity=s.identity, camera=s.camera, frame=s.frame))
    return out


def read_market(root: str | Path) -> dict[str, list[Sample]]:
    """All three splits of a Market-1501 / DukeMTMC-reID root."""
    return {split: read_split(root, split) for split in SPLITS}
