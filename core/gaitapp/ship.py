"""Ship the trained gait models: half-precision GaitNet and DyGait in checkpoints/gait/, the app's gallery
of held-out walkers, manifest entries (sha256, config, data, steps, metrics), training curves, an example
figure and ``python -m core eval``'s tables (with the GEI baseline).

``python -m core ship gait --gaitnet-run runs/gaitnet --dygait-run runs/dygait --data data/gait``

The recorded training time is the log's active time (:func:`core.train.training_seconds`): pauses are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from core.checkpoints import CHECKPOINT_DIR, MANIFEST, data_summary, half_precision_copy, save_entry, sha256_of
from core.gait.evaluate import format_table, swap_scores
from core.gait.walkers import swap_truth
from core.gaitapp import api, figures
from core.gaitnet.api import reconstruct
from core.train import MetricLog, plot_curves, training_seconds

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
    rel = manifest.parent
    numbers = api.results_json(results)
    baseline = numbers["GEI + nearest neighbour"]
    for name, run, title in (("gaitnet", gaitnet_run, "GaitNet"), ("dygait", dygait_run, "DyGait")):
        state = torch.load(run / "final.pt", map_location="cpu", weights_only=True)
        rows = MetricLog(run / "log.jsonl").rows()
        metrics = {"test_rank1": numbers[title]["mean"], "gei_baseline_rank1": baseline["mean"],
                   "validation": state.get("validation"), "best_step": state.get("best_step")}  # fmt: skip
        save_entry({"name": name, "method": title, "file": str(files[name].relative_to(rel)),
                    "sha256": sha256_of(files[name]), "config": state["config"], "data": info,
                    "steps": int(state["steps"]), "seconds": round(training_seconds(rows, state), 1),
                    "metrics": metrics}, manifest)  # fmt: skip
        if rows:
            plot_curves(rows, curve_keys(rows), out_dir / f"curves_{name}.png", title=f"{title} (small preset)")
    save_entry({"name": "gait-gallery", "method": "gallery", "file": str(gallery_file.relative_to(rel)),
                "sha256": sha256_of(gallery_file), "config": {"split": "test", "condition": "nm-01",
                "views": ["036", "090", "144"]}, "data": info, "steps": 0, "seconds": 0.0, "metrics": {}},
               manifest)  # fmt: skip
    say("appearance swaps against the rendered truth")
    swaps = swap_scores(lambda look, pose: api.swap(models, look, pose), SWAP_PAIRS)
    (out_dir / "eval.json").write_text(json.dumps({"recognition": numbers, "swap": swaps}, indent=1) + "\n")
    (out_dir / "eval.md").write_text(format_table(results, per_view=True) + "\n\n" + format_swaps(swaps) + "\n")
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
