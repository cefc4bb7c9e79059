"""``python -m core bench synth``: images per second of each dataset writer at 1 and 2 processes.

Each run writes a small set into a temporary folder; the time includes starting the worker
processes and loading the body model in each, as a real run pays them too.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from core.synth import face_set, gait_set, reid_set

RUNS = {
    "reid": (reid_set.write_reid, reid_set.ReidConfig(train_ids=12, test_ids=4, distractors=0, junk=0), "images"),
    "face": (face_set.write_face, face_set.FaceConfig(ids=4), "images"),
    "gait": (
        gait_set.write_gait,
        gait_set.GaitConfig(ids=2, train_ids=1, conditions=("nm-01", "cl-01"), views=(0, 90)),
        "frames",
    ),
}


def _count(kind: str, counts: dict) -> int:
    if kind == "reid":  # the person images; gt_bbox copies come from the same renders
        return counts["train"] + counts["query"] + counts["gallery"]
    return counts[RUNS[kind][2]]


def bench_synth(workers: tuple[int, ...] = (1, 2)) -> list[dict]:
    rows = []
    for kind, (write, cfg, unit) in RUNS.items():
        for n in workers:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                counts = write(Path(tmp) / kind, cfg, n)
                seconds = time.perf_counter() - start
            items = _count(kind, counts)
            rows.append({"dataset": kind, "workers": n, "unit": unit, "items": items, "seconds": seconds,
                         "per_second": items / seconds})  # fmt: skip
    return rows


def format_table(rows: list[dict]) -> str:
    lines = ["| dataset | processes | items | seconds | items/s |", "|---|---|---|---|---|"]
    for r in rows:
        name = f"{r['dataset']} ({r['unit']})"
        lines.append(f"| {name} | {r['workers']} | {r['items']} | {r['seconds']:.1f} | {r['per_second']:.1f} |")
    return "\n".join(lines)
