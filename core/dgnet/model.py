"""DG-Net's networks (Zheng et al., "Joint Discriminative and Generative Learning for Person Re-id", CVPR 2019).

- :class:`AppearanceEncoder` (E_a, official ``ft_netAB``): ResNet, 4 horizontal part pools -> appearance code,
  global pool -> primary and fine-grained ID heads.
- :class:`StructureEncoder` (E_s, official ``ContentEncoder``): convs, residual blocks and ASPP on the gray image.
- :class:`Decoder` (G): AdaIN residual blocks, upsampling convs with DG-Net's layer norm, no output tanh.
- :class:`AdaINGenerator` (official ``AdaINGen``): E_s, G and the 8 MLPs that turn the appearance code into
  AdaIN scales and shifts.
- :class:`MsImageDis` (D, from :mod:`core.nn.discriminator`): multi-scale LSGAN patch discriminator with the
  gradient penalty on real images.
- :class:`DGNet`: ``gen`` + ``id`` (+ ``dis``), with ``encode_appearance``, ``encode_structure``, ``decode``, ``swap``.

Attribute names and ``nn.Sequential`` indices are the official ones, so the official ``gen_*.pt``, ``id_*.pt``
and ``dis_*.pt`` state_dicts load into ``DGNet.gen``, ``DGNet.id`` and ``DGNet.dis`` (see
:mod:`core.dgnet.official`). Networks work on ImageNet-normalised tensors; the functions :func:`normalise` and
:func:`denormalise` convert from and to [0, 1] images at API boundaries.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.dgnet.config import DGNetConfig, GeneratorConfig
from core.nn import ASPP, MLP, ClassBlock, Conv2dBlock, ResBlocks, split_adain_params
from core.nn.discriminator import MsImageDis  # shared with GaitNet; DG-Net's D, official key names
from core.reid.backbone import RESNET_CHANNELS, build_resnet, resnet_feature_map
from core.reid.retrieval import IMAGENET_MEAN, IMAGENET_STD  # one definition for every model

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AdaINGenerator",
    "AppearanceEncoder",
    "DGNet",
    "Decoder",
    "MsImageDis",
    "StructureEncoder",
    "denormalise",
    "normalise",
    "highpass_gray",
    "paint_over",
    "to_gray",
]

_NUM_MLPS = 4  # the official generator has mlp_w1..4 / mlp_b1..4, one pair per quarter of the code


def _stats(x: Tensor) -> tuple[Tensor, Tensor]:
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return mean, std


def normalise(images: Tensor) -> Tensor:
    """[0, 1] RGB (B, 3, H, W) -> ImageNet-normalised (B, 3, H, W), the networks' input space."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected RGB images of shape (B, 3, H, W) in [0, 1], got {tuple(images.shape)}")
    mean, std = _stats(images)
    return (images - mean) / std


def denormalise(x: Tensor, clamp: bool = True) -> Tensor:
    """ImageNet-normalised (B, 3, H, W) -> [0, 1] RGB; generated images overshoot, so clamp by default."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected normalised RGB of shape (B, 3, H, W), got {tuple(x.shape)}")
    mean, std = _stats(x)
    y = x * std + mean
    return y.clamp(0.0, 1.0) if clamp else y


MASK_START_LOGIT = 2.0


def to_gray(x: Tensor) -> Tensor:
    """The structure encoder's input: (B, 3, H, W) normalised RGB -> (B, 1, H, W) plain channel mean.

    The official code averages the three *normalised* channels (no luminance weights, not in [0, 1]);
    weights trained that way need exactly this input.
    """
    return x.mean(dim=1, keepdim=True)


def highpass_gray(x: Tensor, sigma: float) -> Tensor:
    """(B, 3, H, W) normalised RGB -> (B, 1, H, W) gray minus its Gaussian blur at ``sigma`` px.

    Edges, folds and faces survive; the mean lightness of anything wider than a few sigma (a garment) does
    not, so the structure code cannot tell a swap how light j's clothes were.
    """
    gray = to_gray(x)
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=gray.dtype, device=gray.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    blurred = F.pad(gray, (radius, radius, radius, radius), mode="replicate")
    blurred = F.conv2d(blurred, kernel.view(1, 1, 1, -1))
    blurred = F.conv2d(blurred, kernel.view(1, 1, -1, 1))
    return gray - blurred


# ---------------------------------------------------------------------------------------------- appearance


class AppearanceEncoder(nn.Module):
    """E_a: ResNet (last stride option) + part pooling (appearance code) + two ID heads.

    Input: normalised RGB (B, 3, H, W). Output of :meth:`forward`: the appearance code (B, C * 4), detached,
    and ``[logits1, logits2]`` (B, num_classes) each, from the primary (dropout 0.5) and fine-grained
    (dropout 0.75) heads on the globally pooled (B, C) feature. C = 2048 for ResNet-50 (code 8192).

    The code is the layer4 map pooled to 4 horizontal stripes, (B, C, 4, 1), flattened channel-major:
    index c * 4 + p for channel c and stripe p (top to bottom). It is detached, as in the official
    ``ft_netAB``: generation losses never train E_a, which learns only from the ID losses. Setting
    ``detach_code`` False (``train.appearance_from_swaps``, a departure) lets them reach it.
    """

    def __init__(
        self,
        backbone: str = "resnet50",
        num_classes: int = 751,
        stride: int = 1,
        pool: str = "max",
        bottleneck: int = 512,
        dropout1: float = 0.5,
        dropout2: float = 0.75,
        parts: int = 4,
    ) -> None:
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
        self.parts = parts
        self.detach_code = True
        self.channels = RESNET_CHANNELS[backbone]
        # Keys model.* are torchvision's (model.fc included, unused), as in the official id_*.pt.
        self.model = build_resnet(backbone, last_stride=stride)
        pool_cls = nn.AdaptiveMaxPool2d if pool == "max" else nn.AdaptiveAvgPool2d
        self.part_pool = pool_cls((parts, 1))
        self.global_pool = pool_cls((1, 1))
        self.classifier1 = ClassBlock(self.channels, num_classes, dropout=dropout1, bottleneck=bottleneck)
        self.classifier2 = ClassBlock(self.channels, num_classes, dropout=dropout2, bottleneck=bottleneck)

    @property
    def code_dim(self) -> int:
        return self.channels * self.parts

    def _pool(self, x: Tensor) -> tuple[Tensor, Tensor]:
        fmap = resnet_feature_map(self.model, x)
        code = self.part_pool(fmap).flatten(1)
        if self.detach_code:
            code = code.detach()
        return code, self.global_pool(fmap).flatten(1)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        code, pooled = self._pool(x)
        return code, [self.classifier1(pooled), self.classifier2(pooled)]

    def embeddings(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The two heads' BN bottleneck outputs, (B, 512) each, unnormalised: DG-Net's retrieval features.

        The official evaluation L2-normalises each, adds the mirrored image's, renormalises and weights the
        fine-grained half (alpha); that belongs to the caller.
        """
        _, pooled = self._pool(x)
        return self.classifier1.embed(pooled), self.classifier2.embed(pooled)


# ---------------------------------------------------------------------------------------------- generator


class StructureEncoder(nn.Module):
    """E_s (official ``ContentEncoder``): (B, 1, H, W) gray -> structure code (B, 8 * dim, H / 2**n, W / 2**n).

    ``model``: 0 conv3 s2 (in -> dim); 1 conv3 (dim -> 2 dim); per further downsampling a conv3 and a
    conv3 s2 doubling the width; then ``n_res`` residual blocks and ASPP (doubling again); every conv has
    instance norm. ``tanh`` appends the official optional tanh on the code.
    """

    def __init__(
        self,
        input_dim: int = 1,
        dim: int = 16,
        n_downsample: int = 2,
        n_res: int = 4,
        activ: str = "lrelu",
        pad_type: str = "reflect",
        tanh: bool = False,
    ) -> None:
        super().__init__()
        opts = {"norm": "in", "activation": activ, "pad_type": pad_type}
        layers: list[nn.Module] = [
            Conv2dBlock(input_dim, dim, 3, 2, 1, **opts),
            Conv2dBlock(dim, 2 * dim, 3, 1, 1, **opts),
        ]
        dim *= 2
        for _ in range(n_downsample - 1):
            layers += [Conv2dBlock(dim, dim, 3, 1, 1, **opts), Conv2dBlock(dim, 2 * dim, 3, 2, 1, **opts)]
            dim *= 2
        layers.append(ResBlocks(n_res, dim, norm="in", activation=activ, pad_type=pad_type))
        layers.append(ASPP(dim, norm="in", activation=activ, pad_type=pad_type))
        if tanh:
            layers.append(nn.Tanh())
        self.model = nn.Sequential(*layers)
        self.output_dim = 2 * dim

    def forward(self, gray: Tensor) -> Tensor:
        return self.model(gray)


class Decoder(nn.Module):
    """G: structure code (B, C, h, w) + AdaIN parameters -> image (B, 3, h * 2**n, w * 2**n), normalised space.

    ``model``: 0 dropout; 1 ``n_res`` AdaIN residual blocks; then per upsampling a nearest x2 upsample and
    a 5x5 conv halving the width with DG-Net's layer norm; two 3x3 convs; a 1x1 conv to 3 channels with
    neither norm nor activation (no tanh: the output lives in ImageNet-normalised space, unbounded).
    """

    def __init__(
        self,
        n_upsample: int = 2,
        n_res: int = 4,
        dim: int = 128,
        output_dim: int = 3,
        dropout: float = 0.0,
        activ: str = "lrelu",
        pad_type: str = "reflect",
        mask: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Dropout(p=dropout), ResBlocks(n_res, dim, "adain", activ, pad_type)]
        for _ in range(n_upsample):
            layers += [
                nn.Upsample(scale_factor=2),
                Conv2dBlock(dim, dim // 2, 5, 1, 2, norm="ln", activation=activ, pad_type=pad_type),
            ]
            dim //= 2
        layers += [
            Conv2dBlock(dim, dim, 3, 1, 1, norm="none", activation=activ, pad_type=pad_type),
            Conv2dBlock(dim, dim, 3, 1, 1, norm="none", activation=activ, pad_type=pad_type),
            Conv2dBlock(dim, output_dim, 1, 1, 0, norm="none", activation="none", pad_type=pad_type),
        ]
        self.model = nn.Sequential(*layers)
        # gen.composite: the mask's logit from the features the colours come from; it starts at sigmoid(2)
        # = 0.88 of G's own picture everywhere, so a generator trained without it starts as it was.
        self.mask = nn.Conv2d(dim, 1, 1) if mask else None
        self.reset_mask()

    def reset_mask(self) -> None:
        if self.mask is not None:
            nn.init.zeros_(self.mask.weight)
            nn.init.constant_(self.mask.bias, MASK_START_LOGIT)

    def forward(self, x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
        """``scale``/``shift``: (B, N) AdaIN parameters, consumed C at a time by the AdaIN layers in order.

        Returns (B, 3, H, W), or (B, 4, H, W) with the mask's logit as channel 3 when built with ``mask``.
        """
        adain = split_adain_params(self, scale, shift)
        last = len(self.model) - 1
        for i, layer in enumerate(self.model):
            if i == last and self.mask is not None:
                return torch.cat([layer(x), self.mask(x)], dim=1)
            # Parameters travel with the call (not stored on the modules), so concurrent decodes are safe.
            x = layer(x, adain) if isinstance(layer, ResBlocks) else layer(x)
        return x


def paint_over(decoded: Tensor, picture: Tensor) -> Tensor:
    """A composite generator's (B, 4, H, W) output (colours, mask logit) painted over ``picture``
    (B, 3, H, W), both in normalised space -> (B, 3, H, W). A 3-channel output is returned as it is."""
    if decoded.shape[1] == 3:
        return decoded
    if picture.shape != decoded[:, :3].shape:
        raise ValueError(f"the picture to paint over must be {tuple(decoded[:, :3].shape)}, got {tuple(picture.shape)}")
    alpha = torch.sigmoid(decoded[:, 3:])
    return alpha * decoded[:, :3] + (1 - alpha) * picture


class AdaINGenerator(nn.Module):
    """The official ``AdaINGen``: ``enc_content`` (E_s), ``dec`` (G), ``mlp_w1..4`` and ``mlp_b1..4``.

    The appearance code (B, 4 * id_dim) is cut into 4 contiguous quarters; quarter k feeds ``mlp_wk`` (scales)
    and ``mlp_bk`` (shifts), each id_dim -> mlp_dim -> mlp_dim -> 2C. Concatenated, they give 8C scales and
    8C shifts for the 8 AdaIN layers (C = structure channels), so MLP pair k drives residual block k. The raw
    MLP output is the scale (no "1 +").
    """

    def __init__(self, cfg: GeneratorConfig, input_dim: int = 1) -> None:
        super().__init__()
        self.id_dim = cfg.id_dim
        self.enc_content = StructureEncoder(
            input_dim, cfg.dim, cfg.n_downsample, cfg.n_res, cfg.activ, cfg.pad_type, cfg.tanh
        )
        self.output_dim = self.enc_content.output_dim
        self.dec = Decoder(cfg.n_downsample, cfg.n_res, self.output_dim, 3, cfg.dropout, cfg.activ, cfg.pad_type,
                           mask=cfg.composite)  # fmt: skip
        for k in range(1, _NUM_MLPS + 1):
            setattr(self, f"mlp_w{k}", MLP(cfg.id_dim, 2 * self.output_dim, cfg.mlp_dim, 3, cfg.activ))
        for k in range(1, _NUM_MLPS + 1):
            setattr(self, f"mlp_b{k}", MLP(cfg.id_dim, 2 * self.output_dim, cfg.mlp_dim, 3, cfg.activ))
        self._init_weights()

    def _init_weights(self) -> None:
        # The official gen init ('kaiming'): Kaiming-normal fan_in on conv and linear weights, zero biases.
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
                nn.init.zeros_(m.bias)
        self.dec.reset_mask()

    @property
    def code_dim(self) -> int:
        return _NUM_MLPS * self.id_dim

    def encode(self, gray: Tensor) -> Tensor:
        """(B, 1, H, W) gray -> structure code (B, C, H / 2**n, W / 2**n)."""
        return self.enc_content(gray)

    def adain_params(self, code: Tensor) -> tuple[Tensor, Tensor]:
        """Appearance code (B, 4 * id_dim) -> (scale, shift), each (B, 8C), in the decoder's AdaIN order."""
        if code.dim() != 2 or code.shape[1] != self.code_dim:
            raise ValueError(f"expected an appearance code of shape (B, {self.code_dim}), got {tuple(code.shape)}")
        quarters = code.split(self.id_dim, dim=1)
        scale = torch.cat([getattr(self, f"mlp_w{k + 1}")(q) for k, q in enumerate(quarters)], dim=1)
        shift = torch.cat([getattr(self, f"mlp_b{k + 1}")(q) for k, q in enumerate(quarters)], dim=1)
        return scale, shift

    def decode(self, structure: Tensor, code: Tensor) -> Tensor:
        """Structure code (B, C, h, w) + appearance code (B, 4 * id_dim) -> image (B, 3, H, W), normalised space;
        (B, 4, H, W) with a mask logit for ``composite`` generators (:func:`paint_over` finishes it)."""
        scale, shift = self.adain_params(code)
        return self.dec(structure, scale, shift)


# ---------------------------------------------------------------------------------------------- DG-Net


class DGNet(nn.Module):
    """DG-Net: ``gen`` (:class:`AdaINGenerator`), ``id`` (:class:`AppearanceEncoder`), ``dis`` (optional).

    Every ``x`` is an ImageNet-normalised RGB batch (B, 3, H, W) of the configured size (256x128 in the
    paper); use :func:`normalise` on [0, 1] images first. Device-agnostic: move it with ``.to(device)``.
    """

    def __init__(self, config: DGNetConfig, with_discriminator: bool = True) -> None:
        super().__init__()
        config.validate()
        self.config = config
        a = config.appearance
        self.gen = AdaINGenerator(config.gen, input_dim=1)
        self.id = AppearanceEncoder(a.backbone, a.num_classes, a.stride, a.pool, a.bottleneck, a.dropout1, a.dropout2)
        self.dis = MsImageDis(config.dis) if with_discriminator else None
        self.load_report = None  # set by core.dgnet.official.load_official: what the load skipped

    def _check_images(self, x: Tensor, name: str = "x") -> None:
        h, w = self.config.height, self.config.width
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"{name} must be a float tensor (ImageNet-normalised RGB), got {type(x).__name__}")
        if x.dim() != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != (h, w):
            raise ValueError(
                f"{name} must have shape (B, 3, {h}, {w}) (ImageNet-normalised RGB at the model's size), "
                f"got {tuple(x.shape)}; resize to {h}x{w} and normalise first"
            )

    def encode_appearance(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """(B, 3, H, W) -> appearance code (B, C * 4) (8192 in the paper), [primary logits, fine-grained logits]."""
        self._check_images(x)
        return self.id(x)

    def structure_image(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) normalised RGB -> (B, 1, H, W), E_s's input (``gen.structure_input``)."""
        g = self.config.gen
        return to_gray(x) if g.structure_input == "gray" else highpass_gray(x, g.highpass_sigma)

    def encode_structure(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> structure code (B, 128, H/4, W/4) in the paper; the gray input is made here."""
        self._check_images(x)
        return self.gen.encode(self.structure_image(x))

    def decode(self, structure: Tensor, appearance: Tensor, structure_img: Tensor | None = None) -> Tensor:
        """Structure code (B, C, h, w) + appearance code (B, D) -> image (B, 3, H, W), normalised space.

        structure_img: (B, 3, H, W), the picture the structure code came from; a ``gen.composite`` model
        paints over it and needs it, others ignore it.
        """
        if self.config.gen.composite and structure_img is None:
            raise ValueError("this DG-Net paints over the structure picture (gen.composite): pass structure_img")
        c, (h, w), d = self.config.structure_channels, self.config.structure_size, self.config.appearance_dim
        if structure.dim() != 4 or tuple(structure.shape[1:]) != (c, h, w):
            raise ValueError(f"structure code must have shape (B, {c}, {h}, {w}), got {tuple(structure.shape)}")
        if appearance.dim() != 2 or appearance.shape[1] != d:
            raise ValueError(f"appearance code must have shape (B, {d}), got {tuple(appearance.shape)}")
        if structure.shape[0] != appearance.shape[0]:
            raise ValueError(f"structure and appearance batches differ: {structure.shape[0]} vs {appearance.shape[0]}")
        decoded = self.gen.decode(structure, appearance)
        return decoded if structure_img is None else paint_over(decoded, structure_img)

    def swap(self, appearance_img: Tensor, structure_img: Tensor) -> Tensor:
        """Person in ``structure_img`` wearing the appearance of ``appearance_img``, pairwise: (B, 3, H, W).

        Both batches are (B, 3, H, W) normalised RGB; a batch of one is paired with every image of the other.
        """
        self._check_images(appearance_img, "appearance_img")
        self._check_images(structure_img, "structure_img")
        a, s = appearance_img.shape[0], structure_img.shape[0]
        if a != s and 1 not in (a, s):
            raise ValueError(f"appearance and structure batches must have equal sizes (or one of 1), got {a} and {s}")
        code, _ = self.id(appearance_img)
        structure = self.gen.encode(self.structure_image(structure_img))
        n = max(a, s)
        decoded = self.gen.decode(structure.expand(n, *structure.shape[1:]), code.expand(n, -1))
        return paint_over(decoded, structure_img.expand(n, -1, -1, -1))
