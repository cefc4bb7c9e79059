"""What a real surveillance camera and person detector do to a rendered person.

Order matters and follows the physical chain: the detector's box decides where the person sits in
the crop (:func:`jitter_box`), things in front of the person hide part of them (:func:`occlude`),
then the camera's colour response, resolution, blur and sensor noise act on the whole picture
(:func:`camera_response`, :func:`degrade`). All randomness comes from seeds in the nuisance, never
from the scene alone, so two pictures of one scene never share their noise.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from core.synth.nuisance import Nuisance
from core.synth.palette import fabric_colour


def jitter_box(layer: torch.Tensor, shift: tuple[float, float], zoom: float) -> torch.Tensor:
    """Move and scale a (C, H, W) layer about its centre: shift in fractions of the size
    (dx > 0 moves the content right, dy > 0 down), zoom > 1 enlarges. Outside is zero."""
    if shift == (0.0, 0.0) and zoom == 1.0:
        return layer
    theta = torch.tensor([[1.0 / zoom, 0.0, -2.0 * shift[0] / zoom], [0.0, 1.0 / zoom, -2.0 * shift[1] / zoom]])
    grid = F.affine_grid(theta[None], [1, *layer.shape], align_corners=False)
    return F.grid_sample(layer[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


def occluder_layer(
    kind: str, seed: int, size: tuple[int, int], person_cutouts: list[torch.Tensor] | None = None
) -> torch.Tensor | None:
    """(4, H, W) RGBA layer of something between the camera and the person, or None.

    person: another pedestrian (one of ``person_cutouts``, each (4, H, W)) passing at a side;
    pole: a lamp post or sign pole; bin: a bin or bollard low in front; car: a parked car's body
    across the lower part; sign: a board hiding the upper body.
    """
    if kind == "none":
        return None
    h, w = size
    rng = np.random.default_rng([seed, 0x0CC])
    layer = torch.zeros(4, h, w)
    if kind == "person":
        if not person_cutouts:
            return None
        cut = person_cutouts[int(rng.integers(len(person_cutouts)))]
        side = 1.0 if rng.random() < 0.5 else -1.0
        shifted = jitter_box(cut, (side * float(rng.uniform(0.45, 0.7)), float(rng.uniform(-0.03, 0.08))),
                             float(rng.uniform(1.0, 1.25)))  # fmt: skip
        return shifted
    colour = torch.tensor(fabric_colour(rng, "bottom")[1] if kind in ("car", "sign") else (0.35, 0.36, 0.37))
    colour = colour * float(rng.uniform(0.7, 1.2))
    ys = torch.arange(h)[:, None].float()
    xs = torch.arange(w)[None, :].float()
    if kind == "pole":
        width = w * float(rng.uniform(0.06, 0.14))
        x0 = w * float(rng.uniform(0.1, 0.9)) - width / 2
        alpha = ((xs >= x0) & (xs < x0 + width)).float().expand(h, w)
        shade = 0.75 + 0.5 * ((xs - x0) / width).clamp(0, 1)  # a round pole: lit on one side
    elif kind == "bin":
        width, height = w * float(rng.uniform(0.3, 0.55)), h * float(rng.uniform(0.2, 0.38))
        x0 = w * float(rng.uniform(-0.1, 0.8))
        alpha = ((xs >= x0) & (xs < x0 + width) & (ys >= h - height)).float()
        shade = torch.ones(1, w) * 0.9
    elif kind == "car":
        top = h * float(rng.uniform(0.55, 0.75))
        alpha = (ys >= top).float().expand(h, w)
        shade = 1.0 - 0.4 * ((ys - top) / (h - top)).clamp(0, 1)  # the body darkens towards the ground
    else:  # sign
        top, height = h * float(rng.uniform(0.1, 0.35)), h * float(rng.uniform(0.15, 0.3))
        x0, width = w * float(rng.uniform(-0.3, 0.5)), w * float(rng.uniform(0.5, 0.9))
        alpha = ((ys >= top) & (ys < top + height) & (xs >= x0) & (xs < x0 + width)).float()
        shade = torch.ones(1, 1)
    layer[:3] = colour[:, None, None] * shade
    layer[3] = alpha
    return layer


def occlude(image: torch.Tensor, layer: torch.Tensor | None) -> torch.Tensor:
    """(3, H, W) picture with an RGBA layer (4, H, W) composited in front."""
    if layer is None:
        return image
    alpha = layer[3:4]
    return layer[:3] * alpha + image * (1 - alpha)


def camera_response(image: torch.Tensor, n: Nuisance) -> torch.Tensor:
    """(3, H, W): white balance, exposure (EV), saturation and gamma of the camera."""
    gains = torch.tensor(n.white_balance)[:, None, None] * (2.0**n.exposure)
    image = (image * gains).clamp(0, 1)
    if n.saturation != 1.0:
        luma = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None]
        image = (luma + n.saturation * (image - luma)).clamp(0, 1)
    if n.gamma != 1.0:
        image = image.clamp_min(1e-6) ** (1.0 / n.gamma)
    return image


def _motion_kernel(length: float, angle_deg: float) -> torch.Tensor:
    size = 2 * math.ceil(length / 2) + 1
    kernel = torch.zeros(size, size)
    c = size // 2
    a = math.radians(angle_deg)
    for t in torch.linspace(-length / 2, length / 2, 4 * size):
        x, y = round(c + float(t) * math.cos(a)), round(c - float(t) * math.sin(a))
        kernel[y, x] += 1.0
    return kernel / kernel.sum()


def degrade(image: torch.Tensor, n: Nuisance) -> torch.Tensor:
    """(3, H, W): low resolution, Gaussian and motion blur, then sensor noise."""
    h, w = image.shape[-2:]
    if n.low_res > 1.0:
        small = (max(4, round(h / n.low_res)), max(2, round(w / n.low_res)))
        image = F.interpolate(image[None], size=small, mode="area")
        image = F.interpolate(image, size=(h, w), mode="bilinear", align_corners=False)[0]
    if n.blur > 0:
        from torchvision.transforms.functional import gaussian_blur

        k = 2 * int(np.ceil(2 * n.blur)) + 1
        image = gaussian_blur(image[None], [k, k], [n.blur, n.blur])[0]
    if n.motion_blur >= 1.0:
        kernel = _motion_kernel(n.motion_blur, n.motion_angle)
        pad = kernel.shape[-1] // 2
        padded = F.pad(image[:, None], (pad, pad, pad, pad), mode="replicate")
        image = F.conv2d(padded, kernel[None, None])[:, 0]
    if n.noise > 0:
        gen = torch.Generator().manual_seed(int(n.noise_seed) * 7919 + 17)
        # shot noise grows with brightness; a little colour noise on top of the luminance noise
        std = n.noise * (0.5 + image.clamp(0, 1).sqrt())
        image = image + std * (torch.randn((1, h, w), generator=gen) + 0.4 * torch.randn(image.shape, generator=gen))
    return image.clamp(0.0, 1.0)
