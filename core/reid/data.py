"""Re-ID training data: random real batches, each image with a positive (another picture of the
same person; DG-Net's self-identity loss needs it), augmented as the official DG-Net and
Person_reID_baseline loaders do, and random erasing for the ID losses.

Images stay in memory as uint8 (N, 3, H, W): the synthetic training split is ~1,700 crops of
128x64 (45 MB), and decoding JPEGs every step would cost more than the step on a 2-core CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.data.market import MarketImages

__all__ = ["PairBatch", "ReidTrainSet", "augment", "random_erasing"]


@dataclass(frozen=True)
class PairBatch:
    """x, positive: float [0, 1] (B, 3, H, W); labels: (B,) class indices 0..C-1."""

    x: torch.Tensor
    positive: torch.Tensor
    labels: torch.Tensor


class ReidTrainSet:
    """A re-ID training split as classes 0..C-1 in sorted-pid order (torchvision ImageFolder order,
    which the official code and its teacher use), with positives for each image.

    A positive is another image of the same person; the image itself only when it is the
    person's only one (the official ``reIDfolder`` rule).
    """

    def __init__(self, split: MarketImages) -> None:
        keep = split.pids > 0  # distractors (0) and junk (-1) have no identity to learn
        if not keep.any():
            raise ValueError("the training split holds no labelled person (pids > 0)")
        self.images = split.images[torch.from_numpy(np.flatnonzero(keep))]
        pids = split.pids[keep]
        self.pids = np.sort(np.unique(pids))
        lookup = {int(p): i for i, p in enumerate(self.pids)}
        self.labels = np.array([lookup[int(p)] for p in pids], dtype=np.int64)
        self._members = [np.flatnonzero(self.labels == c) for c in range(len(self.pids))]

    @property
    def num_classes(self) -> int:
        return len(self.pids)

    def __len__(self) -> int:
        return len(self.labels)

    def positive_of(self, index: int, rng: np.random.Generator) -> int:
        members = self._members[self.labels[index]]
        others = members[members != index]
        return int(rng.choice(others)) if len(others) else int(index)

    def batch(self, batch_size: int, rng: np.random.Generator, gen: torch.Generator, pad: int = 10) -> PairBatch:
        """``batch_size`` random images (no repeats within the batch) and a positive for each, augmented."""
        index = rng.choice(len(self), size=batch_size, replace=batch_size > len(self))
        pos = np.array([self.positive_of(int(i), rng) for i in index])
        x = augment(self.images[torch.from_numpy(index)], gen, pad)
        xp = augment(self.images[torch.from_numpy(pos)], gen, pad)
        return PairBatch(x=x, positive=xp, labels=torch.from_numpy(self.labels[index]))


def augment(images: torch.Tensor, gen: torch.Generator, pad: int = 10) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float [0, 1] (B, 3, H, W): random horizontal flip, ``pad`` px of edge
    padding and a random crop back to (H, W) (the official train transform; the images are
    already at the training size, so its resize is a no-op here)."""
    x = images.float() / 255.0
    b, _, h, w = x.shape
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if pad <= 0:
        return x
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen).tolist()
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen).tolist()
    return torch.stack([padded[i, :, y : y + h, c : c + w] for i, (y, c) in enumerate(zip(dy, dx, strict=True))])


def random_erasing(
    x: torch.Tensor,
    gen: torch.Generator,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.4),
    min_aspect: float = 0.3,
    value: float = 0.0,
    attempts: int = 100,
) -> torch.Tensor:
    """Random erasing (Zhong et al.) on a copy of (B, C, H, W): with probability ``p`` per image a
    rectangle of ``area`` of the image and aspect in [min_aspect, 1/min_aspect] is set to
    ``value`` (0 in ImageNet-normalised space, the official setting). Only the ID losses see it."""
    out = x.clone()
    b, _, h, w = x.shape
    for i in range(b):
        if float(torch.rand((), generator=gen)) >= p:
            continue
        for _ in range(attempts):
            target = float(torch.empty(()).uniform_(*area, generator=gen)) * h * w
            aspect = float(
                torch.empty(()).uniform_(min_aspect, 1.0 / min_aspect, generator=gen)
            )  # uniform, as official
            eh, ew = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < eh < h and 0 < ew < w:
                y = int(torch.randint(0, h - eh + 1, (), generator=gen))
                c = int(torch.randint(0, w - ew + 1, (), generator=gen))
                out[i, :, y : y + eh, c : c + ew] = value
                break
    return out
