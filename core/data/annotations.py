"""Body and camera of every synthetic image: the texture-generation method trains from these.

Re-ID and face sets: ``annotations.jsonl`` at the set's root, one JSON object per image::

    {"file": "bounding_box_train/0001_c1s1_001051_00.jpg",   # path relative to the root
     "betas": [10 floats], "body_pose": [69 floats],         # SMPL shape and pose (axis-angle)
     "global_orient": [0, 0, 0], "transl": [0, 0, 0],        # the body stands at the origin, facing +Z
     "R": [[3x3]], "T": [3],                                  # PyTorch3D camera, world -> view (row vectors)
     "fov": float,                                            # degrees, over the shorter image side
     "aspect_ratio": float,                                   # PyTorch3D's pixel aspect (a stretched box)
     "image_size": [H, W],
     "box_zoom": float, "box_shift": [dx, dy]}                # detector box after projection (see below)

A projected pixel p (PyTorch3D FoVPerspectiveCameras with R, T, fov at image_size) lands in the
stored picture at c + box_zoom * (p - c) + box_shift * (W, H), with c the image centre. gt_bbox
images share the annotation of the same name in bounding_box_test/query with zoom 1, shift 0.

Gait sets: ``annotations/<id>/<condition>/<view>.npz`` per walk, the same keys as arrays with one
row per stored frame (betas (T, 10), body_pose (T, 69), R (T, 3, 3), fov (T,), ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.data.records import Sample


@dataclass(frozen=True)
class Annotation:
    """Body and camera of one image. Arrays are float32: betas (10,), body_pose (69,),
    global_orient (3,), transl (3,), R (3, 3), T (3,); fov in degrees; image_size (H, W)."""

    betas: np.ndarray
    body_pose: np.ndarray
    global_orient: np.ndarray
    transl: np.ndarray
    R: np.ndarray
    T: np.ndarray
    fov: float
    image_size: tuple[int, int]
    aspect_ratio: float = 1.0
    box_zoom: float = 1.0
    box_shift: tuple[float, float] = (0.0, 0.0)

    @staticmethod
    def from_dict(row: dict) -> Annotation:
        f32 = lambda key, shape: np.asarray(row[key], dtype=np.float32).reshape(shape)  # noqa: E731
        return Annotation(
            betas=f32("betas", (-1,)), body_pose=f32("body_pose", (69,)), global_orient=f32("global_orient", (3,)),
            transl=f32("transl", (3,)), R=f32("R", (3, 3)), T=f32("T", (3,)), fov=float(row["fov"]),
            image_size=(int(row["image_size"][0]), int(row["image_size"][1])),
            aspect_ratio=float(row.get("aspect_ratio", 1.0)),
            box_zoom=float(row.get("box_zoom", 1.0)), box_shift=tuple(float(v) for v in row.get("box_shift", (0, 0))),
        )  # fmt: skip


def read_annotations(root: str | Path) -> dict[str, Annotation]:
    """``file`` (relative to root) -> Annotation, from ``root/annotations.jsonl``."""
    path = Path(root) / "annotations.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: only synthetic sets (python -m core synth ...) carry annotations")
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            row = json.loads(line)
            out[row["file"]] = Annotation.from_dict(row)
        except (ValueError, KeyError) as err:
            raise ValueError(f"{path}, line {number}: not an annotation row ({err})") from None
    return out


def with_annotations(samples: list[Sample], root: str | Path) -> list[Sample]:
    """The samples with ``annotation`` filled in from the set's annotations file (None where the
    image has none: junk and distractors are not people we posed)."""
    root = Path(root)
    table = read_annotations(root)
    out = []
    for s in samples:
        path = Path(s.path)
        try:  # sample paths carry the root they were read with, relative or absolute
            rel = path.relative_to(root).as_posix()
        except ValueError:
            rel = path.as_posix()
        if rel.startswith("gt_bbox/"):  # hand-drawn boxes: the same picture without the box jitter
            name = rel.split("/", 1)[1]
            match = table.get(f"bounding_box_test/{name}") or table.get(f"query/{name}")
            note = replace(match, box_zoom=1.0, box_shift=(0.0, 0.0)) if match else None
        else:
            note = table.get(rel)
        out.append(replace(s, annotation=note))
    return out


def read_sequence_annotation(path: str | Path) -> dict[str, np.ndarray]:
    """Per-frame arrays of one gait walk (``annotations/<id>/<cond>/<view>.npz``)."""
    with np.load(Path(path)) as data:
        return {key: data[key] for key in data.files}
