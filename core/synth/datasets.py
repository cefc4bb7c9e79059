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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.data.face import YAW_BINS
from core.data.market import SPLITS, market_name
from core.data.opengait import CASIA_B_CONDITIONS, CASIA_B_VIEWS, load_sequence, normalise_silhouette, save_sequence
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


def save_image(path: Path, image: torch.Tensor | np.ndarray, quality: int = 95) -> None:
    """(3, H, W) float in [0, 1] or (H, W, 3) uint8 -> file (atomically); ``quality`` for JPEG."""
    if isinstance(image, torch.Tensor):
        image = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    Image.fromarray(image).save(tmp, quality=quality) if path.suffix == ".jpg" else Image.fromarray(image).save(tmp)
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


MARKET_MAX_CAMERAS, MARKET_MAX_PID, DUKE_MAX_CAMERAS = 6, 1501, 8  # what torchreid's readers assert
SEQUENCE_FRAMES = 30_000  # frames per camera sequence (sNN in Market names; 20 min at 25 fps)
SEQUENCES = 6


@dataclass(frozen=True)
class ReidConfig:
    """Sizes of the synthetic re-ID set.

    layout: "market" (Market-1501 names: cameras 1-6, ids up to 1501, -1 junk), "duke"
    (DukeMTMC-reID names: cameras 1-8), or "auto" (Market when it fits, else Duke).
    junk: gallery images of badly boxed people named -1 (Market only; scored as nothing).
    distractors: gallery images of false detections named 0000 (scored as wrong).
    scenes_per_camera: procedural scenes each camera sees (a picture crops one at random).
    """

    train_ids: int = 150
    test_ids: int = 150
    cameras: int = 6
    images_per_camera: int = 3
    min_cameras: int = 2
    image_size: tuple[int, int] = (128, 64)
    distractors: int = 150
    junk: int = 100
    scenes_per_camera: int = 40
    layout: str = "auto"
    seed: int = 0


def reid_layout(cfg: ReidConfig) -> str:
    """The layout ("market" or "duke") of a config; ValueError saying what to change if no reader takes it."""
    ids = cfg.train_ids + cfg.test_ids
    fits_market = cfg.cameras <= MARKET_MAX_CAMERAS and ids <= MARKET_MAX_PID
    if cfg.layout not in ("auto", "market", "duke"):
        raise ValueError(f"layout must be auto, market or duke, got {cfg.layout!r}")
    if cfg.layout == "market" and not fits_market:
        raise ValueError(
            f"a Market-1501 reader (torchreid) accepts cameras 1-{MARKET_MAX_CAMERAS} and person ids up to "
            f"{MARKET_MAX_PID}; this set has {cfg.cameras} cameras and {ids} ids: use fewer, or layout duke"
        )
    if cfg.cameras > DUKE_MAX_CAMERAS:
        raise ValueError(
            f"{cfg.cameras} cameras: Market-1501 readers accept 1-{MARKET_MAX_CAMERAS} and DukeMTMC-reID readers "
            f"1-{DUKE_MAX_CAMERAS} (one digit); use at most {DUKE_MAX_CAMERAS}"
        )
    if ids > 9999:
        raise ValueError("at most 9999 people: Market-1501 and DukeMTMC-reID ids have four digits")
    return "market" if cfg.layout == "market" or (cfg.layout == "auto" and fits_market) else "duke"


@dataclass(frozen=True)
class CameraSpec:
    """A fixed surveillance camera: where it looks from, its scenes, light, colour response and sensor."""

    index: int
    azimuth: float
    elevation: tuple[float, float]
    distance: tuple[float, float]
    backgrounds: tuple[str, ...]
    scene_seeds: tuple[int, ...]
    light_direction: tuple[float, float, float]
    light_colour: tuple[float, float, float]
    light_intensity: float
    ambient: float
    white_balance: tuple[float, float, float]
    exposure: float
    gamma: float
    saturation: float
    noise: tuple[float, float]
    blur: float
    low_res: float  # probability that a picture is a far, low-resolution one
    motion: float  # probability of motion blur

    @property
    def background(self) -> str:
        return self.backgrounds[0]


CAMERA_AZIMUTHS = (0.0, 90.0, 180.0, 270.0, 40.0, 220.0)
REID_SCENES = ("floor-wall", "street", "corridor")  # muted built places; shopfronts and parks out-shouted people


def camera_specs(cfg: ReidConfig) -> list[CameraSpec]:
    """The dataset's cameras: different viewpoints, scenes, lights, colour responses and sensors."""
    specs = []
    # one sun for the whole site: every camera sees people lit from the same world direction (a
    # random light per camera made colour histograms useless across cameras, unlike real sites)
    sun_rng = np.random.default_rng([cfg.seed, 0x5C])
    sun = tuple(float(v) for v in (sun_rng.uniform(-0.6, 0.6), sun_rng.uniform(0.6, 1.0), sun_rng.uniform(0.3, 1.0)))
    for c in range(cfg.cameras):
        rng = np.random.default_rng([cfg.seed, 0xCA, c])
        warm = rng.uniform(-0.04, 0.04)
        kinds = rng.choice(REID_SCENES, 1)  # one kind of place per camera, many scenes of it
        specs.append(
            CameraSpec(
                index=c + 1,
                azimuth=CAMERA_AZIMUTHS[c % len(CAMERA_AZIMUTHS)] + 15.0 * (c // len(CAMERA_AZIMUTHS)),
                elevation=(float(rng.uniform(0, 8)), float(rng.uniform(10, 22))),
                distance=(float(rng.uniform(4, 6)), float(rng.uniform(7, 11))),
                backgrounds=tuple(str(k) for k in kinds),
                scene_seeds=tuple(int(s) for s in rng.integers(0, 2**31, cfg.scenes_per_camera)),
                light_direction=sun,
                light_colour=(1.0 + warm, 1.0, 1.0 - warm),
                light_intensity=float(rng.uniform(0.4, 0.48)),  # sky light is most of the light outdoors
                ambient=float(rng.uniform(0.58, 0.66)),
                white_balance=(float(rng.uniform(0.95, 1.05)), 1.0, float(rng.uniform(0.95, 1.05))),
                exposure=float(rng.uniform(-0.15, 0.15)),
                gamma=float(rng.uniform(0.95, 1.05)),
                saturation=float(rng.uniform(0.88, 1.05)),
                noise=(float(rng.uniform(0.005, 0.02)), float(rng.uniform(0.025, 0.05))),
                blur=float(rng.choice([0.0, 0.0, 0.4, 0.7])),
                low_res=float(rng.uniform(0.1, 0.4)),
                motion=float(rng.uniform(0.05, 0.25)),
            )
        )
    return specs


@dataclass(frozen=True)
class Look:
    """What a person carries on the day of the re-ID set (the same in every camera)."""

    bag: str = "none"
    bag_colour: tuple[float, float, float] = (0.15, 0.15, 0.18)
    carries: float = 0.0  # probability of holding a box in a picture
    held_colour: tuple[float, float, float] = (0.55, 0.42, 0.28)


def sample_look(rng: np.random.Generator) -> Look:
    from core.synth.palette import fabric_colour

    return Look(
        bag=str(rng.choice(["none", "backpack", "satchel"], p=[0.55, 0.28, 0.17])),
        bag_colour=fabric_colour(rng, "bottom")[1],
        carries=float(rng.choice([0.0, 0.5], p=[0.85, 0.15])),
        held_colour=random_colour(rng, sat=(0.1, 0.5), val=(0.3, 0.8)),
    )


def reid_nuisance(spec: CameraSpec, rng: np.random.Generator, look: Look = Look(), clean: bool = False) -> Nuisance:
    """One sighting of a person by a camera: pose, scene crop, detector box, occluder and
    capture drawn per picture (``clean``: a tight box with no jitter and no occluder; the camera's own
    resolution, blur and noise stay, as on Market's hand-drawn boxes of the same frames)."""
    pose = str(rng.choice(["walk", "stand", "turn"], p=[0.74, 0.14, 0.12]))
    if rng.random() < look.carries:
        pose = "carry"
    cut_off = rng.random() < 0.08  # a detector box that misses the head or the feet
    shift = (float(rng.normal(0, 0.03)), float(rng.choice([-1, 1]) * rng.uniform(0.12, 0.22) if cut_off
                                              else rng.normal(0, 0.02)))  # fmt: skip
    occluder = str(rng.choice(["none", "person", "pole", "bin", "car", "sign"], p=[0.84, 0.06, 0.03, 0.03, 0.02, 0.02]))
    low = rng.random() < spec.low_res
    moving = rng.random() < spec.motion
    n = Nuisance(
        azimuth=spec.azimuth + float(rng.uniform(-40, 40)),
        elevation=float(rng.uniform(*spec.elevation)),
        distance=float(rng.uniform(*spec.distance)),
        framing=float(rng.uniform(0.9, 1.02)),
        light_direction=spec.light_direction,
        light_colour=spec.light_colour,
        light_intensity=spec.light_intensity * float(rng.uniform(0.92, 1.08)),
        ambient=spec.ambient * float(rng.uniform(0.96, 1.04)),
        background=str(rng.choice(spec.backgrounds)),
        bag=look.bag,
        bag_colour=look.bag_colour,
        pose=pose,
        phase=float(rng.uniform(0, 1)),
        turn=float(rng.uniform(-0.8, 0.8)),
        held_colour=look.held_colour,
        noise=float(rng.uniform(*spec.noise)),
        noise_seed=int(rng.integers(0, 2**31)),
        blur=spec.blur,
        seed=int(rng.choice(spec.scene_seeds)),
        crop=(float(rng.uniform(0, 1)), float(rng.uniform(0.2, 0.8)), float(rng.uniform(1.0, 1.4))),
        shift=shift,
        zoom=float(rng.uniform(0.94, 1.06)),
        stretch=float(rng.uniform(1.5, 1.8)),
        white_balance=spec.white_balance,
        exposure=spec.exposure + float(rng.normal(0, 0.08)),  # auto-exposure hunts a little
        gamma=spec.gamma,
        saturation=spec.saturation,
        low_res=float(rng.uniform(1.6, 2.6)) if low else 1.0,
        motion_blur=float(rng.uniform(1.5, 4.0)) if moving else 0.0,
        motion_angle=float(rng.uniform(-20, 20)),
        occluder=occluder,
        occluder_seed=int(rng.integers(0, 2**31)),
    )
    return replace(n, shift=(0.0, 0.0), zoom=1.0, occluder="none") if clean else n


def reid_name(layout: str, person: int, camera: int, frame: int, box: int = 0) -> str:
    """A file name in the layout's convention; ``frame`` counts from the camera's first sequence."""
    if layout == "duke":
        return f"{person:04d}_c{camera}_f{frame:07d}.jpg" if person >= 0 else f"-1_c{camera}_f{frame:07d}.jpg"
    return market_name(person, camera, 1 + frame // SEQUENCE_FRAMES, frame % SEQUENCE_FRAMES, box)


def _sighting_frames(rng: np.random.Generator, arrival: int, count: int) -> list[int]:
    """Frames of consecutive detections of one walk past a camera (a tracklet, 4-20 frames apart)."""
    start = min(arrival + int(rng.integers(0, 3000)), SEQUENCES * SEQUENCE_FRAMES - 25 * count - 1)
    return [start + int(s) for s in np.cumsum(rng.integers(4, 21, count)) - 4]


def _annotation(file: str, params: dict) -> dict:
    def round_all(value):
        if isinstance(value, list):
            return [round_all(v) for v in value]
        return round(value, 5) if isinstance(value, float) else value

    return {"file": file, **{k: round_all(v) for k, v in params.items()}}


def _person_walks(cfg: ReidConfig, person: int) -> tuple[Look, list[tuple[int, int, int]]]:
    """A person's look and sightings ``(camera index, k, frame)``: which cameras they pass, when."""
    rng = np.random.default_rng([cfg.seed, person, 0x1D])
    n_cams = int(rng.integers(cfg.min_cameras, cfg.cameras + 1))
    cams = sorted(rng.choice(cfg.cameras, n_cams, replace=False).tolist())
    look = sample_look(rng)
    arrival = int(rng.integers(0, SEQUENCES * SEQUENCE_FRAMES - 4000))  # when the person walks past: not the id
    sightings = []
    for cam in cams:
        frames = _sighting_frames(np.random.default_rng([cfg.seed, person, cam, 0x51]), arrival, cfg.images_per_camera)
        sightings += [(cam, k, frames[k]) for k in range(cfg.images_per_camera)]
    return look, sightings


def detection_boxes(cfg: ReidConfig, people: list[int]) -> dict[tuple[int, int, int], int]:
    """Box index of each ``(person, camera index, k)`` sighting, unique per camera and frame.

    In Market-1501 a camera, sequence, frame and box index name one detection, so two people seen in the
    same frame of the same camera need different box indices (the first person in id order gets 0).
    """
    used: dict[tuple[int, int], int] = {}
    boxes = {}
    for person in sorted(people):
        for cam, k, frame in _person_walks(cfg, person)[1]:
            box = used.get((cam, frame), 0)
            used[(cam, frame)] = box + 1
            boxes[(person, cam, k)] = box
    return boxes


def detection_key(name: str) -> str:
    """The part of a Market-1501 name that names one detection: ``c1s1_000151_01`` (the label left out)."""
    return name.split("_", 1)[1].rsplit(".", 1)[0]


def _reid_task(args) -> tuple[list[dict], list[dict]]:
    out, cfg, person, split, boxes = args
    specs, layout = camera_specs(cfg), reid_layout(cfg)
    ident = sample_identity(identity_seed(cfg.seed, person))
    look, sightings = _person_walks(cfg, person)
    jobs = []
    for cam, k, frame in sightings:
        n = reid_nuisance(specs[cam], np.random.default_rng([cfg.seed, person, cam, k]), look)
        folder = SPLITS["train"] if split == "train" else (SPLITS["query"] if k == 0 else SPLITS["gallery"])
        name = reid_name(layout, person, cam + 1, frame, boxes.get((person, cam, k), 0))
        jobs.append((f"{folder}/{name}", n, cam + 1, name))
    want_clean = split == "test" and layout == "market"
    todo = [j for j in jobs if not (out / j[0]).exists() or (want_clean and not (out / "gt_bbox" / j[3]).exists())]
    annotations = {}
    if todo:
        pic = shared_renderer().render([ident] * len(todo), [j[1] for j in todo], cfg.image_size,
                                       clean_boxes=want_clean)  # fmt: skip
        for i, job in enumerate(todo):
            quality = int(np.random.default_rng(job[1].noise_seed).integers(70, 96))  # cameras compress differently
            if not (out / job[0]).exists():
                save_image(out / job[0], pic.image[i], quality=quality)
            if want_clean and not (out / "gt_bbox" / job[3]).exists():  # hand-drawn boxes: DG-Net's multi-query
                save_image(out / "gt_bbox" / job[3], pic.clean[i])
            annotations[job[0]] = pic.params[i]
    rows = [_factor_row(f, ident, n, person=person, camera=c) for f, n, c, _ in jobs]
    notes = [_annotation(f, annotations[f]) for f, *_ in jobs if f in annotations]
    return rows, notes


def _extra_task(args) -> tuple[list[dict], list[dict]]:
    """A batch of junk (-1: badly boxed people) or distractor (0000: false detections) images."""
    out, cfg, kind, names, first = args
    specs = camera_specs(cfg)
    rows, todo = [], []
    for k, name in enumerate(names):
        rng = np.random.default_rng([cfg.seed, 0xD1 if kind == "distractor" else 0x3C, first + k])
        camera = int(name.split("_c")[1][0])
        n = reid_nuisance(specs[camera - 1], rng)
        if kind == "junk":  # a box that overlaps the person by a fifth to a half
            side = float(rng.choice([-1, 1]))
            n = replace(n, shift=(side * float(rng.uniform(0.3, 0.45)), float(rng.uniform(-0.25, 0.25))),
                        zoom=float(rng.uniform(1.0, 1.8)))  # fmt: skip
            person = int(rng.integers(cfg.train_ids + 1, cfg.train_ids + cfg.test_ids + 1))
        else:  # mostly background, sometimes a sliver of a passer-by
            person = 0
            n = replace(n, occluder=str(rng.choice(["none", "person", "pole", "sign"], p=[0.55, 0.25, 0.1, 0.1])))
        file = f"{SPLITS['gallery']}/{name}"
        rows.append({"file": file, "identity_seed": None, kind: True, "camera": camera, "nuisance": asdict(n)})
        if not (out / file).exists():
            todo.append((file, n, person))
    if todo:
        pr = shared_renderer()
        people = [j for j in todo if j[2] > 0]
        if people:
            who = [sample_identity(identity_seed(cfg.seed, p)) for _, _, p in people]
            pic = pr.render(who, [n for _, n, _ in people], cfg.image_size)
            for (file, _, _), img in zip(people, pic.image, strict=True):
                save_image(out / file, img)
        for file, n, p in todo:
            if p == 0:
                save_image(out / file, _scene_picture(pr, n, cfg.image_size))
    return rows, []


def _scene_picture(pr, n: Nuisance, size: tuple[int, int]) -> torch.Tensor:
    """(3, H, W) a camera's picture with nobody in the box (a false detection)."""
    from core.synth.capture import camera_response, degrade, occlude, occluder_layer

    background = torch.from_numpy(make_background(n.background, n.seed, size, n.crop)).permute(2, 0, 1)
    cutouts = pr.person_cutouts(size) if n.occluder == "person" else None
    image = occlude(background, occluder_layer(n.occluder, n.occluder_seed, size, cutouts))
    return degrade(camera_response(image, n), n)


def _extra_names(cfg: ReidConfig, layout: str, kind: str, count: int, taken: set[str]) -> list[str]:
    """Unique names for junk or distractor images on the cameras' timelines."""
    rng = np.random.default_rng([cfg.seed, 0xE7, 0 if kind == "junk" else 1])
    pid = -1 if kind == "junk" else 0
    names = []
    while len(names) < count:
        camera = int(rng.integers(1, cfg.cameras + 1))
        frame = int(rng.integers(0, SEQUENCES * SEQUENCE_FRAMES))
        for box in range(100):  # several false boxes in one frame get their own box index
            name = reid_name(layout, pid, camera, frame, box)
            key = detection_key(name) if layout == "market" else name
            if name not in taken and key not in taken:
                break
        else:
            continue
        taken |= {name, key}
        names.append(name)
    return names


def write_reid(out: Path, cfg: ReidConfig, workers: int = 1, progress=None) -> dict:
    """Market-1501-style (or DukeMTMC-reID-style) re-ID set; returns image counts per split.

    Writes bounding_box_train/, query/, bounding_box_test/ (with -1 junk and 0000 distractors),
    gt_bbox/ (clean boxes of the test people), annotations.jsonl (body and camera per image),
    factors.jsonl and meta.json.
    """
    layout = reid_layout(cfg)
    if cfg.images_per_camera < 2:
        raise ValueError("images per camera must be >= 2 (a query and at least one gallery image)")
    if cfg.train_ids < 1 or cfg.test_ids < 1:
        raise ValueError("a re-ID set needs at least one train and one test identity (readers refuse empty splits)")
    if not 2 <= cfg.min_cameras <= cfg.cameras:
        raise ValueError("min_cameras must be within 2..cameras (a query needs a gallery image in another camera)")
    claim_folder(out, "reid", cfg)
    ids = range(1, cfg.train_ids + cfg.test_ids + 1)
    boxes = detection_boxes(cfg, list(ids)) if layout == "market" else {}
    people = [(out, cfg, p, "train" if p <= cfg.train_ids else "test",
               {key: b for key, b in boxes.items() if key[0] == p}) for p in ids]  # fmt: skip
    results = run_tasks(_reid_task, people, workers, progress)
    taken = {Path(row["file"]).name for rows, _ in results for row in rows}
    if layout == "market":  # junk and distractors must not reuse a person's detection either
        taken |= {detection_key(name) for name in taken}
    extra = []
    for kind, count in (("junk", cfg.junk if layout == "market" else 0), ("distractor", cfg.distractors)):
        names = _extra_names(cfg, layout, kind, count, taken)
        extra += [(out, cfg, kind, names[i : i + 16], i) for i in range(0, len(names), 16)]
    results += run_tasks(_extra_task, extra, workers, None)
    factors = [row for rows, _ in results for row in rows]
    notes = {note["file"]: note for _, batch in results for note in batch}
    _merge_annotations(out / "annotations.jsonl", notes)
    counts = {split: sum(row["file"].startswith(folder + "/") for row in factors) for split, folder in SPLITS.items()}
    counts["junk"] = sum(bool(row.get("junk")) for row in factors)
    counts["distractors"] = sum(bool(row.get("distractor")) for row in factors)
    counts["gt_bbox"] = len(list((out / "gt_bbox").glob("*.jpg"))) if (out / "gt_bbox").is_dir() else 0
    write_meta(out, "reid", cfg, counts, factors)
    return counts


def _merge_annotations(path: Path, notes: dict[str, dict]) -> None:
    """Add new rows to an annotations file (a resumed run only rendered what was missing)."""
    held = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            held[row["file"]] = row
    held.update(notes)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        for file in sorted(held):
            fh.write(json.dumps(held[file]) + "\n")
    tmp.replace(path)


# ------------------------------------------------------------------------------------------------
# faces: DR-GAN setting


@dataclass(frozen=True)
class FaceConfig:
    """Face set: ids x 13 yaw bins x illuminations; split.json holds the train/test identities."""

    ids: int = 100
    illuminations: int = 3
    stored_size: int = 110  # random 96x96 crops are taken from these in training, as in the paper
    test_fraction: float = 0.4
    seed: int = 0


def face_nuisance(yaw: float, illumination: int, n_illum: int, seed: int) -> Nuisance:
    """A studio shot of the face at ``yaw`` degrees, lit from the camera's left, front or right.

    ``seed`` draws the background (kind and scene) and small changes of the light; the face set
    draws it per image, so neither the wall nor the light says who the person is.
    """
    rng = np.random.default_rng([seed, 0xFACE])
    offsets = np.linspace(-60, 60, n_illum) if n_illum > 1 else np.zeros(1)
    light_az = math.radians(yaw + float(offsets[illumination]) + float(rng.uniform(-10, 10)))
    el = math.radians(float(rng.uniform(15, 35)))
    direction = (math.cos(el) * math.sin(light_az), math.sin(el), math.cos(el) * math.cos(light_az))
    warm = float(rng.uniform(-0.08, 0.08))
    return Nuisance(
        azimuth=float(yaw), elevation=0.0, distance=2.0, framing=1.0, light_direction=direction,
        light_colour=(1.0 + warm, 1.0, 1.0 - warm), light_intensity=float(rng.uniform(0.5, 0.7)),
        ambient=float(rng.uniform(0.4, 0.5)), background=str(rng.choice(BACKGROUNDS)), pose="stand",
        seed=int(rng.integers(0, 2**31)), crop=(float(rng.uniform(0, 1)), float(rng.uniform(0, 1)), 1.0),
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
            image_seed = zlib.crc32(f"{cfg.seed}/{person}/{b}/{ill}".encode())  # per image, not per person
            n = face_nuisance(yaw, ill, cfg.illuminations, seed=image_seed)
            jobs.append((f"{person:04d}/{person:04d}_y{b:02d}_l{ill}.png", n, b, yaw, ill))
    todo = [j for j in jobs if not (out / j[0]).exists()]
    notes = []
    if todo:
        pic = render_faces([ident] * len(todo), [j[1] for j in todo], cfg.stored_size)
        for job, img, params in zip(todo, pic.image, pic.params, strict=True):
            save_image(out / job[0], img)
            notes.append(_annotation(job[0], params))
    rows = [_factor_row(f, ident, n, id=person, yaw_bin=b, yaw=y, illumination=f"l{i}") for f, n, b, y, i in jobs]
    return rows, notes


def write_face(out: Path, cfg: FaceConfig, workers: int = 1, progress=None) -> dict:
    """Face set: ids x 13 yaw bins x illuminations, 110x110 PNGs and labels.csv."""
    if not 0.0 < cfg.test_fraction < 1.0 or cfg.ids < 2:
        raise ValueError("a face set needs at least 2 ids and a test fraction within (0, 1)")
    claim_folder(out, "face", cfg)
    tasks = [(out, cfg, p) for p in range(1, cfg.ids + 1)]
    results = run_tasks(_face_task, tasks, workers, progress)
    factors = [row for rows, _ in results for row in rows]
    _merge_annotations(out / "annotations.jsonl", {n["file"]: n for _, notes in results for n in notes})
    n_test = max(1, round(cfg.ids * cfg.test_fraction))
    split = {"train": [f"{p:04d}" for p in range(1, cfg.ids - n_test + 1)],
             "test": [f"{p:04d}" for p in range(cfg.ids - n_test + 1, cfg.ids + 1)]}  # fmt: skip
    (out / "split.json").write_text(json.dumps(split, indent=1) + "\n")
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
    cfg: GaitConfig, person: int, condition: str, view: int, clothes_of: int | None = None
) -> GaitWalk:
    """Render walk (person, condition, view) exactly as :func:`write_gait` stores it; with ``clothes_of``
    also the ground truth of an appearance swap: this walk worn in person ``clothes_of``'s clothes."""
    from core.synth.segnoise import segmentation_noise

    ident = gait_walker(sample_identity(identity_seed(cfg.seed, person)), cfg, person, condition)
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
