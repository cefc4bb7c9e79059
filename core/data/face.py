"""Face folders with a labels file: ``labels.csv`` with columns file,id,yaw_bin,yaw,illumination.

This is the layout of our synthetic face set and an easy target to convert Multi-PIE / CFP crops to.
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.data.annotations import with_annotations
from core.data.records import Sample

YAW_BINS = tuple(range(-90, 91, 15))  # 13 bins, DR-GAN's N^p
LABEL_COLUMNS = ("file", "id", "yaw_bin", "yaw", "illumination")


def read_face_split(root: str | Path) -> dict[str, list[int]]:
    """Train and test identities from ``root/split.json`` ({"train": ["0001", ...], "test": [...]})."""
    import json

    path = Path(root) / "split.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: a face set made by python -m core synth face has one")
    split = json.loads(path.read_text())
    return {part: [int(i) for i in split[part]] for part in ("train", "test")}


def read_face_folder(root: str | Path, annotations: bool = False) -> list[Sample]:
    """Samples from ``root/labels.csv``; ``view`` is the yaw in degrees, ``camera`` the yaw bin.
    ``annotations``: attach each synthetic image's body and camera (``Sample.annotation``)."""
    root = Path(root)
    labels = root / "labels.csv"
    if not labels.exists():
        raise FileNotFoundError(f"{labels} not found: a face folder needs a labels.csv ({','.join(LABEL_COLUMNS)})")
    out = []
    with open(labels, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(LABEL_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{labels} lacks the columns {sorted(missing)}")
        for row in reader:
            out.append(
                Sample(
                    path=root / row["file"],
                    identity=int(row["id"]),
                    camera=int(row["yaw_bin"]),
                    view=float(row["yaw"]),
                    condition=row["illumination"],
                )
            )
    if annotations:
        out = with_annotations(out, root)
    return out
