"""Ground truth that none of the papers' datasets have: we render the people, so we can render
any factor combination and score a model's output against it.

* :func:`swap_truth` -- person j (body, face, hair, pose, camera, background) wearing person i's
  clothes: what a DG-Net appearance/structure swap should produce.
* :func:`face_at_yaw` -- person i's face at any yaw: what DR-GAN's rotation should produce.
* :func:`novel_views` -- person i from views no input showed: what texture generation should render.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.synth.engine import shared_renderer
from core.synth.face_set import face_nuisance, render_faces
from core.synth.identity import Identity, sample_identity
from core.synth.nuisance import Nuisance
from core.synth.reid_set import ReidConfig, _scene_picture, camera_specs, reid_nuisance
from core.synth.writer import claim_folder, identity_seed, run_tasks, save_image, write_meta


def swap_truth(appearance: Identity, structure: Identity, nuisance: Nuisance, size=(128, 64)) -> torch.Tensor:
    """(3, H, W): ``structure``'s person and picture, wearing ``appearance``'s clothes."""
    return shared_renderer().render([structure.with_clothes_of(appearance)], [nuisance], size).image[0]


def face_at_yaw(identity: Identity, yaw: float, illumination: int = 1, size: int = 110) -> torch.Tensor:
    """(3, size, size) head-centred face crop at ``yaw`` degrees (-90 right profile .. 90 left)."""
    if not -180.0 <= yaw <= 180.0:
        raise ValueError(f"yaw must be within [-180, 180] degrees, got {yaw}")
    n = face_nuisance(yaw, illumination, 3, seed=identity.seed)
    return render_faces([identity], [n], size).image[0]


def novel_views(identity: Identity, nuisance: Nuisance, azimuths: list[float], size=(128, 64)) -> torch.Tensor:
    """(N, 3, H, W): the same picture with the camera moved to each azimuth."""
    nuisances = [replace(nuisance, azimuth=float(a)) for a in azimuths]
    return shared_renderer().render([identity] * len(nuisances), nuisances, size).image


@dataclass(frozen=True)
class PairsConfig:
    """An on-disk split of appearance/structure swaps with their ground truth.

    ``split="test"`` (default) draws the re-ID set's TEST people only (same dataset seed -> same persons),
    so a model trained on that set's training people never saw them. ``split="train"`` draws its
    TRAINING people, for the paired swap loss (``DGNetConfig.loss.paired_w``), a departure from the paper.
    """

    pairs: int = 40
    split: str = "test"
    first_person: int | None = None  # None: the split's first person
    people: int | None = None  # None: all of the split's people
    image_size: tuple[int, int] = (128, 64)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {self.split!r}")
        train = self.split == "train"
        if self.first_person is None:
            object.__setattr__(self, "first_person", 1 if train else ReidConfig.train_ids + 1)
        if self.people is None:
            object.__setattr__(self, "people", ReidConfig.train_ids if train else ReidConfig.test_ids)


def _pair_task(args) -> list:
    out, cfg, k = args
    specs = camera_specs(ReidConfig(seed=cfg.seed))
    # the test split keeps its original stream (same pairs as before the train split existed)
    rng = np.random.default_rng([cfg.seed, 0x5A if cfg.split == "test" else 0x5B, k])
    i, j = (int(p) for p in rng.choice(np.arange(cfg.first_person, cfg.first_person + cfg.people), 2, replace=False))
    a, s = sample_identity(identity_seed(cfg.seed, i)), sample_identity(identity_seed(cfg.seed, j))
    ca, cs = (int(c) for c in rng.choice(len(specs), 2))
    na = reid_nuisance(specs[ca], rng, clean=True)
    ns = reid_nuisance(specs[cs], rng, clean=True)
    names = [f"{k:04d}_{role}.jpg" for role in ("appearance", "structure", "truth")]
    extras = [f"{k:04d}_structure_mask.png", f"{k:04d}_background.jpg", f"{k:04d}_appearance_mask.png"]
    if not all((out / n).exists() for n in names + extras):
        pr = shared_renderer()
        pic = pr.render([a, s, s.with_clothes_of(a)], [na, ns, ns], cfg.image_size)
        for name, img in zip(names, pic.image, strict=True):
            save_image(out / name, img)
        # person j's silhouette and j's picture without anybody: what "structure kept" is scored against
        # and person i's (the no-learning recolour baseline reads i's clothes colours inside it)
        for index, name in ((1, extras[0]), (0, extras[2])):
            mask = (pic.mask[index, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
            Image.fromarray(mask).save(out / name)
        save_image(out / extras[1], _scene_picture(pr, ns, cfg.image_size))
    return [k, *names, *extras, i, j, ca + 1, cs + 1]


def write_pairs(out: Path, cfg: PairsConfig, workers: int = 1, progress=None) -> dict:
    """``out/NNNN_appearance.jpg``, ``_structure.jpg``, ``_truth.jpg`` (the structure person wearing
    the appearance person's clothes), ``_structure_mask.png`` (the structure person's silhouette,
    0-255), ``_background.jpg`` (the structure picture without the person), ``_appearance_mask.png`` (the
    appearance person's silhouette) and pairs.csv."""
    if cfg.people < 2:
        raise ValueError("pairs need at least 2 people")
    claim_folder(out, "pairs", cfg)
    rows = run_tasks(_pair_task, [(out, cfg, k) for k in range(cfg.pairs)], workers, progress)
    with open(out / "pairs.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["pair", "appearance", "structure", "truth", "structure_mask", "background", "appearance_mask",
                         "appearance_id", "structure_id", "appearance_camera", "structure_camera"])  # fmt: skip
        writer.writerows(rows)
    factors = [{"pair": r[0], "appearance_person": r[7], "structure_person": r[8]} for r in rows]
    counts = {"pairs": cfg.pairs}
    write_meta(out, "pairs", cfg, counts, factors)
    return counts
