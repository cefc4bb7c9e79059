"""The fair swap bar's scores (core.metrics.swap) on pictures whose answers are known: Lab against the
standard's published values, colour differences of known size, blur and sharpness, the recolour baseline."""

from __future__ import annotations

import pytest
import torch

from core.metrics.swap import (
    blurred,
    changed_region,
    clothes_bands,
    clothes_delta_e,
    kept_ssim,
    lab_to_rgb,
    person_region,
    person_scores,
    recolour,
    rgb_to_lab,
    sharpness_ratio,
)


def test_lab_matches_published_values_and_inverts():
    colours = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]])
    lab = rgb_to_lab(colours.T.reshape(3, 5, 1))[:, :, 0].T
    # sRGB primaries in CIE Lab (D65), e.g. Bruce Lindbloom's calculator
    expected = torch.tensor([[53.24, 80.09, 67.20], [87.73, -86.18, 83.18], [32.30, 79.19, -107.86],
                             [100.0, 0.0, 0.0], [53.39, 0.0, 0.0]])  # fmt: skip
    torch.testing.assert_close(lab, expected, atol=0.02, rtol=0)
    x = torch.rand(2, 3, 16, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(lab_to_rgb(rgb_to_lab(x)), x, atol=1e-4, rtol=0)


def _person(n: int = 2, h: int = 32, w: int = 16) -> torch.Tensor:
    mask = torch.zeros(n, h, w, dtype=torch.bool)
    mask[:, 4:30, 5:11] = True
    return mask


def test_clothes_delta_e_measures_a_known_lightness_shift():
    mask = _person()
    truth = torch.full((2, 3, 32, 16), 0.5)
    truth[:, :, 4:30, 5:11] = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1)
    assert clothes_delta_e(truth, truth, mask).abs().max() < 1e-4
    lab = rgb_to_lab(truth)
    lab[:, 0] += 10 * mask  # +10 lightness on the clothes only
    shifted = lab_to_rgb(lab)
    torch.testing.assert_close(clothes_delta_e(shifted, truth, mask), torch.full((2,), 10.0), atol=0.1, rtol=0)
    # an empty changed region scores 0: nothing had to change
    assert clothes_delta_e(shifted, truth, torch.zeros_like(mask)).abs().max() == 0


def test_region_means_forgive_blur_but_not_a_wrong_colour():
    g = torch.Generator().manual_seed(1)
    truth = torch.rand(3, 3, 64, 32, generator=g) * 0.3 + 0.35
    mask = torch.zeros(3, 64, 32, dtype=torch.bool)
    mask[:, 8:60, 4:28] = True
    truth[:, 0] += 0.3 * mask  # reddish clothes
    soft = blurred(truth, 1.0)
    wrong = truth.clone()
    wrong[:, :, 8:60, 4:28] = wrong[:, :, 8:60, 4:28].flip(1)  # blue instead of red
    assert float(clothes_delta_e(soft, truth, mask).max()) < 2.5
    assert float(clothes_delta_e(wrong, truth, mask).min()) > 20.0
    assert float(kept_ssim(truth, truth, mask).min()) == pytest.approx(1.0, abs=1e-5)
    # sharpness: the truth is 1 against itself and a blur loses most of its fine detail
    torch.testing.assert_close(sharpness_ratio(truth, truth, mask), torch.ones(3))
    assert float(sharpness_ratio(soft, truth, mask).max()) < 0.5


def test_regions_grow_the_silhouette_and_find_what_changed():
    mask = _person(1)
    grown = person_region(mask, torch.zeros_like(mask), dilate_px=2)
    assert int(grown.sum()) == (26 + 4) * (6 + 4) - 0 and grown[0, 2, 3] and not grown[0, 1, 3]
    structure = torch.zeros(1, 3, 32, 16)
    truth = structure.clone()
    truth[:, :, 10:20, 5:11] = 1.0  # new clothes on part of the body
    changed = changed_region(truth, structure, grown)
    assert int(changed.sum()) == 10 * 6
    scores = person_scores(structure, truth, grown, changed, mask & ~changed)
    assert set(scores) == {"clothes_delta_e", "kept", "person_ssim", "person_l1", "ssim", "sharpness"}
    assert float(scores["clothes_delta_e"][0]) > 50  # black instead of white
    assert float(scores["kept"][0]) > float(scores["person_ssim"][0])  # kept pixels match, changed ones do not


def test_recolour_moves_j_bands_to_i_colours():
    j_mask, i_mask = _person(1), _person(1).roll(1, 2)
    j = torch.full((1, 3, 32, 16), 0.5)
    i = torch.full((1, 3, 32, 16), 0.5)
    upper_j, lower_j = clothes_bands(j_mask)
    upper_i, lower_i = clothes_bands(i_mask)
    assert int(upper_j.sum()) > 0 and int(lower_j.sum()) > 0 and not (upper_j & lower_j).any()
    j[:, :, upper_j[0]] = torch.tensor([0.1, 0.1, 0.8]).view(3, 1)  # j: blue top, green bottom
    j[:, :, lower_j[0]] = torch.tensor([0.1, 0.7, 0.1]).view(3, 1)
    i[:, :, upper_i[0]] = torch.tensor([0.8, 0.1, 0.1]).view(3, 1)  # i: red top, yellow bottom
    i[:, :, lower_i[0]] = torch.tensor([0.8, 0.8, 0.1]).view(3, 1)
    out = recolour(j, j_mask, i, i_mask)
    torch.testing.assert_close(out[0, :, upper_j[0]].mean(1), torch.tensor([0.8, 0.1, 0.1]), atol=0.02, rtol=0)
    torch.testing.assert_close(out[0, :, lower_j[0]].mean(1), torch.tensor([0.8, 0.8, 0.1]), atol=0.02, rtol=0)
    outside = ~(upper_j | lower_j)[0]
    torch.testing.assert_close(out[0][:, outside], j[0][:, outside], atol=1e-4, rtol=0)  # head and scene kept
