"""Whose walk is it: recognition of walks worn in another walker's clothes (issue 23).

The clothes-swap set (``python -m core synth gait-swaps``, :func:`core.synth.gait_set.write_clothes_swaps`)
repeats each test walker's nm-05 walk (own body, hair, face, motion, camera) as condition ``cs-01`` in the
clothes of another test walker, the *donor* (``factors.jsonl``). A feature of the walk should name the
walk's owner; a feature of the clothes names the donor.

The protocol is CASIA-B's (:func:`core.metrics.gait.casia_b_rank1`): gallery nm-01..04 of the gait set,
probes the cs walks, every (probe view, gallery view) pair with identical views excluded. It runs twice on
the same distances: with the probes labelled by their owner (Rank-1: the share of probes whose nearest
gallery walk is the owner's) and labelled by their donor (the share whose nearest gallery walk is the
donor's). The two need not sum to 1: a third walker can be nearest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.gait.data import GaitSet, read_swap_factors
from core.metrics.gait import CASIA_B_GALLERY, GaitResult, casia_b_rank1
from core.metrics.reid import Metric

__all__ = [
    "ClothesSwapResult",
    "clothes_swap_identification",
    "clothes_swap_json",
    "format_clothes_swaps",
    "read_donors",
    "swap_set_problem",
]

GROUP = "CS"


@dataclass(frozen=True)
class ClothesSwapResult:
    """Identification of clothes-swapped walks: ``owner`` and ``donor`` are the protocol's results with the
    probes labelled by the walk's owner and by the clothes' owner (group "CS")."""

    owner: GaitResult
    donor: GaitResult

    @property
    def owner_rank1(self) -> float:
        """Share of clothes-swapped walks whose nearest gallery walk is the walk's owner's (fraction)."""
        return self.owner.mean[GROUP]

    @property
    def donor_share(self) -> float:
        """Share of clothes-swapped walks whose nearest gallery walk is the clothes' owner's (fraction)."""
        return self.donor.mean[GROUP]


def read_donors(swaps_root: str | Path) -> dict[tuple[str, str], str]:
    """(walker id "031", condition "cs-01") -> the donor's id ("032"), from the set's ``factors.jsonl``."""
    return {(f"{int(r['id']):03d}", r["condition"]): f"{int(r['donor']):03d}" for r in read_swap_factors(swaps_root)}


def swap_set_problem(data_root: str | Path, swaps_root: str | Path) -> str | None:
    """Why the clothes-swap set at ``swaps_root`` cannot be scored with the gait set at ``data_root`` (None:
    it can): absent, unfinished (no meta.json yet), or made from another gait set's config."""
    swaps_root, data_root = Path(swaps_root), Path(data_root)
    make = f"python -m core synth gait-swaps --gait {data_root} --out {swaps_root}"
    if not swaps_root.is_dir():
        return f"no clothes-swap set at {swaps_root} (make it with: {make})"
    meta = swaps_root / "meta.json"
    if not meta.exists() or not (swaps_root / "partition.json").exists():
        return f"the clothes-swap set at {swaps_root} is unfinished (no meta.json yet; finish it with: {make})"
    gait_meta = data_root / "meta.json"
    if gait_meta.exists():
        ours = json.loads(gait_meta.read_text()).get("config")
        theirs = json.loads(meta.read_text()).get("config", {}).get("gait")
        if ours != theirs:
            return f"the clothes-swap set at {swaps_root} was made from another gait set than {data_root} (remake it)"
    return None


def clothes_swap_identification(
    features: Any, data: GaitSet, donors: Mapping[tuple[str, str], str], metric: Metric = "euclidean"
) -> ClothesSwapResult:
    """Score per-walk ``features`` (rows in ``data``'s order: the gait set's walks joined by the clothes-swap
    walks, e.g. :func:`core.gait.data.load_with_clothes_swaps`) on the clothes-swap probes (conditions
    cs-NN) against the nm-01..04 gallery; ``donors`` from :func:`read_donors`."""
    feats = np.asarray(features)
    if len(feats) != len(data):
        raise ValueError(f"{len(feats)} feature rows for {len(data)} walks")
    probes = sorted({c for c in data.conditions if c.startswith("cs-")})
    if not probes:
        raise ValueError("no clothes-swap walk (condition cs-NN) among the walks")
    rows = [i for i, s in enumerate(data.sequences) if s.condition in CASIA_B_GALLERY or s.condition in probes]
    seqs = [data.sequences[i] for i in rows]
    missing = sorted({(s.subject, s.condition) for s in seqs if s.condition in probes} - set(donors))
    if missing:
        raise ValueError(f"no donor recorded for the clothes-swap walks {missing[:3]} (factors.jsonl)")
    owners = [s.subject for s in seqs]
    worn = [donors[(s.subject, s.condition)] if s.condition in probes else s.subject for s in seqs]
    conditions, views = [s.condition for s in seqs], [s.view for s in seqs]

    def score(labels: list[str]) -> GaitResult:
        return casia_b_rank1(feats[rows], labels, conditions, views, probes={GROUP: tuple(probes)}, metric=metric)

    return ClothesSwapResult(owner=score(owners), donor=score(worn))


def clothes_swap_json(results: Mapping[str, ClothesSwapResult]) -> dict[str, Any]:
    """Plain numbers (fractions): per method the owner's Rank-1 and the donor's share, mean and per view."""
    return {name: {"owner": r.owner_rank1, "donor": r.donor_share, "owner_per_view": r.owner.per_view[GROUP],
                   "donor_per_view": r.donor.per_view[GROUP]} for name, r in results.items()}  # fmt: skip


def format_clothes_swaps(results: Mapping[str, ClothesSwapResult]) -> str:
    """Markdown table: method | names the walk's owner (%) | names the clothes' owner (%)."""
    lines = ["| method | names the walk's owner (%) | names the clothes' owner (%) |", "|---|---|---|"]
    lines += [f"| {name} | {100 * r.owner_rank1:.1f} | {100 * r.donor_share:.1f} |" for name, r in results.items()]
    return "\n".join(lines)
