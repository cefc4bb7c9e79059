"""Example people of the synthetic re-ID set, with their ground truth, for the demos and the model cards
(no UI code here).

* :func:`example_people` -- the re-ID set's TEST people (dataset seed 0, persons ``train_ids + 1`` ..), one
  clean camera view each, drawn the way :func:`core.synth.truth._pair_task` draws a swap pair.
* :func:`render_people` and :func:`truth_grid` -- their pictures and "person j wearing person i's clothes"
  (:func:`core.synth.truth.swap_truth`, rendered in one batch), both cached.
* :func:`retrieval_gallery` -- a small gallery of test people seen by other cameras, with labels.

Images are float [0, 1] tensors (3, H, W) or (B, 3, H, W) as everywhere in core.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import torch

from core.synth.engine import shared_renderer
from core.synth.identity import Identity, sample_identity
from core.synth.nuisance import Nuisance
from core.synth.reid_set import ReidConfig, camera_specs, reid_nuisance
from core.synth.writer import identity_seed

__all__ = [
    "DATASET_SEED",
    "EXAMPLE_COUNT",
    "FIRST_TEST_PERSON",
    "GALLERY_CAMERAS",
    "GALLERY_PEOPLE",
    "RENDER_SIZE",
    "ExamplePerson",
    "RetrievalGallery",
    "example_people",
    "person_by_label",
    "render_people",
    "retrieval_gallery",
    "truth_grid",
]

DATASET_SEED = 0  # the re-ID set the shipped model trains on (python -m core synth reid, default seed)
FIRST_TEST_PERSON = ReidConfig.train_ids + 1  # test people: never seen in training
EXAMPLE_COUNT = 8
RENDER_SIZE = (128, 64)  # the re-ID set's image size
GALLERY_PEOPLE = 20
GALLERY_CAMERAS = 3

_RENDER_LOCK = threading.Lock()  # one renderer per process; the demo's requests render one at a time


@dataclass(frozen=True)
class ExamplePerson:
    """One test person of the re-ID set, seen once by one camera (a clean view: no occluder, no box jitter,
    no low-resolution or motion blur)."""

    person: int  # 1-based person number in the re-ID set
    camera: int  # 1-based camera number
    identity: Identity
    nuisance: Nuisance

    @property
    def label(self) -> str:
        return f"person {self.person}"


def _example_camera_rng(dataset_seed: int, person: int) -> np.random.Generator:
    return np.random.default_rng([dataset_seed, 0xE7, person])


def _example(dataset_seed: int, person: int) -> ExamplePerson:
    specs = camera_specs(ReidConfig(seed=dataset_seed))
    rng = _example_camera_rng(dataset_seed, person)
    # cameras that see people from the front or the side: the clothes show best
    facing = [s.index - 1 for s in specs if np.cos(np.radians(s.azimuth)) > -0.2]
    camera = int(rng.choice(facing))
    n = reid_nuisance(specs[camera], rng, clean=True)
    n = replace(n, low_res=1.0, motion_blur=0.0)  # the inputs of the demo should show the clothes clearly
    return ExamplePerson(person, camera + 1, sample_identity(identity_seed(dataset_seed, person)), n)


@lru_cache(maxsize=4)
def example_people(count: int = EXAMPLE_COUNT, dataset_seed: int = DATASET_SEED) -> tuple[ExamplePerson, ...]:
    """The first ``count`` test people of the re-ID set with seed ``dataset_seed``, one view each."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return tuple(_example(dataset_seed, FIRST_TEST_PERSON + k) for k in range(count))


def person_by_label(label: str, people: Sequence[ExamplePerson] | None = None) -> ExamplePerson:
    """The example person whose :attr:`ExamplePerson.label` is ``label`` (ValueError if none)."""
    for p in people if people is not None else example_people():
        if p.label == label:
            return p
    raise ValueError(f"no example person called {label!r}")


def _render(identities: list[Identity], nuisances: list[Nuisance], size: tuple[int, int]) -> torch.Tensor:
    with _RENDER_LOCK:
        return shared_renderer().render(identities, nuisances, tuple(size)).image.clone()


@lru_cache(maxsize=64)
def _render_cached(people: tuple[ExamplePerson, ...], size: tuple[int, int]) -> torch.Tensor:
    return _render([p.identity for p in people], [p.nuisance for p in people], size)


def render_people(people: Sequence[ExamplePerson], size: tuple[int, int] = RENDER_SIZE) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1]: each example person as their camera saw them (cached)."""
    if not people:
        return torch.zeros(0, 3, *size)
    return _render_cached(tuple(people), (int(size[0]), int(size[1]))).clone()


@lru_cache(maxsize=32)
def _truth_cached(appearance: tuple[ExamplePerson, ...], structure: tuple[ExamplePerson, ...],
                  size: tuple[int, int]) -> torch.Tensor:  # fmt: skip
    # swap_truth(a, s, s.nuisance) for every pair, in one batch: s's body and picture, a's clothes
    ids = [s.identity.with_clothes_of(a.identity) for a in appearance for s in structure]
    nuisances = [s.nuisance for _ in appearance for s in structure]
    return _render(ids, nuisances, size).view(len(appearance), len(structure), 3, *size)


def truth_grid(
    appearance: Sequence[ExamplePerson], structure: Sequence[ExamplePerson], size: tuple[int, int] = RENDER_SIZE
) -> torch.Tensor:
    """(A, S, 3, H, W) in [0, 1]: cell (i, j) is structure person j (body, face, hair, pose, camera,
    background) wearing appearance person i's clothes -- what a perfect DG-Net swap would give."""
    if not appearance or not structure:
        return torch.zeros(len(appearance), len(structure), 3, *size)
    return _truth_cached(tuple(appearance), tuple(structure), (int(size[0]), int(size[1]))).clone()


@dataclass(frozen=True)
class RetrievalGallery:
    """Test people seen by cameras other than their example view: ``images`` (G, 3, H, W) in [0, 1],
    ``persons`` and ``cameras`` (G,) (1-based)."""

    images: torch.Tensor
    persons: np.ndarray
    cameras: np.ndarray


@lru_cache(maxsize=2)
def retrieval_gallery(
    people: int = GALLERY_PEOPLE,
    cameras: int = GALLERY_CAMERAS,
    dataset_seed: int = DATASET_SEED,
    size: tuple[int, int] = RENDER_SIZE,
) -> RetrievalGallery:
    """``people`` test people (the examples first) x ``cameras`` views each, never the example's camera.

    Views are clean re-ID sightings (pose, distance, light, scene and camera colour drawn per picture, no
    occluder or box jitter), rendered once per process.
    """
    specs = camera_specs(ReidConfig(seed=dataset_seed))
    if not 1 <= cameras < len(specs):
        raise ValueError(f"cameras must be within 1..{len(specs) - 1} (one camera is the query's), got {cameras}")
    idents, nuisances, persons, cams = [], [], [], []
    for k in range(people):
        person = FIRST_TEST_PERSON + k
        own = _example(dataset_seed, person).camera - 1
        rng = np.random.default_rng([dataset_seed, 0x6A, person])
        others = [c for c in range(len(specs)) if c != own]
        for c in sorted(int(c) for c in rng.choice(others, cameras, replace=False)):
            idents.append(sample_identity(identity_seed(dataset_seed, person)))
            nuisances.append(reid_nuisance(specs[c], rng, clean=True))
            persons.append(person)
            cams.append(c + 1)
    images = torch.cat([_render(idents[i : i + 20], nuisances[i : i + 20], size) for i in range(0, len(idents), 20)])
    return RetrievalGallery(images, np.asarray(persons), np.asarray(cams))
