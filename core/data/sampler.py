"""Identity sampling for training: batches of P identities x K samples each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np


class PKSampler:
    """Yields batches of indices: P identities, K indices each (drawn with replacement when an
    identity has fewer than K). Identities with fewer than ``min_per_id`` samples are skipped.

    Args:
        identities: identity label of each sample.
        p, k: identities per batch and samples per identity.
        seed: for reproducible batches; each epoch reshuffles.
    """

    def __init__(self, identities: Sequence[int], p: int, k: int, seed: int = 0, min_per_id: int = 1) -> None:
        if p < 1 or k < 1:
            raise ValueError("p and k must be >= 1")
        groups: dict[int, list[int]] = defaultdict(list)
        for index, ident in enumerate(identities):
            groups[int(ident)].append(index)
        self.groups = {i: idx for i, idx in groups.items() if len(idx) >= min_per_id}
        if len(self.groups) < p:
            raise ValueError(f"need at least p={p} identities, have {len(self.groups)}")
        self.p, self.k = p, k
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.groups) // self.p

    def __iter__(self) -> Iterator[list[int]]:
        ids = self.rng.permutation(sorted(self.groups))
        for start in range(0, len(ids) - self.p + 1, self.p):
            batch = []
            for ident in ids[start : start + self.p]:
                pool = self.groups[int(ident)]
                batch.extend(self.rng.choice(pool, self.k, replace=len(pool) < self.k).tolist())
            yield batch
