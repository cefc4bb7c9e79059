"""SMPL pose helpers: T-pose, A-pose and a parametric walk cycle.

All poses are SMPL ``body_pose`` vectors (..., 69): axis-angle of joints 1..23 relative to their
parents. In the rest frame the body faces +Z with Y up and the left arm along +X, so a rotation
about +X by a positive angle swings a hanging limb backwards and bends the torso forwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.body.skeleton import LANDMARK_NAMES, NUM_BODY_JOINTS, joint_index


def _axis_angle(axis: str, angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle for rotations by ``angle`` (...) about a coordinate axis."""
    out = torch.zeros(*angle.shape, 3, dtype=angle.dtype)
    out[..., "xyz".index(axis)] = angle
    return out


def _compose(*axis_angles: torch.Tensor) -> torch.Tensor:
    """Axis-angle of R_1 @ R_2 @ ... (the last one applied first)."""
    from pytorch3d.transforms import axis_angle_to_matrix, matrix_to_axis_angle

    mats = [axis_angle_to_matrix(a) for a in axis_angles]
    total = mats[0]
    for m in mats[1:]:
        total = total @ m
    return matrix_to_axis_angle(total)


def _empty(*batch: int) -> torch.Tensor:
    return torch.zeros(*batch, NUM_BODY_JOINTS, 3)


def _set(pose: torch.Tensor, joint: str, value: torch.Tensor) -> None:
    pose[..., joint_index(joint) - 1, :] = value  # body_pose starts at joint 1


def t_pose(batch: int = 1) -> torch.Tensor:
    """SMPL's rest pose: all zeros, arms straight out. Returns (batch, 69)."""
    return _empty(batch).reshape(batch, -1)


def a_pose(arm_angle_deg: float = 45.0, batch: int = 1) -> torch.Tensor:
    """Arms lowered by ``arm_angle_deg`` from horizontal. Returns (batch, 69)."""
    pose = _empty(batch)
    angle = torch.full((batch,), math.radians(arm_angle_deg))
    _set(pose, "left_shoulder", _axis_angle("z", -angle))
    _set(pose, "right_shoulder", _axis_angle("z", angle))
    return pose.reshape(batch, -1)


@dataclass(frozen=True)
class WalkStyle:
    """Parameters of the walk cycle (a person's gait style).

    stride: step length in metres (heel to heel); sets the hip swing.
    cadence: steps per minute; sets how fast the phase advances in :func:`walk_sequence`.
    arm_swing: peak shoulder swing in radians, opposite to the same-side leg.
    torso_lean: forward lean of the spine in radians.
    knee_lift: extra knee bend at mid-swing in radians.
    """

    stride: float = 0.65
    cadence: float = 110.0
    arm_swing: float = 0.35
    torso_lean: float = 0.06
    knee_lift: float = 1.0


def walk_pose(phase: float | torch.Tensor, style: WalkStyle | None = None, leg_length: float = 0.85) -> torch.Tensor:
    """Body pose at a point of the gait cycle.

    Args:
        phase: in [0, 1), scalar or (T,); 0 = left leg passing under the body moving forwards.
        style: gait parameters; default :class:`WalkStyle`.
        leg_length: hip-to-ankle length in metres, to turn the stride into a hip angle.
    Returns:
        (T, 69) body pose (T = 1 for a scalar phase).
    """
    style = style or WalkStyle()
    phase = torch.as_tensor(phase, dtype=torch.float32).reshape(-1)
    if torch.any((phase < 0) | (phase >= 1)):
        raise ValueError("phase must lie in [0, 1)")
    hip_amp = math.asin(min(0.95, style.stride / (2 * leg_length)))
    pose = _empty(len(phase))
    arm_down = torch.full_like(phase, math.radians(72.0))
    for side, offset, sign in (("left", 0.0, 1.0), ("right", 0.5, -1.0)):
        psi = 2 * math.pi * (phase + offset)
        hip_flex = hip_amp * torch.sin(psi)  # > 0: thigh forward
        swing = torch.clamp(torch.cos(psi), min=0.0) ** 2  # 1 at mid-swing, 0 in stance
        knee_flex = 0.08 + style.knee_lift * swing
        _set(pose, f"{side}_hip", _axis_angle("x", -hip_flex))
        _set(pose, f"{side}_knee", _axis_angle("x", knee_flex))
        _set(pose, f"{side}_ankle", _axis_angle("x", -0.25 * swing + 0.1 * torch.sin(psi)))
        arm_forward = -style.arm_swing * torch.sin(psi)  # the arm swings against its own leg
        _set(
            pose,
            f"{side}_shoulder",
            _compose(_axis_angle("x", -arm_forward), _axis_angle("z", -sign * arm_down)),
        )
        _set(pose, f"{side}_elbow", _axis_angle("y", -sign * (0.25 + 0.2 * torch.clamp(arm_forward, min=0.0))))
    _set(pose, "spine1", _axis_angle("x", torch.full_like(phase, style.torso_lean)))
    twist = 0.08 * torch.sin(2 * math.pi * phase)
    _set(pose, "spine2", _axis_angle("y", twist))  # shoulders counter-rotate against the pelvis
    return pose.reshape(len(phase), -1)


def walk_sequence(
    body,
    num_frames: int = 30,
    fps: float = 25.0,
    style: WalkStyle | None = None,
    betas: torch.Tensor | None = None,
    start_phase: float = 0.0,
) -> dict[str, torch.Tensor]:
    """A walk along +Z with planted feet.

    The phase advances by cadence / 120 cycles per second. The forward translation is integrated
    so that the foot in stance keeps still on the floor, and the height keeps the lower foot on
    y = 0 (the floor).

    Args:
        body: a :class:`core.body.BodyModel`.
        betas: (1, 10) shape, default mean shape.
    Returns:
        dict with body_pose (T, 69), transl (T, 3), phase (T,), floor_y = 0.
    """
    style = style or WalkStyle()
    phase = (start_phase + torch.arange(num_frames) * style.cadence / 120.0 / fps) % 1.0
    body_pose = walk_pose(phase, style)
    shape = betas.expand(num_frames, -1) if betas is not None else None
    with torch.no_grad():
        out = body(betas=shape, body_pose=body_pose)
    lm = out.landmarks
    heels = lm[:, [LANDMARK_NAMES.index("LHeel"), LANDMARK_NAMES.index("RHeel")]]
    toes = lm[:, [LANDMARK_NAMES.index("LBigToe"), LANDMARK_NAMES.index("RBigToe")]]
    feet = 0.5 * (heels + toes)  # (T, 2, 3)
    lowest = torch.minimum(heels[..., 1], toes[..., 1])  # (T, 2)
    stance = lowest.argmin(1)  # the lower foot carries the body
    transl = torch.zeros(num_frames, 3)
    for t in range(1, num_frames):
        s = stance[t]
        transl[t, 2] = transl[t - 1, 2] - (feet[t, s, 2] - feet[t - 1, s, 2])
    transl[:, 1] = -lowest.min(1).values
    return {"body_pose": body_pose, "transl": transl, "phase": phase}


def stand_pose(arm_angle_deg: float = 75.0, weight_shift: float = 0.0, head_turn: float = 0.0) -> torch.Tensor:
    """Standing: arms relaxed at the sides, weight on one leg, head turned. Returns (1, 69).

    weight_shift: -1..1, the hips tilt over the left (+) or right (-) leg and the free knee bends.
    head_turn: radians, the head looks left (+) or right (-).
    """
    pose = a_pose(arm_angle_deg).reshape(1, NUM_BODY_JOINTS, 3)
    shift = torch.tensor([float(weight_shift)])
    _set(pose, "left_hip", _axis_angle("z", 0.06 * shift))
    _set(pose, "right_hip", _axis_angle("z", 0.06 * shift))
    free = "right" if weight_shift >= 0 else "left"
    _set(pose, f"{free}_knee", _axis_angle("x", 0.25 * shift.abs()))
    _set(pose, f"{free}_hip", _compose(_axis_angle("z", 0.06 * shift), _axis_angle("x", -0.1 * shift.abs())))
    _set(pose, "neck", _axis_angle("y", torch.tensor([0.4 * float(head_turn)])))
    _set(pose, "head", _axis_angle("y", torch.tensor([0.6 * float(head_turn)])))
    return pose.reshape(1, -1)


def turn_pose(phase: float, style: WalkStyle | None = None, turn: float = 0.5) -> torch.Tensor:
    """Walking while turning: the walk at ``phase`` with the upper body and head already rotated
    by up to ``turn`` radians towards the new direction (positive = to the person's left).
    Returns (1, 69)."""
    pose = walk_pose(phase, style).reshape(1, NUM_BODY_JOINTS, 3)
    t = torch.tensor([float(turn)])
    for joint, share in (("spine1", 0.2), ("spine2", 0.25), ("spine3", 0.2), ("neck", 0.15), ("head", 0.2)):
        current = pose[:, joint_index(joint) - 1]
        _set(pose, joint, _compose(_axis_angle("y", share * t), current))
    return pose.reshape(1, -1)


def carry_pose(phase: float, style: WalkStyle | None = None) -> torch.Tensor:
    """Walking with something held in both hands in front of the body: the legs walk, the upper
    arms hang slightly forward and the elbows bend so the forearms point forward. Returns (1, 69)."""
    pose = walk_pose(phase, style).reshape(1, NUM_BODY_JOINTS, 3)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        down = torch.tensor([math.radians(80.0)])
        forward = torch.tensor([0.35])
        _set(pose, f"{side}_shoulder", _compose(_axis_angle("x", -forward), _axis_angle("z", -sign * down)))
        _set(pose, f"{side}_elbow", _axis_angle("y", torch.tensor([-sign * 1.35])))
        _set(pose, f"{side}_wrist", torch.zeros(1, 3))
    return pose.reshape(1, -1)
