"""Building blocks shared by the methods: conv blocks, residual blocks, ASPP, normalisations, MLPs, ID heads.

The attribute names and ``nn.Sequential`` indices follow the layout of DG-Net's ``networks.py`` and
``reIDmodel.py`` (which inherit it from MUNIT), so a state_dict written by that code loads into modules
built here with ``load_state_dict``: a conv block stores ``pad``, ``conv``, ``norm``, ``activation``; a
residual block and a stack of them store ``model``; an MLP stores ``model.{i}.fc``; an ID head stores
``add_block.{0,1}`` and ``classifier.0``. Only the names are shared; the code is our own.

Shapes in docstrings: B batch, C channels, H x W spatial size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ASPP",
    "AdaptiveInstanceNorm2d",
    "ClassBlock",
    "Conv2dBlock",
    "LayerNorm",
    "LinearBlock",
    "MLP",
    "ResBlock",
    "ResBlocks",
    "adain_layers",
    "assign_adain_params",
    "make_activation",
    "num_adain_params",
    "split_adain_params",
]

AdaINParams = tuple[Tensor, Tensor]  # (scale, shift), each (B, C)

NORMS = ("none", "bn", "in", "ln", "adain")
ACTIVATIONS = ("relu", "lrelu", "selu", "tanh", "none")
PAD_TYPES = ("reflect", "replicate", "zero")


def make_activation(name: str) -> nn.Module:
    """The activation called ``name``; ``lrelu`` has slope 0.2 as in MUNIT/DG-Net.

    Not in-place: residual blocks add the block input back afterwards, and autograd needs both.
    """
    if name == "relu":
        return nn.ReLU()
    if name == "lrelu":
        return nn.LeakyReLU(0.2)
    if name == "selu":
        return nn.SELU()
    if name == "tanh":
        return nn.Tanh()
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")


def _make_pad(pad_type: str, padding: int) -> nn.Module:
    if pad_type == "reflect":
        return nn.ReflectionPad2d(padding)
    if pad_type == "replicate":
        return nn.ReplicationPad2d(padding)
    if pad_type == "zero":
        return nn.ZeroPad2d(padding)
    raise ValueError(f"unknown padding {pad_type!r}; choose one of {PAD_TYPES}")


class LayerNorm(nn.Module):
    """DG-Net's (and MUNIT's) layer norm: whole-sample statistics with an unbiased std, per-channel affine.

    y = (x - mean) / (std + eps) * gamma[c] + beta[c], where mean and std are taken per sample over all
    of C, H, W and std uses Bessel's correction. This is neither ``nn.LayerNorm`` (biased variance inside
    the square root) nor ``nn.GroupNorm(1, C)``; official decoders were trained with this exact form.

    Input (B, C, H, W) or (B, C); output the same shape.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.affine = affine
        if affine:
            # Uniform [0, 1) gamma is the reference initialisation; trained weights overwrite it.
            self.gamma = nn.Parameter(torch.rand(num_features))
            self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        stat_shape = (-1,) + (1,) * (x.dim() - 1)
        mean = flat.mean(dim=1).view(stat_shape)
        std = flat.std(dim=1).view(stat_shape)
        y = (x - mean) / (std + self.eps)
        if self.affine:
            affine_shape = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.gamma.view(affine_shape) + self.beta.view(affine_shape)
        return y


class AdaptiveInstanceNorm2d(nn.Module):
    """Instance norm whose per-sample scale and shift come from outside (AdaIN).

    The scale/shift are given per call (``forward(x, scale, shift)``, thread-safe) or assigned beforehand
    with :func:`assign_adain_params` (the MUNIT style). They are not parameters and are not saved.

    ``running_mean``/``running_var`` are never used; they exist because MUNIT-derived checkpoints
    (DG-Net's ``gen_*.pt``) contain them, so keeping them lets those files load key for key.

    Input (B, C, H, W); scale and shift (B, C); output (B, C, H, W).
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.scale: Tensor | None = None
        self.shift: Tensor | None = None

    def forward(self, x: Tensor, scale: Tensor | None = None, shift: Tensor | None = None) -> Tensor:
        if scale is None or shift is None:
            scale, shift = self.scale, self.shift
        if scale is None or shift is None:
            raise RuntimeError("AdaIN needs a scale and a shift: pass them or call assign_adain_params first")
        b, c = x.shape[:2]
        if scale.shape != (b, c) or shift.shape != (b, c):
            raise ValueError(
                f"AdaIN over {c} channels for a batch of {b} needs scale and shift of shape ({b}, {c}), "
                f"got {tuple(scale.shape)} and {tuple(shift.shape)}"
            )
        # Biased variance and eps inside the square root, as batch-norm statistics over one sample.
        y = F.instance_norm(x, eps=self.eps)
        return y * scale[:, :, None, None] + shift[:, :, None, None]

    def extra_repr(self) -> str:
        return f"{self.num_features}"


def _make_norm(norm: str, channels: int) -> nn.Module | None:
    if norm == "none":
        return None
    if norm == "bn":
        return nn.BatchNorm2d(channels)
    if norm == "in":
        # No affine and no running statistics: what MUNIT/DG-Net's nn.InstanceNorm2d(C) defaults to.
        return nn.InstanceNorm2d(channels)
    if norm == "ln":
        return LayerNorm(channels)
    if norm == "adain":
        return AdaptiveInstanceNorm2d(channels)
    raise ValueError(f"unknown normalisation {norm!r}; choose one of {NORMS}")


class Conv2dBlock(nn.Module):
    """Pad -> Conv2d (with bias) -> normalisation -> activation.

    Padding is a separate layer (reflection by default in DG-Net) so the convolution itself is unpadded.
    Keys: ``conv.weight``, ``conv.bias``, plus the norm's own (``norm.gamma``/``norm.beta`` for ``ln``,
    ``norm.running_mean``/``norm.running_var`` for ``adain``, the BatchNorm keys for ``bn``).

    Input (B, C_in, H, W); output (B, C_out, H', W') with the usual conv arithmetic.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        norm: str = "none",
        activation: str = "relu",
        pad_type: str = "zero",
        dilation: int = 1,
    ) -> None:
        super().__init__()
        # Registration order as in MUNIT/DG-Net (norm before conv), so state_dicts list keys in their order.
        self.pad = _make_pad(pad_type, padding)
        self.norm = _make_norm(norm, out_channels)
        self.activation = make_activation(activation)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, dilation=dilation, bias=True)

    def forward(self, x: Tensor, adain: AdaINParams | None = None) -> Tensor:
        """``adain`` = (scale, shift), each (B, C_out), used only when the norm is AdaIN."""
        x = self.conv(self.pad(x))
        if isinstance(self.norm, AdaptiveInstanceNorm2d):
            x = self.norm(x, *adain) if adain is not None else self.norm(x)
        elif self.norm is not None:
            x = self.norm(x)
        return self.activation(x)


def _count_adain(module: nn.Module) -> int:
    return sum(isinstance(m, AdaptiveInstanceNorm2d) for m in module.modules())


class ResBlock(nn.Module):
    """Two 3x3 conv blocks (the second without activation) plus an identity skip.

    Keys ``model.{0,1}.*``. Input and output (B, C, H, W).
    """

    def __init__(self, dim: int, norm: str = "in", activation: str = "relu", pad_type: str = "zero") -> None:
        super().__init__()
        self.model = nn.Sequential(
            Conv2dBlock(dim, dim, 3, 1, 1, norm=norm, activation=activation, pad_type=pad_type),
            Conv2dBlock(dim, dim, 3, 1, 1, norm=norm, activation="none", pad_type=pad_type),
        )

    def forward(self, x: Tensor, adain: Sequence[AdaINParams] | None = None) -> Tensor:
        """``adain``: one (scale, shift) pair per AdaIN conv of this block, in order, or None."""
        y = x
        for i, block in enumerate(self.model):
            y = block(y, adain[i] if adain is not None else None)
        return x + y


class ResBlocks(nn.Module):
    """``num_blocks`` residual blocks in a row; keys ``model.{i}.model.{0,1}.*``. (B, C, H, W) -> same."""

    def __init__(
        self, num_blocks: int, dim: int, norm: str = "in", activation: str = "relu", pad_type: str = "zero"
    ) -> None:
        super().__init__()
        self.model = nn.Sequential(
            *[ResBlock(dim, norm=norm, activation=activation, pad_type=pad_type) for _ in range(num_blocks)]
        )

    def forward(self, x: Tensor, adain: Sequence[AdaINParams] | None = None) -> Tensor:
        """``adain``: one (scale, shift) pair per AdaIN layer of the stack, in module order, or None."""
        start = 0
        for block in self.model:
            n = _count_adain(block)
            x = block(x, adain[start : start + n] if adain is not None else None)
            start += n
        return x


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling as DG-Net's structure encoder uses it.

    Four branches of width C/2 on the input: a 1x1 conv (``conv1``), and three of 1x1 conv + activation
    followed by a 3x3 conv with dilation 3, 6, 9 (``conv6``, ``conv12``, ``conv18``; padding = dilation,
    so the size is kept). The concatenation (4 * C/2 channels) is fused by a 1x1 conv (``fuse``) to 2C
    channels. Branch ends and the fusion have no activation.

    Input (B, C, H, W); output (B, 2C, H, W).
    """

    def __init__(self, dim: int, norm: str = "in", activation: str = "relu", pad_type: str = "zero") -> None:
        super().__init__()
        half = dim // 2
        self.conv1 = Conv2dBlock(dim, half, 1, 1, 0, norm=norm, activation="none", pad_type=pad_type)
        self.conv6 = self._branch(dim, half, 3, norm, activation, pad_type)
        self.conv12 = self._branch(dim, half, 6, norm, activation, pad_type)
        self.conv18 = self._branch(dim, half, 9, norm, activation, pad_type)
        self.fuse = Conv2dBlock(4 * half, 2 * dim, 1, 1, 0, norm=norm, activation="none", pad_type=pad_type)

    @staticmethod
    def _branch(dim: int, half: int, dilation: int, norm: str, activation: str, pad_type: str) -> nn.Sequential:
        return nn.Sequential(
            Conv2dBlock(dim, half, 1, 1, 0, norm=norm, activation=activation, pad_type=pad_type),
            Conv2dBlock(half, half, 3, 1, dilation, norm=norm, activation="none", pad_type=pad_type, dilation=dilation),
        )

    def forward(self, x: Tensor) -> Tensor:
        branches = (self.conv1(x), self.conv6(x), self.conv12(x), self.conv18(x))
        return self.fuse(torch.cat(branches, dim=1))


class LinearBlock(nn.Module):
    """Linear (with bias) -> activation; key ``fc.*``. (B, C_in) -> (B, C_out)."""

    def __init__(self, in_features: int, out_features: int, activation: str = "relu") -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, out_features, bias=True)
        self.activation = make_activation(activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.fc(x))


class MLP(nn.Module):
    """``num_blocks`` linear blocks: in -> hidden (act) -> ... -> hidden (act) -> out (no activation).

    Keys ``model.{i}.fc.{weight,bias}``. Input (B, ...) is flattened to (B, C_in); output (B, C_out).
    Normalisation inside the MLP (MUNIT's ``mlp_norm``) is not offered: DG-Net uses none.
    """

    def __init__(
        self, in_features: int, out_features: int, hidden: int, num_blocks: int = 3, activation: str = "relu"
    ) -> None:
        super().__init__()
        if num_blocks < 2:
            raise ValueError(f"an MLP needs at least 2 blocks (input and output), got {num_blocks}")
        blocks = [LinearBlock(in_features, hidden, activation)]
        blocks += [LinearBlock(hidden, hidden, activation) for _ in range(num_blocks - 2)]
        blocks.append(LinearBlock(hidden, out_features, "none"))
        self.model = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.reshape(x.shape[0], -1))


class ClassBlock(nn.Module):
    """Re-ID head: Linear -> BatchNorm1d -> Dropout (the bottleneck) -> Linear (the classifier).

    Keys ``add_block.0`` (Linear), ``add_block.1`` (BatchNorm1d), ``classifier.0`` (Linear), as in
    layumi/Person_reID_baseline_pytorch and DG-Net. No ReLU in the bottleneck (their default).
    Initialisation as theirs: bottleneck Linear Kaiming-normal (fan_out), classifier N(0, 0.001), biases 0.

    Input (B, C_in); :meth:`forward` gives logits (B, num_classes), :meth:`embed` the bottleneck (B, bottleneck).
    """

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.5, bottleneck: int = 512) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(in_features, bottleneck), nn.BatchNorm1d(bottleneck)]
        if dropout > 0:
            layers.append(nn.Dropout(p=dropout))
        self.add_block = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(bottleneck, num_classes))
        nn.init.kaiming_normal_(self.add_block[0].weight, a=0, mode="fan_out")
        nn.init.zeros_(self.add_block[0].bias)
        nn.init.normal_(self.classifier[0].weight, std=0.001)
        nn.init.zeros_(self.classifier[0].bias)

    def embed(self, x: Tensor) -> Tensor:
        """The bottleneck output (after BN; dropout is a no-op in eval mode): (B, C_in) -> (B, bottleneck)."""
        return self.add_block(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.add_block(x))


def adain_layers(module: nn.Module) -> list[AdaptiveInstanceNorm2d]:
    """The AdaIN layers of ``module`` in module (registration) order."""
    return [m for m in module.modules() if isinstance(m, AdaptiveInstanceNorm2d)]


def num_adain_params(module: nn.Module) -> int:
    """How many scale values (= how many shift values) the AdaIN layers of ``module`` consume."""
    return sum(m.num_features for m in adain_layers(module))


def split_adain_params(module: nn.Module, scale: Tensor, shift: Tensor) -> list[AdaINParams]:
    """Cut (B, N) scale and shift vectors into one (scale, shift) pair per AdaIN layer, in module order.

    Layer j takes the next C_j columns of each vector. N must equal :func:`num_adain_params` exactly:
    a silent surplus or reuse would hide a wiring error.
    """
    sizes = [m.num_features for m in adain_layers(module)]
    total = sum(sizes)
    if scale.dim() != 2 or scale.shape != shift.shape or scale.shape[1] != total:
        raise ValueError(
            f"the AdaIN layers need (B, {total}) scale and shift tensors, got {tuple(scale.shape)} and "
            f"{tuple(shift.shape)}"
        )
    return list(zip(scale.split(sizes, dim=1), shift.split(sizes, dim=1), strict=True))


def assign_adain_params(module: nn.Module, scale: Tensor, shift: Tensor) -> None:
    """Store per-sample scale and shift on every AdaIN layer of ``module`` (the MUNIT calling style).

    ``scale``/``shift``: (B, N) with N = :func:`num_adain_params`; layer j gets the next C_j columns in
    module order. Later ``forward`` calls without explicit parameters use them. Not thread-safe: two
    callers sharing the module overwrite each other, so concurrent code should pass parameters per call.
    """
    for layer, (s, b) in zip(adain_layers(module), split_adain_params(module, scale, shift), strict=True):
        layer.scale, layer.shift = s, b
