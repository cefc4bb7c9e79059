"""The body: an SMPL-compatible model (ours, built from Anny, or the official SMPL files) and poses."""

from core.body.model import BodyModel, BodyModelError, BodyOutput
from core.body.poses import WalkStyle, a_pose, t_pose, walk_pose, walk_sequence

__all__ = [
    "BodyModel", "BodyModelError", "BodyOutput", "WalkStyle",
    "a_pose", "t_pose", "walk_pose", "walk_sequence",
]  # fmt: skip
