"""Make a clean rendered person mask look like a real segmentation / background-subtraction result.

CASIA-B silhouettes come from background subtraction, so they carry its errors; our renders are
exact. :func:`segmentation_noise` adds those errors, each scaled by ``strength`` in [0, 1]:

- boundary jitter: the contour moves in and out by a smooth random amount that varies along it;
- holes: blobs inside the body go missing, where clothing would match the background;
- missing chunk: sometimes a piece of a limb or foot is lost (a disc cut out of a thin part);
- shadow: sometimes a flat blob sticks out at the feet, as a cast shadow on the floor does;
- speckle: a few small detached false-positive blobs in the background.

Sizes scale with the person's height in pixels, so a 88x64 render and a 240x320 frame look alike.
All random draws are made up front and do not depend on ``strength``: for one generator state a
higher strength gives the same pattern, only stronger (nested holes, speckles, chunks).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_CANDIDATES = 10  # speckle candidates drawn; strength decides how many appear


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth zero-mean, unit-std random field (H, W) float64 with correlation length ~sigma px."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), max(sigma, 0.5), mode="reflect")
    return noise / max(float(noise.std()), 1e-12)


def _disc(shape: tuple[int, int], cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """(H, W) bool ellipse with centre (cy, cx) and semi-axes ry, rx in pixels."""
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx) / max(rx, 0.5)) ** 2 <= 1.0


def segmentation_noise(mask: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """(H, W) bool / uint8 person mask (non-zero = person) -> (H, W) bool mask with segmentation errors.

    ``strength`` 0 returns the mask unchanged (as bool, without drawing from ``rng``); 1 is a poor but
    usable segmentation. The result depends only on the mask, the generator state and ``strength``.
    An empty mask is returned unchanged (there is no person to size the errors by).
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected one (H, W) mask, got shape {mask.shape}")
    clean = mask != 0
    rows = np.flatnonzero(clean.any(1))
    if strength == 0.0 or rows.size == 0:
        return clean.copy()
    shape = clean.shape
    height = float(rows[-1] - rows[0] + 1)  # the person's height in pixels sets every size below
    s = float(strength)

    # every draw first, independent of strength (see the module docstring)
    jitter = _field(rng, shape, max(1.0, 0.012 * height))
    blobs = _field(rng, shape, 0.025 * height)
    chunk_u, chunk_at, shadow_u = rng.random(3)
    shadow_dy, shadow_side = rng.uniform(-1.0, 1.0, 2)
    speck_yx = rng.random((_CANDIDATES, 2)) * np.array(shape)
    speck_u, speck_r = rng.random(_CANDIDATES), rng.uniform(0.5, 1.5, _CANDIDATES)

    # signed distance to the contour, half a pixel either side of it: boundary pixels sit at +-0.5, so
    # a jitter above half a pixel flips them and none flips a pixel with zero jitter
    inside = ndimage.distance_transform_edt(clean)
    signed = np.where(clean, inside - 0.5, 0.5 - ndimage.distance_transform_edt(~clean))
    out = signed + s * 0.012 * height * np.clip(jitter, -2.5, 2.5) > 0

    # holes: the highest peaks of a smooth field, only well inside the body (not notches in the contour)
    interior = inside > max(2.0, 0.03 * height)
    if interior.any():
        level = np.quantile(blobs[interior], 1.0 - 0.04 * s)
        out &= ~(interior & (blobs > level))

    # a missing chunk of a limb or foot: a thin part (no pixel within 0.06 x height lies deeper than
    # that inside the body, which rules out the torso) below the head (the top 15% of the height)
    if chunk_u < 0.6 * s:
        reach = 2 * max(1, int(0.06 * height)) + 1  # odd window, +-0.06 x height
        thin = clean & (ndimage.maximum_filter(inside, size=reach) < 0.06 * height)
        thin[: rows[0] + int(0.15 * height)] = False
        where = np.argwhere(thin if thin.any() else clean)
        cy, cx = where[int(chunk_at * len(where))]
        radius = 0.04 * height * (0.5 + s)
        out &= ~_disc(shape, cy, cx, radius, radius)

    # a cast shadow at the feet: a flat ellipse on the ground line, off to one side, ragged edge
    if shadow_u < 0.7 * s:
        feet = np.flatnonzero(clean[rows[-1]])
        cx = feet.mean() + shadow_side * 0.15 * height
        rx, ry = 0.15 * height * s + 1.0, 0.02 * height * (0.5 + s) + 0.5
        yy, xx = np.ogrid[: shape[0], : shape[1]]
        ellipse = ((yy - rows[-1] - ry * 0.3 * shadow_dy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        out |= ellipse + 0.15 * jitter <= 1.0

    # speckle: small detached blobs anywhere in the frame (sensor noise, moving leaves, reflections)
    for (cy, cx), u, r in zip(speck_yx, speck_u, speck_r, strict=True):
        if u < 0.5 * s:
            radius = r * max(0.5, 0.01 * height)
            out |= _disc(shape, cy, cx, radius, radius)
    return out
