"""DR-GAN's networks: a CASIA-Net encoder G_enc, a mirrored decoder G_dec and a multi-task discriminator D.

Shapes for the paper's config (``s`` = image_size / 16 = 6 at 96x96):

* ``Encoder``: x (B, 3, S, S) in [-1, 1] -> f(x) (B, N^f = 320) and, for the multi-image model, a
  confidence omega (B,) in (0, 1).
* ``Decoder``: [f (B, N^f), one-hot pose c (B, N^p), noise z (B, N^z)] -> FC -> (B, 320, s, s) ->
  14 fractionally-strided 3x3 convolutions -> tanh image (B, 3, S, S).
* ``Discriminator``: the encoder's trunk (its own weights) -> (B, N^d + 1) identity logits (the last is
  "fake") and (B, N^p) pose logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.drgan.config import DECODER_STRIDES, ENCODER_STRIDES, DRGANConfig

__all__ = ["DRGAN", "Decoder", "Discriminator", "Encoder", "Generator", "fuse_features"]


def _conv_bn(cin: int, cout: int, stride: int, activate: bool = True) -> nn.Sequential:
    """3x3 conv + BN (+ ELU). Stride 2 pads right/bottom by one, as TensorFlow's SAME does (96 -> 48)."""
    if stride == 2:
        layers: list[nn.Module] = [nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(cin, cout, 3, 2, 0, bias=False)]
    else:
        layers = [nn.Conv2d(cin, cout, 3, 1, 1, bias=False)]
    layers.append(nn.BatchNorm2d(cout))
    if activate:
        layers.append(nn.ELU())
    return nn.Sequential(*layers)


def _fconv_bn(cin: int, cout: int, stride: int, last: bool = False) -> nn.Sequential:
    """3x3 transposed conv + BN + ELU; stride 2 doubles the side exactly; the last one ends in tanh."""
    pad_out = 1 if stride == 2 else 0
    conv = nn.ConvTranspose2d(cin, cout, 3, stride, 1, output_padding=pad_out, bias=last)
    return nn.Sequential(conv, nn.Tanh()) if last else nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ELU())


class CasiaTrunk(nn.Module):
    """The 14 convolutions shared (in design, not weights) by G_enc and D.

    forward: (B, 3, S, S) -> (last map (B, C14, s, s), the 13th conv's map (B, C13, s, s)).
    The last conv has BN but no ELU (the authors' code): f(x) may be negative.
    """

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        cins = (3,) + channels[:-1]
        last = len(channels) - 1
        self.convs = nn.ModuleList(
            _conv_bn(cin, cout, s, activate=i != last)
            for i, (cin, cout, s) in enumerate(zip(cins, channels, ENCODER_STRIDES, strict=True))
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        for conv in self.convs[:-1]:
            x = conv(x)
        return self.convs[-1](x), x


class Encoder(nn.Module):
    """G_enc: x (B, 3, S, S) -> (f (B, N^f), omega (B,) or None).

    With ``confidence`` (multi-image DR-GAN) a 1-channel conv on the 13th map + BN + average pooling +
    sigmoid gives omega, how much the image counts in a fusion."""

    def __init__(self, cfg: DRGANConfig, confidence: bool = False) -> None:
        super().__init__()
        self.trunk = CasiaTrunk(cfg.encoder_channels)
        self.confidence = (
            nn.Sequential(nn.Conv2d(cfg.encoder_channels[-2], 1, 3, 1, 1, bias=False), nn.BatchNorm2d(1))
            if confidence else None
        )  # fmt: skip

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        last, before = self.trunk(x)
        f = last.mean((2, 3))
        omega = torch.sigmoid(self.confidence(before).mean((1, 2, 3))) if self.confidence is not None else None
        return f, omega


class Decoder(nn.Module):
    """G_dec: f (B, N^f), pose (B,) bin indices, noise (B, N^z) -> image (B, 3, S, S) in [-1, 1]."""

    def __init__(self, cfg: DRGANConfig) -> None:
        super().__init__()
        self.num_poses, self.noise_dim, self.side = cfg.num_poses, cfg.noise_dim, cfg.code_size
        self.fc_channels = cfg.scaled((320,))[0]
        self.fc = nn.Linear(cfg.feature_dim + cfg.num_poses + cfg.noise_dim, self.fc_channels * self.side**2)
        channels = cfg.decoder_channels
        cins = (self.fc_channels,) + channels[:-1]
        last = len(channels) - 1
        self.fconvs = nn.Sequential(
            *(_fconv_bn(cin, cout, s, last=i == last)
              for i, (cin, cout, s) in enumerate(zip(cins, channels, DECODER_STRIDES, strict=True)))
        )  # fmt: skip

    def forward(self, f: Tensor, pose: Tensor, noise: Tensor) -> Tensor:
        code = F.one_hot(pose.long(), self.num_poses).to(f.dtype)
        h = self.fc(torch.cat([f, code, noise.to(f.dtype)], 1))
        return self.fconvs(h.view(-1, self.fc_channels, self.side, self.side))


class Discriminator(nn.Module):
    """D: x (B, 3, S, S) -> (identity logits (B, N^d + 1), the last one "fake"; pose logits (B, N^p))."""

    def __init__(self, cfg: DRGANConfig, num_ids: int) -> None:
        super().__init__()
        self.num_ids = num_ids
        self.trunk = CasiaTrunk(cfg.encoder_channels)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.feature_dim, num_ids + 1 + cfg.num_poses)

    def forward(self, x: Tensor, split: int | None = None, with_features: bool = False) -> tuple[Tensor, ...]:
        """``split``: rows before it and after it go through the trunk separately, so BatchNorm normalises
        real and fake faces with their own statistics (one call, as DDP wants one forward per backward).
        ``with_features``: also return the pooled trunk (B, N^f) that the heads read (:meth:`features`)."""
        if split is None:
            h = self.trunk(x)[0]
        else:
            h = torch.cat([self.trunk(x[:split])[0], self.trunk(x[split:])[0]])
        pooled = h.mean((2, 3))
        out = self.head(self.dropout(pooled))
        logits = out[:, : self.num_ids + 1], out[:, self.num_ids + 1 :]
        return (*logits, pooled) if with_features else logits

    def features(self, x: Tensor) -> Tensor:
        """x (B, 3, S, S) -> D's identity representation (B, N^f): the pooled trunk its heads read."""
        return self.trunk(x)[0].mean((2, 3))


def fuse_features(f: Tensor, omega: Tensor, keep: Tensor | None = None, eps: float = 1e-6) -> Tensor:
    """The multi-image fusion sum_i(omega_i f_i) / sum_i(omega_i) over each person's images.

    f: (P, n, N^f); omega: (P, n); keep: (P, n) 0/1, images left out of the set (omega dropout).
    Returns (P, N^f).
    """
    w = omega if keep is None else omega * keep
    return (w.unsqueeze(-1) * f).sum(1) / (w.sum(1, keepdim=True) + eps)


class Generator(nn.Module):
    """G = G_enc + G_dec, one module so that DDP sees every generator parameter in one forward.

    forward(x (B, 3, S, S), target (B,), noise (B, N^z)) -> (fakes (B, 3, S, S), f (B, N^f), omega).
    With ``images_per_person`` = n > 1 (the multi-image model; B = P * n, a person's images adjacent),
    also fuses each person's features and decodes them at ``fused_target`` (P,) with ``fused_noise``
    (P, N^z): fakes are then (B + P, 3, S, S), the fused syntheses last.
    """

    def __init__(self, cfg: DRGANConfig) -> None:
        super().__init__()
        self.encoder = Encoder(cfg, confidence=cfg.multi)
        self.decoder = Decoder(cfg)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, target: Tensor, noise: Tensor, images_per_person: int = 1,
                fused_target: Tensor | None = None, fused_noise: Tensor | None = None,
                keep: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | None]:  # fmt: skip
        f, omega = self.encoder(x)
        codes, targets, noises = [f], [target], [noise]
        if images_per_person > 1:
            if omega is None or fused_target is None or fused_noise is None:
                raise ValueError("fusion needs the confidence branch (multi=True), fused_target and fused_noise")
            n = images_per_person
            fused = fuse_features(
                f.view(-1, n, f.shape[1]), omega.view(-1, n), None if keep is None else keep.view(-1, n)
            )
            codes.append(fused)
            targets.append(fused_target)
            noises.append(fused_noise)
        fakes = self.decoder(self.dropout(torch.cat(codes)), torch.cat(targets), torch.cat(noises))
        return fakes, f, omega


class DRGAN(nn.Module):
    """The generator and the discriminator of one DR-GAN, with the calls the app and the eval use."""

    def __init__(self, cfg: DRGANConfig, num_ids: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_ids = num_ids
        self.generator = Generator(cfg)
        self.discriminator = Discriminator(cfg, num_ids)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Conv and linear weights ~ N(0, init_std), biases 0; BN scale 1 (the paper's init)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
                nn.init.normal_(m.weight, 0.0, self.cfg.init_std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @property
    def encoder(self) -> Encoder:
        return self.generator.encoder

    @property
    def decoder(self) -> Decoder:
        return self.generator.decoder

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """x (B, 3, S, S) in [-1, 1] -> f(x) (B, N^f), omega (B,) or None (single-image model)."""
        return self.encoder(x)

    def identity_feature(self, x: Tensor) -> Tensor:
        """The recognition feature: f(x) + f(mirrored x), L2-normalised (B, N^f) (the authors' test feature)."""
        f = self.encoder(x)[0] + self.encoder(x.flip(3))[0]
        return F.normalize(f, dim=1)

    def noise(self, count: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ U(-1, 1), (count, N^z)."""
        return torch.rand(count, self.cfg.noise_dim, generator=generator) * 2 - 1

    def decode(self, f: Tensor, pose: Tensor, noise: Tensor) -> Tensor:
        """f (B, N^f), pose (B,) bins, noise (B, N^z) -> (B, 3, S, S) in [-1, 1]."""
        return self.decoder(f, pose, noise)

    def rotate(self, x: Tensor, pose: Tensor, noise: Tensor) -> Tensor:
        """Each face of x (B, 3, S, S) at the yaw bin pose (B,): (B, 3, S, S)."""
        return self.decode(self.encode(x)[0], pose, noise)

    def all_poses(self, f: Tensor, noise: Tensor) -> Tensor:
        """One identity feature f (N^f,) at every yaw bin, one noise (N^z,): (N^p, 3, S, S)."""
        n = self.cfg.num_poses
        return self.decode(f.expand(n, -1), torch.arange(n), noise.expand(n, -1))

    def fuse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Several faces of one person (n, 3, S, S) -> (fused f (N^f,), omega (n,)). The single-image
        model weighs every image alike."""
        f, omega = self.encode(x)
        if omega is None:
            omega = torch.ones(len(x))
        return fuse_features(f.unsqueeze(0), omega.unsqueeze(0))[0], omega

    def discriminate(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, 3, S, S) -> identity logits (B, N^d + 1) and pose logits (B, N^p)."""
        return self.discriminator(x)
