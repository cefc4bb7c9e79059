"""Ship the trained DR-GANs and their judge: half-precision files in checkpoints/drgan/, manifest entries
(sha256, config, data, steps, metrics), training curves, the example figure and ``python -m core eval
drgan``'s tables.

``python -m core ship drgan --run runs/drgan --multi-run runs/drgan-multi --judge runs/drgan-judge/final.pt``
(``--judge checkpoints/drgan/judge.pt`` keeps the shipped judge and its manifest entry)

The shared steps (manifest entries, curves, eval.json / eval.md) are :mod:`core.ship`'s; the recorded training
time is the log's active time (:func:`core.train.training_seconds`): pauses are left out.
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.checkpoints import CHECKPOINT_DIR, MANIFEST, data_summary
from core.drgan import api
from core.drgan.evaluate import evaluate_drgan, format_report
from core.drgan.figures import pose_strip_figure
from core.drgan.judge import load_judge
from core.ship import curves, half_precision_copy, load_state, run_log, ship_entry, write_report

__all__ = ["example_figure", "ship_drgan"]


def ship_drgan(run: Path, multi_run: Path, judge_path: Path, data: Path, out_dir: Path = CHECKPOINT_DIR / "drgan",
               manifest: Path = MANIFEST, progress=None) -> dict:  # fmt: skip
    """Export, evaluate, register and plot; returns the eval report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    single_file = half_precision_copy(run / "final.pt", out_dir / "drgan.pt")
    multi_file = half_precision_copy(multi_run / "final.pt", out_dir / "drgan_multi.pt")
    # the shipped judge may score a new DR-GAN as it is: then its file and manifest entry stay untouched
    keep_judge = judge_path.resolve() == (out_dir / "judge.pt").resolve()
    judge_file = judge_path if keep_judge else half_precision_copy(judge_path, out_dir / "judge.pt")
    model = api.load_files(single_file, multi_file)
    judge, jcfg = load_judge(judge_file)
    report = evaluate_drgan(model.single, judge, jcfg.image_size, data, multi_model=model.multi, progress=progress)
    info = data_summary(data)
    entries = [
        ("drgan", single_file, run / "final.pt", run, {k: report[k] for k in ("recognition", "rotation")}),
        ("drgan-multi", multi_file, multi_run / "final.pt", multi_run, report["multi_image"]),
    ]
    if not keep_judge:
        entries.append(("drgan-judge", judge_file, judge_path, None, None))  # the judge's trainer keeps no log
    for name, file, src, run_dir, metrics in entries:
        state = load_state(src)
        if metrics is None:
            metrics = {"test_pose_accuracy": state["test_pose_accuracy"]}
        rows = run_log(run_dir) if run_dir is not None else []
        ship_entry(name, name, file, state, info, metrics, manifest, rows)
    keys = ("g_loss", "g_id", "g_pose", "pair_l1", "identity", "val_judge_id", "d_loss", "d_acc_id", "d_acc_pose",
            "d_acc_fake")  # fmt: skip
    plots = ((run, "curves.png", "DR-GAN, single image"),
             (multi_run, "curves_multi.png", "DR-GAN, multi-image (from the single-image model)"))  # fmt: skip
    for src, png, title in plots:
        rows = run_log(src)
        curves(rows, [k for k in keys + ("omega_mean",) if k in rows[-1]] if rows else [], out_dir / png, title)
    write_report(out_dir, report, format_report(report) + "\n")
    example_figure(model, out_dir / "examples.png")
    return report


def example_figure(model: api.FaceModel, path: Path, examples: tuple[int, ...] = (0, 1, 2, 4)) -> Path:
    """13-pose strips of held-out example faces with the rendered truth under each, for the model card."""
    inputs, strips, truths, labels = [], [], [], []
    for k in examples:
        ex = api.example_face(k)
        x, _ = api.prepare_face(ex.image, model)
        inputs.append(x[0])
        strips.append(api.all_poses(model, x) * 2 - 1)
        truths.append(api.prepare_faces(ex.truth, model))
        labels.append(ex.label)
    pose_strip_figure(torch.stack(inputs), torch.stack(strips), torch.stack(truths), path, labels)
    return path
