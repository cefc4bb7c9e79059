"""PCB, the Part-based Convolutional Baseline (Sun et al., ECCV 2018): the re-ID network whose
multi-layer features are the loss of re-ID supervised texture generation (Wang et al., CVPR 2019).

The layer4 map of a ResNet with last stride 1 is average-pooled into ``parts`` horizontal stripes;
each stripe is reduced by its own 1x1 convolution (+ BN + ReLU) to ``part_dim`` channels and scored
by its own classifier, and training sums the stripes' cross-entropies. TextureGenerate uses a
ResNet-50 PCB with 6 stripes of 256 dimensions (open-reid's ``num_features=256, FCN=True``) and reads
the outputs of ``layer1`` .. ``layer4`` as its perceptual re-ID features: :meth:`PCB.layer_features`.

The backbone is the same :func:`~core.reid.backbone.build_resnet` DG-Net's teacher uses: one re-ID
package, two heads.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.reid.backbone import RESNET_CHANNELS, build_resnet

__all__ = ["PCB"]


class PartHead(nn.Module):
    """One stripe: 1x1 conv reduction + BN + ReLU (the part feature), dropout, classifier."""

    def __init__(self, in_channels: int, part_dim: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.reduce = nn.Sequential(
            nn.Conv2d(in_channels, part_dim, 1, bias=False), nn.BatchNorm2d(part_dim), nn.ReLU(inplace=True)
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(part_dim, num_classes)
        nn.init.normal_(self.classifier.weight, std=0.001)
        nn.init.zeros_(self.classifier.bias)

    def embed(self, stripe: Tensor) -> Tensor:
        """(B, C, 1, 1) pooled stripe -> (B, part_dim)."""
        return self.reduce(stripe).flatten(1)

    def forward(self, stripe: Tensor) -> Tensor:
        return self.classifier(self.dropout(self.embed(stripe)))


class PCB(nn.Module):
    """ResNet (last stride 1) + ``parts`` horizontal stripes, each with its own head.

    Input: ImageNet-normalised RGB (B, 3, H, W); the paper uses 384x128 (a 24x8 layer4 map, 4 rows per
    stripe), the CPU preset 128x64 (8x4). ``forward`` gives logits (B, parts, num_classes).
    """

    def __init__(
        self, num_classes: int, arch: str = "resnet50", parts: int = 6, part_dim: int = 256, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if parts < 1:
            raise ValueError(f"parts must be >= 1, got {parts}")
        self.arch = arch
        self.parts = parts
        self.model = build_resnet(arch, last_stride=1)
        self.pool = nn.AdaptiveAvgPool2d((parts, 1))
        self.heads = nn.ModuleList(
            PartHead(RESNET_CHANNELS[arch], part_dim, num_classes, dropout) for _ in range(parts)
        )

    def layer_features(self, x: Tensor) -> list[Tensor]:
        """The outputs of layer1 .. layer4: (B, 3, H, W) -> [(B, C1, H/4, W/4), (B, C2, H/8, W/8),
        (B, C3, H/16, W/16), (B, C4, H/16, W/16)] (last stride 1). The texture re-ID loss compares these."""
        net = self.model
        h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        out = []
        for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
            h = layer(h)
            out.append(h)
        return out

    def stripes(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> pooled stripes (B, C, parts, 1)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an RGB batch of shape (B, 3, H, W), got {tuple(x.shape)}")
        return self.pool(self.layer_features(x)[-1])

    def part_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, parts, part_dim): each stripe's reduced feature."""
        s = self.stripes(x)
        return torch.stack([head.embed(s[:, :, p : p + 1]) for p, head in enumerate(self.heads)], dim=1)

    def features(self, x: Tensor) -> Tensor:
        """Retrieval feature (B, parts * part_dim): the stripes' features, each L2-normalised, side by side
        (so every stripe weighs the same in the distance)."""
        return nn.functional.normalize(self.part_features(x), dim=2).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        s = self.stripes(x)
        return torch.stack([head(s[:, :, p : p + 1]) for p, head in enumerate(self.heads)], dim=1)
