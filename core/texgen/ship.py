"""Ship the trained texture U-Net and its PCB: half-precision files in checkpoints/texgen/, manifest
entries (sha256, config, data, steps, metrics), training curves and ``python -m core eval texgen``'s table.

``python -m core ship texgen --pcb-run runs/pcb --run runs/texgen --data data/reid``

The shared steps (manifest entries, curves, eval.json / eval.md) are :mod:`core.ship`'s; the recorded training
time is the log's active time (:func:`core.train.training_seconds`): pauses are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.checkpoints import CHECKPOINT_DIR, MANIFEST, data_summary
from core.ship import curves, half_precision_copy, load_state, run_log, ship_entry, write_report
from core.texgen import api
from core.texgen.evaluate import TexGenEvalConfig, evaluate_texgen, format_report
from core.texgen.figures import orbit_picture

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
    pcb_state = load_state(pcb_file)
    unet_state = load_state(run / "final.pt")
    model = api.load_files(unet_file, pcb_file)
    report = evaluate_texgen(model, data, eval_cfg or TexGenEvalConfig(), progress=progress)
    report["pcb"] = pcb_state["metrics"]
    data_info = data_summary(data)
    rows = run_log(run)
    prows = run_log(pcb_run) if pcb_run is not None else []
    if pcb_run is not None:
        ship_entry("texgen-pcb", "reid-pcb", pcb_file, pcb_state, data_info, pcb_state["metrics"], manifest, prows)
    ship_entry("texgen", "texgen", unet_file, unet_state, data_info, report["methods"], manifest, rows)
    curves(rows, ("loss", "reid", "reid_other", "face", "l1", "l1_other", "truth"), out_dir / "unet_curves.png",
           "Texture U-Net training (small preset)")  # fmt: skip
    curves(prows, ("loss", "accuracy", "lr"), out_dir / "pcb_curves.png", "PCB (re-ID loss network)")
    write_report(out_dir, report, format_report(report) + "\n")
    example_figure(model, out_dir / "examples.png")
    return report


def example_figure(model, path: Path, people: tuple[int, ...] = (0, 3)) -> Path:
    """Orbit strips of example test people: the U-Net's and the optimised (re-ID, 200 steps) textures, with
    the ground truth under them, for the model card."""
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
