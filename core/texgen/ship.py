"""Ship the trained texture U-Net and its PCB: half-precision files in checkpoints/texgen/, manifest
entries (sha256, config, data, steps, metrics), training curves and ``python -m core eval texgen``'s table.

``python -m core ship texgen --pcb-run runs/pcb --run runs/texgen --data data/reid``

The recorded training time is the log's active time (:func:`core.train.training_seconds`): pauses are left out.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from core.checkpoints import CHECKPOINT_DIR, MANIFEST, data_summary, half_precision_copy, save_entry, sha256_of
from core.texgen.api import load_files
from core.texgen.evaluate import TexGenEvalConfig, evaluate_texgen, format_report
from core.train import MetricLog, plot_curves, training_seconds

__all__ = ["ship_texgen"]


def ship_texgen(
    pcb_run: Path | None,
    run: Path,
    data: Path,
    eval_cfg: TexGenEvalConfig | None = None,
    out_dir: Path = CHECKPOINT_DIR / "texgen",
    manifest: Path = MANIFEST,
    progress=None,
) -> dict:
    """Export, evaluate, register and plot; returns the eval report (with the PCB's retrieval scores).

    pcb_run None keeps the shipped PCB (``out_dir/pcb.pt`` and its manifest entry) and ships the U-Net only.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    pcb_file = out_dir / "pcb.pt"
    if pcb_run is not None:
        half_precision_copy(pcb_run / "final.pt", pcb_file)
    elif not pcb_file.exists():
        raise FileNotFoundError(f"{pcb_file} is missing: pass the PCB run to ship (python -m core train pcb)")
    unet_file = half_precision_copy(run / "final.pt", out_dir / "unet.pt")
    pcb_state = torch.load(pcb_file, map_location="cpu", weights_only=True)
    unet_state = torch.load(run / "final.pt", map_location="cpu", weights_only=True)
    model = load_files(unet_file, pcb_file)
    report = evaluate_texgen(model, data, eval_cfg or TexGenEvalConfig(), progress=progress)
    report["pcb"] = pcb_state["metrics"]
    data_info = data_summary(data)
    rel = manifest.parent
    rows = MetricLog(run / "log.jsonl").rows()
    prows = MetricLog(pcb_run / "log.jsonl").rows() if pcb_run is not None else []
    if pcb_run is not None:
        save_entry({"name": "texgen-pcb", "method": "reid-pcb", "file": str(pcb_file.relative_to(rel)),
                    "sha256": sha256_of(pcb_file), "config": pcb_state["config"], "data": data_info,
                    "steps": int(pcb_state["steps"]), "seconds": round(training_seconds(prows, pcb_state), 1),
                    "metrics": pcb_state["metrics"]}, manifest)  # fmt: skip
    save_entry({"name": "texgen", "method": "texgen", "file": str(unet_file.relative_to(rel)),
                "sha256": sha256_of(unet_file), "config": unet_state["config"], "data": data_info,
                "steps": int(unet_state["steps"]), "seconds": round(training_seconds(rows, unet_state), 1),
                "metrics": report["methods"]}, manifest)  # fmt: skip
    if rows:
        plot_curves(rows, ("loss", "reid", "reid_other", "face", "l1", "l1_other"), out_dir / "unet_curves.png",
                    title="Texture U-Net training (small preset)")  # fmt: skip
    if prows:
        plot_curves(prows, ("loss", "accuracy", "lr"), out_dir / "pcb_curves.png", title="PCB (re-ID loss network)")
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "eval.md").write_text(format_report(report) + "\n")
    example_figure(model, out_dir / "examples.png")
    return report


def example_figure(model, path: Path, people: tuple[int, ...] = (0, 3)) -> Path:
    """Orbit strips of example test people: the U-Net's and the optimised (re-ID, 200 steps) textures, with
    the ground truth under them, for the model card."""
    import numpy as np
    from PIL import Image

    from core.texgen import api
    from core.texgen.figures import orbit_picture

    rows = []
    for index in people:
        ex = api.example_picture(index)
        unet = api.texture_unet(model, ex.image, ex.annotation)
        optimised = None
        for report in api.optimize(model, ex.image, ex.annotation, loss="reid", steps=200, report_every=200):
            optimised = report.texture
        rows.append(orbit_picture(api.orbit(unet, ex.annotation), None, ex.image[0], f"{ex.label}: U-Net"))
        rows.append(orbit_picture(api.orbit(optimised, ex.annotation), api.orbit(ex.truth, ex.annotation),
                                  ex.image[0], f"{ex.label}: optimised, re-ID loss, 200 steps"))  # fmt: skip
    width = max(r.shape[1] for r in rows)
    picture = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    Image.fromarray(picture).save(path)
    return path
