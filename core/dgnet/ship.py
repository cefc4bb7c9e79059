"""Ship a trained DG-Net and its teacher: export the small files into checkpoints/dgnet/, register
them in the manifest (sha256, config, data, steps, metrics), plot the training curves and write
the model card from the runs' logs and ``python -m core eval dgnet``'s report.

``python -m core ship dgnet --teacher-run runs/reid --run runs/dgnet --data data/reid --pairs data/pairs``

A run continued from another (``train dgnet --warm-start``) names that one with ``--earlier-run``: the
curves and the training time then cover both. The recorded time is the logs' active time
(:func:`core.train.active_seconds`): pauses are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from core.checkpoints import CHECKPOINT_DIR, MANIFEST, data_summary, half_precision_copy, save_entry, sha256_of
from core.dgnet.api import export_checkpoint, load_file
from core.dgnet.evaluate import evaluate_dgnet, format_report
from core.dgnet.examples import examples_figure
from core.reid.train import load_baseline
from core.train import MetricLog, active_seconds, plot_curves

__all__ = ["ship_dgnet"]

GEN_CURVES = ("recon_x", "recon_xp", "recon_s", "recon_cyc", "gan", "dis", "id", "recon_id", "teacher_kl", "fine")


def training_log(run: Path, earlier_runs: tuple[Path, ...] = ()) -> list[dict[str, float]]:
    """The log rows of ``run``, preceded by those of the runs it continued (each cut where the next begins)."""
    rows = MetricLog(run / "log.jsonl").rows()
    for earlier in reversed(earlier_runs):
        start = rows[0]["step"] if rows else float("inf")
        rows = [r for r in MetricLog(earlier / "log.jsonl").rows() if r["step"] < start] + rows
    return rows


def ship_dgnet(teacher_run: Path, run: Path, data: Path, pairs: Path, out_dir: Path = CHECKPOINT_DIR / "dgnet",
               manifest: Path = MANIFEST, earlier_runs: tuple[Path, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """Export, register, evaluate and document; returns the eval report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    teacher_file = half_precision_copy(teacher_run / "final.pt", out_dir / "teacher.pt")
    model_file = export_checkpoint(run / "final.pt", out_dir / "dgnet.pt")
    teacher_state = torch.load(teacher_run / "final.pt", map_location="cpu", weights_only=True)
    dg_state = torch.load(run / "final.pt", map_location="cpu", weights_only=True)
    model = load_file(model_file)
    teacher, teacher_cfg = load_baseline(teacher_file)
    report = evaluate_dgnet(model, teacher, data, pairs)
    data_info = data_summary(data)
    rows = training_log(run, earlier_runs)
    trows = MetricLog(teacher_run / "log.jsonl").rows()
    teacher_seconds = active_seconds(trows) or float(teacher_state["seconds"])
    dg_seconds = active_seconds(rows) or float(dg_state["seconds"])
    rel = manifest.parent
    save_entry({"name": "dgnet-teacher", "method": "reid-baseline", "file": str(teacher_file.relative_to(rel)),
                "sha256": sha256_of(teacher_file), "config": teacher_state["config"], "data": data_info,
                "steps": int(teacher_state["steps"]), "seconds": round(teacher_seconds, 1),
                "metrics": report["retrieval"]["teacher (re-ID baseline)"]}, manifest)  # fmt: skip
    save_entry({"name": "dgnet", "method": "dgnet", "file": str(model_file.relative_to(rel)),
                "sha256": sha256_of(model_file), "config": dg_state["config"], "data": data_info,
                "steps": int(dg_state["iterations"]), "seconds": round(dg_seconds, 1),
                "metrics": {"retrieval": report["retrieval"]["DG-Net"], "swap": report["swap"]}}, manifest)  # fmt: skip
    if rows:
        plot_curves(rows, GEN_CURVES, out_dir / "dgnet_curves.png", title="DG-Net training (small preset)")
    if trows:
        plot_curves(trows, ("loss", "accuracy", "lr"), out_dir / "teacher_curves.png", title="Teacher (re-ID baseline)")
    Image.fromarray(examples_figure(model)).save(out_dir / "examples.png")
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "eval.md").write_text(format_report(report))
    _ = teacher_cfg
    return report
