"""Ship a trained DG-Net and its teacher: export the small files into checkpoints/dgnet/, register
them in the manifest (sha256, config, data, steps, metrics), plot the training curves and write
the model card from the runs' logs and ``python -m core eval dgnet``'s report.

``python -m core ship dgnet --teacher-run runs/reid --run runs/dgnet --data data/reid --pairs data/pairs``

A run continued from another (``train dgnet --warm-start``) names that one with ``--earlier-run``: the
curves and the training time then cover both. The recorded time is the logs' active time
(:func:`core.train.active_seconds`): pauses are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from core.checkpoints import CHECKPOINT_DIR, MANIFEST, data_summary, load_manifest
from core.dgnet.api import export_checkpoint, load_file
from core.dgnet.evaluate import evaluate_dgnet, format_report
from core.dgnet.figures import examples_figure
from core.reid.train import load_baseline
from core.ship import curves, half_precision_copy, load_state, run_log, ship_entry, write_report
from core.train import active_seconds

__all__ = ["ship_dgnet"]

GEN_CURVES = ("recon_x", "recon_xp", "recon_s", "recon_cyc", "gan", "dis", "id", "recon_id", "teacher_kl", "fine",
              "paired")  # fmt: skip


def training_log(run: Path, earlier_runs: tuple[Path, ...] = ()) -> list[dict[str, float]]:
    """The log rows of ``run``, preceded by those of the runs it continued (each cut where the next begins)."""
    rows = run_log(run)
    for earlier in reversed(earlier_runs):
        start = rows[0]["step"] if rows else float("inf")
        rows = [r for r in run_log(earlier) if r["step"] < start] + rows
    return rows


def _run_stage(name: str, run: Path) -> dict[str, Any]:
    """A finished run's manifest stage: its iterations and its active training time."""
    state = load_state(run / "final.pt")
    seconds = active_seconds(run_log(run)) or float(state["seconds"])
    return {"stage": name, "steps": int(state["iterations"]), "seconds": round(seconds, 1)}


def ship_dgnet(teacher_run: Path, run: Path, data: Path, pairs: Path, out_dir: Path = CHECKPOINT_DIR / "dgnet",
               manifest: Path = MANIFEST, earlier_runs: tuple[Path, ...] = (),
               continues_shipped: bool = False, stage_name: str = "training",
               stages_before: tuple[tuple[str, Path], ...] = ()) -> dict[str, Any]:  # fmt: skip
    """Export, register, evaluate and document; returns the eval report.

    teacher_run: the teacher's run folder, or an already shipped teacher file (``checkpoints/dgnet/teacher.pt``),
        whose manifest entry then stays as it is.
    continues_shipped: ``run`` started from the registered ``dgnet`` model (``train dgnet --init-from``): its
        steps and time are added to that entry's, and the entry lists both stages.
    stage_name: what this run was, for the entry's list of stages (e.g. "small-sharp").
    stages_before: (name, run folder) of runs between the shipped model and ``run``, oldest first, each started
        with ``--init-from`` the one before (so their steps restart at 0): each becomes a stage of its own.
    """
    if stages_before and not continues_shipped:
        raise ValueError("stages_before lists runs between the shipped model and this one: use continues_shipped")
    out_dir.mkdir(parents=True, exist_ok=True)
    earlier = load_manifest(manifest).get("dgnet") if continues_shipped else None
    if continues_shipped and earlier is None:
        raise ValueError(f"no 'dgnet' entry in {manifest} to continue from")
    teacher_is_file = teacher_run.is_file()
    if teacher_is_file:
        teacher_file = teacher_run
    else:
        teacher_file = half_precision_copy(teacher_run / "final.pt", out_dir / "teacher.pt")
    model_file = export_checkpoint(run / "final.pt", out_dir / "dgnet.pt")
    dg_state = load_state(run / "final.pt")
    model = load_file(model_file)
    teacher, _ = load_baseline(teacher_file)
    report = evaluate_dgnet(model, teacher, data, pairs)
    data_info = data_summary(data)
    rows = training_log(run, earlier_runs)
    dg_seconds = active_seconds(rows) or float(dg_state["seconds"])
    trows: list[dict[str, float]] = []
    if not teacher_is_file:
        teacher_state = load_state(teacher_run / "final.pt")
        trows = run_log(teacher_run)
        ship_entry("dgnet-teacher", "reid-baseline", teacher_file, teacher_state, data_info,
                   report["retrieval"]["teacher (re-ID baseline)"], manifest, trows)  # fmt: skip
    stage = {"stage": stage_name, "steps": int(dg_state["iterations"]),
             "seconds": round(dg_seconds, 1)}  # fmt: skip
    between = [_run_stage(name, path) for name, path in stages_before]
    stages = [*earlier.get("stages", [{"stage": "earlier", "steps": earlier["steps"],
                                        "seconds": earlier["seconds"]}]), *between, stage] if earlier \
        else [stage]  # fmt: skip
    metrics = {"retrieval": report["retrieval"]["DG-Net"], "swap": report["swap"],
               "reconstruction": report["reconstruction"], "bar": report["bar"]}  # fmt: skip
    ship_entry("dgnet", "dgnet", model_file, dg_state, data_info, metrics, manifest, stages=stages,
               steps=sum(s["steps"] for s in stages), seconds=round(sum(s["seconds"] for s in stages), 1))  # fmt: skip
    curves(rows, GEN_CURVES, out_dir / "dgnet_curves.png", "DG-Net training")
    if any("dis_auc" in r for r in rows):
        curves(rows, ("dis_auc", "w_gan", "paired"), out_dir / "dgnet_dis_auc.png",
               "Does D take part? Its AUC (generated vs real, before its update)")  # fmt: skip
    curves(trows, ("loss", "accuracy", "lr"), out_dir / "teacher_curves.png", "Teacher (re-ID baseline)")
    Image.fromarray(examples_figure(model)).save(out_dir / "examples.png")
    write_report(out_dir, report, format_report(report))
    return report
