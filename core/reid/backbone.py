"""Re-ID backbones: torchvision ResNets with the re-ID "last stride" option, and the plain ResNet baseline.

:class:`ReidBaseline` is the ``ft_net`` of layumi/Person_reID_baseline_pytorch, the model DG-Net uses as
its teacher. Its state_dict keys are theirs (``model.*`` = the torchvision ResNet including the unused
``model.fc``, ``classifier.add_block.{0,1}.*``, ``classifier.classifier.0.*``), so a user's ``net_last.pth``
loads with :func:`load_reid_baseline`. The part model (PCB) will live beside it in this package.

No weights are downloaded: every backbone is built with ``weights=None`` (random initialisation). The
papers start from ImageNet weights, which this offline project cannot fetch; models trained here start
from scratch, and official checkpoints overwrite every weight anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import torch
import yaml
from torch import Tensor, nn

from core.nn import ClassBlock

if TYPE_CHECKING:
    from torchvision.models import ResNet

__all__ = [
    "RESNET_CHANNELS",
    "ReidBaseline",
    "build_resnet",
    "load_reid_baseline",
    "resnet_feature_map",
]

# Channels of the layer4 map; read-only so no caller can change it for everyone.
RESNET_CHANNELS: Mapping[str, int] = MappingProxyType({"resnet18": 512, "resnet34": 512, "resnet50": 2048})


def build_resnet(arch: str = "resnet50", last_stride: int = 2) -> ResNet:
    """A torchvision ResNet (randomly initialised, never downloaded) with layer4's stride set to ``last_stride``.

    ``last_stride=1`` is the re-ID trick of Person_reID_baseline_pytorch and DG-Net: the first block of
    layer4 keeps the resolution (its strided 3x3 conv and its downsample shortcut get stride 1), so a
    256x128 input gives a 16x8 layer4 map instead of 8x4. Torchvision puts the stride on ``conv2`` in
    bottleneck blocks (ResNet-50) and on ``conv1`` in basic blocks (ResNet-18/34); both are handled.
    """
    if arch not in RESNET_CHANNELS:
        raise ValueError(f"unknown backbone {arch!r}; choose one of {sorted(RESNET_CHANNELS)}")
    if last_stride not in (1, 2):
        raise ValueError(f"last_stride must be 1 or 2, got {last_stride}")
    # imported here: torchvision pulls in torch._dynamo (2-3 s), which every command line start would pay
    import torchvision

    net: ResNet = getattr(torchvision.models, arch)(weights=None)
    # The ImageNet classifier ``fc`` is kept only so official state_dicts match key for key; it never
    # sees data here, so it is frozen (an unused trainable parameter stalls DDP's gradient reduction).
    net.fc.requires_grad_(False)
    if last_stride == 1:
        block = net.layer4[0]
        for conv in (block.conv1, block.conv2):
            if conv.stride == (2, 2):
                conv.stride = (1, 1)
        block.downsample[0].stride = (1, 1)
    return net


def resnet_feature_map(net: ResNet, x: Tensor) -> Tensor:
    """The layer4 map of ``net``: (B, 3, H, W) -> (B, C, H/32, W/32), or (B, C, H/16, W/16) with last stride 1."""
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    return net.layer4(net.layer3(net.layer2(net.layer1(x))))


def _check_images(x: Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected an RGB batch of shape (B, 3, H, W), got {tuple(x.shape)}")


class ReidBaseline(nn.Module):
    """ResNet + global average pool + one :class:`~core.nn.ClassBlock` (layumi's ``ft_net``, DG-Net's teacher).

    Input: ImageNet-normalised RGB (B, 3, H, W). ``forward`` gives logits (B, num_classes).
    """

    def __init__(
        self,
        num_classes: int,
        arch: str = "resnet50",
        last_stride: int = 2,
        dropout: float = 0.5,
        bottleneck: int = 512,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.model = build_resnet(arch, last_stride)
        self.classifier = ClassBlock(RESNET_CHANNELS[arch], num_classes, dropout=dropout, bottleneck=bottleneck)

    @classmethod
    def from_baseline_opts(cls, opts: Mapping[str, Any], num_classes: int | None = None) -> ReidBaseline:
        """The model described by Person_reID_baseline_pytorch's ``opts.yaml`` (ResNet-50 ``ft_net`` only).

        Reads ``nclasses`` (unless ``num_classes`` is given), ``stride`` (default 2, as DG-Net reads it),
        ``droprate`` and ``linear_num``; refuses the other architectures that file can name.
        """
        for flag in ("PCB", "use_dense", "use_NAS", "use_swin", "use_swinv2", "use_efficient", "use_hr", "ibn"):
            if opts.get(flag):
                raise ValueError(f"opts.yaml asks for {flag}; only the plain ResNet-50 ft_net is supported here")
        classes = num_classes if num_classes is not None else opts.get("nclasses")
        if classes is None:
            raise ValueError("opts.yaml has no 'nclasses'; pass num_classes")
        linear = int(opts.get("linear_num", 512))
        if linear <= 0:
            raise ValueError("linear_num <= 0 (no bottleneck Linear) is not supported")
        return cls(
            int(classes),
            arch="resnet50",
            last_stride=int(opts.get("stride", 2)),
            dropout=float(opts.get("droprate", 0.5)),
            bottleneck=linear,
        )

    def pooled(self, x: Tensor) -> Tensor:
        """Global-average-pooled layer4 feature: (B, 3, H, W) -> (B, C), C = 2048 for ResNet-50."""
        _check_images(x)
        return resnet_feature_map(self.model, x).mean(dim=(2, 3))

    def features(self, x: Tensor, kind: Literal["bottleneck", "pooled"] = "bottleneck") -> Tensor:
        """Retrieval feature, not normalised: the BN bottleneck (B, 512) as layumi's test.py uses, or the pool."""
        pooled = self.pooled(x)
        if kind == "pooled":
            return pooled
        if kind == "bottleneck":
            return self.classifier.embed(pooled)
        raise ValueError(f"kind must be 'bottleneck' or 'pooled', got {kind!r}")

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pooled(x))


def load_reid_baseline(
    weights_path: str | Path, opts_path: str | Path | None = None, num_classes: int | None = None
) -> ReidBaseline:
    """A :class:`ReidBaseline` from Person_reID_baseline_pytorch files (``net_last.pth`` and ``opts.yaml``), eval mode.

    Without ``opts_path`` the model is ResNet-50 with stride 2 and ``num_classes`` read from the file.
    Every key must match (the file is a plain state_dict); a ``module.`` prefix from DataParallel is removed.
    """
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{weights_path}: expected a state_dict, found {type(state).__name__}")
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    head = "classifier.classifier.0.weight"
    if head not in state:
        raise ValueError(f"{weights_path}: no {head!r}; this is not an ft_net state_dict")
    file_classes = int(state[head].shape[0])
    if opts_path is not None:
        opts = yaml.safe_load(Path(opts_path).read_text()) or {}
        model = ReidBaseline.from_baseline_opts(opts, num_classes=num_classes or file_classes)
    else:
        model = ReidBaseline(num_classes or file_classes)
    expected = model.state_dict()
    wrong = [
        f"{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if wrong:
        raise ValueError(f"{weights_path} does not fit the model its options describe:\n  " + "\n  ".join(wrong))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{weights_path}: missing keys {missing}, unexpected keys {unexpected}")
    return model.eval()
