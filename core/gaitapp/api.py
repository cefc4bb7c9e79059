"""Both gait models behind one API, for the app, the CLI and notebooks.

    from core.gaitapp import api
    models = api.load()                                # the shipped GaitNet and DyGait
    walk = api.example_walk(35, "cl-01", 54)           # a held-out walker, rendered (about 2 s)
    gallery = api.load_gallery()                       # held-out walkers in nm-01, three views
    for name, hits in api.top_k(models, gallery, walk).items(): ...

A walk is a :class:`core.gait.clip.GaitClip`: silhouettes (T, 64, 44) for DyGait and masked RGB
(T, 64, 32, 3) for GaitNet (None for silhouette-only input; GaitNet is then skipped, with a note).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from core.checkpoints import resolve, sha256_of
from core.dygait.api import embed as dygait_embed
from core.dygait.api import embed_many as dygait_embed_many
from core.dygait.api import load_dygait
from core.gait.clip import GaitClip
from core.gait.clothes_swap import (
    ClothesSwapResult,
    clothes_swap_identification,
    clothes_swap_json,
    format_clothes_swaps,
    read_donors,
    swap_set_problem,
)
from core.gait.data import GaitSet, load_gait_set, load_with_clothes_swaps, sil_to_tensor
from core.gait.evaluate import colour_histogram_features, evaluate_features, format_table, gei_features
from core.gait.swap_eval import format_swap_report, swap_pairs, swap_report
from core.gait.walkers import gait_config, render_walk, silhouettes_of, test_subjects
from core.gaitapp import figures
from core.gaitnet.api import embed as gaitnet_embed
from core.gaitnet.api import embed_many, load_gaitnet, pose_trajectory, project_2d, reconstruct
from core.gaitnet.api import swap as gaitnet_swap
from core.metrics.gait import part_distance

__all__ = [
    "COLOUR_BASELINE",
    "GEI_BASELINE",
    "GaitEvaluation",
    "Gallery",
    "GaitModels",
    "Hit",
    "build_gallery",
    "embed",
    "evaluate_gait",
    "evaluate_models",
    "evaluation_json",
    "example_walk",
    "format_evaluation",
    "load",
    "load_gallery",
    "save_gallery",
    "save_gallery_features",
    "swap_evaluation",
    "top_k",
]

GALLERY_FILE = Path(__file__).resolve().parents[2] / "checkpoints" / "gait" / "gallery.npz"
# the shipped models' features of the shipped gallery: a search starts at once instead of embedding 60 walks
# (6.5 s on one thread), used only while the model files and the gallery are the ones they came from
GALLERY_FEATURES_FILE = GALLERY_FILE.with_name("gallery_features.npz")
MODEL_NAMES = ("GaitNet", "DyGait")


def _path(name_or_file: str | Path) -> Path:
    text = str(name_or_file)
    return Path(text) if text.endswith(".pt") else resolve(text)


@dataclass
class GaitModels:
    """The loaded models (either may be None) and their configs."""

    gaitnet: Any = None
    gaitnet_cfg: Any = None
    dygait: Any = None
    dygait_cfg: Any = None
    # sha256 of the file each model was loaded from (None for a model built in memory)
    gaitnet_sha256: str | None = None
    dygait_sha256: str | None = None

    def sha256(self, name: str) -> str | None:
        return self.gaitnet_sha256 if name == "GaitNet" else self.dygait_sha256

    @property
    def names(self) -> list[str]:
        return [n for n, m in zip(MODEL_NAMES, (self.gaitnet, self.dygait), strict=True) if m is not None]


def load(gaitnet: str | Path | None = "gaitnet", dygait: str | Path | None = "dygait") -> GaitModels:
    """Registered names (checkpoints/manifest.json) or .pt files; None leaves a model out."""
    models = GaitModels()
    if gaitnet:
        path = _path(gaitnet)
        models.gaitnet, models.gaitnet_cfg = load_gaitnet(path)
        models.gaitnet_sha256 = sha256_of(path)
    if dygait:
        path = _path(dygait)
        models.dygait, models.dygait_cfg = load_dygait(path)
        models.dygait_sha256 = sha256_of(path)
    return models


def example_walk(subject: int, condition: str = "nm-05", view: int = 90) -> GaitClip:
    """A walker of the gait set rendered on demand (no data folder needed)."""
    walk = render_walk(subject, condition, view)
    return GaitClip(silhouettes_of(walk), walk.rgb, [])


def embed(models: GaitModels, clip: GaitClip) -> dict[str, np.ndarray]:
    """Each model's feature of the walk: GaitNet (D,) from the RGB (skipped without RGB), DyGait (C, P)."""
    out: dict[str, np.ndarray] = {}
    if models.gaitnet is not None and clip.rgb is not None:
        out["GaitNet"] = np.asarray(gaitnet_embed(models.gaitnet, clip.rgb), dtype=np.float32)
    if models.dygait is not None:
        out["DyGait"] = np.asarray(dygait_embed(models.dygait, clip.sil), dtype=np.float32)
    return out


@dataclass
class Gallery:
    """Enrolled walks: subject ids, conditions, views, silhouettes (N, T, 64, 44), RGB (N, T, 64, 32, 3).
    ``features`` caches each model's gallery features (computed once per loaded model)."""

    subjects: list[str]
    conditions: list[str]
    views: list[str]
    sil: np.ndarray
    rgb: np.ndarray
    features: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    # features read from a file: model name -> (sha256 of the model file they came from, (N, ...) features)
    stored: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.subjects)

    def clip(self, i: int) -> GaitClip:
        return GaitClip(self.sil[i], self.rgb[i], [])

    def label(self, i: int) -> str:
        return f"{self.subjects[i]} {self.conditions[i]} {self.views[i]}°"


def build_gallery(data_root: str | Path, split: str = "test", condition: str = "nm-01",
                  views: tuple[str, ...] = ("036", "090", "144")) -> Gallery:  # fmt: skip
    """The gallery the app ships: every subject of ``split`` walking in ``condition``, seen from ``views``."""
    data = load_gait_set(data_root, split)
    rows = [i for i, s in enumerate(data.sequences) if s.condition == condition and s.view in views]
    if not rows:
        raise ValueError(f"no {condition} walks in views {views} under {data_root}")
    length = min(len(data.silhouettes(i)) for i in rows)  # one array: cut every walk to the shortest
    return Gallery(
        subjects=[data.sequences[i].subject for i in rows],
        conditions=[data.sequences[i].condition for i in rows],
        views=[data.sequences[i].view for i in rows],
        sil=np.stack([data.silhouettes(i)[:length] for i in rows]),
        rgb=np.stack([data.rgb(i)[:length] for i in rows]),
    )


def save_gallery(gallery: Gallery, path: str | Path | None = None) -> Path:
    path = Path(path or GALLERY_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, subjects=np.asarray(gallery.subjects), conditions=np.asarray(gallery.conditions),
                        views=np.asarray(gallery.views), sil=gallery.sil, rgb=gallery.rgb)  # fmt: skip
    return path


def load_gallery(path: str | Path | None = None) -> Gallery:
    """The shipped gallery (checkpoints/gait/gallery.npz, :data:`GALLERY_FILE`) or another file, with the
    features stored beside it (``gallery_features.npz``, :func:`save_gallery_features`) when they were computed
    on this very file."""
    path = Path(path or GALLERY_FILE)
    if not path.exists():
        raise FileNotFoundError(f"no gait gallery at {path}; it is written by python -m core ship gait")
    with np.load(path, allow_pickle=False) as z:
        gallery = Gallery([str(s) for s in z["subjects"]], [str(c) for c in z["conditions"]],
                          [str(v) for v in z["views"]], z["sil"], z["rgb"])  # fmt: skip
    features_file = path.with_name(GALLERY_FEATURES_FILE.name)
    if features_file.exists():
        with np.load(features_file, allow_pickle=False) as z:
            if str(z["gallery_sha256"]) == sha256_of(path):
                gallery.stored = {name: (str(z[f"{name}_sha256"]), z[name]) for name in MODEL_NAMES if name in z}
    return gallery


def save_gallery_features(models: GaitModels, gallery_file: str | Path, path: str | Path | None = None) -> Path:
    """Each loaded model's features of the gallery in ``gallery_file``, with the sha256 of the model file and of
    the gallery they belong to, in ``gallery_features.npz`` beside it (or ``path``)."""
    gallery_file = Path(gallery_file)
    gallery = load_gallery(gallery_file)
    gallery.stored = {}  # computed afresh, never copied from an older file
    arrays: dict[str, np.ndarray] = {"gallery_sha256": np.asarray(sha256_of(gallery_file))}
    for name in models.names:
        if models.sha256(name) is None:
            raise ValueError(f"{name} was not loaded from a file: its features could not be matched to it later")
        arrays[name] = _gallery_features(models, gallery, name)
        arrays[f"{name}_sha256"] = np.asarray(models.sha256(name))
    path = Path(path or gallery_file.with_name(GALLERY_FEATURES_FILE.name))
    np.savez_compressed(path, **arrays)
    return path


def _gallery_features(models: GaitModels, gallery: Gallery, name: str) -> np.ndarray:
    model = models.gaitnet if name == "GaitNet" else models.dygait
    key = (name, id(model))
    if key not in gallery.features:
        stored = gallery.stored.get(name)
        if stored is not None and models.sha256(name) == stored[0]:
            gallery.features[key] = stored[1]
        elif name == "GaitNet":
            gallery.features[key] = embed_many(models.gaitnet, list(gallery.rgb))
        else:
            gallery.features[key] = dygait_embed_many(models.dygait, list(gallery.sil))
    return gallery.features[key]


@dataclass(frozen=True)
class Hit:
    """One gallery match: its index, label and distance (smaller is closer)."""

    index: int
    subject: str
    label: str
    distance: float


def _distances(query: np.ndarray, gallery: np.ndarray, name: str) -> np.ndarray:
    # the metric each model is trained for: GaitNet compares by cosine, DyGait per-part Euclidean (OpenGait)
    metric = "cosine" if name == "GaitNet" else "euclidean"
    return part_distance(query[None], gallery, metric)[0]


def top_k(models: GaitModels, gallery: Gallery, clip: GaitClip, k: int = 5) -> dict[str, list[Hit]]:
    """Each model's k nearest gallery walks to ``clip``, nearest first."""
    query = embed(models, clip)
    hits: dict[str, list[Hit]] = {}
    for name, feature in query.items():
        dist = _distances(feature, _gallery_features(models, gallery, name), name)
        order = np.argsort(dist, kind="stable")[:k]
        hits[name] = [Hit(int(i), gallery.subjects[i], gallery.label(int(i)), float(dist[i])) for i in order]
    return hits


# ------------------------------------------------------------------------------------------------ analysis


def dynamic_maps(models: GaitModels, clip: GaitClip) -> tuple[np.ndarray, np.ndarray]:
    """DyGait's response to the moving parts and to the static body, float (T, 64, 44) in [0, 1] each."""
    if models.dygait is None:
        raise ValueError("no DyGait model loaded")
    with torch.no_grad():
        dynamic, static = models.dygait.dynamic_maps(sil_to_tensor(clip.sil))
    return np.asarray(dynamic, dtype=np.float32), np.asarray(static, dtype=np.float32)


def swap(models: GaitModels, appearance: GaitClip, pose: GaitClip) -> np.ndarray:
    """GaitNet's decoder on ``appearance``'s f_a and ``pose``'s f_g per frame: uint8 (T, 64, 32, 3)."""
    if models.gaitnet is None:
        raise ValueError("no GaitNet model loaded")
    if appearance.rgb is None or pose.rgb is None:
        raise ValueError("GaitNet needs colour frames for both walks (silhouettes carry no appearance)")
    return gaitnet_swap(models.gaitnet, appearance.rgb, pose.rgb)


def pose_trajectories(models: GaitModels, clips: list[GaitClip]) -> list[np.ndarray]:
    """GaitNet's pose features of each walk projected to 2-D together (one PCA): list of (T_i, 2)."""
    if models.gaitnet is None:
        raise ValueError("no GaitNet model loaded")
    return project_2d([pose_trajectory(models.gaitnet, c.rgb) for c in clips if c.rgb is not None])


def thumbnail(gallery: Gallery, i: int) -> np.ndarray:
    """uint8 (64, 32, 3): the middle frame of gallery walk ``i``."""
    return gallery.rgb[i][len(gallery.rgb[i]) // 2]


def caption(gallery: Gallery, hit: Hit) -> str:
    """Two short lines under a match: who and from which view, and the distance."""
    return f"{hit.subject}, {gallery.views[hit.index]}°\nd={hit.distance:.3f}"


def write_report(models: GaitModels, clip: GaitClip, out: str | Path, gallery: Gallery | None = None) -> list[Path]:
    """What ``python -m core gait CLIP -o OUT`` writes: the walk as a GIF, DyGait's maps, GaitNet's
    reconstruction and pose trajectory, each model's feature (features.npz) and, with a gallery, its
    top-5 matches (matches.png, summary.json)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "walk.gif"]
    figures.walk_gif([clip.rgb, clip.sil] if clip.rgb is not None else [clip.sil], written[0])
    summary: dict[str, Any] = {"frames": len(clip.sil), "notes": clip.notes, "models": models.names}
    if models.dygait is not None:
        dynamic, static = dynamic_maps(models, clip)
        rows = [("silhouette", clip.sil), ("DyGait: moving parts", figures.overlay(clip.sil, dynamic)),
                ("DyGait: static parts", figures.overlay(clip.sil, static))]  # fmt: skip
        Image.fromarray(figures.frame_rows(rows, "DyGait's dynamic and static responses")).save(out / "dygait_maps.png")
        written.append(out / "dygait_maps.png")
    if models.gaitnet is not None and clip.rgb is not None:
        rows = [("input", clip.rgb), ("GaitNet: D(f_a, f_g)", reconstruct(models.gaitnet, clip.rgb))]
        Image.fromarray(figures.frame_rows(rows, "GaitNet reconstruction")).save(out / "gaitnet_reconstruction.png")
        traj = pose_trajectories(models, [clip])
        Image.fromarray(figures.trajectory_plot(traj, ["this walk"], "GaitNet pose feature f_g over time")).save(
            out / "gaitnet_pose_trajectory.png"
        )
        written += [out / "gaitnet_reconstruction.png", out / "gaitnet_pose_trajectory.png"]
    features = embed(models, clip)
    np.savez(out / "features.npz", **{k.lower(): v for k, v in features.items()})
    written.append(out / "features.npz")
    if gallery is not None and features:
        hits = top_k(models, gallery, clip)
        summary["matches"] = {name: [vars(h) for h in rows] for name, rows in hits.items()}
        rows = [(name, [(thumbnail(gallery, h.index), caption(gallery, h), None) for h in hs])
                for name, hs in hits.items()]  # fmt: skip
        Image.fromarray(figures.hits_figure(rows, "nearest gallery walkers (nm-01, 3 views)")).save(out / "matches.png")
        written.append(out / "matches.png")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    written.append(out / "summary.json")
    return written


# ------------------------------------------------------------------------------------------------ evaluation


GEI_BASELINE = "GEI + nearest neighbour"
COLOUR_BASELINE = "colour histogram + nearest neighbour"
DEFAULT_SWAPS = Path("data/gait-swaps")


@dataclass
class GaitEvaluation:
    """What :func:`evaluate_gait` measures: ``recognition`` (name -> CASIA-B result), ``clothes_swap`` (name
    -> :class:`core.gait.clothes_swap.ClothesSwapResult`; empty when skipped) and ``notes`` (why)."""

    recognition: dict[str, Any]
    clothes_swap: dict[str, ClothesSwapResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _walks(data_root: Path, swaps: Path | None, split: str, notes: list[str]) -> tuple[GaitSet, dict | None]:
    """The split's walks, joined by the clothes-swap set's when it can be scored (else a note), and its donors."""
    if swaps is None:
        return load_gait_set(data_root, split), None
    problem = swap_set_problem(data_root, swaps)
    if problem is None:
        try:
            data = load_with_clothes_swaps(data_root, swaps, split)
            donors = read_donors(swaps)
        except (OSError, ValueError) as err:
            problem = f"the clothes-swap set at {swaps} cannot be read: {err}"
        else:
            if any(c.startswith("cs-") for c in data.conditions):
                return data, donors
            problem = f"the clothes-swap set at {swaps} has no walks in the {split} split"
    notes.append(f"{problem}; clothes-swap identification skipped")
    return load_gait_set(data_root, split), None


def evaluate_gait(
    models: GaitModels,
    data_root: str | Path,
    split: str = "test",
    swaps: str | Path | None = DEFAULT_SWAPS,
    progress=None,
) -> GaitEvaluation:
    """CASIA-B Rank-1 of each loaded model and of the two baselines (the GEI and, with RGB, the colour
    histogram) on ``split``, and the same methods' identification of clothes-swapped walks from the
    clothes-swap set at ``swaps`` (skipped, with a note, when it is absent, unfinished or from another set;
    None: not asked). Every walk is embedded once. GaitNet compares by cosine, the rest by Euclidean distance."""
    say = progress or (lambda text: None)
    notes: list[str] = []
    data, donors = _walks(Path(data_root), Path(swaps) if swaps else None, split, notes)
    features: dict[str, tuple[np.ndarray, str]] = {}
    if models.gaitnet is not None:
        say(f"GaitNet: {len(data)} walks")
        features["GaitNet"] = (embed_many(models.gaitnet, [data.rgb(i) for i in range(len(data))]), "cosine")
    if models.dygait is not None:
        say(f"DyGait: {len(data)} walks")
        features["DyGait"] = (dygait_embed_many(models.dygait, [data.silhouettes(i) for i in range(len(data))]),
                              "euclidean")  # fmt: skip
    say("GEI baseline")
    features[GEI_BASELINE] = (gei_features(data), "euclidean")
    if data.has_rgb:
        say("colour histogram baseline")
        features[COLOUR_BASELINE] = (colour_histogram_features(data), "euclidean")
    result = GaitEvaluation({name: evaluate_features(f, data, metric) for name, (f, metric) in features.items()},
                            notes=notes)  # fmt: skip
    if donors is not None:
        result.clothes_swap = {name: clothes_swap_identification(f, data, donors, metric)
                               for name, (f, metric) in features.items()}  # fmt: skip
    return result


def evaluate_models(models: GaitModels, data_root: str | Path, split: str = "test", progress=None) -> dict[str, Any]:
    """CASIA-B Rank-1 of each loaded model and of the baselines on ``split`` (:func:`evaluate_gait` without the
    clothes-swap walks): name -> :class:`core.metrics.gait.GaitResult`."""
    return evaluate_gait(models, data_root, split, swaps=None, progress=progress).recognition


def results_json(results: dict[str, Any]) -> dict[str, Any]:
    """GaitResults as plain numbers (fractions): mean and per view of each group."""
    return {name: {"mean": r.mean, "per_view": r.per_view} for name, r in results.items()}


def evaluation_json(evaluation: GaitEvaluation) -> dict[str, Any]:
    """A :class:`GaitEvaluation` as plain numbers: {"recognition", "clothes_swap"} (+ "notes" when any)."""
    out: dict[str, Any] = {"recognition": results_json(evaluation.recognition),
                           "clothes_swap": clothes_swap_json(evaluation.clothes_swap)}  # fmt: skip
    if evaluation.notes:
        out["notes"] = evaluation.notes
    return out


def swap_evaluation(models: GaitModels, data_root: str | Path, pairs: list[tuple[int, int]] | None = None,
                    condition: str = "nm-05", view: int = 90, progress=None) -> dict[str, Any]:  # fmt: skip
    """GaitNet's appearance swap on the fair bar (:func:`core.gait.swap_eval.swap_report`): ``pairs`` of
    walkers (default: every test walker of the set at ``data_root`` once on each side) rendered with that
    set's config (the default set's without a meta.json), walking ``condition`` at ``view``."""
    cfg = gait_config(data_root)
    return swap_report(lambda look, pose: swap(models, look, pose), pairs or swap_pairs(test_subjects(cfg)),
                       condition, view, cfg, progress=progress)  # fmt: skip


def format_evaluation(evaluation: GaitEvaluation, appearance_swap: dict[str, Any] | None = None,
                      per_view: bool = True) -> str:  # fmt: skip
    """Markdown: the recognition table (with per-view tables), the identification of clothes-swapped walks,
    the notes and, when given, GaitNet's swap table with its bar (:func:`swap_evaluation`)."""
    parts = [format_table(evaluation.recognition, per_view=per_view)]
    if evaluation.clothes_swap:
        heading = ("Clothes-swapped walks (each walker's walk in another walker's clothes; gallery nm-01..04, "
                   "identical views excluded), Rank-1 (%):")  # fmt: skip
        parts.append(heading + "\n\n" + format_clothes_swaps(evaluation.clothes_swap))
    parts += [f"note: {note}" for note in evaluation.notes]
    if appearance_swap is not None:
        parts.append(format_swap_report(appearance_swap))
    return "\n\n".join(parts).rstrip() + "\n"
