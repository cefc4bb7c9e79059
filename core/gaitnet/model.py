"""GaitNet's networks: an encoder E splitting each frame into an appearance feature f_a and a pose
feature f_g, a decoder D rebuilding the frame from both, and a 3-layer LSTM over the f_g sequence.

Shapes for the paper's config (nf = 64, f_a 256, f_g 64, LSTM 256; N walks of T frames):

* ``Encoder``: frames (B, 3, 64, 32) in [0, 1] -> four stages [4x4 stride-2 conv + BN + LReLU(0.2),
  3x3 conv + BN + LReLU(0.2)] -> (B, 8nf = 512, 4, 2) -> flatten 4096 -> Linear + BN1d -> (B, 320) ->
  split into f_a (B, 256) and f_g (B, 64).
* ``Decoder``: [f_a, f_g] (B, 320) -> Linear + BN1d -> (B, 512, 4, 2) -> LReLU -> 3x3 conv -> three stages
  [4x4 stride-2 transposed conv + BN + LReLU, 3x3 conv + BN + LReLU] -> 4x4 stride-2 transposed conv to
  3 channels -> Sigmoid -> (B, 3, 64, 32) in [0, 1].
* With ``decoder_matte`` the last convolution draws 4 channels: colour (3) and the walker's matte (1), both
  Sigmoid; the frame is colour x matte (in eval mode colour x [matte >= 0.5]).
* ``GaitNet.lstm``: f_g (N, T, 64) -> outputs h_1..h_T (N, T, 256); the gait feature is
  LReLU(BN1d(mean_t h_t)) (N, 256), compared by cosine similarity; the classifier (Linear + BN1d) sees the
  same feature of every prefix h_1..h_t in training (the incremental identity loss).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.gaitnet.config import GaitNetConfig

__all__ = ["Decoder", "Encoder", "GaitNet", "init_weights"]

SLOPE = 0.2  # LeakyReLU slope everywhere, as the authors' blocks
BOTTLENECK = (4, 2)  # the encoder's last map (H, W): 64x32 after four stride-2 stages


def _refine(channels: int) -> nn.Sequential:
    """The authors' ``vgg_layer``: 3x3 stride-1 conv + BN + LReLU, same size."""
    return nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels),
                         nn.LeakyReLU(SLOPE))  # fmt: skip


def _down(cin: int, cout: int) -> nn.Sequential:
    """The authors' ``dcgan_conv``: 4x4 stride-2 conv + BN + LReLU, halves H and W."""
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(SLOPE))


def _upsample(cin: int, cout: int, mode: str, bias: bool) -> list[nn.Module]:
    """Double H and W: the authors' 4x4 stride-2 transposed conv ("transpose"), or nearest-neighbour
    upsampling + a 3x3 conv ("nearest"; every output pixel sees the same number of taps, so no checkerboard)."""
    if mode == "transpose":
        return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1, bias=bias)]


def _up(cin: int, cout: int, mode: str = "transpose") -> nn.Sequential:
    """The authors' ``dcgan_upconv`` (``mode`` "transpose"): 4x4 stride-2 transposed conv + BN + LReLU,
    doubles H and W."""
    return nn.Sequential(*_upsample(cin, cout, mode, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(SLOPE))


class Encoder(nn.Module):
    """E: frames (B, 3, 64, 32) -> (appearance f_a (B, Da), pose f_g (B, Dg)).

    f_a and f_g are the two ends of one BN1d-normalised vector, so neither has an activation (as coded).
    """

    def __init__(self, cfg: GaitNetConfig) -> None:
        super().__init__()
        self.appearance_dim, self.pose_dim = cfg.appearance_dim, cfg.pose_dim
        layers: list[nn.Module] = []
        cin = 3
        for cout in cfg.channels:
            layers.append(_down(cin, cout))
            if cfg.refine_layers:
                layers.append(_refine(cout))
            cin = cout
        self.convs = nn.Sequential(*layers)
        flat = cfg.channels[-1] * BOTTLENECK[0] * BOTTLENECK[1]
        self.project = nn.Sequential(nn.Linear(flat, cfg.feature_dim), nn.BatchNorm1d(cfg.feature_dim))

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        code = self.project(self.convs(frames).flatten(1).float())
        return code.split([self.appearance_dim, self.pose_dim], dim=1)


class Decoder(nn.Module):
    """D: appearance (B, Da), pose (B, Dg) -> frames (B, 3, 64, 32) in [0, 1] (Sigmoid); with
    ``decoder_matte`` (B, 4, 64, 32): colour and matte, not yet multiplied."""

    def __init__(self, cfg: GaitNetConfig) -> None:
        super().__init__()
        top = cfg.channels[-1]
        self.top = top
        self.project = nn.Sequential(nn.Linear(cfg.feature_dim, top * BOTTLENECK[0] * BOTTLENECK[1]),
                                     nn.BatchNorm1d(top * BOTTLENECK[0] * BOTTLENECK[1]))  # fmt: skip
        layers: list[nn.Module] = [nn.LeakyReLU(SLOPE)]
        if cfg.refine_layers:
            layers.append(_refine(top))
        widths = cfg.channels[::-1]  # 8nf, 4nf, 2nf, nf
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            layers.append(_up(cin, cout, cfg.decoder_upsample))
            if cfg.refine_layers:
                layers.append(_refine(cout))
        out_channels = 4 if cfg.decoder_matte else 3
        layers += [*_upsample(widths[-1], out_channels, cfg.decoder_upsample, bias=True), nn.Sigmoid()]
        self.convs = nn.Sequential(*layers)

    def forward(self, appearance: Tensor, pose: Tensor) -> Tensor:
        code = self.project(torch.cat([appearance, pose], 1))
        return self.convs(code.view(-1, self.top, *BOTTLENECK))


def init_weights(module: nn.Module, std: float) -> None:
    """The authors' init: conv and linear weights ~ N(0, std), biases 0; BN weights ~ N(1, std), biases 0.

    The LSTM keeps torch's default: the authors' ``init_weights`` meant to set it too, but its loop over
    ``m._parameters`` tests the class name of the parameter *names* (str), so it never changed anything.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


class GaitNet(nn.Module):
    """Encoder, decoder, LSTM, the gait feature's BN1d + LReLU and the identity classifier.

    :meth:`forward` runs everything one training step needs in one call (what DDP wants); the other
    methods are the pieces, for inference and the losses' tests.
    """

    def __init__(self, cfg: GaitNetConfig, num_classes: int) -> None:
        super().__init__()
        self.cfg, self.num_classes = cfg, num_classes
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.lstm = nn.LSTM(cfg.pose_dim, cfg.lstm_hidden, cfg.lstm_layers, batch_first=True)
        # version A's ``fc1``: the averaged LSTM output through BN1d + LReLU is the test embedding
        self.feature_norm = nn.Sequential(nn.BatchNorm1d(cfg.lstm_hidden), nn.LeakyReLU(SLOPE))
        self.classifier = nn.Sequential(nn.Linear(cfg.lstm_hidden, num_classes), nn.BatchNorm1d(num_classes))
        init_weights(self, cfg.init_std)

    @property
    def feature_dim(self) -> int:
        """Length of the gait feature (the LSTM's hidden size)."""
        return self.cfg.lstm_hidden

    def _frames_in(self, frames: Tensor) -> Tensor:
        return frames.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last else frames

    def encode(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """frames (N, T, 3, 64, 32) -> (appearance f_a (N, T, Da), pose f_g (N, T, Dg))."""
        n, t = frames.shape[:2]
        appearance, pose = self.encoder(self._frames_in(frames.flatten(0, 1)))
        return appearance.view(n, t, -1), pose.view(n, t, -1)

    def decode(self, appearance: Tensor, pose: Tensor) -> Tensor:
        """appearance (N, T, Da), pose (N, T, Dg) -> frames (N, T, 3, 64, 32) in [0, 1]."""
        return self.decode_with_matte(appearance, pose)[0]

    def decode_with_matte(self, appearance: Tensor, pose: Tensor) -> tuple[Tensor, Tensor | None]:
        """appearance (N, T, Da), pose (N, T, Dg) -> (frames (N, T, 3, 64, 32) in [0, 1], the matte
        (N, T, 1, 64, 32) in (0, 1) before the cut, or None without ``decoder_matte``)."""
        n, t = pose.shape[:2]
        drawn = self.decoder(appearance.flatten(0, 1).to(pose.dtype), pose.flatten(0, 1))
        drawn = drawn.reshape(n, t, *drawn.shape[1:])
        if not self.cfg.decoder_matte:
            return drawn, None
        colour, matte = drawn[:, :, :3], drawn[:, :, 3:]
        # training multiplies by the soft matte (gradients reach it through the colour loss as well);
        # inference cuts it, so the walker's outline is a crisp mask and the background exactly black
        cut = matte if self.training else (matte >= 0.5).to(colour.dtype)
        return colour * cut, matte

    def lstm_outputs(self, pose: Tensor) -> Tensor:
        """pose (N, T, Dg) -> the top LSTM layer's outputs h_1..h_T (N, T, H)."""
        out, _ = self.lstm(pose.float())
        return out

    def gait_feature(self, pose: Tensor) -> Tensor:
        """pose (N, T, Dg) -> gait feature (N, H): LReLU(BN1d(mean_t h_t)), the test embedding."""
        return self.feature_norm(self.lstm_outputs(pose).mean(1))

    def prefix_features(self, pose: Tensor) -> Tensor:
        """pose (N, T, Dg) -> the gait feature of every prefix (N, T, H): row t is LReLU(BN1d) of the running
        mean of h_1..h_t, so row T-1 is :meth:`gait_feature` (in eval mode)."""
        h = self.lstm_outputs(pose)
        steps = torch.arange(1, h.shape[1] + 1, device=h.device, dtype=h.dtype).view(1, -1, 1)
        running = h.cumsum(1) / steps
        # One batch-norm call per prefix, as the authors' loop classifies one prefix at a time: in training
        # each prefix is normalised with its own batch statistics (a 1-frame average varies far more than a
        # 20-frame one), and the running statistics end on the long prefixes the test embedding resembles.
        # Normalising all prefixes together instead left full-walk features nearly constant at test time.
        return torch.stack([self.feature_norm(running[:, t]) for t in range(h.shape[1])], 1)

    def classify_prefixes(self, features: Tensor) -> Tensor:
        """prefix features (N, T, H) -> identity logits (N, T, C), one classifier (Linear + BN1d) call per prefix."""
        return torch.stack([self.classifier(features[:, t]) for t in range(features.shape[1])], 1)

    def incremental_logits(self, pose: Tensor) -> Tensor:
        """pose (N, T, Dg) -> identity logits (N, T, C) of every prefix: row t classifies the gait feature
        of h_1..h_t (their running mean), as the incremental identity loss needs."""
        return self.classify_prefixes(self.prefix_features(pose))

    def forward(self, clips: Tensor, source: Tensor, targets: Tensor, cross: Tensor | None = None) -> dict[str, Tensor]:
        """One training step's networks.

        Args:
            clips: (N, P, T, 3, 64, 32) frames, P clips per item (2: A and B of one subject).
            source: (N, Q, K) long, Q <= P: the first Q clips of each item are cross-reconstructed; for each
                rebuilt frame, the frame t1 of the same clip whose f_a is decoded with f_g of t2 (a fresh
                random t1 per t2, as the authors' loop draws one per frame).
            targets: (K,) long, the frames t2 rebuilt (the same K frames of every clip); K = 0 skips decoding.
            cross: (N,) bool or None; for a True item (two frame-aligned clips of one walk in different
                clothes, P = Q = 2) each clip's frame t2 is decoded with the *other* clip's f_g of t2.

        Returns:
            "appearance" (N, P, T, Da), "pose" (N, P, T, Dg), "logits" (N, P, T, C) per prefix, "feature"
            (N, P, H) the gait feature of each whole clip (with this batch's statistics), and with
            K > 0 "recon" (N, Q, K, 3, 64, 32): D(f_a[t1], f_g[t2]) for each target t2, and with
            ``decoder_matte`` "matte" (N, Q, K, 1, 64, 32), its matte before the cut.
        """
        n, p, t = clips.shape[:3]
        appearance, pose = self.encode(clips.flatten(0, 1))  # (N*P, T, D)
        appearance, pose = appearance.view(n, p, t, -1), pose.view(n, p, t, -1)
        out = {"appearance": appearance, "pose": pose}
        features = self.prefix_features(pose.flatten(0, 1))  # (N*P, T, H)
        out["logits"] = self.classify_prefixes(features).view(n, p, t, -1)
        out["feature"] = features[:, -1].view(n, p, -1)
        if targets.numel():
            q, k = source.shape[1], targets.numel()
            rebuilt_appearance = appearance[:, :q].flatten(0, 1)  # (N*Q, T, Da)
            rows = torch.arange(n * q, device=clips.device)[:, None]
            source_appearance = rebuilt_appearance[rows, source.flatten(0, 1)]  # (N*Q, K, Da)
            target_pose = pose[:, :, targets]  # (N, P, K, Dg)
            if cross is not None:
                if p != 2 or q != 2:
                    raise ValueError(f"cross-clip decoding pairs two rebuilt clips, got P={p}, Q={q}")
                target_pose = torch.where(cross.view(n, 1, 1, 1), target_pose.flip(1), target_pose)
            recon, matte = self.decode_with_matte(source_appearance, target_pose[:, :q].flatten(0, 1))
            out["recon"] = recon.view(n, q, k, *recon.shape[2:])
            if matte is not None:
                out["matte"] = matte.view(n, q, k, *matte.shape[2:])
        return out
