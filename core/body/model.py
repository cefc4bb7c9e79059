"""BodyModel: a compact SMPL body over ``smplx.SMPL``, with UVs for texturing.

Two sources, one class:

* our open model, ``checkpoints/body/open_body.npz`` (built from Anny by ``python -m core body build``);
* the official SMPL files, if a user places them in ``checkpoints/body/``:
  ``SMPL_NEUTRAL.pkl`` (or ``SMPL_MALE.pkl`` / ``SMPL_FEMALE.pkl``) and the SMPL UV file
  ``smpl_uv.obj``. Official pickles hold chumpy arrays, so ``pip install chumpy`` first.

Both are driven by SMPL parameters: betas (B, 10), global_orient (B, 3) and body_pose (B, 69) in
axis-angle, transl (B, 3).
"""

from __future__ import annotations

import contextlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.body.skeleton import LANDMARK_NAMES, NUM_BETAS, NUM_BODY_JOINTS, NUM_JOINTS
from core.checkpoints import CheckpointError, resolve

DEFAULT_BODY_DIR = Path(__file__).resolve().parents[2] / "checkpoints" / "body"
OPEN_MODEL_FILE = "open_body.npz"
OFFICIAL_UV_FILE = "smpl_uv.obj"
SMPL_NUM_VERTICES = 6890


class BodyModelError(RuntimeError):
    """Raised with a message that says which file is missing or wrong and what to do."""


@dataclass
class BodyOutput:
    """Posed body, metres, Y up.

    vertices (B, V, 3); joints (B, 24, 3); landmarks (B, 21, 3);
    transforms (B, 24, 4, 4): world transform of each joint's frame, so a point p rigidly attached
    to joint k in the rest pose (same betas) lands at transforms[:, k] @ [p, 1].
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    landmarks: torch.Tensor
    transforms: torch.Tensor


def _official_file(body_dir: Path, gender: str) -> Path | None:
    path = body_dir / f"SMPL_{gender.upper()}.pkl"
    return path if path.exists() else None


def _load_official(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return dict(pickle.load(fh, encoding="latin1"))
    except ModuleNotFoundError as err:  # official files pickle chumpy arrays
        raise BodyModelError(
            f"{path.name} needs the module {err.name!r} to unpickle; run `pip install chumpy` "
            "or remove the file to use the open body model."
        ) from err


def _load_uv_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """verts_uvs (T, 2) and faces_uvs (F, 3) from the 'vt' and 'f v/vt' records of an OBJ."""
    uvs, faces = [], []
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "vt":
            uvs.append([float(parts[1]), float(parts[2])])
        elif parts[0] == "f":
            corners = [int(p.split("/")[1]) - 1 for p in parts[1:]]
            faces.extend([corners[0], corners[k], corners[k + 1]] for k in range(1, len(corners) - 1))
    return np.asarray(uvs, np.float32), np.asarray(faces, np.int64)


def _landmark_ids(data: dict) -> dict[str, int] | None:
    """Landmark vertex ids from the file, or None for smplx's own ids (official topology only)."""
    if "landmark_vertex_ids" in data:
        return {n: int(i) for n, i in zip(LANDMARK_NAMES, data["landmark_vertex_ids"], strict=True)}
    if len(data["v_template"]) != SMPL_NUM_VERTICES:
        raise BodyModelError(
            f"a SMPL-format file with {len(data['v_template'])} vertices needs 'landmark_vertex_ids'; "
            f"smplx's built-in landmark ids only fit SMPL's {SMPL_NUM_VERTICES}-vertex mesh."
        )
    return None


class BodyModel(nn.Module):
    """SMPL-compatible body with UVs.

    Args:
        body_dir: folder with ``open_body.npz`` and optionally the official SMPL files.
        gender: "neutral", "male" or "female" (the open model is neutral only).
        prefer_official: use official SMPL files when present in ``body_dir``.

    Attributes (buffers): faces (F, 3) long, verts_uvs (T, 2) float in [0, 1], faces_uvs (F, 3) long.
    """

    def __init__(
        self,
        body_dir: str | Path | None = None,
        gender: str = "neutral",
        prefer_official: bool = True,
    ) -> None:
        super().__init__()
        import smplx
        from smplx.utils import Struct

        body_dir = Path(body_dir) if body_dir is not None else DEFAULT_BODY_DIR
        self.body_dir = body_dir
        official = _official_file(body_dir, gender) if prefer_official else None
        if official is not None:
            data = _load_official(official)
            uv_path = body_dir / OFFICIAL_UV_FILE
            if not uv_path.exists():
                raise BodyModelError(
                    f"found {official.name} but not {OFFICIAL_UV_FILE} in {body_dir}; put the SMPL "
                    "UV file there (it ships with SMPL's UV download) to texture the body."
                )
            verts_uvs, faces_uvs = _load_uv_obj(uv_path)
            vertex_ids = _landmark_ids(data)
            self.source = f"official SMPL ({official.name})"
        else:
            path = body_dir / OPEN_MODEL_FILE
            if not path.exists():
                raise BodyModelError(
                    f"no body model in {body_dir}: expected {OPEN_MODEL_FILE} (run "
                    "`python -m core body build`) or the official SMPL_NEUTRAL.pkl + smpl_uv.obj."
                )
            if gender != "neutral":
                raise BodyModelError("the open body model is gender-neutral; use gender='neutral'.")
            if body_dir == DEFAULT_BODY_DIR:  # the shipped file: check it against the manifest
                try:
                    resolve("body")
                except CheckpointError as err:
                    raise BodyModelError(str(err)) from err
            data = dict(np.load(path, allow_pickle=False))
            verts_uvs, faces_uvs = data["vt"], data["ft"]
            vertex_ids = _landmark_ids(data)
            self.source = f"open body model ({path.name})"
        if len(faces_uvs) != len(data["f"]):
            raise BodyModelError(f"UV faces ({len(faces_uvs)}) do not match mesh faces ({len(data['f'])}).")
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a note about 10 betas
            self.smpl = smplx.SMPL(
                model_path=str(body_dir), data_struct=Struct(**data), vertex_ids=vertex_ids,
                num_betas=NUM_BETAS, create_betas=False, create_body_pose=False,
                create_global_orient=False, create_transl=False,
            )  # fmt: skip
        self.register_buffer("faces", self.smpl.faces_tensor.clone(), persistent=False)
        self.register_buffer("verts_uvs", torch.as_tensor(verts_uvs, dtype=torch.float32), persistent=False)
        self.register_buffer("faces_uvs", torch.as_tensor(faces_uvs, dtype=torch.long), persistent=False)

    @property
    def num_vertices(self) -> int:
        return int(self.smpl.v_template.shape[0])

    @property
    def v_template(self) -> torch.Tensor:
        """Mean rest (T-pose) vertices (V, 3)."""
        return self.smpl.v_template

    def rest_shape(self, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shaped rest (T-pose) vertices (B, V, 3) and joints (B, 24, 3) for betas (B, 10)."""
        from smplx.lbs import blend_shapes, vertices2joints

        v_shaped = self.smpl.v_template + blend_shapes(betas, self.smpl.shapedirs)
        return v_shaped, vertices2joints(self.smpl.J_regressor, v_shaped)

    def forward(
        self,
        betas: torch.Tensor | None = None,
        body_pose: torch.Tensor | None = None,
        global_orient: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
        vertex_offsets: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose the body (SMPL's linear blend skinning on smplx's model buffers).

        Args:
            betas: (B, 10) shape coefficients (one standard deviation each); default zeros.
            body_pose: (B, 69) axis-angle of joints 1..23 relative to their parents; default zeros.
            global_orient: (B, 3) axis-angle of the root; default zeros.
            transl: (B, 3) translation in metres; default zeros.
            vertex_offsets: (B, V, 3) or (V, 3) rest-pose displacements added after the shape
                blend (e.g. a coat's bulk); joints still come from the undisplaced body.
        Returns:
            BodyOutput with vertices (B, V, 3), joints (B, 24, 3), landmarks (B, 21, 3) and
            joint transforms (B, 24, 4, 4).
        """
        from smplx.lbs import batch_rigid_transform, batch_rodrigues

        given = [t for t in (betas, body_pose, global_orient, transl) if t is not None]
        batch = given[0].shape[0] if given else 1
        ref = self.smpl.v_template

        def default(t: torch.Tensor | None, dim: int, name: str) -> torch.Tensor:
            if t is None:
                return ref.new_zeros(batch, dim)
            if t.ndim != 2 or t.shape != (batch, dim):
                raise ValueError(f"{name} must have shape ({batch}, {dim}), got {tuple(t.shape)}")
            return t.to(ref)

        betas = default(betas, NUM_BETAS, "betas")
        pose = torch.cat(
            [
                default(global_orient, 3, "global_orient"),
                default(body_pose, 3 * NUM_BODY_JOINTS, "body_pose"),
            ],
            1,
        )
        transl = default(transl, 3, "transl")
        v_shaped, joints_rest = self.rest_shape(betas)
        rot_mats = batch_rodrigues(pose.reshape(-1, 3)).reshape(batch, NUM_JOINTS, 3, 3)
        eye = torch.eye(3, dtype=ref.dtype, device=ref.device)
        pose_feature = (rot_mats[:, 1:] - eye).reshape(batch, -1)
        v_posed = v_shaped + (pose_feature @ self.smpl.posedirs).reshape(batch, -1, 3)
        if vertex_offsets is not None:
            v_posed = v_posed + vertex_offsets.to(ref)
        joints, rel = batch_rigid_transform(rot_mats, joints_rest, self.smpl.parents, dtype=ref.dtype)
        per_vertex = torch.einsum("vj,bjxy->bvxy", self.smpl.lbs_weights, rel)
        verts = torch.einsum("bvxy,bvy->bvx", per_vertex[..., :3, :3], v_posed) + per_vertex[..., :3, 3]
        verts, joints = verts + transl[:, None], joints + transl[:, None]
        # rel maps rest points to posed ones: fold the translation in for the world transform
        world = rel.clone()
        world[..., :3, 3] += transl[:, None]
        landmarks = verts[:, self.smpl.vertex_joint_selector.extra_joints_idxs]
        return BodyOutput(vertices=verts, joints=joints, landmarks=landmarks, transforms=world)
