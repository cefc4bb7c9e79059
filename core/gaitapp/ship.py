"""Ship the trained gait models: half-precision GaitNet and DyGait in checkpoints/gait/, the app's gallery
of held-out walkers, manifest entries (sha256, config, data, steps, metrics), training curves, an example
figure and ``python -m core eval``'s tables (with the GEI baseline).

``python -m core ship gait --gaitnet-run runs/gaitnet --dygait-run runs/dygait --data data/gait``

The shared steps (manifest entries, curves, eval.json / eval.md) are :mod:`core.ship`'s; the recorded training
time is the log's active time (:func:`core.train.training_seconds`): pauses are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.checkpoints import CHECKPOINT_DIR, MANIFEST, data_summary
from core.gait.evaluate import format_table, swap_scores
from core.gait.walkers import swap_truth
from core.gaitapp import api, figures
from core.gaitnet.api import reconstruct
from core.ship import curves, half_precision_copy, load_state, run_log, ship_entry, write_report

__all__ = ["SWAP_PAIRS", "example_figure", "format_swaps", "ship_gait"]

# (appearance person, pose person), all held-out walkers, every person once on each side
SWAP_PAIRS = [(31 + k, 31 + (k + 7) % 20) for k in range(20)]


def curve_keys(rows: list[dict], limit: int = 9) -> list[str]:
    """The logged numbers worth a panel (training and validation rows alike), in the order first logged."""
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in ("step", "lr", "time", "seconds", "triplet_count") and isinstance(value, int | float):
                keys.setdefault(key)
    return list(keys)[:limit]


def format_swaps(swaps: dict[str, dict[str, float]]) -> str:
    """Markdown table of the swap scores."""
    lines = ["GaitNet appearance swap vs the rendered truth (20 held-out pairs, nm-05 at 90°, all frames):", "",
             "| method | SSIM | L1 |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {name} | {v['ssim']:.3f} | {v['l1']:.4f} |" for name, v in swaps.items()]
    return "\n".join(lines)


def ship_gait(gaitnet_run: Path, dygait_run: Path, data: Path, out_dir: Path = CHECKPOINT_DIR / "gait",
              manifest: Path = MANIFEST, progress=None) -> dict[str, Any]:  # fmt: skip
    """Export, evaluate on the test subjects, register and plot; returns name -> GaitResult."""
    say = progress or (lambda text: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"gaitnet": half_precision_copy(gaitnet_run / "final.pt", out_dir / "gaitnet.pt"),
             "dygait": half_precision_copy(dygait_run / "final.pt", out_dir / "dygait.pt")}  # fmt: skip
    models = api.load(files["gaitnet"], files["dygait"])
    results = api.evaluate_models(models, data, "test", progress=say)
    say("gallery")
    gallery_file = api.save_gallery(api.build_gallery(data), out_dir / "gallery.npz")
    info = data_summary(data)
    numbers = api.results_json(results)
    baseline = numbers["GEI + nearest neighbour"]
    for name, run, title in (("gaitnet", gaitnet_run, "GaitNet"), ("dygait", dygait_run, "DyGait")):
        state = load_state(run / "final.pt")
        rows = run_log(run)
        metrics = {"test_rank1": numbers[title]["mean"], "gei_baseline_rank1": baseline["mean"],
                   "validation": state.get("validation"), "best_step": state.get("best_step")}  # fmt: skip
        ship_entry(name, title, files[name], state, info, metrics, manifest, rows)
        curves(rows, curve_keys(rows), out_dir / f"curves_{name}.png", f"{title} (small preset)")
    ship_entry("gait-gallery", "gallery", gallery_file, None, info, {}, manifest, steps=0, seconds=0.0,
               config={"split": "test", "condition": "nm-01", "views": ["036", "090", "144"]})  # fmt: skip
    say("appearance swaps against the rendered truth")
    swaps = swap_scores(lambda look, pose: api.swap(models, look, pose), SWAP_PAIRS)
    write_report(out_dir, {"recognition": numbers, "swap": swaps},
                 format_table(results, per_view=True) + "\n\n" + format_swaps(swaps) + "\n")  # fmt: skip
    say("example figure")
    example_figure(models, out_dir / "examples.png")
    return results


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
