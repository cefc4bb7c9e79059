"""OpenGait's silhouette format: pretreatment as upstream (cv2 cubic, floor width, > half centre, drops),
the loader's exact-string ids and its crash conditions, and the segmentation-noise model.

The cv2 numbers below were produced once with opencv-python-headless 4.10.0 and 5.0.0 (identical
results; see docs/formats.md section 4), so CI checks them without OpenCV.
"""

import hashlib
import json
import pickle

import numpy as np
import pytest

import core.data.opengait as gait
from core.data.opengait import (
    check_opengait_tree,
    load_sequence,
    normalise_silhouette,
    opengait_id,
    opengait_ids,
    read_opengait,
    resize_cubic,
    save_sequence,
)
from core.synth.segnoise import segmentation_noise


def walker(height: int, width: int, swing: float = 0.3) -> np.ndarray:
    """(height, width) bool stick-figure walker 88% of the frame tall. Only + - * / sqrt, which IEEE
    rounds exactly, so the mask (and the hashes of its pretreatment) is the same on every platform."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    top, unit, cx = 0.06 * height, 0.11 * height, 0.5 * width
    m = ((yy - top - 0.5 * unit) / (0.5 * unit)) ** 2 + ((xx - cx) / (0.4 * unit)) ** 2 <= 1  # head
    m |= ((yy - top - 2.6 * unit) / (1.6 * unit)) ** 2 + ((xx - cx) / (0.75 * unit)) ** 2 <= 1  # torso
    for y0, y1, reach, radius in ((1.4, 4.0, 1.2, 0.25), (4.0, 8.0, 2.0, 0.33)):  # arms, legs
        for side in (-1, 1):
            ay, ax, dy, dx = top + y0 * unit, cx, (y1 - y0) * unit, side * reach * swing * unit
            t = np.clip(((yy - ay) * dy + (xx - ax) * dx) / (dy * dy + dx * dx), 0, 1)
            m |= np.sqrt((yy - ay - t * dy) ** 2 + (xx - ax - t * dx) ** 2) <= radius * unit
    return m


def sha16(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


# ---- cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC) on uint8, recorded from cv2 ----

CUBIC_UP_IN = [
    [78, 204, 64, 34, 16, 250], [233, 32, 103, 122, 13, 204], [138, 172, 208, 127, 124, 100],
    [12, 151, 222, 203, 251, 153], [211, 235, 80, 182, 176, 41], [88, 7, 141, 241, 73, 124],
    [223, 123, 222, 37, 84, 55],
]  # fmt: skip
CUBIC_UP_OUT = [  # 7x6 -> 9x11: replicated borders, negative lobes clipped at 0 and 255
    [53, 120, 210, 172, 68, 32, 26, 0, 43, 182, 255],
    [207, 157, 84, 60, 78, 96, 91, 15, 21, 157, 253],
    [232, 172, 88, 94, 150, 154, 123, 69, 56, 116, 159],
    [89, 120, 167, 213, 226, 187, 141, 155, 157, 122, 97],
    [0, 50, 130, 196, 220, 215, 204, 241, 243, 185, 143],
    [174, 206, 244, 186, 105, 127, 186, 218, 190, 102, 41],
    [149, 132, 107, 84, 90, 175, 234, 173, 98, 87, 83],
    [127, 79, 18, 69, 167, 204, 179, 108, 61, 92, 116],
    [242, 197, 135, 173, 230, 129, 19, 49, 85, 64, 47],
]  # fmt: skip
CUBIC_DOWN_IN = [
    [211, 60, 159, 237, 53, 138, 57, 140, 55, 21], [7, 18, 118, 67, 241, 138, 148, 221, 56, 33],
    [89, 208, 34, 193, 76, 167, 197, 242, 177, 243], [188, 250, 92, 195, 51, 159, 144, 36, 75, 222],
    [86, 85, 118, 94, 59, 57, 79, 37, 219, 116], [234, 130, 213, 138, 152, 113, 99, 19, 176, 169],
    [19, 47, 154, 254, 119, 163, 122, 70, 255, 89], [16, 219, 40, 224, 81, 35, 126, 236, 5, 89],
    [126, 246, 188, 201, 215, 100, 100, 63, 81, 192], [156, 171, 194, 167, 128, 117, 191, 124, 43, 131],
    [2, 183, 247, 240, 153, 163, 21, 209, 158, 222], [211, 214, 98, 50, 144, 140, 55, 227, 117, 251],
]  # fmt: skip
CUBIC_DOWN_OUT = [  # 12x10 -> 7x5
    [74, 176, 132, 132, 19], [177, 111, 103, 222, 209], [104, 112, 52, 47, 177], [97, 220, 150, 46, 204],
    [157, 130, 51, 197, 32], [167, 183, 113, 169, 78], [172, 128, 163, 127, 184],
]  # fmt: skip
CUBIC_MIXED_IN = [
    [0, 40, 29, 251, 223, 53, 151, 34, 104, 187, 90, 52, 42, 26],
    [241, 78, 231, 69, 193, 141, 27, 163, 232, 210, 0, 212, 206, 123],
    [219, 5, 216, 251, 140, 56, 112, 90, 66, 127, 166, 237, 50, 202],
    [114, 151, 10, 239, 132, 184, 150, 179, 60, 60, 245, 99, 142, 151],
    [179, 39, 93, 205, 136, 63, 254, 226, 87, 146, 9, 222, 81, 24],
    [163, 247, 208, 100, 246, 32, 81, 74, 90, 199, 19, 28, 146, 119],
    [61, 183, 137, 175, 185, 247, 242, 70, 67, 7, 187, 3, 211, 39],
    [71, 21, 217, 6, 1, 249, 46, 155, 92, 229, 142, 122, 173, 77],
    [19, 30, 17, 110, 145, 245, 172, 61, 215, 24, 207, 37, 109, 108],
]  # fmt: skip
CUBIC_MIXED_OUT = [  # 9x14 -> 4x20: rows shrink, columns grow
    [163, 101, 85, 158, 124, 147, 209, 149, 79, 65, 109, 173, 221, 217, 65, 37, 157, 175, 128, 72],
    [118, 145, 111, 23, 177, 229, 130, 168, 164, 141, 171, 107, 39, 53, 207, 225, 101, 120, 152, 169],
    [142, 215, 255, 214, 118, 151, 247, 98, 50, 87, 63, 64, 116, 182, 94, 4, 15, 128, 155, 114],
    [57, 12, 39, 152, 76, 0, 42, 218, 186, 63, 119, 136, 150, 179, 175, 137, 104, 140, 126, 88],
]  # fmt: skip
CUBIC_TALL_IN = [[182, 121, 97, 172, 150], [106, 159, 19, 250, 109], [196, 51, 49, 33, 80],
                 [144, 234, 47, 196, 230], [65, 193, 247, 254, 55]]  # fmt: skip


@pytest.mark.parametrize(
    "src, out",
    [(CUBIC_UP_IN, CUBIC_UP_OUT), (CUBIC_DOWN_IN, CUBIC_DOWN_OUT), (CUBIC_MIXED_IN, CUBIC_MIXED_OUT)],
    ids=["up", "down", "mixed"],
)
def test_cubic_resize_matches_cv2(src, out):
    src, out = np.array(src, np.uint8), np.array(out, np.uint8)
    got = resize_cubic(src, out.shape[1], out.shape[0])
    assert got.dtype == np.uint8 and got.shape == out.shape
    np.testing.assert_array_equal(got, out)


def test_cubic_resize_matches_cv2_tall_and_copies_same_size():
    got = resize_cubic(np.array(CUBIC_TALL_IN, np.uint8), 3, 64)  # 5x5 -> 64x3
    assert sha16(got) == "b9b08eb3f2e6aa2d" and int(got.sum()) == 24571
    assert got[::16].tolist() == [[168, 105, 161], [135, 31, 175], [152, 50, 67], [165, 100, 216]]
    img = np.array(CUBIC_UP_IN, np.uint8)
    same = resize_cubic(img, 6, 7)
    np.testing.assert_array_equal(same, img)
    assert same is not img


# normalise_silhouette(walker(...)) == OpenGait's imgs2pickle steps run with cv2 (sha256[:16] of the
# 64x64 bytes, row 32 columns 20..43, pixel sum); (height, width, swing, soft edge)
PRETREATED = [
    ((88, 64, 0.3, False), "e3914f70b67d1541", [0] * 7 + [1, 0, 165] + [255] * 6 + [95] + [0] * 7, 142224),
    ((240, 320, 0.1, False), "6f4a14ae2394b6e9", [0] * 10 + [253, 255, 255, 255, 255, 44] + [0] * 8, 119323),
    ((128, 88, -0.7, True), "4d32069619a376ef",
     [0] * 5 + [255, 255, 36, 0, 180, 255, 255, 255, 255, 255, 61, 0, 128, 255, 227, 0, 0, 0, 0], 162309),
    ((480, 640, 0.45, False), "81c91b0b1c92deb2",
     [0] * 7 + [32, 255, 0, 255, 255, 255, 255, 255, 223, 255, 255, 0, 0, 0, 0, 0, 0], 149587),
    ((64, 40, 0.5, False), "0f5be5cdf09c855c",
     [0] * 6 + [121, 145, 108, 206, 255, 255, 255, 255, 217, 107, 143, 130, 0, 0, 0, 0, 0, 0], 148946),
]  # fmt: skip


@pytest.mark.parametrize("case, digest, row32, total", PRETREATED, ids=[str(c[0][:2]) for c in PRETREATED])
def test_pretreatment_matches_opengait_with_cv2(case, digest, row32, total):
    height, width, swing, soft = case
    mask = walker(height, width, swing).astype(np.uint8) * 255
    if soft:  # a grey rim on the right, like an anti-aliased render
        mask = (mask // 255 * 200 + np.roll(mask, 1, 1) // 255 * 55).astype(np.uint8)
    sil = normalise_silhouette(mask)
    assert sil.dtype == np.uint8 and sil.shape == (64, 64)
    assert sil[32, 20:44].tolist() == row32
    assert int(sil.sum(dtype=np.int64)) == total and sha16(sil) == digest


def test_pretreatment_shape_dtype_and_input_kinds():
    mask = walker(120, 90)
    ref = normalise_silhouette(mask)
    assert ref.shape == (64, 64) and ref.dtype == np.uint8 and ref.flags.c_contiguous
    np.testing.assert_array_equal(normalise_silhouette(mask.astype(np.uint8)), ref)  # 0/1
    np.testing.assert_array_equal(normalise_silhouette(mask.astype(np.uint8) * 255), ref)  # 0/255
    assert normalise_silhouette(mask, height=32).shape == (32, 32)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        normalise_silhouette(np.stack([mask, mask]))


def test_width_is_floored(monkeypatch):
    seen = []

    def spy(img, width, height):
        seen.append((img.shape, width, height))
        return resize_cubic(img, width, height)

    monkeypatch.setattr(gait, "resize_cubic", spy)
    mask = np.zeros((120, 178), bool)
    mask[10:110, 60:120] = True  # 100 rows tall: 64 * 178 / 100 = 113.92
    assert normalise_silhouette(mask) is not None
    assert seen == [((100, 178), 113, 64)]  # floor (round would give 114); all 178 columns are kept


def test_centre_is_first_column_past_half_not_at_half():
    # two equally heavy full-height columns: the cumulative sum reaches exactly half at column 20,
    # so ">= half" would centre on 20; OpenGait's "> half" centres on 40. 64 rows: no resize.
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 20] = mask[:, 40] = 255
    sil = normalise_silhouette(mask)
    assert np.flatnonzero(sil.max(0)).tolist() == [12, 32]  # column 40 at the centre, 20 at 32 - 20


def test_centre_zero_and_small_frames_are_dropped():
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 0] = 255  # column 0 holds more than half the mass -> x_center 0 -> dropped
    mask[10:20, 5] = 255
    assert normalise_silhouette(mask) is None
    mask = np.roll(mask, 1, axis=1)  # same frame one column right: centre 1 is kept
    assert normalise_silhouette(mask) is not None

    mask = np.zeros((64, 64), np.uint8)
    mask[10:20, 30:34] = 250  # 40 pixels, sum exactly 10000: dropped (<= 10000)
    assert normalise_silhouette(mask) is None
    mask[21, 31] = 1  # sum 10001: kept
    assert normalise_silhouette(mask) is not None
    assert normalise_silhouette(np.zeros((50, 50), bool)) is None


def test_width_zero_raises_like_cv2_would():
    mask = np.zeros((130, 2), bool)
    mask[:, 1] = True  # 130 rows in a 2-wide frame: int(64 * 2 / 130) == 0
    with pytest.raises(ValueError, match="width 0"):
        normalise_silhouette(mask)


# ---- the loader ----


def _seq(path, frames=5, width=64, dtype=np.uint8):
    data = np.zeros((frames, 64, width), dtype)
    data[:, 10:50, 20:44] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(data, fh)


def test_partition_ids_are_exact_strings(tmp_path):
    for ident in ("001", "abc", "1"):
        _seq(tmp_path / ident / "nm-01" / "090" / "090.pkl")
    part = tmp_path / "partition.json"
    part.write_text(json.dumps({"TRAIN_SET": ["1"], "TEST_SET": ["001", "abc", "999"]}))
    split = read_opengait(tmp_path, part)
    assert [opengait_id(s) for s in split["train"]] == ["1"]  # "1" is not "001"
    assert [opengait_id(s) for s in split["test"]] == ["001", "abc"]  # "999" has no folder: dropped
    assert opengait_ids(tmp_path) == ["001", "1", "abc"]
    # int ids: "001" -> 1; "1" collides with it and "abc" is not a number: numbers above the largest
    ids = {opengait_id(s): s.identity for s in read_opengait(tmp_path)["all"]}
    assert ids == {"001": 1, "1": 2, "abc": 3}
    part.write_text(json.dumps({"TRAIN_SET": [1], "TEST_SET": ["001"]}))  # ints never match
    assert read_opengait(tmp_path, part)["train"] == []


def test_load_sequence_cut_option(tmp_path):
    path = tmp_path / "001" / "nm-01" / "090" / "090.pkl"
    _seq(path)
    assert load_sequence(path).shape == (5, 64, 44)
    stored = load_sequence(path, cut=False)
    assert stored.shape == (5, 64, 64) and stored.dtype == np.uint8


def test_check_opengait_tree_finds_each_problem(tmp_path):
    root = tmp_path / "sil"
    _seq(root / "001" / "nm-01" / "090" / "090.pkl")
    part = tmp_path / "partition.json"
    part.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": []}))
    assert check_opengait_tree(root) == [] and check_opengait_tree(root, part) == []
    part.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": ["002"]}))

    _seq(root / "001" / "nm-01" / "108" / "108.pkl")
    (root / "001" / "nm-01" / "108" / "notes.txt").write_text("x")
    _seq(root / "001" / "nm-02" / "090" / "090-a.pkl", frames=5)
    _seq(root / "001" / "nm-02" / "090" / "090-b.pkl", frames=4)
    _seq(root / "001" / "nm-03" / "090" / "090.pkl", frames=0)
    _seq(root / "001" / "nm-04" / "090" / "090.pkl", dtype=np.float32)
    (root / "001" / "nm-05" / "090").mkdir(parents=True)
    with open(root / "001" / "nm-05" / "090" / "090.pkl", "wb") as fh:
        pickle.dump(np.zeros((64, 64), np.uint8), fh)
    _seq(root / "001" / "nm-06" / "90" / "90.pkl")
    problems = check_opengait_tree(root, part)
    expected = [
        "'002' has no folder",
        "nm-01/108/notes.txt: not a .pkl",
        "nm-02/090: pkls of different lengths (090-a.pkl: 5, 090-b.pkl: 4)",
        "nm-03/090/090.pkl: no frames",
        "nm-04/090/090.pkl: expected a uint8 [T, H, W] ndarray, got float32 (5, 64, 64)",
        "nm-05/090/090.pkl: expected a uint8 [T, H, W] ndarray, got uint8 (64, 64)",
        "nm-06/90: CASIA-B view folders are 3 digits",
    ]
    for text in expected:
        assert sum(text in p for p in problems) == 1, (text, problems)
    assert len(problems) == len(expected)
    with pytest.raises(ValueError, match=r"would fail on .*nm-01/108/notes.txt: not a .pkl.*and 4 more"):
        read_opengait(root, part)
    assert len(read_opengait(root, part, check=False)["train"]) == 7


def test_only_harmless_problems_do_not_stop_the_reader(tmp_path):
    _seq(tmp_path / "001" / "nm-01" / "90" / "90.pkl")  # odd CASIA-B view name: OpenGait still loads it
    part = tmp_path / "p.json"
    part.write_text(json.dumps({"TRAIN_SET": ["001", "007"], "TEST_SET": []}))
    assert len(check_opengait_tree(tmp_path, part)) == 2
    assert len(read_opengait(tmp_path, part)["train"]) == 1
    part.write_text(json.dumps({"TRAIN": ["001"]}))
    assert check_opengait_tree(tmp_path, part) == [f"partition {part}: no TRAIN_SET list"]
    with pytest.raises(ValueError, match="no TRAIN_SET list"):
        read_opengait(tmp_path, part)


def test_written_sequences_pass_the_check(tmp_path):
    frames = np.zeros((6, 64, 64), np.uint8)
    frames[:, 8:60, 22:42] = 255
    save_sequence(tmp_path / "001" / "nm-01" / "000" / "000.pkl", frames)
    save_sequence(tmp_path / "abc" / "bg-01" / "018" / "018.pkl", frames)
    assert check_opengait_tree(tmp_path) == []
    assert {opengait_id(s) for s in read_opengait(tmp_path)["all"]} == {"001", "abc"}


# ---- segmentation noise ----


@pytest.fixture(scope="module")
def person():
    return walker(160, 120)


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_segnoise_strength_zero_is_identity(person):
    np.testing.assert_array_equal(segmentation_noise(person, np.random.default_rng(0), 0.0), person)
    out = segmentation_noise(person.astype(np.uint8) * 255, np.random.default_rng(0), 0.0)
    assert out.dtype == bool and np.array_equal(out, person)
    empty = np.zeros((40, 30), bool)
    np.testing.assert_array_equal(segmentation_noise(empty, np.random.default_rng(0), 1.0), empty)


def test_segnoise_iou_falls_with_strength(person):
    strengths = [0.0, 0.25, 0.5, 0.75, 1.0]
    means = [np.mean([iou(segmentation_noise(person, np.random.default_rng(seed), s), person)
                      for seed in range(6)]) for s in strengths]  # fmt: skip
    assert means[0] == 1.0 and all(a > b for a, b in zip(means, means[1:], strict=False)), means
    assert means[2] > 0.8 and means[-1] > 0.55, means
    for seed in range(6):  # one generator state: the same pattern, stronger
        a, b = (segmentation_noise(person, np.random.default_rng(seed), s) for s in (0.3, 0.9))
        assert iou(a, person) > iou(b, person)


def test_segnoise_is_deterministic_and_keeps_shape(person):
    mask = person.astype(np.uint8)
    before = mask.copy()
    a = segmentation_noise(mask, np.random.default_rng(7), 0.6)
    b = segmentation_noise(mask, np.random.default_rng(7), 0.6)
    c = segmentation_noise(mask, np.random.default_rng(8), 0.6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == mask.shape and a.dtype == bool
    np.testing.assert_array_equal(mask, before)  # the input is not modified
    with pytest.raises(ValueError, match="strength"):
        segmentation_noise(mask, np.random.default_rng(0), 1.5)


def test_segnoise_adds_and_removes_pixels(person):
    out = segmentation_noise(person, np.random.default_rng(3), 1.0)
    assert (out & ~person).sum() > 0 and (person & ~out).sum() > 0  # false positives and misses
