"""SMPL's 24-joint skeleton: names, kinematic tree and the extra landmark names smplx selects.

These facts define compatibility with SMPL: a model file that follows them can be driven by the
72-d SMPL pose vector (global_orient 3 + body_pose 69, axis-angle, parent-relative).
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip

# parent of each joint in JOINT_NAMES order (-1 for the root); the SMPL kinematic tree
PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)  # fmt: skip

NUM_JOINTS = len(JOINT_NAMES)  # 24
NUM_BODY_JOINTS = NUM_JOINTS - 1  # 23 -> body_pose has 69 values
NUM_BETAS = 10

# Keys of smplx's VertexJointSelector, in the order smplx appends them after the 24 LBS joints:
# 5 face landmarks, 6 foot landmarks, 10 finger tips -> 45 joints in all.
FACE_LANDMARKS: tuple[str, ...] = ("nose", "reye", "leye", "rear", "lear")
FOOT_LANDMARKS: tuple[str, ...] = ("LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
FINGERTIP_LANDMARKS: tuple[str, ...] = (
    "lthumb", "lindex", "lmiddle", "lring", "lpinky",
    "rthumb", "rindex", "rmiddle", "rring", "rpinky",
)  # fmt: skip
LANDMARK_NAMES: tuple[str, ...] = FACE_LANDMARKS + FOOT_LANDMARKS + FINGERTIP_LANDMARKS


def joint_index(name: str) -> int:
    """Index of a SMPL joint by name (e.g. ``"left_elbow"`` -> 18)."""
    try:
        return JOINT_NAMES.index(name)
    except ValueError:
        raise KeyError(f"unknown SMPL joint {name!r}; known: {', '.join(JOINT_NAMES)}") from None
