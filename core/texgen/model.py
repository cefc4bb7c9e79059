"""The texture generator: a plain U-Net from a person crop to a UV texture of the body.

As in TextureGenerate's ``network_models/unet.py``: five levels, each two 3x3 conv + BN + ReLU,
max-pooling on the way down, bilinear upsampling and concatenation with the skip on the way up, a 1x1
conv and tanh at the end, giving a 3-channel map of the input's size that is bilinearly resized to the
square UV texture. The skips are aligned with the image, not with the UV layout, so most of the
remapping has to pass through the bottleneck: the paper's textures are smooth for this reason.

A departure (``TexGenConfig.unet_input = "projection"``): the same U-Net run in UV space, on the photo
projected into the texture with the mirror fill and the maps of where each colour came from
(:func:`core.texgen.optimize.projection_maps`, 5 channels). Its skips are aligned with the texture, and it
predicts a correction of the projection in logit space from a zero-initialised last conv, so it starts
as the projection baseline and learns what to change: mostly the texels no pixel of the photo reached.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.nn import Conv2dBlock
from core.texgen.config import TexGenConfig

__all__ = ["TextureUNet"]


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        Conv2dBlock(in_channels, out_channels, 3, padding=1, norm="bn", activation="relu"),
        Conv2dBlock(out_channels, out_channels, 3, padding=1, norm="bn", activation="relu"),
    )


class TextureUNet(nn.Module):
    """Image (B, 3, H, W) in [0, 1] -> UV texture (B, 3, S, S) in [0, 1], row 0 = v 1 (the map's top,
    as PyTorch3D's TexturesUV and image files store it). H and W must be divisible by 2**(levels - 1).

    With ``residual`` the input is the projection maps (B, 5, S, S) (``in_channels`` 5) and the output
    sigmoid(logit(projection) + correction), the correction's conv starting at zero."""

    def __init__(self, widths: tuple[int, ...] = (64, 128, 256, 512, 512), texture_size: int = 64,
                 in_channels: int = 3, residual: bool = False) -> None:  # fmt: skip
        super().__init__()
        if len(widths) < 2:
            raise ValueError("a U-Net needs at least two levels")
        self.texture_size = texture_size
        self.levels = len(widths)
        self.in_channels, self.residual = in_channels, residual
        self.down = nn.ModuleList([_double_conv(in_channels, widths[0])])
        self.down.extend(_double_conv(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        # up path: the deeper level's output joins the skip of the level above
        ups = []
        below = widths[-1]
        for k in range(len(widths) - 2, -1, -1):
            ups.append(_double_conv(below + widths[k], widths[k]))
            below = widths[k]
        self.up = nn.ModuleList(ups)
        self.out = nn.Conv2d(widths[0], 3, 1)
        if residual:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    @classmethod
    def from_config(cls, cfg: TexGenConfig) -> TextureUNet:
        if cfg.unet_input == "projection":
            return cls(cfg.unet_widths, cfg.texture_size, in_channels=5, residual=True)
        return cls(cfg.unet_widths, cfg.texture_size)

    def features(self, images: Tensor) -> Tensor:
        """(B, C_in, H, W) in [0, 1] -> the last conv's output (B, 3, H, W), before tanh / the residual."""
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            what = "an RGB batch" if self.in_channels == 3 else "projection maps"
            raise ValueError(f"expected {what} (B, {self.in_channels}, H, W), got {tuple(images.shape)}")
        step = 2 ** (self.levels - 1)
        if images.shape[2] % step or images.shape[3] % step:
            raise ValueError(f"height and width must be divisible by {step}, got {tuple(images.shape[2:])}")
        h = images * 2.0 - 1.0
        skips = []
        for k, block in enumerate(self.down):
            h = block(h if k == 0 else F.max_pool2d(h, 2))
            skips.append(h)
        h = skips.pop()
        for block in self.up:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([skip, h], dim=1))
        return self.out(h)

    def image_map(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> the network's own output (B, 3, H, W) in [-1, 1]."""
        return torch.tanh(self.features(images))

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] (or projection maps (B, 5, S, S)) -> texture (B, 3, S, S) in [0, 1]."""
        if self.residual:
            start = images[:, :3].float().clamp(0.01, 0.99)
            return torch.sigmoid(torch.logit(start) + self.features(images).float())
        out = self.image_map(images).float()
        s = self.texture_size
        return (F.interpolate(out, size=(s, s), mode="bilinear", align_corners=False) + 1.0) / 2.0
