"""Training and test data of texture generation, from a synthetic re-ID set with annotations.

Every image comes with the body and camera it was rendered with (``annotations.jsonl``), which play
the part of the paper's HMR fits; the UV raster of each image is computed once and cached. The
people's painted textures (``factors.jsonl`` names each image's identity seed) serve twice: training
people's as the face/hand prior (the paper draws SURREAL textures), test people's as ground truth.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.data.annotations import Annotation
from core.data.market import load_images, read_market
from core.render.uv import UVRaster, rasterize_uv
from core.synth.engine import coat_of, shared_renderer
from core.synth.identity import sample_identity
from core.synth.nuisance import BACKGROUNDS, Nuisance, make_background

__all__ = ["PersonImages", "TexGenBatch", "background_bank", "load_person_images", "person_texture", "true_textures"]


@dataclass
class PersonImages:
    """Annotated images of one split: images uint8 (N, 3, H, W), pids (N,), files, annotations,
    identity seeds and nuisance records (from factors.jsonl), UV rasters (N, ...)."""

    images: Tensor
    pids: np.ndarray
    cameras: np.ndarray
    files: list[str]
    annotations: list[Annotation]
    identity_seeds: list[int]
    nuisances: list[dict]
    raster: UVRaster

    def __len__(self) -> int:
        return len(self.files)

    def groups(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for index, pid in enumerate(self.pids):
            out[int(pid)].append(index)
        return dict(out)


@dataclass
class TexGenBatch:
    """P people x K images: images (B, 3, H, W) in [0, 1]; raster of each; ``other[b]`` = index of
    another image of the same person in the batch (itself when the person has one image); ``index`` (B,) the
    images' rows in the :class:`PersonImages`."""

    images: Tensor
    raster: UVRaster
    other: Tensor
    pids: Tensor
    index: Tensor


def _factors(root: Path) -> dict[str, dict]:
    path = root / "factors.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: texture generation trains on a synthetic set (python -m core "
                                "synth reid --out DIR) whose factors name each image's person")  # fmt: skip
    return {row["file"]: row for row in map(json.loads, path.read_text().splitlines())}


def _raster_cache(root: Path, split: str, files: list[str], size: tuple[int, int], cache_dir: Path | None):
    key = hashlib.sha256(json.dumps([str(root.resolve()), split, size, files]).encode()).hexdigest()[:16]
    return (cache_dir / f"raster_{split}_{key}.pt") if cache_dir is not None else None


def load_person_images(
    root: str | Path,
    split: str = "train",
    size: tuple[int, int] = (128, 64),
    cache_dir: str | Path | None = None,
    limit: int | None = None,
    progress=None,
) -> PersonImages:
    """The annotated people of a synthetic re-ID set's ``train`` / ``query`` / ``gallery`` split.

    Junk and distractor images (no annotation) are left out. The images are resized to ``size``; the
    rasters are computed at the set's own image size and then resized (nearest) if it differs.
    ``cache_dir`` keeps the rasters between runs. ``limit`` keeps the first images (tests).
    """
    root = Path(root)
    factors = _factors(root)
    samples = [s for s in read_market(root, annotations=True)[split] if s.annotation is not None and s.identity > 0]
    samples = samples[:limit] if limit is not None else samples
    if not samples:
        raise ValueError(f"{root}/{split}: no annotated people (is this a synthetic set with annotations.jsonl?)")
    files = [Path(s.path).relative_to(root).as_posix() for s in samples]
    rows = [factors.get(f) for f in files]
    if any(r is None for r in rows):
        missing = next(f for f, r in zip(files, rows, strict=True) if r is None)
        raise ValueError(f"{root}/factors.jsonl has no row for {missing}")
    annotations = [s.annotation for s in samples]
    cache = _raster_cache(root, split, files, size, Path(cache_dir) if cache_dir else None)
    if cache is not None and cache.exists():
        stored = torch.load(cache, weights_only=True)
        raster = UVRaster(stored["grid"], stored["mask"])
    else:
        body = shared_renderer().body
        parts = []
        for start in range(0, len(annotations), 32):
            parts.append(rasterize_uv(body, annotations[start : start + 32]).half())
            if progress is not None:
                progress(min(start + 32, len(annotations)), len(annotations))
        raster = UVRaster.cat(parts)
        if tuple(raster.mask.shape[2:]) != tuple(size):
            grid = F.interpolate(raster.grid.float().permute(0, 3, 1, 2), size=size, mode="nearest")
            mask = F.interpolate(raster.mask.float(), size=size, mode="nearest")
            raster = UVRaster(grid.permute(0, 2, 3, 1).contiguous(), mask).half()
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"grid": raster.grid, "mask": raster.mask}, cache)
    return PersonImages(
        images=load_images([s.path for s in samples], size),
        pids=np.array([s.identity for s in samples]), cameras=np.array([s.camera for s in samples]),
        files=files, annotations=annotations, identity_seeds=[int(r["identity_seed"]) for r in rows],
        nuisances=[r["nuisance"] for r in rows], raster=raster,
    )  # fmt: skip


def sample_batch(data: PersonImages, people: int, per_person: int, rng: np.random.Generator) -> TexGenBatch:
    """P people x K of their images (with replacement when a person has fewer), pairing each image
    with another image of the same person (in another camera when there is one)."""
    groups = data.groups()
    ids = rng.choice(sorted(groups), size=people, replace=len(groups) < people)
    index, other = [], []
    for p in ids:
        pool = groups[int(p)]
        picks = rng.choice(pool, per_person, replace=len(pool) < per_person).tolist()
        base = len(index)
        index.extend(picks)
        for k, i in enumerate(picks):
            # prefer a partner from another camera: that is the view the input did not show
            cams = [j for j in range(per_person) if data.cameras[picks[j]] != data.cameras[i]]
            same = [j for j in range(per_person) if j != k]
            choice = cams or same or [k]
            other.append(base + int(rng.choice(choice)))
    idx = torch.tensor(index)
    return TexGenBatch(
        images=data.images[idx].float() / 255.0, raster=data.raster[idx.tolist()].float(),
        other=torch.tensor(other), pids=torch.from_numpy(data.pids[index]), index=idx,
    )  # fmt: skip


def _nuisance(record: dict):
    fields = {f.name for f in dataclasses.fields(Nuisance)}
    return Nuisance(**{k: tuple(v) if isinstance(v, list) else v for k, v in record.items() if k in fields})


def person_texture(identity_seed: int, nuisance: dict | None = None, size: int | None = None) -> Tensor:
    """The true UV texture (3, S, S) in [0, 1] of a synthetic person (with the coat the picture shows)."""
    identity = sample_identity(int(identity_seed))
    coat = coat_of(identity, _nuisance(nuisance)) if nuisance else None
    texture = shared_renderer().body_texture(identity, coat).permute(2, 0, 1).float()
    if size is not None and size != texture.shape[-1]:
        texture = F.interpolate(texture[None], size=(size, size), mode="area")[0]
    return texture


def true_textures(data: PersonImages, size: int, cache: Path | None = None) -> Tensor:
    """(N, 3, S, S) uint8: every image's true texture (the person with the coat the picture shows), each
    distinct (person, coat) painted once; ``cache`` keeps them between runs."""
    if cache is not None and cache.exists():
        return torch.load(cache, weights_only=True)
    # only the coat of a picture's nuisances changes the texture
    keys = [(seed, bool(n.get("coat")), int(n.get("coat_seed", 0)))
            for seed, n in zip(data.identity_seeds, data.nuisances, strict=True)]  # fmt: skip
    painted: dict[tuple[int, bool, int], Tensor] = {}
    for key, n in zip(keys, data.nuisances, strict=True):
        if key not in painted:
            painted[key] = (person_texture(key[0], n, size) * 255).round().to(torch.uint8)
    out = torch.stack([painted[k] for k in keys])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(out, cache)
    return out


def background_bank(count: int, size: tuple[int, int], seed: int = 0) -> Tensor:
    """(count, 3, H, W) scene backgrounds without people, for compositing renders (the paper uses
    PRW / CUHK-SYSU frames)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        kind = BACKGROUNDS[k % len(BACKGROUNDS)]
        crop = (float(rng.uniform()), float(rng.uniform()), float(rng.uniform(1.0, 1.5)))
        out.append(torch.from_numpy(make_background(kind, int(rng.integers(1 << 30)), size, crop)).permute(2, 0, 1))
    return torch.stack(out).float()
