"""core.nn.augment: colour augmentation that keeps masked backgrounds and greys, and changes hues."""

import math

import numpy as np
import pytest
import torch

from core.nn.augment import hue_rotation, recolour


def test_hue_rotation_is_a_rotation_about_the_grey_axis():
    angles = torch.tensor([0.0, 0.5, math.pi, 5.0])
    r = hue_rotation(angles)
    assert r.shape == (4, 3, 3)
    assert torch.allclose(r[0], torch.eye(3), atol=1e-6)
    assert torch.allclose(r @ r.transpose(-1, -2), torch.eye(3).expand(4, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(r), torch.ones(4), atol=1e-5)
    grey = torch.tensor([0.3, 0.3, 0.3])
    assert torch.allclose(r @ grey, grey.expand(4, 3), atol=1e-6)
    # a third of a turn maps red to green to blue
    third = hue_rotation(torch.tensor(2 * math.pi / 3))
    assert torch.allclose(third @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)


def test_recolour_changes_each_clip_as_one_and_keeps_black():
    rng = np.random.default_rng(0)
    x = torch.zeros(6, 2, 4, 3, 8, 4)
    x[..., 0, 2:6, 1:3] = 0.8  # red clothes on a black background
    out, matrix = recolour(x, rng, share=1.0, gain=(1.0, 1.0))
    assert out.shape == x.shape and matrix.shape == (6, 2, 3, 3)
    assert out[..., :2, :].abs().max() == 0  # the background stays black
    body = out[..., 4, 2]  # (N, P, T, 3) one body pixel
    assert torch.allclose(body, body[:, :, :1].expand_as(body))  # every frame of a clip the same colour
    assert (body[:, 0, 0] - body[:, 1, 0]).abs().amax(-1).min() > 1e-3  # clips A and B differ
    assert (body[..., 0, :] - torch.tensor([0.8, 0.0, 0.0])).abs().amax(-1).max() > 0.1  # hues moved


def test_recolour_share_zero_is_the_identity():
    x = torch.rand(3, 2, 2, 3, 4, 4)
    out, matrix = recolour(x, np.random.default_rng(1), share=0.0)
    assert torch.equal(out, x)
    assert torch.equal(matrix, torch.eye(3).expand(3, 2, 3, 3))
    with pytest.raises(ValueError, match="share"):
        recolour(x, np.random.default_rng(1), share=1.5)
    with pytest.raises(ValueError, match="N, P, T, 3, H, W"):
        recolour(x[0], np.random.default_rng(1))
