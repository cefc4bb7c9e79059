"""Ship the trained gait models: half-precision GaitNet and DyGait in checkpoints/gait/, the app's gallery
of held-out walkers, manifest entries (sha256, config, data, steps, metrics), training curves, an example
figure and ``python -m core eval``'s tables (recognition with the GEI and colour-histogram baselines, the
identification of clothes-swapped walks, GaitNet's appearance swap on its fair bar).

``python -m core ship gait --gaitnet-run runs/gaitnet --dygait-run runs/dygait --data data/gait``

``--dygait-run keep`` ships GaitNet alone: the shipped ``dygait.pt``, its manifest entry and curves stay as
they are, and the evaluation uses that file.

The shared steps (manifest entries, curves, eval.json / eval.md) are :mod:`core.ship`'s; the recorded training
time is the log's active time (:func:`core.train.training_seconds`): pauses are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.checkpoints import CHECKPOINT_DIR, MANIFEST, data_summary, resolve, sha256_of
from core.gait.swap_eval import swap_pairs
from core.gait.walkers import swap_truth
from core.gaitapp import api, figures
from core.gaitnet.api import reconstruct
from core.ship import curves, half_precision_copy, load_state, run_log, ship_entry, write_report

__all__ = ["SWAP_PAIRS", "example_figure", "ship_gait"]

# (appearance person, pose person) on the default set: all held-out walkers, every person once on each side (what
# api.swap_evaluation scores by default on any set: its test walkers, swap_pairs(test_subjects(config)))
SWAP_PAIRS = swap_pairs(list(range(31, 51)))


NOT_PLOTTED = ("step", "lr", "time", "seconds", "triplet_count", "aligned")  # bookkeeping, not learning


def curve_keys(rows: list[dict], limit: int = 9) -> list[str]:
    """The logged numbers worth a panel (training and validation rows alike), in the order first logged."""
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in NOT_PLOTTED and isinstance(value, int | float):
                keys.setdefault(key)
    return list(keys)[:limit]


def ship_gait(gaitnet_run: Path, dygait_run: Path | None, data: Path, out_dir: Path = CHECKPOINT_DIR / "gait",
              manifest: Path = MANIFEST, progress=None,
              swaps: Path | None = api.DEFAULT_SWAPS) -> dict[str, Any]:  # fmt: skip
    """Export, evaluate on the test subjects, register and plot. ``dygait_run`` None keeps the shipped DyGait
    (file, manifest entry, curves) and evaluates it. ``swaps``: the clothes-swap set (skipped with a note when
    absent). Returns {"evaluation": :class:`api.GaitEvaluation`, "swap": the swap report, "markdown"}."""
    say = progress or (lambda text: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"gaitnet": half_precision_copy(gaitnet_run / "final.pt", out_dir / "gaitnet.pt")}
    runs = {"gaitnet": gaitnet_run}
    if dygait_run is None:
        files["dygait"] = resolve("dygait", manifest)  # the shipped file, checked against its sha256
        say(f"keeping the shipped DyGait ({files['dygait']})")
    else:
        files["dygait"] = half_precision_copy(dygait_run / "final.pt", out_dir / "dygait.pt")
        runs["dygait"] = dygait_run
    models = api.load(files["gaitnet"], files["dygait"])
    evaluation = api.evaluate_gait(models, data, "test", swaps=swaps, progress=say)
    for note in evaluation.notes:
        say(f"note: {note}")
    say("gallery")
    gallery_file = api.save_gallery(api.build_gallery(data), out_dir / "gallery.npz")
    info = data_summary(data)
    numbers = api.evaluation_json(evaluation)
    say("appearance swaps against the rendered truth")
    swap = api.swap_evaluation(models, data, progress=say)  # SWAP_PAIRS on the default set
    recognition = numbers["recognition"]
    baseline = recognition[api.GEI_BASELINE]
    for name, title in (("gaitnet", "GaitNet"), ("dygait", "DyGait")):
        if name not in runs:
            continue
        run = runs[name]
        state = load_state(run / "final.pt")
        rows = run_log(run)
        metrics = {"test_rank1": recognition[title]["mean"], "gei_baseline_rank1": baseline["mean"],
                   "validation": state.get("validation"), "best_step": state.get("best_step")}  # fmt: skip
        if title in numbers["clothes_swap"]:
            cs = numbers["clothes_swap"][title]
            metrics["clothes_swap"] = {"owner_rank1": cs["owner"], "donor_share": cs["donor"]}
        data_info = info
        if name == "gaitnet":
            metrics["swap_bar"] = {c["check"]: c["passed"] for c in swap["bar"]}
            if state["config"].get("aligned_pair_share") and swaps is not None and Path(swaps).is_dir():
                # the run also read the clothes-swap walks (and may have started from an earlier model)
                data_info = {**info, "clothes_swaps": data_summary(Path(swaps)), "warm_start": state.get("warm_start")}
        ship_entry(name, title, files[name], state, data_info, metrics, manifest, rows)
        preset = "small preset"
        if state["config"].get("aligned_pair_share"):
            preset = "clothes-swap fine-tuning" if state.get("warm_start") else "clothes-swap walks, from scratch"
        curves(rows, curve_keys(rows, limit=12), out_dir / f"curves_{name}.png", f"{title} ({preset})")
    ship_entry("gait-gallery", "gallery", gallery_file, None, info, {}, manifest, steps=0, seconds=0.0,
               config={"split": "test", "condition": "nm-01", "views": ["036", "090", "144"]})  # fmt: skip
    ship_gallery_features(models, gallery_file, manifest)
    markdown = api.format_evaluation(evaluation, swap)
    write_report(out_dir, {**numbers, "swap": swap}, markdown)
    say("example figure")
    example_figure(models, out_dir / "examples.png")
    return {"evaluation": evaluation, "swap": swap, "markdown": markdown}


def ship_gallery_features(models: api.GaitModels, gallery_file: Path, manifest: Path = MANIFEST) -> dict[str, Any]:
    """``gallery_features.npz`` beside ``gallery_file`` (:func:`api.save_gallery_features`: each model's features
    of the gallery, tied to the model and gallery files by sha256) and its manifest entry."""
    path = api.save_gallery_features(models, gallery_file)
    tied = {"gallery": sha256_of(gallery_file), **{name: models.sha256(name) for name in models.names}}
    return ship_entry("gait-gallery-features", "gallery features", path, None, None, {}, manifest, steps=0,
                      seconds=0.0, config={"sha256_of": tied})  # fmt: skip


def example_figure(models: api.GaitModels, path: Path, pose_subject: int = 33, look_subject: int = 38,
                   view: int = 90) -> Path:  # fmt: skip
    """For the model card: a held-out walk with DyGait's maps, GaitNet's reconstruction and an appearance
    swap beside its rendered truth, one picture."""
    walk = swap_truth(look_subject, pose_subject, "nm-05", view)
    pose = api.GaitClip(walk.sil[:, :, 10:-10], walk.rgb, [])
    look = api.example_walk(look_subject, "nm-05", view)
    dynamic, static = api.dynamic_maps(models, pose)
    rows = [
        (f"walker {pose_subject:03d}\n(pose source)", pose.rgb),
        ("silhouette", pose.sil),
        ("DyGait: moving", figures.overlay(pose.sil, dynamic)),
        ("DyGait: static", figures.overlay(pose.sil, static)),
        ("GaitNet: rebuilt", reconstruct(models.gaitnet, pose.rgb)),
        (f"walker {look_subject:03d}\n(appearance source)", look.rgb),
        ("GaitNet: swap", api.swap(models, look, pose)),
        ("rendered truth\nof the swap", walk.truth),
    ]
    picture = figures.frame_rows(rows, f"Held-out walkers, nm-05, {view}°")
    Image.fromarray(np.asarray(picture)).save(path)
    return path
