"""HeadModel: the open body's full-resolution head for close-ups (faces at 96-110 pixels).

It is driven by the body: the same betas shape it and the body's joint transforms pose it, so it
sits exactly where the body's own (coarser) head is. Only the open body model has one; with the
official SMPL files, their 6,890-vertex head is fine enough and :func:`load_head` returns None.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.body.model import DEFAULT_BODY_DIR, BodyModelError
from core.checkpoints import CheckpointError, resolve

HEAD_FILE = "open_head.npz"


class HeadModel(nn.Module):
    """Head, neck and shoulder tops of the open body at Anny's resolution.

    Buffers: v_template (Vh, 3), shapedirs (Vh, 3, 10), weights (Vh, 24), faces (Fh, 3),
    verts_uvs (T, 2), faces_uvs (Fh, 3). The UV layout is the body's (MakeHuman), so a body
    texture paints the head too.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        path = Path(path)
        if not path.exists():
            raise BodyModelError(f"{path} is missing; run `python -m core body build` to make it")
        data = np.load(path, allow_pickle=False)
        for key, name, dtype in (("v_template", "v_template", torch.float32), ("shapedirs", "shapedirs", torch.float32),
                                 ("weights", "weights", torch.float32), ("f", "faces", torch.long),
                                 ("vt", "verts_uvs", torch.float32), ("ft", "faces_uvs", torch.long)):  # fmt: skip
            self.register_buffer(name, torch.as_tensor(data[key], dtype=dtype), persistent=False)

    def forward(self, betas: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
        """Posed head vertices (B, Vh, 3) from betas (B, 10) and the body's joint transforms
        (B, 24, 4, 4) (``BodyOutput.transforms``)."""
        rest = self.v_template + torch.einsum("vck,bk->bvc", self.shapedirs, betas)
        per_vertex = torch.einsum("vj,bjxy->bvxy", self.weights, transforms)
        return torch.einsum("bvxy,bvy->bvx", per_vertex[..., :3, :3], rest) + per_vertex[..., :3, 3]


def load_head(body) -> HeadModel | None:
    """The head for a BodyModel: its open model's head file, or None for official SMPL."""
    if body.source.startswith("official"):
        return None
    path = Path(getattr(body, "body_dir", DEFAULT_BODY_DIR)) / HEAD_FILE
    if Path(getattr(body, "body_dir", DEFAULT_BODY_DIR)) == DEFAULT_BODY_DIR:
        try:
            resolve("body_head")
        except CheckpointError as err:
            raise BodyModelError(str(err)) from err
    return HeadModel(path)
