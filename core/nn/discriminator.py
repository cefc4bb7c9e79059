"""The multi-scale patch discriminator (DG-Net's official ``MsImageDis``), its configuration, and how to tell
whether it takes part (:func:`discriminator_auc`). Shared by the methods that train a generator with an
adversarial loss (DG-Net, GaitNet's decoder)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.config import ConfigMixin
from core.nn.blocks import Conv2dBlock, ResBlock

__all__ = ["DiscriminatorConfig", "MsImageDis", "discriminator_auc"]


@dataclass
class DiscriminatorConfig(ConfigMixin):
    """Multi-scale patch discriminator (official ``dis:`` block)."""

    dim: int = 32
    n_layer: int = 2  # stride-2 stages after the first one
    n_res: int = 4
    num_scales: int = 3
    norm: str = "none"
    activ: str = "lrelu"
    pad_type: str = "reflect"
    gan_type: str = "lsgan"
    gp_weight: float = 0.01  # official ``LAMBDA``: weight of the gradient penalty on real images
    init: str = "gaussian"  # official N(0, 0.02) conv weights; "kaiming": Kaiming-normal for leaky ReLU


class MsImageDis(nn.Module):
    """Multi-scale patch discriminator; ``cnns.{s}`` sees the image average-pooled s times (3x3, stride 2).

    Each scale: 1x1 conv; 3x3 conv; 3x3 s2 conv; per extra layer a 3x3 conv and a 3x3 s2 conv doubling the
    width (max 512); ``n_res`` residual blocks; a plain 1x1 conv to one channel. Weights N(0, 0.02) (``init``
    "gaussian", the paper's) or Kaiming-normal (``init`` "kaiming").
    Input (B, 3, H, W); output a list of (B, 1, H / 2**(s + n_layer), W / 2**(s + n_layer)), one per scale.
    """

    def __init__(self, cfg: DiscriminatorConfig, input_dim: int = 3) -> None:
        super().__init__()
        self.gp_weight = cfg.gp_weight
        # count_include_pad=False: border pixels are averaged over real pixels only (as the official D).
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.cnns = nn.ModuleList([self._make_net(cfg, input_dim) for _ in range(cfg.num_scales)])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if cfg.init == "kaiming":  # a working scale through an unnormalised trunk (not the paper's)
                    nn.init.kaiming_normal_(m.weight, a=0.2, mode="fan_in", nonlinearity="leaky_relu")
                else:
                    nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _make_net(cfg: DiscriminatorConfig, input_dim: int) -> nn.Sequential:
        opts = {"norm": cfg.norm, "activation": cfg.activ, "pad_type": cfg.pad_type}
        dim = cfg.dim
        layers: list[nn.Module] = [
            Conv2dBlock(input_dim, dim, 1, 1, 0, **opts),
            Conv2dBlock(dim, dim, 3, 1, 1, **opts),
            Conv2dBlock(dim, dim, 3, 2, 1, **opts),
        ]
        for _ in range(cfg.n_layer - 1):
            wider = min(dim * 2, 512)
            layers += [Conv2dBlock(dim, dim, 3, 1, 1, **opts), Conv2dBlock(dim, wider, 3, 2, 1, **opts)]
            dim = wider
        # Residual blocks sit directly in the Sequential (keys cnns.s.{i}.model.*), not in a ResBlocks.
        layers += [ResBlock(dim, cfg.norm, cfg.activ, cfg.pad_type) for _ in range(cfg.n_res)]
        layers.append(nn.Conv2d(dim, 1, 1, 1, 0))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        outputs = []
        for i, net in enumerate(self.cnns):
            if i:
                x = self.downsample(x)
            outputs.append(net(x))
        return outputs

    def dis_loss(self, fake: Tensor, real: Tensor) -> tuple[Tensor, Tensor]:
        """LSGAN loss to train D: sum over scales of mean(D(fake)^2) + mean((D(real) - 1)^2) + penalty.

        The penalty (R1-style, weight ``gp_weight``) is, per scale, the batch mean of the squared norm of
        d sum(D_s(real)) / d real, built with ``create_graph`` so it is trained. ``fake`` is detached here
        (D's step must not reach G); ``real`` is copied, so the caller's tensor is not changed.
        Returns (total loss including the penalty, penalty alone).
        """
        real = real.detach().requires_grad_(True)
        outs_fake = self(fake.detach())
        outs_real = self(real)
        loss = fake.new_zeros(())
        reg = fake.new_zeros(())
        for out_fake, out_real in zip(outs_fake, outs_real, strict=True):
            loss = loss + torch.mean(out_fake**2) + torch.mean((out_real - 1) ** 2)
            if self.gp_weight:  # (its double backward is the costliest part of D's step)
                reg = reg + self.gp_weight * self._grad_penalty(out_real, real)
        return loss + reg, reg

    @staticmethod
    def _grad_penalty(out: Tensor, inputs: Tensor) -> Tensor:
        (grad,) = torch.autograd.grad(out.sum(), inputs, create_graph=True, retain_graph=True)
        return grad.pow(2).flatten(1).sum(dim=1).mean()

    @torch.no_grad()
    def scores(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B,) D's mean patch output over all scales (LSGAN: 1 = real, 0 = generated)."""
        return torch.stack([out.float().flatten(1).mean(1) for out in self(x)]).mean(0)

    def gen_loss(self, fake: Tensor) -> Tensor:
        """LSGAN loss to train G: sum over scales of 2 * mean((D(fake) - 1)^2) (the official factor 2)."""
        return sum((2 * torch.mean((out - 1) ** 2) for out in self(fake)), fake.new_zeros(()))


def discriminator_auc(dis: MsImageDis, generated: Tensor, real: Tensor) -> float:
    """ROC AUC of D's scores, real (positive) against generated pictures (0.5: D cannot tell them apart).
    ``generated`` and ``real`` (B, 3, H, W), in D's input space."""
    scores = torch.cat([dis.scores(real), dis.scores(generated)])
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(generated))]).long()
    # imported here: torchmetrics pulls in scipy.signal (2 s), which every command line start would pay otherwise
    from torchmetrics.functional.classification import binary_auroc

    return float(binary_auroc(scores.cpu(), labels))
