"""Face sets for DR-GAN in memory: labels.csv folders (``python -m core synth face``), one split at a time.

Images are held as uint8 (N, 3, L, L) at the config's load size; a batch takes random S x S crops and
mirrors half of them, mirroring the yaw bin (b -> N^p - 1 - b) and the light (l -> n_light - 1 - l) with
them, as a flipped photo is the same face seen from the other side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from core.data.face import read_face_folder, read_face_split

__all__ = ["FaceBatch", "FaceSet", "center_crop", "load_face_set", "to_model_range"]


@dataclass
class FaceBatch:
    """images (B, 3, S, S) in [-1, 1]; ids (B,) in 0..N^d-1; poses (B,) source bins; targets (B,) target
    bins; truth (B, 3, S, S) the same person at the target bin and light (centre crop), in [-1, 1]."""

    images: Tensor
    ids: Tensor
    poses: Tensor
    targets: Tensor
    truth: Tensor


@dataclass
class FaceSet:
    """One split of a face set. images uint8 (N, 3, L, L); ids (N,) contiguous labels; identities (N,) the
    set's own person numbers; poses (N,) yaw bins; lights (N,) illumination indices; index[(label, bin,
    light)] -> row."""

    images: Tensor
    ids: Tensor
    identities: Tensor
    poses: Tensor
    lights: Tensor
    num_poses: int
    num_lights: int

    def __post_init__(self) -> None:
        rows = zip(self.ids.tolist(), self.poses.tolist(), self.lights.tolist(), strict=True)
        self.index = {key: n for n, key in enumerate(rows)}
        self.num_ids = int(self.ids.max()) + 1 if len(self.ids) else 0

    def __len__(self) -> int:
        return len(self.images)

    def row(self, label: int, pose: int, light: int) -> int:
        """The row of a person's image at a yaw bin and light (KeyError when the set lacks it)."""
        return self.index[(label, pose, light)]

    def split_people(self, count: int) -> tuple[FaceSet, FaceSet]:
        """(the rest, the last ``count`` people), each with contiguous labels: a validation set of people
        that training never sees, so that the test people never choose a checkpoint."""
        if not 1 <= count < self.num_ids:
            raise ValueError(f"validation needs 1..{self.num_ids - 1} people, got {count}")
        cut = self.num_ids - count
        head, tail = self.ids < cut, self.ids >= cut
        return self._subset(head, 0), self._subset(tail, cut)

    def _subset(self, keep: Tensor, first_label: int) -> FaceSet:
        return FaceSet(images=self.images[keep], ids=self.ids[keep] - first_label, identities=self.identities[keep],
                       poses=self.poses[keep], lights=self.lights[keep], num_poses=self.num_poses,
                       num_lights=self.num_lights)  # fmt: skip

    def person_strip(self, row: int, size: int) -> Tensor:
        """(N^p, 3, S, S) in [-1, 1]: the person of ``row`` at every yaw bin, in that row's light (centre crops)."""
        label, light = int(self.ids[row]), int(self.lights[row])
        rows = np.array([self.row(label, p, light) for p in range(self.num_poses)])
        return self.crop(rows, size, None, np.zeros(len(rows), bool))

    def crop(self, rows: np.ndarray, size: int, rng: np.random.Generator | None, flips: np.ndarray) -> Tensor:
        """(B, 3, S, S) in [-1, 1]: random crops (centre crops when rng is None), mirrored where flips."""
        load = self.images.shape[-1]
        out = []
        for r, flip in zip(rows, flips, strict=True):
            if rng is None:
                top = left = (load - size) // 2
            else:
                top, left = (int(v) for v in rng.integers(0, load - size + 1, size=2))
            img = self.images[int(r), :, top : top + size, left : left + size]
            out.append(img.flip(2) if flip else img)
        return to_model_range(torch.stack(out))

    def sample(self, batch: int, size: int, rng: np.random.Generator, flip: bool = True) -> FaceBatch:
        """B random images, each with a random target bin and its ground truth."""
        rows = rng.integers(0, len(self), size=batch)
        return self._batch(rows, rng.integers(0, self.num_poses, size=batch), size, rng, flip)

    def sample_people(self, people: int, per_person: int, size: int, rng: np.random.Generator,
                      flip: bool = True) -> FaceBatch:  # fmt: skip
        """P people x n images each (adjacent), one light and one target bin per person, yaws at random."""
        labels = rng.choice(self.num_ids, size=people, replace=people > self.num_ids)
        rows, targets = [], []
        for label in labels:
            light = int(rng.integers(self.num_lights))
            poses = rng.choice(self.num_poses, size=per_person, replace=per_person > self.num_poses)
            rows += [self.row(int(label), int(p), light) for p in poses]
            targets += [int(rng.integers(self.num_poses))] * per_person
        flips = np.repeat(rng.random(people) < 0.5, per_person) if flip else np.zeros(len(rows), bool)
        return self._batch(np.array(rows), np.array(targets), size, rng, flip, flips)

    def _batch(self, rows: np.ndarray, targets: np.ndarray, size: int, rng: np.random.Generator, flip: bool,
               flips: np.ndarray | None = None) -> FaceBatch:  # fmt: skip
        if flips is None:
            flips = rng.random(len(rows)) < 0.5 if flip else np.zeros(len(rows), bool)
        last_pose, last_light = self.num_poses - 1, self.num_lights - 1
        ids = self.ids[rows]
        poses = self.poses[rows].clone()
        poses[torch.from_numpy(flips)] = last_pose - poses[torch.from_numpy(flips)]
        # the truth of a mirrored input is the mirror of the image at the mirrored bin and light
        truth_rows = []
        for k, (r, t, f) in enumerate(zip(rows, targets, flips, strict=True)):
            light, pose = int(self.lights[r]), int(t)
            mirrored = (last_pose - pose, last_light - light)
            truth_rows.append(self.row(int(ids[k]), *(mirrored if f else (pose, light))))
        return FaceBatch(
            images=self.crop(rows, size, rng, flips),
            ids=ids,
            poses=poses,
            targets=torch.from_numpy(np.asarray(targets)).long(),
            truth=self.crop(np.array(truth_rows), size, None, flips),
        )


def to_model_range(images: Tensor) -> Tensor:
    """uint8 (B, 3, H, W) or float in [0, 1] -> float in [-1, 1]."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    return x * 2 - 1


def center_crop(image: Tensor, size: int) -> Tensor:
    """(..., L, L) -> (..., S, S) from the middle."""
    top = (image.shape[-2] - size) // 2
    left = (image.shape[-1] - size) // 2
    return image[..., top : top + size, left : left + size]


def load_face_set(root: str | Path, split: str, load_size: int) -> FaceSet:
    """The ``split`` ("train", "test" or "all") of a face folder, resized to ``load_size``."""
    root = Path(root)
    samples = read_face_folder(root)
    if split != "all":
        keep = set(read_face_split(root)[split])
        samples = [s for s in samples if s.identity in keep]
    if not samples:
        raise ValueError(f"{root} has no {split} faces")
    people = sorted({s.identity for s in samples})
    label = {p: k for k, p in enumerate(people)}
    lights = sorted({s.condition for s in samples})
    images = np.stack([np.asarray(Image.open(s.path).convert("RGB").resize((load_size, load_size), Image.BILINEAR))
                       for s in samples])  # fmt: skip
    return FaceSet(
        images=torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        ids=torch.tensor([label[s.identity] for s in samples]),
        identities=torch.tensor([s.identity for s in samples]),
        poses=torch.tensor([s.camera for s in samples]),
        lights=torch.tensor([lights.index(s.condition) for s in samples]),
        num_poses=max(s.camera for s in samples) + 1,
        num_lights=len(lights),
    )
