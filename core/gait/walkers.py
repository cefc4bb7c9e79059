"""Synthetic walkers rendered on demand, and the ground truth of GaitNet's appearance swap.

We render the people of the gait set, so any walk can be re-made without the data folder (the app's
examples on a fresh clone), and any factor combination can be rendered: person j's walk (body, gait,
view, every frame) worn in person i's clothes is what GaitNet's decoder should produce from i's
appearance feature and j's pose features.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np

from core.data.opengait import cut_silhouette
from core.synth.gait_set import GaitConfig, GaitWalk, render_gait_walk

__all__ = ["Walk", "gait_config", "render_walk", "swap_truth", "test_subjects"]

Walk = GaitWalk


def gait_config(root: str | Path | None = None) -> GaitConfig:
    """The config a gait set was written with (its meta.json, or while it is being written its
    settings.json), or the default set's config."""
    files = [Path(root) / name for name in ("meta.json", "settings.json")] if root is not None else []
    found = [f for f in files if f.exists()]
    if not found:
        return GaitConfig()
    stored = json.loads(found[0].read_text())["config"]
    names = {f.name for f in fields(GaitConfig)}
    return GaitConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in names})


def test_subjects(cfg: GaitConfig) -> list[int]:
    """The subject numbers no model trained on (the set's test split)."""
    return list(range(cfg.train_ids + 1, cfg.ids + 1))


def _check(cfg: GaitConfig, person: int, condition: str, view: int) -> None:
    if not 1 <= person <= cfg.ids:
        raise ValueError(f"subject must be within 1..{cfg.ids}, got {person}")
    if condition not in cfg.conditions:
        raise ValueError(f"condition must be one of {', '.join(cfg.conditions)}; got {condition!r}")
    if view not in cfg.views:
        raise ValueError(f"view must be one of {', '.join(map(str, cfg.views))} degrees; got {view}")


def render_walk(person: int, condition: str = "nm-01", view: int = 90, cfg: GaitConfig | None = None) -> GaitWalk:
    """Walk (person, condition, view) as the gait set stores it (``sil`` uint8 (T, 64, 64), ``rgb``
    uint8 (T, 64, 32, 3)); about 2 s for 30 frames on 2 cores."""
    cfg = cfg or GaitConfig()
    _check(cfg, person, condition, view)
    return render_gait_walk(cfg, person, condition, view)


def silhouettes_of(walk: GaitWalk) -> np.ndarray:
    """uint8 (T, 64, 44): the walk's silhouettes as the models see them (OpenGait's 10-px cut)."""
    return cut_silhouette(walk.sil)


def swap_truth(
    appearance_person: int, pose_person: int, condition: str = "nm-01", view: int = 90, cfg: GaitConfig | None = None
) -> GaitWalk:
    """Person ``pose_person``'s walk with ``truth`` = the same frames in ``appearance_person``'s clothes
    (uint8 (T, 64, 32, 3), cut out exactly as the walk's own frames)."""
    cfg = cfg or GaitConfig()
    _check(cfg, pose_person, condition, view)
    _check(cfg, appearance_person, condition, view)
    return render_gait_walk(cfg, pose_person, condition, view, clothes_of=appearance_person)
