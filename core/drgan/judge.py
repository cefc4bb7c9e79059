"""An independent judge of generated faces: a plain CNN trained on real training faces only, to classify
the yaw bin (the pose accuracy of DR-GAN's syntheses) and the identity (its penultimate features give the
identity similarity of a synthesis and a real face, on people neither network saw).

It shares no weights and no loss with DR-GAN, so a synthesis cannot score well by exploiting the
discriminator it was trained against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.checkpoints import ModelRecipe, from_pretrained
from core.config import ConfigMixin
from core.drgan.data import FaceSet, load_face_set
from core.engine import LossTerms, StateParts, Task, fit
from core.train import Runtime

__all__ = ["FaceJudge", "JudgeConfig", "JudgeTask", "load_judge", "train_judge"]


@dataclass(frozen=True)
class JudgeConfig(ConfigMixin):
    image_size: int = 64
    load_size: int = 73
    widths: tuple[int, ...] = (32, 64, 128, 256)
    num_poses: int = 13
    batch_size: int = 32
    steps: int = 1500
    lr: float = 1e-3
    seed: int = 1  # not DR-GAN's seed: another initialisation and another stream of batches
    bf16: bool = True


class FaceJudge(nn.Module):
    """x (B, 3, S, S) in [-1, 1] -> (pose logits (B, N^p), identity logits (B, N^d)); :meth:`embed` gives
    the L2-normalised (B, C) identity feature."""

    def __init__(self, cfg: JudgeConfig, num_ids: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for w in cfg.widths:
            for c_in in (cin, w):
                layers += [nn.Conv2d(c_in, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2))
            cin = w
        self.features = nn.Sequential(*layers)
        self.pose = nn.Linear(cin, cfg.num_poses)
        self.identity = nn.Linear(cin, num_ids)

    def _pooled(self, x: Tensor) -> Tensor:
        return self.features(x).mean((2, 3))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self._pooled(x)
        return self.pose(h), self.identity(h)

    def embed(self, x: Tensor) -> Tensor:
        return F.normalize(self._pooled(x), dim=1)

    def predict_pose(self, x: Tensor) -> Tensor:
        """(B,) yaw bins."""
        return self.pose(self._pooled(x)).argmax(1)


class JudgeTask(StateParts, Task):
    """The judge as a :class:`core.engine.Task` (one process): pose and identity cross-entropy, Adam with a
    one-cycle schedule; at the end the pose accuracy on the test faces."""

    name = "face judge"

    def __init__(self, data: Path, cfg: JudgeConfig) -> None:
        self.data, self.cfg = data, cfg
        self.seed, self.bf16, self.total_steps, self.log_every = cfg.seed, cfg.bf16, cfg.steps, 25

    def setup(self, runtime: Runtime) -> None:
        super().setup(runtime)
        self.train = load_face_set(self.data, "train", self.cfg.load_size)
        self.model = FaceJudge(self.cfg, self.train.num_ids).train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, self.cfg.lr, total_steps=self.cfg.steps)

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.cfg)

    def next_batch(self, step: int, rng: np.random.Generator):
        return self.train.sample(self.cfg.batch_size, self.cfg.image_size, rng)

    def step(self, batch, step: int, rng: np.random.Generator) -> dict[str, float]:
        with self.autocast():
            pose, ident = self.model(batch.images)
        terms = LossTerms({"pose": (1.0, F.cross_entropy(pose.float(), batch.poses)),
                           "identity": (1.0, F.cross_entropy(ident.float(), batch.ids))})  # fmt: skip
        self.opt.zero_grad(set_to_none=True)
        terms.total().backward()
        self.opt.step()
        self.sched.step()
        return terms.values()

    def parts(self) -> dict[str, Any]:
        return {"model": self.model, "opt": self.opt, "sched": self.sched}

    def final_state(self, step: int, seconds: float) -> dict[str, Any]:
        self.model.eval()
        accuracy = pose_accuracy(self.model, load_face_set(self.data, "test", self.cfg.load_size), self.cfg.image_size)
        return {"config": asdict(self.cfg), "model": self.model.state_dict(), "num_ids": self.train.num_ids,
                "steps": step, "seconds": seconds, "test_pose_accuracy": accuracy}  # fmt: skip


def train_judge(data: str | Path, path: str | Path, cfg: JudgeConfig | None = None, progress=None) -> dict[str, Any]:
    """Train on ``data``'s training faces (one process, the CPU) and save ``path`` (its folder also gets the
    run's ``log.jsonl`` and ``last.pt``); returns the held-out pose accuracy."""
    path = Path(path)
    out = fit(JudgeTask(Path(data), cfg or JudgeConfig()), path.parent, device="cpu", progress=progress)
    state = out["final"]
    if path.name != "final.pt":
        torch.save(state, path)
    return {"seconds": state["seconds"], "test_pose_accuracy": state["test_pose_accuracy"], "path": str(path)}


@torch.no_grad()
def pose_accuracy(model: FaceJudge, faces: FaceSet, size: int) -> float:
    """Share of ``faces`` (centre crops) whose yaw bin the judge gets right."""
    rows = np.arange(len(faces))
    hits = 0
    for i in range(0, len(rows), 256):
        chunk = rows[i : i + 256]
        x = faces.crop(chunk, size, None, np.zeros(len(chunk), bool))
        hits += int((model.predict_pose(x) == faces.poses[chunk]).sum())
    return hits / len(rows)


RECIPE = ModelRecipe(JudgeConfig, FaceJudge, "a face judge (python -m core train drgan-judge writes one)", "num_ids")


def load_judge(path: str | Path) -> tuple[FaceJudge, JudgeConfig]:
    """The judge (a registered name or a file; float32, eval mode) and its config."""
    return from_pretrained(RECIPE, path)
