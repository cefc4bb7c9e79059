"""Losses of re-ID supervised texture generation.

* :class:`ReidFeatureLoss` -- the paper's re-ID loss: both images resized to PCB's input, ImageNet
  normalised, the outputs of PCB's layer1 .. layer4 each flattened and L2-normalised per image, and
  the weighted sum over layers of the mean squared difference. "Make the render look like the same
  person to a re-ID network", which tolerates the misalignment a pixel loss punishes.
* :func:`masked_mse` -- the face/hand prior: inside the UV regions that low-resolution crops cannot
  supervise, the texture is pulled towards a randomly drawn real texture (SURREAL's in the paper,
  our painted training people's here).
* :func:`masked_l1` -- the pixel loss of the paper's ablation, on the body's pixels only.
* :func:`texel_l1` -- a departure: L1 to the true texture on the body's texels (synthetic people only).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.body.skeleton import JOINT_NAMES
from core.reid.pcb import PCB
from core.reid.retrieval import imagenet_normalise

__all__ = ["ReidFeatureLoss", "masked_l1", "masked_mse", "skin_uv_mask", "texel_l1", "valid_texels"]


class ReidFeatureLoss(nn.Module):
    """Weighted sum over PCB layers of MSE(normalise(phi_l(render)), normalise(phi_l(photo))).

    Args:
        pcb: a trained PCB; frozen here (eval mode, no gradients to its weights).
        size: (H, W) both images are resized to (the paper: 384x128).
        layer_weights: weights of layer1 .. layer4.
    """

    def __init__(self, pcb: PCB, size: tuple[int, int], layer_weights=(1.0, 1.0, 1.0, 1.0)) -> None:
        super().__init__()
        self.pcb = pcb.eval().requires_grad_(False)
        self.size = (int(size[0]), int(size[1]))
        self.layer_weights = tuple(float(w) for w in layer_weights)

    def train(self, mode: bool = True) -> ReidFeatureLoss:
        super().train(mode)
        self.pcb.eval()  # BN statistics and dropout stay frozen whatever the trainer does
        return self

    def features(self, images: Tensor) -> list[Tensor]:
        """[0, 1] (B, 3, H, W) -> per layer (B, D_l), each row unit length."""
        x = images
        if tuple(x.shape[2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        layers = self.pcb.layer_features(imagenet_normalise(x).contiguous(memory_format=torch.channels_last))
        return [F.normalize(f.float().flatten(1), dim=1) for f in layers]

    def forward(self, rendered: Tensor, target: Tensor | list[Tensor]) -> Tensor:
        """rendered: (B, 3, H, W) in [0, 1]; target: images like it, or their :meth:`features`. -> (B,)"""
        if isinstance(target, Tensor):
            with torch.no_grad():
                target = self.features(target)
        ours = self.features(rendered)
        per_layer = [((a - b) ** 2).mean(1) for a, b in zip(ours, target, strict=True)]
        return sum(w * loss for w, loss in zip(self.layer_weights, per_layer, strict=True))


def masked_l1(rendered: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute difference on the masked pixels, per image: (B, 3, H, W) x2, (B, 1, H, W) -> (B,)."""
    m = mask.to(rendered.dtype)
    return ((rendered - target).abs() * m).sum((1, 2, 3)) / (3 * m.sum((1, 2, 3))).clamp_min(1.0)


def masked_mse(texture: Tensor, prior: Tensor, uv_mask: Tensor) -> Tensor:
    """Mean squared difference inside a UV region: textures (B, 3, S, S), uv_mask (S, S) -> (B,)."""
    m = uv_mask.to(texture.dtype)[None, None]
    return (((texture - prior) ** 2) * m).sum((1, 2, 3)) / (3 * m.sum()).clamp_min(1.0)


def texel_l1(texture: Tensor, truth: Tensor, uv_mask: Tensor) -> Tensor:
    """Mean absolute difference inside a UV region: textures (B, 3, S, S), uv_mask (S, S) -> (B,)."""
    m = uv_mask.to(texture.dtype)[None, None]
    return ((texture - truth).abs() * m).sum((1, 2, 3)) / (3 * m.sum()).clamp_min(1.0)


def valid_texels(atlas, size: int) -> Tensor:
    """(size, size) bool: the texels some face of the body maps to (``atlas.valid`` resampled)."""
    mask = torch.from_numpy(np.asarray(atlas.valid, dtype=np.float32))[None, None]
    return F.interpolate(mask, size=(size, size), mode="area")[0, 0] > 0.5


def skin_uv_mask(atlas, size: int) -> Tensor:
    """(size, size) bool: the texels of the face (the front of the head below the hairline) and the hands.

    ``atlas`` is a :class:`core.synth.atlas.TexelAtlas` of the body (any size; resampled here).
    """
    pos, joint = atlas.position, atlas.joint
    head = joint == JOINT_NAMES.index("head")
    nose = atlas.landmarks["nose"]
    eyes = (atlas.landmarks["leye"] + atlas.landmarks["reye"]) / 2
    face = head & (pos[..., 2] > nose[2] - 0.07) & (pos[..., 1] < eyes[1] + 0.03)
    hands = np.isin(joint, [JOINT_NAMES.index(n) for n in ("left_hand", "right_hand")])
    mask = torch.from_numpy((face | hands) & atlas.valid).float()[None, None]
    return F.interpolate(mask, size=(size, size), mode="area")[0, 0] > 0.5
