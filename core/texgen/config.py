"""Configuration of re-ID supervised texture generation (Wang et al., CVPR 2019).

Defaults are the paper's and its released code's (jianwang-mpi/TextureGenerate, ``config.py`` and
``scripts/train.sh``; see ../shared/reference/drgan_texture_gradio.md section 2): a 5-level U-Net of
64-128-256-512-512 channels from the 128x64 crop to a 64x64 UV texture, the re-ID loss on PCB's
layer1..4 features of both images upsampled to 384x128 with weight 5000, the face/hand prior with
weight 1, Adam lr 1e-4 and weight decay 1e-5, batches of 16 (4 images of each of 4 people), 120 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.config import ConfigMixin, preset

__all__ = ["UNET_INPUTS", "TexGenConfig"]

UNET_INPUTS = ("image", "projection")


@dataclass(frozen=True)
class TexGenConfig(ConfigMixin):
    """Networks, losses and schedule. ``small`` is the 2-core CPU preset, ``tiny`` the tests'."""

    height: int = 128  # input crop (H, W), Market-1501's size
    width: int = 64
    unet_widths: tuple[int, ...] = (64, 128, 256, 512, 512)
    texture_size: int = 64  # side of the UV texture the U-Net's output is resized to
    reid_height: int = 384  # both images are resized to this before PCB (the paper's PCB input)
    reid_width: int = 128
    reid_weight: float = 5000.0
    reid_layer_weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    other_view_weight: float = 1.0  # the texture rendered in another image of the same person vs that image
    face_weight: float = 1.0  # MSE to a random real texture inside the face and hand UV regions
    background: str = "random"  # what the render is composited over: "random" scenes (paper) or "target"
    # ---- departures (the defaults are the paper's)
    # the U-Net's input: "image" (the paper: the person crop, skips aligned with the image) or "projection"
    # (the crop projected into UV with the mirror fill, plus where each colour came from: skips aligned with
    # the texture, and the output a correction of the projection)
    unet_input: str = "image"
    l1_weight: float = 0.0  # masked L1 of both renders (own view, another image's view) against their photos
    # L1 of the texture against the person's true painted texture on the body's texels: only a synthetic set
    # has it (the paper has no ground truth); it supervises the texels no photo shows without the photos'
    # skirts, hair, bags and edge background, which are not part of the body's texture
    truth_weight: float = 0.0
    lr: float = 1e-4
    weight_decay: float = 1e-5
    people_per_batch: int = 4
    images_per_person: int = 4
    steps: int = 270_000  # 120 epochs of Market's train + query + gallery (36,000 images) at batch 16
    bf16: bool = True
    seed: int = 0
    checkpoint_every_s: float = 180.0
    log_every: int = 20
    sample_every: int = 500

    @property
    def batch_size(self) -> int:
        return self.people_per_batch * self.images_per_person

    @preset("small")
    @classmethod
    def small(cls) -> TexGenConfig:
        """A 2-core CPU in well under an hour: a U-Net a quarter as wide, PCB (ResNet-18) at the crop's own
        128x64, 3,000 steps at 3x the paper's learning rate (the paper takes 90x more steps)."""
        return cls(unet_widths=(16, 32, 64, 128, 128), reid_height=128, reid_width=64, steps=3000, lr=3e-4)

    @preset("small-uv")
    @classmethod
    def small_uv(cls) -> TexGenConfig:
        """:meth:`small` with the U-Net in UV space on the projected photo (issue 23): the paper's image-input
        U-Net scored below the projection baseline from every unseen view. The re-ID loss as in the paper,
        plus a masked L1 of each render against its photo at weight 10 (the photo of another view is what
        teaches the texels the input photo does not show)."""
        return replace(cls.small(), unet_input="projection", l1_weight=10.0)

    @preset("small-truth")
    @classmethod
    def small_truth(cls) -> TexGenConfig:
        """:meth:`small_uv` plus the true texture as a target (``truth_weight`` 30, issue 23): the photos'
        L1 pulled the unseen texels towards clothes and background the body's texture does not have."""
        return replace(cls.small_uv(), truth_weight=30.0)

    @preset("small-truth-noreid")
    @classmethod
    def small_truth_noreid(cls) -> TexGenConfig:
        """The ablation of :meth:`small_truth` without the re-ID loss (``reid_weight`` 0): what the re-ID loss
        adds to the U-Net's unseen views when it trains beside the texture truth and the photos' L1."""
        return replace(cls.small_truth(), reid_weight=0.0)

    @preset("small-uv-noreid")
    @classmethod
    def small_uv_noreid(cls) -> TexGenConfig:
        """The paper's ablation in our setting: :meth:`small_uv` without the re-ID loss (``reid_weight`` 0),
        so only the photos' L1 (its own view and another image's) and the face prior train the U-Net. With no
        texture truth, does the re-ID loss teach the texels the input photo does not show?"""
        return replace(cls.small_uv(), reid_weight=0.0)

    @preset("tiny")
    @classmethod
    def tiny(cls) -> TexGenConfig:
        """For tests: small images, a few steps."""
        return replace(cls.small(), height=64, width=32, unet_widths=(8, 8, 16, 16, 16), texture_size=32,
                       reid_height=64, reid_width=32, people_per_batch=2, images_per_person=2, steps=6,
                       bf16=False, log_every=1, sample_every=0)  # fmt: skip

    def validate(self) -> None:
        if self.unet_input not in UNET_INPUTS:
            raise ValueError(f"unet_input={self.unet_input!r}; choose one of {UNET_INPUTS}")
        if self.l1_weight < 0 or self.truth_weight < 0:
            raise ValueError(f"l1_weight and truth_weight must be >= 0, got {self.l1_weight}, {self.truth_weight}")
