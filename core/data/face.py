"""Face folders with a labels file: ``labels.csv`` with columns file,id,yaw_bin,yaw,illumination.

This is the layout of our synthetic face set and an easy target to convert Multi-PIE / CFP crops to.
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.data.records import Sample

YAW_BINS = tuple(range(-90, 91, 15))  # 13 bins, DR-GAN's N^p
LABEL_COLUMNS = ("file", "id", "yaw_bin", "yaw", "illumination")


def read_face_folder(root: str | Path) -> list[Sample]:
    """Samples from ``root/labels.csv``; ``view`` is the yaw in degrees, ``camera`` the yaw bin."""
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
    return out
