"""The body model must behave like SMPL: these tests fail for a wrongly built or loaded model."""

import pickle

import numpy as np
import pytest
import torch

from core.body import BodyModel, BodyModelError, a_pose, t_pose, walk_pose, walk_sequence
from core.body.model import DEFAULT_BODY_DIR, OPEN_MODEL_FILE
from core.body.skeleton import JOINT_NAMES, LANDMARK_NAMES, PARENTS, joint_index


def test_rest_pose_at_zero_betas_is_the_template(body):
    out = body()
    assert out.vertices.shape == (1, body.num_vertices, 3)
    assert torch.allclose(out.vertices[0], body.v_template, atol=1e-6)


def test_sizes_fit_fast_cpu_rendering(body):
    assert len(body.faces) <= 8000
    assert body.faces.max() < body.num_vertices
    assert out_of_range(body.faces_uvs, len(body.verts_uvs)) == 0


def out_of_range(index: torch.Tensor, n: int) -> int:
    return int(((index < 0) | (index >= n)).sum())


def test_joints_follow_smpl_parent_order(body):
    parents = body.smpl.parents.tolist()
    assert parents == list(PARENTS)
    assert all(p < i for i, p in enumerate(parents) if i > 0)
    assert len(JOINT_NAMES) == 24
    j = body().joints[0]
    # anatomy in the SMPL frame (Y up, facing +Z, body's left on +X)
    assert j[joint_index("head"), 1] > j[joint_index("neck"), 1] > j[joint_index("pelvis"), 1]
    assert j[joint_index("left_knee"), 1] < j[joint_index("left_hip"), 1]
    assert j[joint_index("left_ankle"), 1] < j[joint_index("left_knee"), 1]
    assert j[joint_index("left_shoulder"), 0] > 0 > j[joint_index("right_shoulder"), 0]
    # T-pose: wrists level with the shoulders, straight out
    assert abs(float(j[joint_index("left_wrist"), 1] - j[joint_index("left_shoulder"), 1])) < 0.02


def test_landmarks_sit_where_their_names_say(body):
    lm = dict(zip(LANDMARK_NAMES, body().landmarks[0], strict=True))
    assert lm["nose"][2] > lm["lear"][2] and lm["nose"][2] > lm["rear"][2]  # nose in front
    assert lm["leye"][0] > 0 > lm["reye"][0]
    assert lm["LBigToe"][2] > lm["LHeel"][2]  # toes in front of the heel
    assert lm["lmiddle"][0] > 0.6  # finger tips at the end of the stretched arm


def height(vertices: torch.Tensor) -> float:
    return float(vertices[0, :, 1].max() - vertices[0, :, 1].min())


def test_beta0_changes_height_monotonically(body):
    heights = []
    for value in np.linspace(-3, 3, 13):
        betas = torch.zeros(1, 10)
        betas[0, 0] = float(value)
        heights.append(height(body(betas=betas).vertices))
    assert np.all(np.diff(heights) > 0), heights
    assert 1.4 < heights[6] < 1.9  # a plausible adult at the mean
    assert heights[-1] - heights[0] > 0.2


def test_skinning_weights_are_a_partition_of_unity(body):
    w = body.smpl.lbs_weights
    assert w.shape == (body.num_vertices, 24)
    assert torch.all(w >= 0)
    assert torch.allclose(w.sum(1), torch.ones(body.num_vertices), atol=1e-5)


def test_elbow_bend_moves_the_hand_not_the_foot(body):
    rest = body()
    pose = torch.zeros(1, 69)
    elbow = joint_index("left_elbow") - 1
    pose[0, 3 * elbow + 1] = -np.pi / 2  # 90 degrees about Y: forearm swings forward
    bent = body(body_pose=pose)
    lm_rest, lm_bent = rest.landmarks[0], bent.landmarks[0]
    hand = LANDMARK_NAMES.index("lmiddle")
    foot = LANDMARK_NAMES.index("LBigToe")
    assert float((lm_bent[hand] - lm_rest[hand]).norm()) > 0.2
    assert float((lm_bent[foot] - lm_rest[foot]).norm()) < 1e-5
    assert lm_bent[hand, 2] > lm_rest[hand, 2] + 0.2  # forwards
    forearm = lm_bent[hand] - bent.joints[0, joint_index("left_elbow")]
    upper = bent.joints[0, joint_index("left_elbow")] - bent.joints[0, joint_index("left_shoulder")]
    cos = float(forearm @ upper / (forearm.norm() * upper.norm()))
    assert abs(cos) < 0.25  # roughly a right angle


def test_uvs_in_unit_square_one_per_face_corner(body):
    assert body.verts_uvs.min() >= 0 and body.verts_uvs.max() <= 1
    assert body.faces_uvs.shape == body.faces.shape
    # no face stretches across the atlas, as one straddling a UV seam would: its UV size stays in
    # proportion to its 3D size (a seam-smearing transfer gave 70x the median here)
    uv_tri, tri = body.verts_uvs[body.faces_uvs], body.v_template[body.faces]
    uv_span = (uv_tri.max(1).values - uv_tri.min(1).values).max(1).values
    span = (tri.max(1).values - tri.min(1).values).max(1).values
    ratio = uv_span / span
    assert float(ratio.max()) < 12 * float(ratio.median())


def test_gradients_reach_betas_and_pose(body):
    betas = torch.zeros(1, 10, requires_grad=True)
    pose = (0.1 * torch.ones(1, 69)).requires_grad_(True)
    out = body(betas=betas, body_pose=pose)
    out.vertices.square().sum().backward()
    assert betas.grad is not None and betas.grad.abs().sum() > 0
    assert pose.grad is not None and pose.grad.abs().sum() > 0


def test_pose_helpers():
    assert torch.count_nonzero(t_pose()) == 0
    assert a_pose().shape == (1, 69)
    assert walk_pose(torch.linspace(0, 0.9, 10)).shape == (10, 69)
    with pytest.raises(ValueError):
        walk_pose(1.0)


def test_a_pose_lowers_the_arms(body):
    j = body(body_pose=a_pose(45.0)).joints[0]
    sh, wr = j[joint_index("left_shoulder")], j[joint_index("left_wrist")]
    angle = np.degrees(np.arctan2(float(sh[1] - wr[1]), float(wr[0] - sh[0])))
    assert 40 < angle < 50


def test_walk_arms_swing_against_legs(body):
    j = body(body_pose=walk_pose(torch.tensor([0.25, 0.75]))).joints
    z = {n: j[:, joint_index(n), 2] for n in ("left_ankle", "right_ankle", "left_wrist", "right_wrist")}
    # at 0.25 the left leg is forward, so the left arm is back and the right arm forward
    assert z["left_ankle"][0] > z["right_ankle"][0] and z["left_wrist"][0] < z["right_wrist"][0]
    assert z["left_ankle"][1] < z["right_ankle"][1] and z["left_wrist"][1] > z["right_wrist"][1]


def test_walk_feet_do_not_slide(body):
    seq = walk_sequence(body, num_frames=40, fps=25.0)
    out = body(body_pose=seq["body_pose"], transl=seq["transl"])
    heels = out.landmarks[:, [LANDMARK_NAMES.index("LHeel"), LANDMARK_NAMES.index("RHeel")]]
    lowest = heels[..., 1].argmin(1)
    planted = heels[torch.arange(40), lowest]  # (T, 3) heel of the supporting foot
    same = lowest[1:] == lowest[:-1]
    slide = (planted[1:, [0, 2]] - planted[:-1, [0, 2]]).norm(dim=1)[same]
    assert float(slide.median()) < 0.01  # metres per frame
    assert float(seq["transl"][-1, 2]) > 0.8  # it actually walked forwards (~1.2 m/s for 1.6 s)
    assert float(out.vertices[..., 1].min()) > -0.03  # nobody sinks into the floor


def test_official_smpl_files_take_precedence(tmp_path, body):
    """A folder with SMPL_NEUTRAL.pkl + smpl_uv.obj is loaded through the official path."""
    data = dict(np.load(DEFAULT_BODY_DIR / OPEN_MODEL_FILE))
    official = {k: data[k] for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights",
                                      "kintree_table", "f")}  # fmt: skip
    with open(tmp_path / "SMPL_NEUTRAL.pkl", "wb") as fh:
        pickle.dump(official, fh)
    (tmp_path / "smpl_uv.obj").write_text("vt 0 0\n")
    with pytest.raises(BodyModelError, match="landmark_vertex_ids"):
        BodyModel(tmp_path)  # not SMPL's topology and no landmark ids: refuse, do not mis-index
    (tmp_path / "smpl_uv.obj").unlink()
    official["landmark_vertex_ids"] = data["landmark_vertex_ids"]
    with open(tmp_path / "SMPL_NEUTRAL.pkl", "wb") as fh:
        pickle.dump(official, fh)
    with pytest.raises(BodyModelError, match="smpl_uv.obj"):
        BodyModel(tmp_path)
    lines = [f"vt {u} {v}" for u, v in data["vt"]]
    lines += [
        f"f {a + 1}/{x + 1} {b + 1}/{y + 1} {c + 1}/{z + 1}"
        for (a, b, c), (x, y, z) in zip(data["f"], data["ft"], strict=True)
    ]
    (tmp_path / "smpl_uv.obj").write_text("\n".join(lines) + "\n")
    loaded = BodyModel(tmp_path)
    assert loaded.source.startswith("official SMPL")
    pose = walk_pose(0.3)
    assert torch.allclose(loaded(body_pose=pose).vertices, body(body_pose=pose).vertices, atol=1e-5)
    assert torch.equal(loaded.faces_uvs, body.faces_uvs)


def test_missing_model_says_what_to_do(tmp_path):
    with pytest.raises(BodyModelError, match="python -m core body build"):
        BodyModel(tmp_path)


def test_wrong_shapes_are_rejected(body):
    with pytest.raises(ValueError, match="betas"):
        body(betas=torch.zeros(1, 7))


def test_forward_matches_smplx_reference(body):
    """Our LBS (with offsets and transforms) is smplx's SMPL forward, to float precision."""
    gen = torch.Generator().manual_seed(0)
    betas, pose = torch.randn(3, 10, generator=gen), 0.4 * torch.randn(3, 69, generator=gen)
    orient, transl = 0.5 * torch.randn(3, 3, generator=gen), torch.randn(3, 3, generator=gen)
    ours = body(betas=betas, body_pose=pose, global_orient=orient, transl=transl)
    ref = body.smpl(betas=betas, body_pose=pose, global_orient=orient, transl=transl)
    assert torch.allclose(ours.vertices, ref.vertices, atol=1e-5)
    assert torch.allclose(ours.joints, ref.joints[:, :24], atol=1e-5)
    assert torch.allclose(ours.landmarks, ref.joints[:, 24:], atol=1e-5)


def test_joint_transforms_carry_attached_points(body):
    betas = torch.tensor([[1.0] + [0.0] * 9])
    pose = walk_pose(0.4)
    _, rest_joints = body.rest_shape(betas)
    out = body(betas=betas, body_pose=pose, transl=torch.tensor([[0.3, 0.0, 1.0]]))
    k = joint_index("left_wrist")
    p = torch.cat([rest_joints[0, k], torch.ones(1)])
    assert torch.allclose((out.transforms[0, k] @ p)[:3], out.joints[0, k], atol=1e-5)


def test_vertex_offsets_move_vertices_not_joints(body):
    offsets = torch.zeros(body.num_vertices, 3)
    offsets[:, 2] = 0.02
    plain, padded = body(), body(vertex_offsets=offsets)
    assert torch.allclose(padded.vertices - plain.vertices, offsets[None], atol=1e-6)
    assert torch.equal(padded.joints, plain.joints)


def test_full_resolution_head_sits_on_the_body(body):
    from core.body.head import load_head

    head = load_head(body)
    assert len(head.faces) > 2 * (body.smpl.lbs_weights[:, 15] > 0.5).sum()  # finer than the body's head
    assert head.verts_uvs.min() >= 0 and head.verts_uvs.max() <= 1
    gen = torch.Generator().manual_seed(1)
    betas = torch.randn(2, 10, generator=gen)
    transl = torch.tensor([[0.0, 0, 1], [1, 0, 0]])
    out = body(betas=betas, body_pose=walk_pose(torch.tensor([0.3, 0.8])), transl=transl)
    verts = head(betas, out.transforms)
    on_head = body.smpl.lbs_weights[:, 15] > 0.9
    gap = torch.cdist(out.vertices[:, on_head], verts).min(-1).values  # body head vertex -> nearest head vertex
    assert float(gap.mean()) < 0.004 and float(gap.max()) < 0.02
