"""The synthetic gait set in CASIA-B's layout as OpenGait pickles, plus masked RGB for GaitNet."""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.data.opengait import CASIA_B_CONDITIONS, CASIA_B_VIEWS, load_sequence, normalise_silhouette, save_sequence
from core.synth.engine import shared_renderer
from core.synth.identity import Identity, sample_identity
from core.synth.nuisance import Nuisance, random_colour
from core.synth.segnoise import segmentation_noise
from core.synth.writer import claim_folder, identity_seed, run_tasks, write_meta


@dataclass(frozen=True)
class GaitConfig:
    """Sizes of the CASIA-B-like gait set.

    fps: 12.5 keeps every other frame of CASIA-B's 25 fps, so 30 frames hold two or more gait
    cycles. train_ids: the first ids train, the rest test (CASIA-B: 74 of 124, :data:`CASIA_B_GAIT`).
    speed, stride: per-walk factors on the person's cadence and step length (people do not walk
    the same way twice). silhouette_noise: the strongest segmentation noise a walk may get (each
    walk draws its own strength up to this).
    """

    ids: int = 50
    frames: int = 30
    fps: float = 12.5
    views: tuple[int, ...] = CASIA_B_VIEWS
    conditions: tuple[str, ...] = CASIA_B_CONDITIONS
    render_size: tuple[int, int] = (88, 64)
    rgb_size: tuple[int, int] = (64, 32)
    train_ids: int = 30
    speed: tuple[float, float] = (0.85, 1.15)
    stride: tuple[float, float] = (0.9, 1.1)
    silhouette_noise: float = 0.5  # at most 1
    seed: int = 0


CASIA_B_GAIT = GaitConfig(ids=124, train_ids=74)  # CASIA-B's own split: 74 train, 50 test


def gait_walker(ident: Identity, cfg: GaitConfig, person: int, condition: str) -> Identity:
    """The person as they walk in one sequence: speed and stride vary from walk to walk."""
    rng = np.random.default_rng([cfg.seed, person, zlib.crc32(condition.encode()), 0x5D])
    gait = replace(ident.gait, cadence=ident.gait.cadence * float(rng.uniform(*cfg.speed)),
                   stride=ident.gait.stride * float(rng.uniform(*cfg.stride)))  # fmt: skip
    return replace(ident, gait=gait)


def gait_nuisances(ident: Identity, cfg: GaitConfig, person: int, condition: str, view: float) -> list[Nuisance]:
    """The frames of one walk: the phase advances at the walk's cadence; bg walks carry a bag and
    cl walks wear a coat, each drawn for that walk (bg-01 and bg-02 differ)."""
    seq_rng = np.random.default_rng([cfg.seed, person, zlib.crc32(condition.encode())])
    bag = str(seq_rng.choice(["backpack", "satchel"]))
    bag_colour = random_colour(seq_rng, val=(0.1, 0.5))
    coat_seed = int(seq_rng.integers(1, 2**31))
    start = float(seq_rng.uniform(0, 1))
    step = ident.gait.cadence / 120.0 / cfg.fps
    scene = int(seq_rng.integers(0, 2**31))
    return [
        Nuisance(
            azimuth=float(view),
            elevation=3.0,
            distance=6.0,
            framing=0.9,
            background="corridor",
            bag=bag if condition.startswith("bg") else "none",
            bag_colour=bag_colour,
            coat=condition.startswith("cl"),
            coat_seed=coat_seed,
            phase=(start + t * step) % 1.0,
            seed=scene,
        )  # fmt: skip
        for t in range(cfg.frames)
    ]


def masked_rgb(image: torch.Tensor, mask: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Person crop (H, W, 3) uint8 on black, person height = H, centred in width W."""
    h, w = size
    m = mask[0].numpy() > 0.5
    rgb = (image.permute(1, 2, 0).numpy() * m[..., None] * 255).astype(np.uint8)
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    if len(rows) == 0:
        return np.zeros((h, w, 3), np.uint8)
    crop = rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    width = max(1, min(w, round(crop.shape[1] * h / crop.shape[0])))
    crop = np.asarray(Image.fromarray(crop).resize((width, h), Image.BILINEAR))
    canvas = np.zeros((h, w, 3), np.uint8)
    left = (w - width) // 2
    canvas[:, left : left + width] = crop
    return canvas


@dataclass(frozen=True)
class GaitWalk:
    """One rendered walk as the gait set stores it.

    sil: uint8 (T, 64, 64) silhouettes (OpenGait's pretreatment output, from the noisy segmentation).
    rgb: uint8 (T, 64, 32, 3) the person cut out with the same noisy silhouette.
    kept: the rendered frame index of each stored frame (frames OpenGait would drop are dropped).
    params: per kept frame, the body and camera (for the annotation npz).
    truth: with ``clothes_of``, uint8 (T, 64, 32, 3): the same kept frames of this walk (body, gait,
        camera) with the other person's clothes, cut out exactly as ``rgb`` is (same mask, same box);
        else None.
    """

    sil: np.ndarray
    rgb: np.ndarray
    kept: list[int]
    params: list[dict]
    truth: np.ndarray | None = None


def render_gait_walk(
    cfg: GaitConfig,
    person: int,
    condition: str,
    view: int,
    clothes_of: int | None = None,
    dressed_as: int | None = None,
) -> GaitWalk:
    """Render walk (person, condition, view) exactly as :func:`write_gait` stores it; with ``clothes_of``
    also the ground truth of an appearance swap: this walk worn in person ``clothes_of``'s clothes.

    ``dressed_as``: the person walks this very walk (body, motion, camera, noise) in person ``dressed_as``'s
    clothes, and the walk itself is cut out with its own silhouette (a walk of the clothes-swap set)."""
    ident = gait_walker(sample_identity(identity_seed(cfg.seed, person)), cfg, person, condition)
    if dressed_as is not None:
        ident = ident.with_clothes_of(sample_identity(identity_seed(cfg.seed, dressed_as)))
    nuisances = gait_nuisances(ident, cfg, person, condition, view)
    people = [ident] * len(nuisances)
    if clothes_of is not None:
        donor = sample_identity(identity_seed(cfg.seed, clothes_of))
        people = people + [ident.with_clothes_of(donor)] * len(nuisances)
        nuisances = nuisances + nuisances
    pic = shared_renderer().render(people, nuisances, cfg.render_size)
    noise_rng = np.random.default_rng([cfg.seed, person, zlib.crc32(condition.encode()), view])
    strength = float(noise_rng.uniform(0.0, cfg.silhouette_noise))
    sils, rgbs, truths, kept = [], [], [], []
    for t in range(cfg.frames):
        seg = segmentation_noise(pic.mask[t, 0].numpy() > 0.5, noise_rng, strength)
        sil = normalise_silhouette(seg)
        if sil is None:  # OpenGait drops empty frames too
            continue
        mask = torch.from_numpy(seg[None].astype(np.float32))
        sils.append(sil)  # stored 64 x 64 as OpenGait's pretreatment writes; readers cut to 64 x 44
        rgbs.append(masked_rgb(pic.image[t], mask, cfg.rgb_size))
        if clothes_of is not None:  # the same cut-out (box and mask) as the stored frame, so pixels align
            truths.append(masked_rgb(pic.image[cfg.frames + t], mask, cfg.rgb_size))
        kept.append(t)
    if not sils:
        raise RuntimeError(f"no frame of walk {person:03d}/{condition}/{view:03d} shows the person; check the camera")
    truth = np.stack(truths) if truths else None
    return GaitWalk(np.stack(sils), np.stack(rgbs), kept, [pic.params[t] for t in kept], truth)


@dataclass(frozen=True)
class ClothesSwapConfig:
    """The clothes-swap set: walks of the gait set's people in other clothes.

    Each walk repeats one of the gait set's walks (the same body, motion, camera and segmentation noise,
    frame for frame) in other clothes, and is stored as condition ``cs-NN`` of the walker. It is what
    GaitNet's gait-similarity loss asks for (one walker in different clothes) and it tests whether a gait
    feature names the walk's owner or the clothes' owner.

    Training walkers (and the last ``validation_ids`` of them, which select GaitNet's checkpoint: GaitNet's
    ``validation_subjects``) wear ``donors`` new outfits each, of people who are not in the gait set
    (numbers from ``outfit_base`` + 1 on, never shared), repeating a random gallery walk
    (``walk_conditions``) at ``views_per_walk`` views that rotate so that every view is covered. The 25
    training walkers' own outfits alone are too few for f_a to learn clothes it has not seen. Each test
    walker walks ``test_condition`` once (cs-01) in the next test walker's clothes, at every view.

    ``walker_donors`` more walks per training walker (conditions after the new outfits') wear the clothes of
    *other walkers of the set*: the k-th the clothes of the walker k + 1 places on among the training walkers
    (validation walkers among the validation walkers). These are the test's hard case: a gait feature that
    names walkers by their clothes is wrong on them in training too, and the validation walkers' swaps are
    scored as the test's are (their donors are in the gallery).
    """

    gait: GaitConfig = GaitConfig()
    donors: int = 6
    views_per_walk: int = 4
    walk_conditions: tuple[str, ...] = ("nm-01", "nm-02", "nm-03", "nm-04")
    test_condition: str = "nm-05"
    validation_ids: int = 5
    outfit_base: int = 1000
    walker_donors: int = 0
    seed: int = 0


def clothes_swap_plan(cfg: ClothesSwapConfig) -> list[dict]:
    """One row per cs walk: {"id", "condition" (cs-NN), "donor" (whose clothes), "walk" (the condition it
    repeats), "views"}."""
    g = cfg.gait
    if not 1 <= cfg.validation_ids < g.train_ids - 1:
        raise ValueError(f"validation_ids must be within 1..{g.train_ids - 2}, got {cfg.validation_ids}")
    if cfg.donors < 1 or cfg.views_per_walk < 1:
        raise ValueError(f"donors and views_per_walk must be >= 1, got {cfg.donors} and {cfg.views_per_walk}")
    trainers = list(range(1, g.train_ids - cfg.validation_ids + 1))
    validators = list(range(g.train_ids - cfg.validation_ids + 1, g.train_ids + 1))
    if not 0 <= cfg.walker_donors < min(len(trainers), len(validators)):
        raise ValueError(f"walker_donors must be within 0..{min(len(trainers), len(validators)) - 1} (other walkers "
                         f"of the {len(validators)} validation walkers), got {cfg.walker_donors}")  # fmt: skip
    if cfg.outfit_base < g.ids:
        raise ValueError(f"outfit_base must be >= the gait set's {g.ids} ids (new people), got {cfg.outfit_base}")
    missing = [c for c in (*cfg.walk_conditions, cfg.test_condition) if c not in g.conditions]
    if missing:
        raise ValueError(f"the gait set has no walks {missing}; its conditions are {', '.join(g.conditions)}")
    views, per_walk = list(g.views), min(cfg.views_per_walk, len(g.views))
    rows = []
    for n, person in enumerate(range(1, g.train_ids + 1)):
        rng = np.random.default_rng([cfg.seed, person, 0xC5])
        for k in range(cfg.donors):
            walk_number = n * cfg.donors + k
            first = walk_number * per_walk
            chosen = sorted({views[(first + m) % len(views)] for m in range(per_walk)})
            rows.append({"id": person, "condition": f"cs-{k + 1:02d}", "donor": cfg.outfit_base + walk_number + 1,
                         "walk": str(rng.choice(list(cfg.walk_conditions))), "views": chosen})  # fmt: skip
        group = trainers if person in trainers else validators
        for k in range(cfg.walker_donors):
            walk_number = (g.train_ids + n) * cfg.walker_donors + k  # views rotate on from the new outfits'
            first = walk_number * per_walk
            chosen = sorted({views[(first + m) % len(views)] for m in range(per_walk)})
            donor = group[(group.index(person) + k + 1) % len(group)]
            rows.append({"id": person, "condition": f"cs-{cfg.donors + k + 1:02d}", "donor": donor,
                         "walk": str(rng.choice(list(cfg.walk_conditions))), "views": chosen})  # fmt: skip
    test = list(range(g.train_ids + 1, g.ids + 1))
    for n, person in enumerate(test):
        rows.append({"id": person, "condition": "cs-01", "donor": test[(n + 1) % len(test)],
                     "walk": cfg.test_condition, "views": views})  # fmt: skip
    return rows


def _swap_task(args) -> list[dict]:
    out, cfg, row = args
    rows = []
    for view in row["views"]:
        rel = f"{row['id']:03d}/{row['condition']}/{view:03d}/{view:03d}.pkl"
        if not ((out / "sil" / rel).exists() and (out / "rgb" / rel).exists()):
            walk = render_gait_walk(cfg, row["id"], row["walk"], view, dressed_as=row["donor"])
            save_sequence(out / "sil" / rel, walk.sil)
            save_sequence(out / "rgb" / rel, walk.rgb)
        described = {k: v for k, v in row.items() if k != "views"}
        rows.append({"file": rel, **described, "view": view, "frames": len(load_sequence(out / "sil" / rel))})
    return rows


def write_clothes_swaps(out: Path, cfg: ClothesSwapConfig, workers: int = 1, progress=None) -> dict:
    """The clothes-swap set in the gait set's layout (sil/, rgb/, partition.json with the same split);
    ``factors.jsonl`` names each cs walk's donor and the walk it repeats."""
    tasks = [(out, cfg.gait, row) for row in clothes_swap_plan(cfg)]
    claim_folder(out, "gait-swaps", cfg)
    factors = [row for rows in run_tasks(_swap_task, tasks, workers, progress) for row in rows]
    g = cfg.gait
    partition = {"TRAIN_SET": [f"{p:03d}" for p in range(1, g.train_ids + 1)],
                 "TEST_SET": [f"{p:03d}" for p in range(g.train_ids + 1, g.ids + 1)]}  # fmt: skip
    (out / "partition.json").write_text(json.dumps(partition, indent=1) + "\n")
    counts = {"sequences": len(factors), "frames": sum(r["frames"] for r in factors), "ids": g.ids}
    write_meta(out, "gait-swaps", cfg, counts, factors)
    return counts


def _gait_task(args) -> tuple[list[dict], list[dict]]:
    out, cfg, person, condition = args
    ident = gait_walker(sample_identity(identity_seed(cfg.seed, person)), cfg, person, condition)
    rows, notes = [], []
    for view in cfg.views:
        rel = f"{person:03d}/{condition}/{view:03d}/{view:03d}.pkl"
        nuisances = gait_nuisances(ident, cfg, person, condition, view)
        if not ((out / "sil" / rel).exists() and (out / "rgb" / rel).exists()):
            walk = render_gait_walk(cfg, person, condition, view)
            save_sequence(out / "sil" / rel, walk.sil)
            save_sequence(out / "rgb" / rel, walk.rgb)
            notes.append(_sequence_annotation(out / "annotations" / rel.replace(".pkl", ".npz"), walk.params))
        frames = len(load_sequence(out / "sil" / rel))
        rows.append({"file": rel, "identity_seed": ident.seed, "id": person, "condition": condition, "view": view,
                     "frames": frames, "bag": nuisances[0].bag, "coat": nuisances[0].coat,
                     "cadence": ident.gait.cadence, "stride": ident.gait.stride})  # fmt: skip
    return rows, notes


def _sequence_annotation(path: Path, params: list[dict]) -> str:
    """Per-frame body and camera of one walk as arrays in an npz (a row per kept frame)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {key: np.asarray([p[key] for p in params], dtype=np.float32) for key in ANNOTATION_ARRAYS}
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return str(path)


ANNOTATION_ARRAYS = ("betas", "body_pose", "global_orient", "transl", "R", "T", "fov", "aspect_ratio", "image_size",
                     "box_zoom", "box_shift")  # fmt: skip


def write_gait(out: Path, cfg: GaitConfig, workers: int = 1, progress=None) -> dict:
    """CASIA-B-like gait set: sil/ (uint8 T x 64 x 64, OpenGait's pretreatment output), rgb/ (uint8
    T x 64 x 32 x 3, masked RGB), annotations/ (npz per walk), partition.json."""
    if len(set(cfg.views)) != len(cfg.views) or len(set(cfg.conditions)) != len(cfg.conditions):
        raise ValueError("views and conditions must not repeat")
    bad = [c for c in cfg.conditions if not re.fullmatch(r"(nm|bg|cl)-\d\d", c)]
    if bad:
        raise ValueError(f"conditions look like nm-01, bg-02 or cl-01; got {bad}")
    if not 0.0 <= cfg.silhouette_noise <= 1.0:
        raise ValueError(f"silhouette_noise must be within [0, 1], got {cfg.silhouette_noise}")
    if not 1 <= cfg.train_ids < cfg.ids:
        raise ValueError(f"train_ids must be within 1..ids-1 (some ids must be left to test), got {cfg.train_ids}")
    claim_folder(out, "gait", cfg)
    tasks = [(out, cfg, p, c) for p in range(1, cfg.ids + 1) for c in cfg.conditions]
    factors = [row for rows, _ in run_tasks(_gait_task, tasks, workers, progress) for row in rows]
    n_train = cfg.train_ids
    partition = {"TRAIN_SET": [f"{p:03d}" for p in range(1, n_train + 1)],
                 "TEST_SET": [f"{p:03d}" for p in range(n_train + 1, cfg.ids + 1)]}  # fmt: skip
    (out / "partition.json").write_text(json.dumps(partition, indent=1) + "\n")
    counts = {"sequences": len(factors), "frames": sum(r["frames"] for r in factors), "ids": cfg.ids}
    write_meta(out, "gait", cfg, counts, factors)
    return counts
