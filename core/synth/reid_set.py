"""The synthetic re-ID set in Market-1501's (or DukeMTMC-reID's) layout: cameras, looks, sightings, detection
boxes, distractors and junk.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from core.data.market import SPLITS, market_name
from core.synth.capture import camera_response, degrade, occlude, occluder_layer
from core.synth.engine import shared_renderer
from core.synth.identity import sample_identity
from core.synth.nuisance import Nuisance, make_background, random_colour
from core.synth.palette import fabric_colour
from core.synth.writer import (
    annotation_row,
    claim_folder,
    factor_row,
    identity_seed,
    merge_annotations,
    run_tasks,
    save_image,
    write_meta,
)

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
    rows = [factor_row(f, ident, n, person=person, camera=c) for f, n, c, _ in jobs]
    notes = [annotation_row(f, annotations[f]) for f, *_ in jobs if f in annotations]
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
    merge_annotations(out / "annotations.jsonl", notes)
    counts = {split: sum(row["file"].startswith(folder + "/") for row in factors) for split, folder in SPLITS.items()}
    counts["junk"] = sum(bool(row.get("junk")) for row in factors)
    counts["distractors"] = sum(bool(row.get("distractor")) for row in factors)
    counts["gt_bbox"] = len(list((out / "gt_bbox").glob("*.jpg"))) if (out / "gt_bbox").is_dir() else 0
    write_meta(out, "reid", cfg, counts, factors)
    return counts
