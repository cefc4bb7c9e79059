"""DR-GAN's objectives (paper, eq. 1-2; multi-image, 2(n+1) generator terms).

D learns, on real faces, the identity (N^d classes) and the yaw bin (N^p), and on generated faces the
extra "fake" identity class N^d. G wants D to see, on each synthesis, the source identity and the target
yaw. Because D must find both in G(f(x), c, z), f(x) has to carry the identity, and c the pose.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["discriminator_loss", "generator_loss", "accuracy"]


def discriminator_loss(real_id: Tensor, real_pose: Tensor, fake_id: Tensor, ids: Tensor, poses: Tensor
                       ) -> dict[str, Tensor]:  # fmt: skip
    """real_id (B, N^d + 1), real_pose (B, N^p): D on real faces with labels ids (B,), poses (B,);
    fake_id (M, N^d + 1): D on syntheses, whose class is "fake" (index N^d)."""
    fake_class = torch.full((fake_id.shape[0],), fake_id.shape[1] - 1, dtype=torch.long, device=fake_id.device)
    terms = {
        "d_id": F.cross_entropy(real_id.float(), ids),
        "d_pose": F.cross_entropy(real_pose.float(), poses),
        "d_fake": F.cross_entropy(fake_id.float(), fake_class),
    }
    terms["d_loss"] = terms["d_id"] + terms["d_pose"] + terms["d_fake"]
    return terms


def generator_loss(fake_id: Tensor, fake_pose: Tensor, ids: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """fake_id (M, N^d + 1), fake_pose (M, N^p): D on the syntheses; ids (M,) their source identities,
    targets (M,) the yaw bins they were asked for."""
    terms = {"g_id": F.cross_entropy(fake_id.float(), ids), "g_pose": F.cross_entropy(fake_pose.float(), targets)}
    terms["g_loss"] = terms["g_id"] + terms["g_pose"]
    return terms


def accuracy(logits: Tensor, labels: Tensor) -> Tensor:
    """Share of rows whose arg-max is the label (a 0-d tensor)."""
    return (logits.argmax(1) == labels).float().mean()
