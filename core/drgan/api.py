"""What the demo, the CLI and the tests call: turn a face to any yaw, from one photo or several.

>>> from core.drgan import api
>>> model = api.load()                              # the shipped single- and multi-image DR-GAN
>>> face = api.example_face(0).image                # a synthetic held-out person, (3, 110, 110) in [0, 1]
>>> x, notes = api.prepare_face(face, model)        # (1, 3, S, S) in [-1, 1], the training crop
>>> strip = api.all_poses(model, x, seed=0)         # (13, 3, S, S) in [0, 1]: yaw -90 .. 90
>>> turned, yaw = api.rotate(model, x, 45.0)        # the face at the nearest bin, 45 degrees
>>> yaw_estimate = api.estimate_yaw(model, x)       # the discriminator's pose head: (degrees, probabilities)

Images given to the API are float [0, 1] (3, H, W) tensors, (H, W, 3) uint8 arrays or PIL images.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.checkpoints import ModelRecipe, from_pretrained
from core.data.face import YAW_BINS
from core.drgan.config import DRGANConfig
from core.drgan.model import DRGAN
from core.synth.face_set import face_nuisance, render_faces
from core.synth.identity import sample_identity
from core.synth.writer import identity_seed

__all__ = [
    "ExampleFace",
    "FaceModel",
    "all_poses",
    "estimate_yaw",
    "example_face",
    "example_pictures",
    "fuse",
    "load",
    "load_drgan",
    "load_files",
    "nearest_bin",
    "prepare_face",
    "prepare_faces",
    "rotate",
    "similarity_matrix",
    "to_tensor",
]

EXAMPLE_COUNT = 6
FIRST_TEST_PERSON = 361  # the default face set's held-out people are 361..400 (dataset seed 0)


@dataclass
class FaceModel:
    """The single-image DR-GAN and, when shipped, the multi-image one (used for fusions)."""

    single: DRGAN
    multi: DRGAN | None = None

    @property
    def config(self) -> DRGANConfig:
        return self.single.cfg

    @property
    def fuser(self) -> DRGAN:
        return self.multi if self.multi is not None else self.single


RECIPE = ModelRecipe(DRGANConfig, DRGAN, "a DR-GAN checkpoint (python -m core train drgan writes one)", "num_ids")


def load_drgan(path: str | Path, device: str | torch.device = "cpu") -> tuple[DRGAN, DRGANConfig]:
    """A trained DR-GAN (a registered name, ``final.pt`` or a shipped file; float32), eval mode, and its config."""
    return from_pretrained(RECIPE, path, device)


def load(name: str | Path = "drgan", multi: str | Path | None = "drgan-multi") -> FaceModel:
    """The registered (shipped, sha256-checked) DR-GAN ``name`` and multi-image DR-GAN ``multi``, or files."""
    single, _ = from_pretrained(RECIPE, name)
    return FaceModel(single, from_pretrained(RECIPE, multi)[0] if multi else None)


def load_files(single_path: str | Path, multi_path: str | Path | None = None) -> FaceModel:
    """:func:`load` of files (any suffix)."""
    return load(Path(single_path), Path(multi_path) if multi_path is not None else None)


def to_tensor(image) -> Tensor:
    """(3, H, W) float in [0, 1] from a tensor, an (H, W, 3|4) / (H, W) uint8 array or a PIL image."""
    if isinstance(image, Tensor):
        t = image.float()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] != 3:
            raise ValueError(f"expected an RGB image (3, H, W), got {tuple(image.shape)}")
        return t.clamp(0, 1)
    arr = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB picture (H, W, 3), got shape {arr.shape}")
    arr = arr[..., :3]
    scale = 255.0 if arr.dtype == np.uint8 else 1.0
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float().div(scale).clamp(0, 1)


def prepare_face(image, model: FaceModel | DRGANConfig) -> tuple[Tensor, list[str]]:
    """A face picture -> (1, 3, S, S) in [-1, 1], cropped the way training crops are: the square middle,
    resized to the load size, the centre S x S. Returns the notes a user should see (cropped, resized)."""
    cfg = model.config if isinstance(model, FaceModel) else model
    x = to_tensor(image)
    notes = []
    h, w = x.shape[1:]
    if h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = x[:, top : top + side, left : left + side]
        notes.append(f"the picture is {w}x{h}, not square: its middle {side}x{side} square was used")
    if x.shape[1] != cfg.load_size:
        if abs(x.shape[1] - cfg.load_size) > 1:
            notes.append(f"resized from {x.shape[1]}x{x.shape[1]} to {cfg.load_size}x{cfg.load_size}, "
                         f"then the central {cfg.image_size}x{cfg.image_size} (the training crop)")  # fmt: skip
        x = F.interpolate(x[None], size=(cfg.load_size, cfg.load_size), mode="bilinear", align_corners=False,
                          antialias=True)[0]  # fmt: skip
    off = (cfg.load_size - cfg.image_size) // 2
    x = x[:, off : off + cfg.image_size, off : off + cfg.image_size]
    return (x * 2 - 1)[None], notes


def prepare_faces(images, model: FaceModel | DRGANConfig) -> Tensor:
    """Several face pictures (a list, or a (N, 3, H, W) tensor) -> (N, 3, S, S) in [-1, 1], each as
    :func:`prepare_face` crops it."""
    return torch.cat([prepare_face(image, model)[0] for image in images])


def nearest_bin(yaw: float) -> int:
    """Index of the yaw bin (-90, -75, ..., 90 degrees) nearest ``yaw``."""
    if not -90.0 <= float(yaw) <= 90.0:
        raise ValueError(f"yaw must be within [-90, 90] degrees, got {yaw}")
    return int(np.argmin([abs(b - float(yaw)) for b in YAW_BINS]))


def _unit(x: Tensor) -> Tensor:
    return ((x.float() + 1) / 2).clamp(0, 1)


def _noise(model: DRGAN, seed: int) -> Tensor:
    return model.noise(1, torch.Generator().manual_seed(int(seed)))[0]


@torch.no_grad()
def all_poses(model: FaceModel, x: Tensor, seed: int = 0) -> Tensor:
    """The face x (1, 3, S, S) at all 13 yaw bins: (13, 3, S, S) in [0, 1]."""
    net = model.single
    return _unit(net.all_poses(net.encode(x)[0][0], _noise(net, seed)))


@torch.no_grad()
def rotate(model: FaceModel, x: Tensor, yaw: float, seed: int = 0) -> tuple[Tensor, int]:
    """The face x (1, 3, S, S) turned to the bin nearest ``yaw``: ((3, S, S) in [0, 1], that bin's yaw)."""
    b = nearest_bin(yaw)
    net = model.single
    out = net.rotate(x, torch.tensor([b]), _noise(net, seed)[None])
    return _unit(out[0]), YAW_BINS[b]


@torch.no_grad()
def estimate_yaw(model: FaceModel, x: Tensor) -> tuple[float, Tensor]:
    """The discriminator's own yaw estimate of x (1, 3, S, S): (expected yaw in degrees, (13,) probabilities)."""
    _, pose = model.single.discriminate(x)
    probs = pose.float().softmax(1)[0]
    return float((probs * torch.tensor(YAW_BINS, dtype=torch.float32)).sum()), probs


@torch.no_grad()
def fuse(model: FaceModel, faces: Tensor, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Several faces of one person (n, 3, S, S) in [-1, 1] -> (omega (n,), the fused face at all 13 bins
    (13, 3, S, S) in [0, 1]); the multi-image model when shipped."""
    net = model.fuser
    fused, omega = net.fuse(faces)
    return omega, _unit(net.all_poses(fused, _noise(net, seed)))


@torch.no_grad()
def similarity_matrix(model: FaceModel, rows: Tensor, cols: Tensor) -> np.ndarray:
    """Cosine similarity of the identity features f(x) (mirror-averaged) of rows (R, 3, S, S) and cols
    (C, 3, S, S), both in [-1, 1]: (R, C)."""
    net = model.single
    return (net.identity_feature(rows) @ net.identity_feature(cols).T).numpy()


@dataclass(frozen=True)
class ExampleFace:
    """A held-out synthetic person: their face at one yaw and the rendered truth at every bin."""

    person: int
    yaw_bin: int
    image: Tensor  # (3, 110, 110) in [0, 1]
    truth: Tensor  # (13, 3, 110, 110) in [0, 1], the same light

    @property
    def label(self) -> str:
        return f"person {self.person}\nyaw {YAW_BINS[self.yaw_bin]:+d}°"


EXAMPLE_YAWS = (6, 3, 9, 1, 11, 4)  # the bins the examples are shown at (0, -45, 45, -75, 75, -30 degrees)


def _example_views(person: int, yaw_bins: list[int]) -> list:
    """The example person's identity and face nuisances at ``yaw_bins``: one light and background for all."""
    ident = sample_identity(identity_seed(0, person))
    return [ident] * len(yaw_bins), [face_nuisance(YAW_BINS[b], 1, 3, seed=ident.seed * 31 + 7) for b in yaw_bins]


@lru_cache(maxsize=EXAMPLE_COUNT)
def _example_strip(person: int) -> Tensor:
    return render_faces(*_example_views(person, list(range(len(YAW_BINS)))), 110).image


@lru_cache(maxsize=1)
def example_pictures() -> Tensor:
    """Every example's face at the yaw it is shown at, (EXAMPLE_COUNT, 3, 110, 110) in [0, 1]: the pictures of
    :func:`example_face` (``.image``), rendered in one batch without the strips of truths (the app's gallery
    needs only these: 6 faces instead of 78 when the app starts)."""
    people, nuisances = [], []
    for k in range(EXAMPLE_COUNT):
        ident, nuisance = _example_views(FIRST_TEST_PERSON + k, [EXAMPLE_YAWS[k]])
        people += ident
        nuisances += nuisance
    return render_faces(people, nuisances, 110).image


def example_face(k: int, yaw_bin: int | None = None) -> ExampleFace:
    """Example ``k`` (0..EXAMPLE_COUNT-1): a held-out person rendered at every yaw bin in one light and one
    background (rendered on demand: the app needs no data folder)."""
    if not 0 <= k < EXAMPLE_COUNT:
        raise ValueError(f"example must be within 0..{EXAMPLE_COUNT - 1}, got {k}")
    person = FIRST_TEST_PERSON + k
    strip = _example_strip(person)
    b = EXAMPLE_YAWS[k] if yaw_bin is None else int(yaw_bin)
    return ExampleFace(person, b, strip[b], strip)
