"""DyGait's network: DAM blocks, local temporal aggregation, temporal max pooling, GeM horizontal pooling,
separate FCs and a BNNeck (Wang et al., ICCV 2023; official code ``M-Candy77/DyGait``, an OpenGait fork).

Layouts: silhouettes (N, T, H, W) float in [0, 1] (H x W = 64 x 44); feature maps (N, C, T, H, W);
part features (N, C, P). Shapes for the paper's CASIA-B config (channels 32, 64, 128, 128; T = 30):

====================  =========================  ================================
submodule             what                       output
====================  =========================  ================================
``conv3d0``           DAM 1 -> 32                (N, 32, 30, 64, 44)
``MaxPool0``          max pool (1, 2, 2)         (N, 32, 30, 32, 22)
``conv3d1``           DAM 32 -> 64               (N, 64, 30, 32, 22)
``LTA``               Conv3d k(3,1,1) s(3,1,1)   (N, 64, 10, 32, 22)
                      + LeakyReLU
``conv3d2``           DAM 64 -> 128              (N, 128, 10, 32, 22)
``MaxPool1``          max pool (1, 2, 2)         (N, 128, 10, 16, 11)
``conv3d3/4``         DAM 128 -> 128, twice      (N, 128, 10, 16, 11)
``TP``                max over T                 (N, 128, 16, 11)
``HPP``               GeM, bins 16-8-4-2-1       (N, 128, 31)
``Head0``             SeparateFCs (31 matrices)  (N, 128, 31): the embedding
``BNNecks``           BN(c*p) + cosine logits    (N, 128, 31), (N, classes, 31)
====================  =========================  ================================

A DAM block (``BasicBlockDy`` in the code) runs two stages; each stage on its input x is
``relu(conv_d(x - mean_T x) + conv_s(x))`` (the dynamic and static branches) plus, with the global
branch, ``relu(conv_g(x))``. The block adds a shortcut of its input. Convolutions have no bias and
the block no BatchNorm, as published.

Submodule names follow the published code (``conv3d0..4``, ``MaxPool0/1``, ``LTA.0.conv3d``, ``TP``,
``HPP.p``, ``Head0.fc_bin``, ``BNNecks.fc_bin``/``BNNecks.bn1d``; DAM convs ``conv1g/1d/1s/2g/2d/2s``),
so a state dict saved in OpenGait's checkpoint layout loads by name (see :mod:`core.dygait.api`).

Departures from the published code (``lib/modeling/models/Dygait.py``, HEAD 009be0b), all deliberate:

1. Residual: the code adds the block input unchanged (``out + x``), which fails whenever the widths
   differ (64 -> 128 ...) and only works for 1 -> C by broadcasting. Here a bias-free 1x1x1 projection
   (``shortcut``; the code defines ``conv1x1x1`` but never uses it) is added whenever c_in != c_out,
   1 -> C included; equal widths keep the identity.
2. Static branch of stage 2: the code's ``conv2s`` is 3x3x3 while ``conv1s`` is 1x3x3. The paper's static
   branch is spatial only, so both are 1x3x3 here (``static_3d_stage2=True`` restores the code's).
3. Global branch: the paper's DAM is the dynamic + static sum; the code adds a parallel 3x3x3 ``g`` conv
   after its own ReLU. It is kept by default (``global_branch=True``; the brief's choice, and what the
   code trains) and can be switched off.
4. Layout: the code's CASIA-B branch of ``build_network`` (``conv3d``, ``GLConvA0/A1/B2``, 32 bins)
   defines layers its ``forward`` never calls; only the GREW/OU-MVLP layout (``conv3d0..4``) runs. That
   layout is used here with the CASIA-B widths 32, 64, 128 (the fourth stage repeats 128) and the 31
   GeM parts of bins 16-8-4-2-1, which 64x44 input allows after two pools.
5. Bugs fixed: ``TP`` is a plain max over T (the code passes an unknown ``seq_dim`` argument), and the
   head keeps OpenGait's [n, c, p] layout (the code permutes to [p, n, c] before ``SeparateFCs``, which
   expects [n, c, p]).
6. The head (GeM, FCs, BNNeck) runs in float32 even under bf16 autocast: x^6.5 over a bin in bf16 loses
   most digits. Variable-length packed batches (OpenGait's ``seqL``) are not supported; a batch holds
   clips of one length, and inference embeds one walk at a time (as the code demands).
7. Config: the CASIA-B config (commit 265a2a7) has no ``SeparateBNNecks`` section that ``build_network``
   reads; here the BNNeck always has ``parts`` x ``channels[-1]`` inputs and one class per training subject.
8. SyncBN: the code's configs turn on ``sync_BN``; under torchrun on CPU each rank's BNNeck keeps its own
   batch statistics (DDP broadcasts rank 0's running statistics).

Sequences shorter than 3 frames are tiled as the code does (1 frame -> 3, 2 frames -> 4), since LTA needs
T >= 3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.dygait.config import DyGaitConfig

__all__ = ["DAMBlock", "DyGait", "GeMHPP", "SeparateBNNecks", "SeparateFCs", "TemporalMax", "init_parameters"]


def conv3x3x3(c_in: int, c_out: int) -> nn.Conv3d:
    return nn.Conv3d(c_in, c_out, kernel_size=3, padding=1, bias=False)


def conv1x3x3(c_in: int, c_out: int) -> nn.Conv3d:
    """Spatial only: one frame at a time, the static appearance."""
    return nn.Conv3d(c_in, c_out, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False)


def conv1x1x1(c_in: int, c_out: int) -> nn.Conv3d:
    return nn.Conv3d(c_in, c_out, kernel_size=1, bias=False)


def temporal_difference(x: Tensor) -> Tensor:
    """x - mean_T(x) for x (N, C, T, H, W): what moves; the torso and a carried bag cancel out."""
    return x - x.mean(dim=2, keepdim=True)


class DAMBlock(nn.Module):
    """Dynamic Augmentation Module: (N, c_in, T, H, W) -> (N, c_out, T, H, W), T, H, W unchanged.

    Args:
        c_in, c_out: channels in and out.
        global_branch: add the code's parallel 3x3x3 conv on x in both stages.
        static_3d_stage2: the code's 3x3x3 ``conv2s`` instead of the paper's 1x3x3.
    """

    def __init__(self, c_in: int, c_out: int, global_branch: bool = True, static_3d_stage2: bool = False) -> None:
        super().__init__()
        self.conv1g = conv3x3x3(c_in, c_out) if global_branch else None
        self.conv1d = conv3x3x3(c_in, c_out)
        self.conv1s = conv1x3x3(c_in, c_out)
        self.conv2g = conv3x3x3(c_out, c_out) if global_branch else None
        self.conv2d = conv3x3x3(c_out, c_out)
        self.conv2s = conv3x3x3(c_out, c_out) if static_3d_stage2 else conv1x3x3(c_out, c_out)
        # the published block adds x unchanged, which breaks when the widths differ (departure 1)
        self.shortcut = conv1x1x1(c_in, c_out) if c_in != c_out else None

    @staticmethod
    def _stage(x: Tensor, conv_g: nn.Module | None, conv_d: nn.Module, conv_s: nn.Module) -> Tensor:
        out = torch.relu(conv_d(temporal_difference(x)) + conv_s(x))
        if conv_g is not None:
            out = out + torch.relu(conv_g(x))
        return out

    def forward(self, x: Tensor) -> Tensor:
        out = self._stage(x, self.conv1g, self.conv1d, self.conv1s)
        out = self._stage(out, self.conv2g, self.conv2d, self.conv2s)
        return out + (self.shortcut(x) if self.shortcut is not None else x)


class BasicConv3d(nn.Module):
    """OpenGait's bias-free Conv3d wrapper (kept so the LTA weight is ``LTA.0.conv3d.weight``)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: tuple[int, int, int], stride: tuple[int, int, int],
                 padding: tuple[int, int, int]) -> None:  # fmt: skip
        super().__init__()
        self.conv3d = nn.Conv3d(c_in, c_out, kernel_size=kernel_size, stride=stride, padding=padding, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv3d(x)


class TemporalMax(nn.Module):
    """TP: (N, C, T, H, W) -> (N, C, H, W), the max over T (the strongest response of the walk)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.amax(dim=2)


class GeMHPP(nn.Module):
    """Generalised-mean horizontal pooling: (N, C, H, W) -> (N, C, sum(bins)).

    Each bin cuts the rows into b strips and pools each strip (rows x W) as
    (mean x^p)^(1/p) with x clamped at ``eps``; p is learned (6.5 at init: between mean and max).
    """

    def __init__(self, bins: tuple[int, ...] = (16, 8, 4, 2, 1), p: float = 6.5, eps: float = 1e-6) -> None:
        super().__init__()
        self.bins = tuple(bins)
        self.p = nn.Parameter(torch.ones(1) * p)
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, _ = x.shape
        if any(h % b for b in self.bins):
            raise ValueError(f"the head sees {h} rows, not divisible by every bin of {self.bins}")
        x = x.clamp(min=self.eps).pow(self.p)
        parts = [x.reshape(n, c, b, -1).mean(-1) for b in self.bins]
        return torch.cat(parts, dim=-1).pow(1.0 / self.p)


class SeparateFCs(nn.Module):
    """One (c_in x c_out) matrix per part: (N, c_in, P) -> (N, c_out, P)."""

    def __init__(self, parts: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.p = parts
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts, c_in, c_out)))

    def forward(self, x: Tensor) -> Tensor:
        out = x.permute(2, 0, 1).matmul(self.fc_bin)  # (P, N, c_out)
        return out.permute(1, 2, 0).contiguous()


class SeparateBNNecks(nn.Module):
    """BNNeck per part (one BatchNorm1d over all C*P values) and cosine logits.

    forward: (N, C, P) -> (feature (N, C, P) L2-normalised per part, logits (N, classes, P) in [-1, 1]):
    the normalised feature against each class's normalised weight, one weight matrix per part.
    """

    def __init__(self, parts: int, channels: int, num_classes: int) -> None:
        super().__init__()
        self.p = parts
        self.class_num = num_classes
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts, channels, num_classes)))
        self.bn1d = nn.BatchNorm1d(channels * parts)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n, c, p = x.shape
        x = self.bn1d(x.reshape(n, c * p)).reshape(n, c, p)
        feature = F.normalize(x.permute(2, 0, 1), dim=-1)  # (P, N, C)
        logits = feature.matmul(F.normalize(self.fc_bin, dim=1))  # (P, N, classes)
        return feature.permute(1, 2, 0).contiguous(), logits.permute(1, 2, 0).contiguous()


def init_parameters(module: nn.Module) -> None:
    """OpenGait's ``BaseModel.init_parameters``: Xavier-uniform convs and linears (zero bias), BN weight
    N(1, 0.02) and zero bias. The part matrices keep their own Xavier init."""
    for m in module.modules():
        if isinstance(m, (nn.Conv3d, nn.Conv2d, nn.Conv1d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DyGait(nn.Module):
    """The whole network: silhouettes (N, T, H, W) in [0, 1] -> part features and logits.

    Args:
        cfg: network sizes (``channels``, ``bins``, branch switches, GeM init).
        num_classes: training subjects (the BNNeck's classes).
    """

    def __init__(self, cfg: DyGaitConfig, num_classes: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_classes = num_classes
        c0, c1, c2, c3 = cfg.channels
        dam = {"global_branch": cfg.global_branch, "static_3d_stage2": cfg.static_3d_stage2}
        self.conv3d0 = DAMBlock(1, c0, **dam)
        self.MaxPool0 = nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.conv3d1 = DAMBlock(c0, c1, **dam)
        # LTA: each 3 consecutive frames become one (about a step's worth of motion at 25 fps)
        self.LTA = nn.Sequential(BasicConv3d(c1, c1, (3, 1, 1), (3, 1, 1), (0, 0, 0)), nn.LeakyReLU(inplace=True))
        self.conv3d2 = DAMBlock(c1, c2, **dam)
        self.MaxPool1 = nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.conv3d3 = DAMBlock(c2, c3, **dam)
        self.conv3d4 = DAMBlock(c3, c3, **dam)
        self.TP = TemporalMax()
        self.HPP = GeMHPP(cfg.bins, cfg.gem_p, cfg.gem_eps)
        self.Head0 = SeparateFCs(cfg.parts, c3, c3)
        self.BNNecks = SeparateBNNecks(cfg.parts, c3, num_classes)
        init_parameters(self)

    @property
    def FCs(self) -> SeparateFCs:  # noqa: N802 - OpenGait's name for the part FCs (DyGait calls them Head0)
        return self.Head0

    @staticmethod
    def pad_frames(sils: Tensor) -> Tensor:
        """(N, T, H, W) -> (N, T', H, W) with T' >= 3: a 1-frame walk is tiled 3 times, a 2-frame one twice."""
        t = sils.shape[1]
        if t < 1:
            raise ValueError("a walk needs at least one frame")
        return sils.repeat(1, 3 if t == 1 else 2, 1, 1) if t < 3 else sils

    def backbone(self, sils: Tensor) -> Tensor:
        """(N, T, H, W) -> (N, C, H/4, W/4) after TP (T >= 3 assumed; see :meth:`pad_frames`)."""
        x = sils.unsqueeze(1)
        if self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        x = self.MaxPool0(self.conv3d0(x))
        x = self.LTA(self.conv3d1(x))
        x = self.MaxPool1(self.conv3d2(x))
        x = self.conv3d4(self.conv3d3(x))
        return self.TP(x)

    def forward(self, sils: Tensor) -> dict[str, Tensor]:
        """sils (N, T, H, W) float in [0, 1] ->

        - ``embeddings`` (N, C, P): the SeparateFCs output; the triplet loss's input and the inference
          feature (compared per part, distances averaged over parts);
        - ``logits`` (N, num_classes, P): cosine logits of the BNNeck, for the cross-entropy;
        - ``bnneck`` (N, C, P): the BN'ed, per-part L2-normalised feature.
        """
        if sils.dim() != 4:
            raise ValueError(f"expected silhouettes (N, T, H, W), got shape {tuple(sils.shape)}")
        maps = self.backbone(self.pad_frames(sils))
        with torch.autocast(maps.device.type, enabled=False):  # departure 6: the head in float32
            parts = self.HPP(maps.float())
            embeddings = self.Head0(parts)
            bnneck, logits = self.BNNecks(embeddings)
        return {"embeddings": embeddings, "logits": logits, "bnneck": bnneck}

    @torch.no_grad()
    def dynamic_maps(self, sils: Tensor) -> tuple[Tensor, Tensor]:
        """Where the first DAM block sees motion and where it sees shape, for the "which parts move" figure.

        sils: (T, H, W) or (1, T, H, W) float in [0, 1].
        Returns (dynamic, static), each (T, 64, 44) in [0, 1]: the channel mean of |conv1d(x - mean_T x)|
        (the dynamic branch of ``conv3d0``'s first stage) and of |conv1s(x)| (its static branch),
        bilinearly resized to 64x44 and divided by their own maximum over the walk.
        """
        if sils.dim() == 3:
            sils = sils.unsqueeze(0)
        if sils.dim() != 4 or sils.shape[0] != 1:
            raise ValueError(f"expected one walk (T, H, W) or (1, T, H, W), got shape {tuple(sils.shape)}")
        x = sils.float().unsqueeze(1)  # (1, 1, T, H, W)
        block = self.conv3d0
        dynamic = block.conv1d(temporal_difference(x)).abs().mean(1)[0]  # (T, H, W)
        static = block.conv1s(x).abs().mean(1)[0]
        out = []
        for m in (dynamic, static):
            m = F.interpolate(m.unsqueeze(1), size=(64, 44), mode="bilinear", align_corners=False)[:, 0]
            out.append(m / m.max().clamp_min(1e-12))
        return out[0], out[1]
