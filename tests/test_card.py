"""The data card (core.synth.card) on tiny arrays and folders built here (no renderer: too slow)."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.metrics.reid import distance_matrix, market_rank
from core.reid import small_cnn
from core.synth import card

# ---------------------------------------------------------------- toy data


def toy_people(ids: int, per_id: int, seed: int, size: tuple[int, int] = (64, 32)) -> tuple[torch.Tensor, np.ndarray]:
    """uint8 (ids * per_id, 3, H, W) "people": an id-coloured torso and legs on a random background,
    at a jittered position and brightness; and their ids (1-based)."""
    rng = np.random.default_rng(seed)
    palette = np.random.default_rng(1234).uniform(0, 1, (ids + 1, 2, 3))  # same people whatever the seed
    h, w = size
    images, labels = [], []
    for ident in range(1, ids + 1):
        for _ in range(per_id):
            img = np.broadcast_to(rng.uniform(0, 1, 3)[:, None, None], (3, h, w)).copy()
            img += rng.normal(0, 0.05, img.shape)
            top, left = int(rng.integers(h // 16, h // 8)), int(rng.integers(w // 8, w // 4))
            gain = rng.uniform(0.8, 1.1)
            img[:, top : top + h // 2, left : w - left] = palette[ident, 0][:, None, None] * gain
            img[:, top + h // 2 : h - h // 16, left + 2 : w - left - 2] = palette[ident, 1][:, None, None] * gain
            images.append(img)
            labels.append(ident)
    x = torch.from_numpy((np.clip(np.stack(images), 0, 1) * 255).round().astype(np.uint8))
    return x, np.array(labels)


def write_face_folder(root: Path, ids: int = 8, bins=(4, 5, 6, 7, 8), illum=("l0", "l1"), split: bool = True) -> None:
    """110x110 PNGs: random background per image, a face-sized disk in the identity's colour."""
    rng = np.random.default_rng(0)
    colours = rng.uniform(0.1, 0.9, (ids + 1, 3))
    yy, xx = np.mgrid[:110, :110]
    disk = (yy - 60) ** 2 + (xx - 55) ** 2 < 30**2
    rows = []
    for ident in range(1, ids + 1):
        (root / f"{ident:04d}").mkdir(parents=True)
        for b in bins:
            for ill in illum:
                img = rng.uniform(0, 1, 3)[None, None, :] + rng.normal(0, 0.08, (110, 110, 3))
                img[disk] = colours[ident] * rng.uniform(0.85, 1.15)
                name = f"{ident:04d}/{ident:04d}_y{b:02d}_{ill}.png"
                Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(root / name)
                rows.append([name, ident, b, (b - 6) * 15, ill])
    with open(root / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "id", "yaw_bin", "yaw", "illumination"])
        writer.writerows(rows)
    if split:
        n_train = ids - ids * 2 // 5
        (root / "split.json").write_text(json.dumps({
            "train": [f"{i:04d}" for i in range(1, n_train + 1)],
            "test": [f"{i:04d}" for i in range(n_train + 1, ids + 1)],
        }))  # fmt: skip


def write_market(root: Path, size: tuple[int, int] = (64, 32)) -> None:
    """A tiny Market-1501 folder of toy people (JPEGs of ``size``), with junk and distractors."""
    x, labels = toy_people(8, 6, seed=5, size=size)
    folders = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
    for folder in folders.values():
        (root / folder).mkdir(parents=True)
    for n, (img, ident) in enumerate(zip(x, labels, strict=True)):
        cam = n % 6 + 1
        split = "train" if ident <= 4 else ("query" if n % 6 == 0 else "gallery")
        pid = ident if split == "train" else ident + 10
        name = f"{pid:04d}_c{cam}s1_{n:06d}_00.jpg"
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(root / folders[split] / name, quality=95)
    noise = np.random.default_rng(1).integers(0, 256, (size[0], size[1], 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "bounding_box_test" / "-1_c1s1_000001_00.jpg")
    Image.fromarray(noise).save(root / "bounding_box_test" / "0000_c2s1_000002_00.jpg")


# ---------------------------------------------------------------- hand-made features


def test_hsv_features_shape_identity_and_colour():
    gen = torch.Generator().manual_seed(0)
    colours = torch.tensor([[0.8, 0.2, 0.2], [0.2, 0.6, 0.3], [0.3, 0.3, 0.9]])[:, :, None, None]
    x = (colours + 0.05 * torch.randn(3, 3, 128, 64, generator=gen)).clamp(0, 1)
    f = card.hsv_stripe_features(x)
    assert f.shape == (3, 6 * 8 * 4 * 4) and f.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    same = card.hsv_stripe_features(x[[0, 0]])
    assert distance_matrix(same[:1], same[1:])[0, 0] == pytest.approx(0.0, abs=1e-6)
    recoloured = x[:1].clone()
    recoloured[:, :, :64] = recoloured[:, [1, 2, 0], :64]  # the upper body changes colour (red -> blue)
    d = distance_matrix(card.hsv_stripe_features(x[:1]), card.hsv_stripe_features(recoloured))[0, 0]
    assert d > 0.3
    # the histogram of the stripes that did not change is identical: stripes are independent
    g = card.hsv_stripe_features(recoloured)
    np.testing.assert_allclose(g[0, 4 * 128 :], f[0, 4 * 128 :], atol=1e-6)
    # uint8 input gives the same features as its float version
    u = (x * 255).round().to(torch.uint8)
    np.testing.assert_allclose(card.hsv_stripe_features(u), card.hsv_stripe_features(u.float() / 255), atol=1e-6)


def test_rgb_to_hsv_primaries():
    rgb = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [0, 0, 0]], dtype=torch.float32)
    hsv = card.rgb_to_hsv(rgb.T[None, :, :, None])[0, :, :, 0].T
    expected = [[0, 1, 1], [1 / 3, 1, 1], [2 / 3, 1, 1], [0, 0, 0.5], [0, 0, 0]]
    np.testing.assert_allclose(hsv.numpy(), expected, atol=1e-6)


def test_raw_pixels_ignore_a_brightness_offset():
    x = torch.rand(4, 3, 128, 64, generator=torch.Generator().manual_seed(1)) * 0.5
    f = card.raw_pixel_features(x)
    assert f.shape == (4, 3 * 32 * 16)
    np.testing.assert_allclose(f, card.raw_pixel_features(x + 0.3), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(f.mean(1), 0.0, atol=1e-6)
    assert not np.allclose(f[0], f[1])


def test_random_ranking_is_near_chance_and_seeded():
    # 10 ids, each with 20 queries in camera 0 and 5 gallery images in camera 1: chance Rank-1 = 5 / 50
    q_pids, g_pids = np.repeat(np.arange(10), 20), np.repeat(np.arange(10), 5)
    q_cams, g_cams = np.zeros(200, int), np.ones(50, int)
    result = card.random_ranking(q_pids, g_pids, q_cams, g_cams, seed=3)
    assert abs(result.rank1 - 0.1) < 0.07
    assert result.mAP < 0.3
    assert card.random_ranking(q_pids, g_pids, q_cams, g_cams, seed=3).rank1 == result.rank1


# ---------------------------------------------------------------- small CNN


def test_small_cnn_beats_random_on_toy_people():
    x, labels = toy_people(8, 10, seed=0)
    query_x, query_ids = toy_people(8, 2, seed=1)
    gallery_x, gallery_ids = toy_people(8, 4, seed=2)
    torch_threads = torch.get_num_threads()
    model = small_cnn.train_small_cnn(x, labels, steps=30, seed=0)
    assert torch.get_num_threads() == torch_threads  # restored
    assert not model.training
    qf, gf = small_cnn.cnn_features(model, query_x), small_cnn.cnn_features(model, gallery_x)
    assert qf.shape == (16, 256)
    np.testing.assert_allclose(np.linalg.norm(qf, axis=1), 1.0, atol=1e-5)
    q_cams, g_cams = np.zeros(len(query_ids), int), np.ones(len(gallery_ids), int)
    cnn = market_rank(distance_matrix(qf, gf), query_ids, gallery_ids, q_cams, g_cams)
    chance = card.random_ranking(query_ids, gallery_ids, q_cams, g_cams, seed=0)
    assert cnn.rank1 >= 0.6 and cnn.rank1 > chance.rank1 + 0.3
    assert cnn.mAP > chance.mAP + 0.2


def test_small_cnn_is_deterministic_and_leaves_the_global_rng_alone():
    x, labels = toy_people(4, 4, seed=0, size=(32, 16))
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = small_cnn.train_small_cnn(x, labels, steps=3, seed=7, p=4, k=2)
    assert torch.rand(1) == before  # training used its own RNG
    b = small_cnn.train_small_cnn(x, labels, steps=3, seed=7, p=4, k=2)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_batch_hard_triplet():
    emb = torch.tensor([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert small_cnn.batch_hard_triplet(emb, labels).item() == 0.0  # every positive is nearer than any negative
    swapped = torch.tensor([0, 1, 0, 1])
    assert small_cnn.batch_hard_triplet(emb, swapped).item() > 1.0


# ---------------------------------------------------------------- whole cards on tiny folders


def test_reid_card_on_a_tiny_market_folder(tmp_path):
    write_market(tmp_path, size=(64, 32))  # not 128x64: the card resizes
    data = card.load_market(tmp_path)
    assert data["train"].images.shape[1:] == (3, 128, 64)
    assert -1 not in data["gallery"].pids and 0 in data["gallery"].pids  # junk dropped, distractor kept
    assert data["query"].camids.min() >= 0
    rows = card.reid_card(tmp_path, cnn_steps=2)
    assert [r["method"] for r in rows] == [card.METHOD_RANDOM, card.METHOD_HSV, card.METHOD_RAW, card.METHOD_CNN]
    for r in rows:
        assert set(r) == {"method", "rank1", "rank5", "mAP", "seconds"}
        assert 0.0 <= r["rank1"] <= r["rank5"] <= 1.0 and r["seconds"] >= 0
    assert rows[1]["rank1"] == 1.0  # toy people are told apart by colour alone
    assert len(card.reid_card(tmp_path, cnn_steps=0)) == 3


def test_face_card_background_is_chance_and_face_is_not(tmp_path):
    write_face_folder(tmp_path)
    rows = {r["method"]: r for r in card.face_card(tmp_path)}
    assert set(rows) == {*card.BACKGROUND_METHODS, card.FACE_CENTRE}
    for method in card.BACKGROUND_METHODS:
        r = rows[method]
        assert r["chance"] == pytest.approx(1 / 3)  # test ids 6, 7, 8
        assert r["rank1"] <= max(2 * r["chance"], r["chance"] + 0.05)
    assert rows[card.FACE_CENTRE]["rank1"] >= 0.9
    assert card.check_targets(None, list(rows.values())) == []


def test_face_split_and_gallery_choice(tmp_path):
    write_face_folder(tmp_path, ids=5, bins=(5, 6), illum=("l0", "l2"), split=False)
    from core.data import read_face_folder

    samples = read_face_folder(tmp_path)
    assert card.face_test_ids(tmp_path, samples) == [4, 5]  # the last 40 % without split.json
    picks = card._face_gallery(samples)
    assert [(samples[i].camera, samples[i].condition) for i in picks] == [(6, "l0")] * 5  # no l1: the first


def test_face_card_flags_a_background_leak(tmp_path):
    write_face_folder(tmp_path, ids=10)
    from core.data import read_face_folder

    # paint each identity's own colour into the frame: the background now tells who it is
    for s in read_face_folder(tmp_path):
        img = np.asarray(Image.open(s.path)).copy()
        colour = (s.identity * 25, 255 - s.identity * 25, 128)
        img[:12], img[-12:], img[:, :12], img[:, -12:] = colour, colour, colour, colour
        Image.fromarray(img).save(s.path)
    rows = card.face_card(tmp_path)
    messages = card.check_targets(None, rows)
    assert len(messages) == 2 and all("leaks" in m for m in messages)


def test_gait_card_on_a_tiny_opengait_tree(tmp_path):
    rng = np.random.default_rng(0)
    conditions = ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "bg-01", "cl-01")
    for ident in (1, 2, 3, 4):
        shape = rng.integers(0, 2, (64, 44)).astype(np.uint8) * 255
        for cond in conditions:
            for view in ("000", "090"):
                frames = np.repeat(shape[None], 5, 0)
                if cond == "cl-01":  # a coat hides the silhouette
                    frames = np.full_like(frames, 255)
                path = tmp_path / "sil" / f"{ident:03d}" / cond / view / f"{view}.pkl"
                path.parent.mkdir(parents=True)
                path.write_bytes(pickle.dumps(frames))
    (tmp_path / "partition.json").write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": ["002", "003", "004"]}))
    (row,) = card.gait_card(tmp_path)
    assert row["method"] == card.GAIT_GEI
    assert row["NM"] == 1.0 and row["BG"] == 1.0
    assert row["CL"] == pytest.approx(1 / 3)  # all alike: the first gallery sequence wins


# ---------------------------------------------------------------- report


REID_ROWS = [
    {"method": card.METHOD_RANDOM, "rank1": 0.012, "rank5": 0.05, "mAP": 0.02, "seconds": 0.01},
    {"method": card.METHOD_HSV, "rank1": 0.321, "rank5": 0.5, "mAP": 0.15, "seconds": 2.0},
    {"method": card.METHOD_RAW, "rank1": 0.2, "rank5": 0.4, "mAP": 0.1, "seconds": 0.5},
    {"method": card.METHOD_CNN, "rank1": 0.7, "rank5": 0.9, "mAP": 0.5, "seconds": 150.0},
]
FACE_ROWS = [
    {"method": card.FACE_BORDER_PIXELS, "rank1": 0.03, "chance": 0.02},
    {"method": card.FACE_BORDER_HIST, "rank1": 0.05, "chance": 0.02},
    {"method": card.FACE_CENTRE, "rank1": 0.8, "chance": 0.02},
]
GAIT_ROWS = [{"method": card.GAIT_GEI, "NM": 0.9, "BG": 0.5, "CL": None}]


def test_format_card_has_three_tables():
    text = card.format_card(REID_ROWS, FACE_ROWS, GAIT_ROWS)
    assert "| method | Rank-1 % | Rank-5 % | mAP % | seconds |" in text
    assert f"| {card.METHOD_HSV} | 32.1 | 50.0 | 15.0 | 2.0 |" in text
    assert "| method | Rank-1 % | chance % |" in text
    assert f"| {card.FACE_CENTRE} | 80.0 | 2.0 |" in text
    assert f"| {card.GAIT_GEI} | 90.0 | 50.0 | – |" in text
    assert "All targets checked are met." in text
    assert card.format_card(None, [], None).count("Not run.") == 3


def test_a_rewritten_card_keeps_its_hand_kept_sets_table():
    """eval data --out onto an existing card: the new measurements replace the old sections, the opening
    (comment, sets table, notes) the maintainers keep by hand stays."""
    previous = "<!-- kept -->\n# Data card\n\n| set | size |\n|---|---|\n| face | 400 people |\n\n## Re-ID\n\nold\n"
    new = card.format_card(REID_ROWS, FACE_ROWS, GAIT_ROWS)
    merged = card.keep_hand_kept_preamble(previous, new)
    assert merged.startswith("<!-- kept -->\n# Data card\n\n| set | size |") and "| face | 400 people |" in merged
    assert "\nold\n" not in merged and f"| {card.METHOD_HSV} | 32.1 | 50.0 | 15.0 | 2.0 |" in merged
    assert merged.endswith(new[new.index("\n## ") :])
    assert card.keep_hand_kept_preamble("no sections at all", new) == new


def test_check_targets_flags_a_saturated_cnn_and_easy_colour():
    assert card.check_targets(REID_ROWS, FACE_ROWS) == []
    rows = [dict(r) for r in REID_ROWS]
    rows[3]["rank1"] = 0.99
    (message,) = card.check_targets(rows, FACE_ROWS)
    assert card.METHOD_CNN in message and "too easy" in message
    rows[1]["rank1"] = 0.9
    rows[2]["rank1"] = 0.05
    assert len(card.check_targets(rows, FACE_ROWS)) == 3
    assert "MISSED" in card.format_card(rows, FACE_ROWS, GAIT_ROWS)
    # near chance: at most max(2 x chance, chance + 5 points)
    assert card.check_targets(None, [{"method": card.FACE_BORDER_PIXELS, "rank1": 0.069, "chance": 0.02}]) == []
    assert len(card.check_targets(None, [{"method": card.FACE_BORDER_PIXELS, "rank1": 0.071, "chance": 0.02}])) == 1
