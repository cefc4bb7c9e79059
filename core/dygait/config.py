"""Configuration of DyGait (Wang, Guo, Lin, Yang, Zhu, Li, Zhang and Yu, ICCV 2023).

Defaults are the CASIA-B column of the authors' configs (``M-Candy77/DyGait`` commit 265a2a7,
``configs/dygait_CASIAB.yaml``; ../shared/reference/gait.md section 2.4): channels 32, 64, 128, Adam lr 1e-4
with weight decay 5e-4, 80k iterations with the learning rate x0.1 at 70k, P x K = 8 subjects x 8 walks,
ordered clips of 30 frames, batch-all triplet loss (margin 0.2, weight 1) plus cross-entropy on the
BNNeck's cosine logits (scale 1, weight 1, no label smoothing), no mixed precision. The layer layout is
the one the published ``forward`` runs (five DAM blocks ``conv3d0..4``, two spatial max pools, LTA after
the second block, GeM bins 16-8-4-2-1 = 31 parts); the CASIA-B widths fill its four stages as
32, 64, 128, 128 (see the departures in :mod:`core.dygait.model`).

``small`` is the one-CPU-thread preset (about 35 minutes on the shipped set), ``tiny`` the tests'.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.config import ConfigMixin, preset

__all__ = ["DyGaitConfig", "PRESETS"]

INPUT_SIZE = (64, 44)  # OpenGait's 64x64 pkls cut to 64x44 (BaseSilCuttingTransform)


@dataclass(frozen=True)
class DyGaitConfig(ConfigMixin):
    """Network, losses, sampler and schedule. Frames are (N, T, 64, 44) silhouettes in [0, 1]."""

    # network
    channels: tuple[int, ...] = (32, 64, 128, 128)  # outputs of conv3d0, conv3d1, conv3d2, conv3d3 (= conv3d4)
    bins: tuple[int, ...] = (16, 8, 4, 2, 1)  # GeM horizontal bins; parts = sum(bins)
    global_branch: bool = True  # the code's extra 3x3x3 "g" branch in each DAM stage (the paper: d + s only)
    static_3d_stage2: bool = False  # True = the code's 3x3x3 conv2s; False = a 1x3x3 static conv (the paper)
    gem_p: float = 6.5  # GeM exponent at init (learnable)
    gem_eps: float = 1e-6
    # sampler: P subjects x K walks, each an ordered clip (OpenGait's TripletSampler + fixed_ordered)
    p: int = 8
    k: int = 8
    clip: int = 30
    # losses
    margin: float = 0.2
    triplet_weight: float = 1.0
    ce_scale: float = 1.0
    ce_weight: float = 1.0
    label_smoothing: float = 0.0  # OpenGait's eps (0.1 when on); 0 = off
    # optimiser and schedule
    lr: float = 1e-4
    weight_decay: float = 5e-4
    milestones: tuple[int, ...] = (70_000,)
    gamma: float = 0.1
    steps: int = 80_000
    # speed (results do not depend on these beyond rounding)
    bf16: bool = False  # the CASIA-B config trains in fp32 (enable_float16: false)
    channels_last: bool = False
    # model selection on held-out training subjects (never the test split)
    validation_subjects: int = 5
    eval_every: int = 2000
    metric: str = "euclidean"  # OpenGait's CASIA-B evaluation distance
    seed: int = 0
    checkpoint_every_s: float = 180.0
    log_every: int = 20

    def validate(self) -> None:
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise ValueError(f"channels are the 4 widths of conv3d0..conv3d3, got {self.channels}")
        head_rows = INPUT_SIZE[0] // 4  # two (1, 2, 2) max pools
        if not self.bins or any(b < 1 or head_rows % b for b in self.bins):
            raise ValueError(f"every GeM bin must divide the {head_rows} rows the head sees, got {self.bins}")
        if self.p < 2 or self.k < 2:
            raise ValueError("the triplet loss needs P >= 2 subjects and K >= 2 walks per batch")
        if self.clip < 1:
            raise ValueError("clip must be >= 1 frame")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.metric not in ("euclidean", "cosine"):
            raise ValueError(f"metric is 'euclidean' or 'cosine', got {self.metric!r}")
        if self.bf16 and self.clip // 3 == 2:
            # measured with torch 2.12 on an AVX512-BF16 CPU: oneDNN's bf16 Conv3d weight gradient is wrong
            # (x15 relative error, then NaN weights) when the 3x3x3 convolutions after LTA see exactly 2 frames
            raise ValueError(
                f"bf16 training with {self.clip}-frame clips leaves 2 frames after LTA, where the "
                "CPU bf16 Conv3d weight gradient is wrong; use clips of >= 9 frames or bf16=False"
            )
        if self.validation_subjects < 1:
            raise ValueError("validation_subjects must be >= 1 (models are chosen on them, never on the test set)")

    @property
    def parts(self) -> int:
        """P of the (N, C, P) features: the number of horizontal GeM bins."""
        return sum(self.bins)

    @property
    def embedding_dim(self) -> int:
        """C of the (N, C, P) features (SeparateFCs keep the last block's width)."""
        return self.channels[-1]

    # ------------------------------------------------------------------ presets
    @preset("small")
    @classmethod
    def small(cls) -> DyGaitConfig:
        """One CPU thread, about 35 minutes on the shipped set (25 training + 5 validation subjects).

        Measured with ``torch.set_num_threads(1)`` on a 2-core AVX512-BF16 EPYC shared with another
        training: 2.1-2.3 s per step (the paper's fp32 step, 64 clips of 30 frames at full width: about
        90 s), 0.04 s per 30-frame walk to embed, so 22 s per validation pass of 550 walks; 800 steps
        + 5 passes = about 33 minutes. Quarter-width blocks (8, 16, 32, 32), 16-frame clips (5 LTA
        windows of 3 frames, about one stride), P x K = 8 x 4, bf16 autocast (fp32 Conv3d is 5-8x slower
        on this CPU), and a 10x learning rate with the GREW column's CE (scale 16, weight 0.1): at
        scale 1 the cosine logits barely move the CE within a few hundred steps. A pilot of this preset
        reached Rank-1 0.99 on the validation subjects at step 200."""
        return cls(channels=(8, 16, 32, 32), p=8, k=4, clip=16, lr=1e-3, steps=800, milestones=(680,),
                   ce_scale=16.0, ce_weight=0.1, bf16=True, eval_every=160, log_every=20)  # fmt: skip

    @preset("tiny")
    @classmethod
    def tiny(cls) -> DyGaitConfig:
        """For tests: narrow blocks, 9-frame clips (3 after LTA), 3 x 2 batches, 6 steps: seconds on a CPU."""
        return cls(channels=(4, 8, 8, 8), bins=(4, 2, 1), p=3, k=2, clip=9, lr=3e-3, steps=6, milestones=(5,),
                   ce_scale=16.0, ce_weight=0.1, bf16=True, validation_subjects=3, eval_every=3, log_every=1,
                   checkpoint_every_s=3600.0)  # fmt: skip

    def with_steps(self, steps: int) -> DyGaitConfig:
        """The same run, longer or shorter (milestones stay where they are)."""
        return replace(self, steps=steps)


PRESETS = DyGaitConfig.preset_names()
