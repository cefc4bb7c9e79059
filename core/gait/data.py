"""Gait sequences for training and evaluation, shared by GaitNet and DyGait.

Layouts (docs/formats.md section 4):

- ``root/sil/<id>/<condition>/<view>/<view>.pkl``: uint8 (T, 64, 64) silhouettes as OpenGait's
  pretreatment writes them; read through :func:`core.data.opengait.load_sequence`, which cuts them to
  (T, 64, 44) as OpenGait's default transform does.
- ``root/rgb/<id>/<condition>/<view>/<view>.pkl``: uint8 (T, 64, 32, 3) masked RGB (GaitNet's input),
  frame t of rgb is frame t of sil.
- ``root/partition.json``: ``{"TRAIN_SET": [...], "TEST_SET": [...]}`` of id folder names.

A bare OpenGait tree (``root/<id>/<condition>/<view>/*.pkl``, no ``sil/``) is read too; it has no RGB.

Conventions: frames are uint8 on disk and float in [0, 1] in models; a silhouette batch is
(N, T, H, W) and an RGB batch (N, T, 3, H, W).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.data.opengait import load_sequence, opengait_id, read_opengait

__all__ = [
    "GaitSequence",
    "GaitSet",
    "clip_indices",
    "equal_length_batches",
    "gei",
    "load_gait_set",
    "load_with_clothes_swaps",
    "read_swap_factors",
    "repeated_walks",
    "load_rgb_sequence",
    "rgb_to_tensor",
    "sil_to_tensor",
    "split_validation",
]

SIL_SIZE = (64, 44)
RGB_SIZE = (64, 32)


@dataclass(frozen=True)
class GaitSequence:
    """One walk: subject id string ("001"), condition ("nm-01"), view ("090") and its files."""

    subject: str
    condition: str
    view: str
    sil_path: Path
    rgb_path: Path | None = None


def load_rgb_sequence(path: str | Path) -> np.ndarray:
    """uint8 (T, 64, 32, 3) masked RGB frames of one walk."""
    with open(path, "rb") as fh:
        frames = np.asarray(pickle.load(fh))
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: expected uint8 [T, H, W, 3] frames, got {frames.dtype} {frames.shape}")
    return frames


class GaitSet:
    """A list of walks with lazily loaded, cached frames.

    Attributes:
        sequences: the walks, sorted by (subject, condition, view).
        subjects: the sorted subject ids; ``labels[i]`` indexes it.
        labels: int64 (N,) subject index of each walk (0..len(subjects)-1).
    """

    def __init__(self, sequences: Sequence[GaitSequence], cache: bool = True) -> None:
        self.sequences = sorted(sequences, key=lambda s: (s.subject, s.condition, s.view))
        self.subjects = sorted({s.subject for s in self.sequences})
        index = {name: i for i, name in enumerate(self.subjects)}
        self.labels = np.asarray([index[s.subject] for s in self.sequences], dtype=np.int64)
        self.cache = cache
        self._sil: dict[int, np.ndarray] = {}
        self._rgb: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def has_rgb(self) -> bool:
        return bool(self.sequences) and all(s.rgb_path is not None for s in self.sequences)

    def silhouettes(self, i: int) -> np.ndarray:
        """uint8 (T, 64, 44) silhouettes of walk ``i``."""
        if i not in self._sil:
            frames = load_sequence(self.sequences[i].sil_path)
            if not self.cache:
                return frames
            self._sil[i] = frames
        return self._sil[i]

    def rgb(self, i: int) -> np.ndarray:
        """uint8 (T, 64, 32, 3) masked RGB of walk ``i``."""
        path = self.sequences[i].rgb_path
        if path is None:
            raise ValueError(f"walk {self.describe(i)} has no RGB frames (an OpenGait tree holds silhouettes only)")
        if i not in self._rgb:
            frames = load_rgb_sequence(path)
            if not self.cache:
                return frames
            self._rgb[i] = frames
        return self._rgb[i]

    def describe(self, i: int) -> str:
        s = self.sequences[i]
        return f"{s.subject}/{s.condition}/{s.view}"

    def indices(self, subject: str | None = None, condition: str | None = None, view: str | None = None) -> list[int]:
        """Walks matching every given field (a condition prefix such as "nm" matches nm-01..06)."""
        return [
            i
            for i, s in enumerate(self.sequences)
            if (subject is None or s.subject == subject)
            and (view is None or s.view == view)
            and (condition is None or s.condition == condition or s.condition.split("-")[0] == condition)
        ]

    def subset(self, subjects: Sequence[str]) -> GaitSet:
        """The walks of ``subjects`` (shares no cache with this set)."""
        keep = set(subjects)
        return GaitSet([s for s in self.sequences if s.subject in keep], cache=self.cache)

    @property
    def conditions(self) -> list[str]:
        return [s.condition for s in self.sequences]

    @property
    def views(self) -> list[str]:
        return [s.view for s in self.sequences]

    @property
    def subject_ids(self) -> list[str]:
        return [s.subject for s in self.sequences]

    def sample_pk(
        self, p: int, k: int, clip: int, rng: np.random.Generator, rgb: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """P subjects x K walks each, one ordered clip of ``clip`` frames per walk (OpenGait's
        ``fixed_ordered``).

        Returns:
            frames: uint8 (P*K, clip, 64, 44) silhouettes, or (P*K, clip, 64, 32, 3) with ``rgb``.
            labels: int64 (P*K,) subject indices.
        """
        if p > len(self.subjects):
            raise ValueError(f"p={p} subjects per batch but the set has {len(self.subjects)}")
        by_subject = [np.flatnonzero(self.labels == s) for s in range(len(self.subjects))]
        chosen = rng.choice(len(self.subjects), size=p, replace=False)
        frames, labels = [], []
        for s in chosen:
            pool = by_subject[s]
            for i in rng.choice(pool, size=k, replace=len(pool) < k):
                seq = self.rgb(int(i)) if rgb else self.silhouettes(int(i))
                frames.append(seq[clip_indices(len(seq), clip, rng)])
                labels.append(s)
        return np.stack(frames), np.asarray(labels, dtype=np.int64)


def clip_indices(length: int, clip: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Frame indices of an ordered clip: ``clip`` consecutive frames from a random start (the first
    frame without ``rng``); a shorter walk is cycled, as a walk repeats."""
    if length < 1 or clip < 1:
        raise ValueError(f"need a walk with frames and a clip length >= 1, got {length} and {clip}")
    start = int(rng.integers(0, max(1, length - clip + 1))) if rng is not None and length > clip else 0
    return (start + np.arange(clip)) % length


def equal_length_batches(walks: Sequence[np.ndarray], batch: int) -> Iterator[list[int]]:
    """Indices of ``walks`` in batches of at most ``batch`` walks of one length (each walk once): whole walks
    run together in eval mode, where batch norm uses its running statistics and each walk is pooled alone."""
    by_length: dict[int, list[int]] = {}
    for i, walk in enumerate(walks):
        by_length.setdefault(len(walk), []).append(i)
    for rows in by_length.values():
        for start in range(0, len(rows), batch):
            yield rows[start : start + batch]


def sil_to_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (..., T, H, W) silhouettes -> float (..., T, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device=device, dtype=torch.float32) / 255.0


def rgb_to_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (..., T, H, W, 3) masked RGB -> float (..., T, 3, H, W) in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device=device, dtype=torch.float32) / 255.0
    return x.movedim(-1, -3)


def gei(frames: np.ndarray) -> np.ndarray:
    """Gait energy image: float32 (H, W) mean of uint8 (T, H, W) silhouettes, in [0, 1]."""
    if frames.ndim != 3 or len(frames) == 0:
        raise ValueError(f"a GEI needs silhouettes (T, H, W) with T >= 1, got shape {frames.shape}")
    return frames.astype(np.float32).mean(axis=0) / 255.0


def load_gait_set(root: str | Path, split: str = "train", cache: bool = True) -> GaitSet:
    """The walks of one split ("train", "test" or "all") of our gait set or of a bare OpenGait tree.

    ``root`` holds ``sil/`` (and ``rgb/``) and ``partition.json``, as ``python -m core synth gait``
    writes them; or it is an OpenGait tree itself (``<id>/<condition>/<view>/*.pkl``, with or without a
    ``partition.json`` beside the ids; without one every walk is in "all").
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder; make one with: python -m core synth gait --out {root}")
    sil_root = root / "sil" if (root / "sil").is_dir() else root
    partition = root / "partition.json" if (root / "partition.json").exists() else None
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    groups = read_opengait(sil_root, partition if partition is not None else None)
    if split == "all":
        samples = [s for group in groups.values() for s in group]
    elif split not in groups:
        raise ValueError(f"{root} has no partition.json, so it has no {split!r} split; use split='all'")
    else:
        samples = groups[split]
    if not samples:
        raise ValueError(f"the {split!r} split of {root} is empty")
    rgb_root = root / "rgb" if (root / "rgb").is_dir() else None
    sequences = []
    for s in samples:
        rel = s.path.relative_to(sil_root)
        rgb = rgb_root / rel if rgb_root is not None and (rgb_root / rel).exists() else None
        sequences.append(GaitSequence(opengait_id(s), s.condition, s.path.parent.name, s.path, rgb))
    return GaitSet(sequences, cache=cache)


def split_validation(data: GaitSet, subjects: int) -> tuple[GaitSet, GaitSet]:
    """(train, validation): the last ``subjects`` training subjects are held out to select models,
    so the test subjects are never used to choose a checkpoint."""
    if not 1 <= subjects < len(data.subjects):
        raise ValueError(f"validation needs 1..{len(data.subjects) - 1} subjects, got {subjects}")
    return data.subset(data.subjects[:-subjects]), data.subset(data.subjects[-subjects:])


def read_partition(root: str | Path) -> dict[str, list[str]]:
    """The partition json of our gait set."""
    return json.loads((Path(root) / "partition.json").read_text())


def read_swap_factors(swaps_root: str | Path) -> list[dict]:
    """The rows of a clothes-swap set's ``factors.jsonl`` (written last by ``python -m core synth gait-swaps``):
    {"file", "id", "condition" (cs-NN), "donor", "walk" (the condition it repeats), "view", "frames"}."""
    path = Path(swaps_root) / "factors.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{swaps_root} has no factors.jsonl: it is written last by python -m core synth "
                                f"gait-swaps --out {swaps_root} (finish or re-run it)")  # fmt: skip
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _swap_factors(swaps_root: Path) -> dict[tuple[str, str, str], str]:
    """(subject, cs condition, view) -> the condition of the walk that cs walk repeats."""
    return {(f"{int(r['id']):03d}", r["condition"], f"{int(r['view']):03d}"): r["walk"]
            for r in read_swap_factors(swaps_root)}  # fmt: skip


def load_with_clothes_swaps(root: str | Path, swaps_root: str | Path | None, split: str = "train",
                            cache: bool = True) -> GaitSet:  # fmt: skip
    """The walks of ``root``'s split joined by the same split's clothes-swap walks (``python -m core synth
    gait-swaps``: condition cs-NN, each walker's own walk in another walker's clothes); ``swaps_root`` None:
    the gait set alone."""
    data = load_gait_set(root, split, cache)
    if swaps_root is None:
        return data
    swaps = load_gait_set(swaps_root, split, cache)
    unknown = sorted(set(swaps.subjects) - set(data.subjects))
    if unknown:
        raise ValueError(f"{swaps_root} has walkers {unknown[:5]} that {root}'s {split} split lacks: "
                         "were the two made from different gait sets?")  # fmt: skip
    return GaitSet([*data.sequences, *swaps.sequences], cache=cache)


def repeated_walks(data: GaitSet, swaps_root: str | Path) -> dict[int, int]:
    """For every clothes-swap walk of ``data``, the index of the walk it repeats frame for frame (same
    walker, motion and camera, own clothes), where ``data`` holds it."""
    factors = _swap_factors(Path(swaps_root))
    index = {(s.subject, s.condition, s.view): i for i, s in enumerate(data.sequences)}
    pairs = {}
    for i, s in enumerate(data.sequences):
        walk = factors.get((s.subject, s.condition, s.view))
        if s.condition.startswith("cs-") and walk is not None and (s.subject, walk, s.view) in index:
            pairs[i] = index[(s.subject, walk, s.view)]
    return pairs
