"""Dataset writers in the real datasets' layouts: re-ID (Market-1501), faces (DR-GAN's 13 yaw
bins), gait (CASIA-B as OpenGait pickles, plus masked RGB for GaitNet), and ground-truth swap pairs.

Every writer splits its work into tasks (one per identity, or identity x condition), renders each
task in batches, skips tasks whose files already exist (so an interrupted run resumes), and can
spread tasks over processes. Everything is deterministic in the dataset seed: the same seed and
sizes give the same files.
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing as mp
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.data.face import YAW_BINS
from core.data.gait import CASIA_B_CONDITIONS, CASIA_B_VIEWS, load_sequence, normalise_silhouette, save_sequence
from core.data.market import SPLITS, market_name
from core.synth.identity import Identity, sample_identity
from core.synth.nuisance import BACKGROUNDS, Nuisance, make_background, random_colour

# ------------------------------------------------------------------------------------------------
# shared machinery


def identity_seed(dataset_seed: int, person: int) -> int:
    """Seed of person ``person`` (1-based) in a dataset; the same people recur across datasets."""
    return dataset_seed * 100_000 + person


_WORKER: dict = {}


def shared_renderer():
    """The process's PersonRenderer (built once per worker process)."""
    if "renderer" not in _WORKER:
        from core.synth.engine import PersonRenderer

        _WORKER["renderer"] = PersonRenderer()
    return _WORKER["renderer"]


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def run_tasks(
    fn: Callable, tasks: list, workers: int = 1, progress: Callable[[Iterable, int], Iterable] | None = None
) -> list:
    """Results of fn(task) for every task, in task order; tasks spread over ``workers`` processes."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    wrap = progress or (lambda it, total: it)
    if workers == 1:
        return [r for r in wrap((fn(t) for t in tasks), len(tasks))]
    ctx = mp.get_context("fork")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(max(1, torch.get_num_threads() // workers),)) as pool:
        results = list(wrap(pool.imap(fn, tasks), len(tasks)))
    return results


def save_image(path: Path, image: torch.Tensor | np.ndarray) -> None:
    """(3, H, W) float in [0, 1] or (H, W, 3) uint8 -> file (atomically)."""
    if isinstance(image, torch.Tensor):
        image = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    Image.fromarray(image).save(tmp, quality=95) if path.suffix == ".jpg" else Image.fromarray(image).save(tmp)
    tmp.replace(path)


def write_meta(out: Path, kind: str, config, counts: dict, factors: list[dict]) -> None:
    with open(out / "factors.jsonl", "w") as fh:
        for row in factors:
            fh.write(json.dumps(row) + "\n")
    meta = {"kind": kind, "config": asdict(config), "counts": counts}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


class DatasetMismatchError(ValueError):
    """The output folder already holds a dataset made with other settings."""


def claim_folder(out: Path, kind: str, config) -> None:
    """Create ``out`` or check that it holds the same kind of set made with the same settings.

    Resuming keeps files that exist, so a folder made with another seed or size would silently
    mix two datasets; ``settings.json`` records what a folder holds.
    """
    out.mkdir(parents=True, exist_ok=True)
    settings = {"kind": kind, "config": json.loads(json.dumps(asdict(config)))}
    path = out / "settings.json"
    if path.exists():
        held = json.loads(path.read_text())
        if held != settings:
            raise DatasetMismatchError(
                f"{out} holds a {held.get('kind')} set made with other settings ({held.get('config')}); "
                "choose a new --out folder or delete this one to start again"
            )
    elif any(out.iterdir()):
        raise DatasetMismatchError(f"{out} is not empty and was not made by this writer; choose a new --out folder")
    else:
        path.write_text(json.dumps(settings, indent=2) + "\n")


def _factor_row(file: str, identity: Identity, nuisance: Nuisance, **extra) -> dict:
    return {"file": file, "identity_seed": identity.seed, "nuisance": asdict(nuisance), **extra}


# ------------------------------------------------------------------------------------------------
# re-ID: Market-1501


@dataclass(frozen=True)
class ReidConfig:
    """Sizes of the synthetic re-ID set (defaults generate in a few minutes on 2 cores)."""

    train_ids: int = 100
    test_ids: int = 100
    cameras: int = 6
    images_per_camera: int = 3
    min_cameras: int = 2
    image_size: tuple[int, int] = (128, 64)
    distractors: int = 20
    seed: int = 0


@dataclass(frozen=True)
class CameraSpec:
    """A fixed surveillance camera: where it looks from, its scene, light and sensor."""

    index: int
    azimuth: float
    elevation: tuple[float, float]
    distance: tuple[float, float]
    background: str
    scene_seeds: tuple[int, ...]
    light_direction: tuple[float, float, float]
    light_colour: tuple[float, float, float]
    light_intensity: float
    ambient: float
    noise: float
    blur: float


CAMERA_AZIMUTHS = (0.0, 90.0, 180.0, 270.0, 40.0, 220.0)


def camera_specs(cfg: ReidConfig) -> list[CameraSpec]:
    """The dataset's cameras: different viewpoints, scenes, lights and sensors per camera."""
    specs = []
    for c in range(cfg.cameras):
        rng = np.random.default_rng([cfg.seed, 0xCA, c])
        warm = rng.uniform(-0.12, 0.12)
        specs.append(
            CameraSpec(
                index=c + 1,
                azimuth=CAMERA_AZIMUTHS[c % len(CAMERA_AZIMUTHS)] + 15.0 * (c // len(CAMERA_AZIMUTHS)),
                elevation=(float(rng.uniform(0, 10)), float(rng.uniform(12, 30))),
                distance=(float(rng.uniform(4, 6)), float(rng.uniform(7, 11))),
                background=BACKGROUNDS[(c + cfg.seed) % len(BACKGROUNDS)],
                scene_seeds=tuple(int(s) for s in rng.integers(0, 2**31, 3)),
                light_direction=tuple(
                    float(v) for v in (rng.uniform(-1, 1), rng.uniform(0.4, 1.0), rng.uniform(-1, 1))
                ),
                light_colour=(1.0 + warm, 1.0, 1.0 - warm),
                light_intensity=float(rng.uniform(0.35, 0.7)),
                ambient=float(rng.uniform(0.35, 0.6)),
                noise=float(rng.uniform(0.0, 0.03)),
                blur=float(rng.choice([0.0, 0.0, 0.4, 0.7])),
            )
        )
    return specs


def reid_nuisance(spec: CameraSpec, rng: np.random.Generator, bag: str, bag_colour) -> Nuisance:
    """One sighting of a person by a camera."""
    return Nuisance(
        azimuth=spec.azimuth + float(rng.uniform(-35, 35)),
        elevation=float(rng.uniform(*spec.elevation)),
        distance=float(rng.uniform(*spec.distance)),
        framing=float(rng.uniform(0.82, 0.95)),
        light_direction=spec.light_direction,
        light_colour=spec.light_colour,
        light_intensity=spec.light_intensity * float(rng.uniform(0.9, 1.1)),
        ambient=spec.ambient,
        background=spec.background,
        bag=bag,
        bag_colour=bag_colour,
        phase=float(rng.uniform(0, 1)),
        noise=spec.noise,
        blur=spec.blur,
        seed=int(rng.choice(spec.scene_seeds)),
    )


def _reid_task(args) -> list[dict]:
    out, cfg, person, split = args
    specs = camera_specs(cfg)
    ident = sample_identity(identity_seed(cfg.seed, person))
    rng = np.random.default_rng([cfg.seed, person, 0x1D])
    n_cams = int(rng.integers(cfg.min_cameras, cfg.cameras + 1))
    cams = sorted(rng.choice(cfg.cameras, n_cams, replace=False).tolist())
    bag = str(rng.choice(["none", "backpack", "satchel"], p=[0.6, 0.25, 0.15]))
    bag_colour = random_colour(rng, val=(0.1, 0.6))
    jobs = []
    for cam in cams:
        for k in range(cfg.images_per_camera):
            n = reid_nuisance(specs[cam], np.random.default_rng([cfg.seed, person, cam, k]), bag, bag_colour)
            folder = SPLITS["train"] if split == "train" else (SPLITS["query"] if k == 0 else SPLITS["gallery"])
            name = market_name(person, cam + 1, 1, person * 10 + k, 1)
            jobs.append((f"{folder}/{name}", n, cam + 1))
    todo = [(f, n) for f, n, _ in jobs if not (out / f).exists()]
    if todo:
        pic = shared_renderer().render([ident] * len(todo), [n for _, n in todo], cfg.image_size)
        for (f, _), img in zip(todo, pic.image, strict=True):
            save_image(out / f, img)
    return [_factor_row(f, ident, n, person=person, camera=c) for f, n, c in jobs]


def _distractor_task(args) -> list[dict]:
    out, cfg, k = args
    spec = camera_specs(cfg)[k % cfg.cameras]
    rng = np.random.default_rng([cfg.seed, 0xD1, k])
    seed = int(rng.choice(spec.scene_seeds))
    name = f"{SPLITS['gallery']}/{market_name(0, spec.index, 1, k, 1)}"
    if not (out / name).exists():
        bg = make_background(spec.background, seed, cfg.image_size)
        save_image(out / name, (bg * 255).round().astype(np.uint8))
    return [{"file": name, "identity_seed": None, "distractor": True, "camera": spec.index}]


def write_reid(out: Path, cfg: ReidConfig, workers: int = 1, progress=None) -> dict:
    """Market-1501-style re-ID set; returns image counts per split."""
    if not 2 <= cfg.cameras <= 9:
        raise ValueError("a Market-1501 set needs 2 to 9 cameras (its names hold one camera digit)")
    if cfg.train_ids + cfg.test_ids > 9999:
        raise ValueError("a Market-1501 set holds at most 9999 people (four-digit ids)")
    if cfg.images_per_camera < 2:
        raise ValueError("images per camera must be >= 2 (a query and at least one gallery image)")
    claim_folder(out, "reid", cfg)
    people = [(out, cfg, p, "train") for p in range(1, cfg.train_ids + 1)]
    people += [(out, cfg, p, "test") for p in range(cfg.train_ids + 1, cfg.train_ids + cfg.test_ids + 1)]
    factors = [row for rows in run_tasks(_reid_task, people, workers, progress) for row in rows]
    factors += [row for k in range(cfg.distractors) for row in _distractor_task((out, cfg, k))]
    counts = {split: sum(row["file"].startswith(folder + "/") for row in factors) for split, folder in SPLITS.items()}
    write_meta(out, "reid", cfg, counts, factors)
    return counts


# ------------------------------------------------------------------------------------------------
# faces: DR-GAN setting


@dataclass(frozen=True)
class FaceConfig:
    ids: int = 50
    illuminations: int = 3
    stored_size: int = 110  # random 96x96 crops are taken from these in training, as in the paper
    seed: int = 0


def face_nuisance(yaw: float, illumination: int, n_illum: int, seed: int) -> Nuisance:
    """A studio shot of the face at ``yaw`` degrees, lit from the camera's left, front or right."""
    offsets = np.linspace(-60, 60, n_illum) if n_illum > 1 else np.zeros(1)
    light_az = math.radians(yaw + float(offsets[illumination]))
    el = math.radians(25.0)
    direction = (math.cos(el) * math.sin(light_az), math.sin(el), math.cos(el) * math.cos(light_az))
    return Nuisance(
        azimuth=float(yaw), elevation=0.0, distance=2.0, framing=1.0, light_direction=direction,
        light_intensity=0.6, ambient=0.45, background="gradient", pose="stand", seed=seed,
    )  # fmt: skip


def render_faces(identities: list[Identity], nuisances: list[Nuisance], size: int = 110, extent: float = 0.32):
    """Head-centred crops (B, 3, size, size): the head's centre is the midpoint of the ears."""
    from core.body.skeleton import LANDMARK_NAMES

    pr = shared_renderer()
    betas = torch.tensor([i.betas for i in identities])
    from core.body import a_pose
    from core.synth.engine import STAND_ARM_ANGLE

    with torch.no_grad():
        out = pr.body(betas=betas, body_pose=a_pose(STAND_ARM_ANGLE, len(identities)))
    ears = out.landmarks[:, [LANDMARK_NAMES.index("lear"), LANDMARK_NAMES.index("rear")]].mean(1)
    centre = ears + torch.tensor([0.0, 0.02, 0.01])
    extents = torch.full((len(identities),), extent)
    return pr.render(identities, nuisances, (size, size), look_at=centre, extent=extents, head_only=True)


def _face_task(args) -> list[dict]:
    out, cfg, person = args
    ident = sample_identity(identity_seed(cfg.seed, person))
    jobs = []
    for b, yaw in enumerate(YAW_BINS):
        for ill in range(cfg.illuminations):
            n = face_nuisance(yaw, ill, cfg.illuminations, seed=identity_seed(cfg.seed, person))
            jobs.append((f"{person:04d}/{person:04d}_y{b:02d}_l{ill}.png", n, b, yaw, ill))
    todo = [j for j in jobs if not (out / j[0]).exists()]
    if todo:
        pic = render_faces([ident] * len(todo), [j[1] for j in todo], cfg.stored_size)
        for job, img in zip(todo, pic.image, strict=True):
            save_image(out / job[0], img)
    return [_factor_row(f, ident, n, id=person, yaw_bin=b, yaw=y, illumination=f"l{i}") for f, n, b, y, i in jobs]


def write_face(out: Path, cfg: FaceConfig, workers: int = 1, progress=None) -> dict:
    """Face set: ids x 13 yaw bins x illuminations, 110x110 PNGs and labels.csv."""
    claim_folder(out, "face", cfg)
    tasks = [(out, cfg, p) for p in range(1, cfg.ids + 1)]
    factors = [row for rows in run_tasks(_face_task, tasks, workers, progress) for row in rows]
    with open(out / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "id", "yaw_bin", "yaw", "illumination"])
        for r in factors:
            writer.writerow([r["file"], r["id"], r["yaw_bin"], r["yaw"], r["illumination"]])
    counts = {"images": len(factors), "ids": cfg.ids}
    write_meta(out, "face", cfg, counts, factors)
    return counts


# ------------------------------------------------------------------------------------------------
# gait: CASIA-B as OpenGait pickles


@dataclass(frozen=True)
class GaitConfig:
    ids: int = 6
    frames: int = 30
    fps: float = 25.0
    views: tuple[int, ...] = CASIA_B_VIEWS
    conditions: tuple[str, ...] = CASIA_B_CONDITIONS
    render_size: tuple[int, int] = (88, 64)
    rgb_size: tuple[int, int] = (64, 32)
    train_fraction: float = 0.6
    seed: int = 0


def gait_nuisances(ident: Identity, cfg: GaitConfig, person: int, condition: str, view: float) -> list[Nuisance]:
    """The frames of one walk: phase advances at the person's cadence; bag or coat by condition."""
    rng = np.random.default_rng([cfg.seed, person, 0x6A])
    bag = str(rng.choice(["backpack", "satchel"]))
    bag_colour = random_colour(rng, val=(0.1, 0.5))
    seq_rng = np.random.default_rng([cfg.seed, person, zlib.crc32(condition.encode())])
    start = float(seq_rng.uniform(0, 1))
    step = ident.gait.cadence / 120.0 / cfg.fps
    scene = int(seq_rng.integers(0, 2**31))
    return [
        Nuisance(
            azimuth=float(view),
            elevation=3.0,
            distance=6.0,
            framing=0.9,
            background="floor-wall",
            bag=bag if condition.startswith("bg") else "none",
            bag_colour=bag_colour,
            coat=condition.startswith("cl"),
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


def _gait_task(args) -> list[dict]:
    out, cfg, person, condition = args
    ident = sample_identity(identity_seed(cfg.seed, person))
    rows = []
    for view in cfg.views:
        rel = f"{person:03d}/{condition}/{view:03d}/{view:03d}.pkl"
        nuisances = gait_nuisances(ident, cfg, person, condition, view)
        if not ((out / "sil" / rel).exists() and (out / "rgb" / rel).exists()):
            pic = shared_renderer().render([ident] * len(nuisances), nuisances, cfg.render_size)
            sils, rgbs = [], []
            for img, mask in zip(pic.image, pic.mask, strict=True):
                sil = normalise_silhouette(mask[0].numpy() > 0.5)
                if sil is None:  # OpenGait drops empty frames too
                    continue
                sils.append(sil[:, 10:-10])  # OpenGait's cut: 64x64 -> 64x44
                rgbs.append(masked_rgb(img, mask, cfg.rgb_size))
            if not sils:
                raise RuntimeError(f"no frame of {rel} shows the person; check the camera settings")
            save_sequence(out / "sil" / rel, np.stack(sils))
            save_sequence(out / "rgb" / rel, np.stack(rgbs))
        frames = len(load_sequence(out / "sil" / rel))
        rows.append({"file": rel, "identity_seed": ident.seed, "id": person, "condition": condition, "view": view,
                     "frames": frames, "bag": nuisances[0].bag, "coat": nuisances[0].coat})  # fmt: skip
    return rows


def write_gait(out: Path, cfg: GaitConfig, workers: int = 1, progress=None) -> dict:
    """CASIA-B-like gait set: sil/ (uint8 T x 64 x 44) and rgb/ (uint8 T x 64 x 32 x 3) trees."""
    if len(set(cfg.views)) != len(cfg.views) or len(set(cfg.conditions)) != len(cfg.conditions):
        raise ValueError("views and conditions must not repeat")
    bad = [c for c in cfg.conditions if not re.fullmatch(r"(nm|bg|cl)-\d\d", c)]
    if bad:
        raise ValueError(f"conditions look like nm-01, bg-02 or cl-01; got {bad}")
    claim_folder(out, "gait", cfg)
    tasks = [(out, cfg, p, c) for p in range(1, cfg.ids + 1) for c in cfg.conditions]
    factors = [row for rows in run_tasks(_gait_task, tasks, workers, progress) for row in rows]
    n_train = max(1, round(cfg.ids * cfg.train_fraction))
    partition = {"TRAIN_SET": [f"{p:03d}" for p in range(1, n_train + 1)],
                 "TEST_SET": [f"{p:03d}" for p in range(n_train + 1, cfg.ids + 1)]}  # fmt: skip
    (out / "partition.json").write_text(json.dumps(partition, indent=1) + "\n")
    counts = {"sequences": len(factors), "frames": sum(r["frames"] for r in factors), "ids": cfg.ids}
    write_meta(out, "gait", cfg, counts, factors)
    return counts
