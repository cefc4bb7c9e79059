"""The data card behind ``python -m core eval data``: baselines showing that a synthetic set is hard
enough and free of label leaks.

- Re-ID (Market-1501 root, torchreid's protocol via :func:`core.metrics.reid.market_rank`): random
  ranking (chance), HSV stripe histograms and raw pixels (hand-made features), and a small CNN trained
  from scratch for a fixed number of steps (:mod:`core.reid.small_cnn`). A set where colour alone finds
  the person, or where a tiny CNN saturates, is too easy to tell methods apart.
- Faces (``labels.csv`` folder): nearest-neighbour identification from the background alone (the
  outer frame of the image) must be near chance; from the face (centre crop) it should be well above.
- Gait (OpenGait tree): GEI nearest neighbour under the CASIA-B protocol
  (:func:`core.metrics.gait.casia_b_rank1`).

Every function is deterministic given its seed; torch's global RNG and thread count are restored on
return. Images travel as uint8 tensors (N, 3, H, W); feature functions also take float in [0, 1].
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.data import Sample, load_sequence, read_face_folder, read_opengait
from core.data.market import MarketImages, load_images, load_market
from core.data.opengait import opengait_id
from core.metrics.gait import casia_b_rank1
from core.metrics.reid import RankResult, distance_matrix, market_rank
from core.reid.small_cnn import (
    DEFAULT_CNN_STEPS,
    as_float,
    chunks,
    cnn_features,
    torch_session,
    train_small_cnn,
)

__all__ = [
    "BACKGROUND_METHODS",
    "CNN_TARGET",
    "HANDMADE_METHODS",
    "HANDMADE_TARGET",
    "REID_TARGETS",
    "MarketImages",
    "check_targets",
    "face_card",
    "face_features",
    "face_test_ids",
    "format_card",
    "keep_hand_kept_preamble",
    "gait_card",
    "gei_features",
    "hsv_stripe_features",
    "load_images",
    "load_market",
    "random_ranking",
    "raw_pixel_features",
    "reid_card",
]  # fmt: skip

Progress = Callable[[Iterable, int], Iterable]
"""``progress(iterable, total) -> iterable``, as the dataset writers take (e.g. a tqdm wrapper)."""

REID_SIZE = (128, 64)  # (H, W) every re-ID image is brought to
FACE_SIZE = 110  # the stored size of DR-GAN-style face crops
FACE_BORDER = 12  # width in px (at 110x110) of the frame that holds only background


METHOD_RANDOM = "random ranking"
METHOD_HSV = "HSV stripe histograms"
METHOD_RAW = "raw pixels 32x16"
METHOD_CNN = "small CNN from scratch"
HANDMADE_METHODS = (METHOD_HSV, METHOD_RAW)
HANDMADE_TARGET = (0.15, 0.50)  # Rank-1 band of hand-made features (real Market: about 35-45 % for colour)
CNN_TARGET = (0.50, 0.85)  # Rank-1 band of the small CNN: learnable, not saturated
REID_TARGETS = {METHOD_HSV: HANDMADE_TARGET, METHOD_RAW: HANDMADE_TARGET, METHOD_CNN: CNN_TARGET}

FACE_BORDER_PIXELS = "background only: border pixels"
FACE_BORDER_HIST = "background only: border colour histogram"
FACE_CENTRE = "face: centre crop pixels"
BACKGROUND_METHODS = (FACE_BORDER_PIXELS, FACE_BORDER_HIST)

GAIT_GEI = "GEI nearest neighbour"
GAIT_GROUPS = ("NM", "BG", "CL")

_HSV_BINS = (8, 4, 4)
_STRIPES = 6
_EPS = 1e-12


# ------------------------------------------------------------------------------------------------
# shared helpers


def _nearest_neighbour_rank1(probe: np.ndarray, gallery: np.ndarray, probe_ids, gallery_ids) -> float:
    """Fraction of probes (P, D) whose nearest gallery row (G, D), euclidean, has the same id."""
    nearest = np.argmin(distance_matrix(probe, gallery), axis=1)
    return float(np.mean(np.asarray(gallery_ids)[nearest] == np.asarray(probe_ids)))


# ------------------------------------------------------------------------------------------------
# hand-made features


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB float in [0, 1] -> HSV, each channel in [0, 1] (hue 0 for greys)."""
    r, g, b = x.unbind(1)
    maxc = x.amax(1)
    delta = maxc - x.amin(1)
    sat = torch.where(maxc > 0, delta / maxc.clamp_min(_EPS), torch.zeros_like(maxc))
    d = delta.clamp_min(_EPS)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    hue = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(delta > 0, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    return torch.stack([hue, sat, maxc], 1)


def _hsv_histograms(x: torch.Tensor, regions: torch.Tensor, n_regions: int) -> torch.Tensor:
    """Hellinger HSV histograms: x (N, 3, H, W) float [0, 1], regions (H, W) long (-1 = unused)
    -> (N, n_regions * 128), each region's histogram L1-normalised then square-rooted, and the whole
    vector divided by sqrt(n_regions) (unit L2 norm)."""
    nh, ns, nv = _HSV_BINS
    n_bins = nh * ns * nv
    hsv = rgb_to_hsv(x)
    bins = [(hsv[:, c] * n).long().clamp_(0, n - 1) for c, n in enumerate(_HSV_BINS)]
    code = (bins[0] * ns + bins[1]) * nv + bins[2]  # (N, H, W)
    used = regions >= 0
    code = code[:, used] + regions[used] * n_bins  # (N, pixels)
    n = x.shape[0]
    code = code + torch.arange(n)[:, None] * (n_regions * n_bins)
    hist = torch.bincount(code.flatten(), minlength=n * n_regions * n_bins).view(n, n_regions, n_bins).float()
    hist = hist / hist.sum(2, keepdim=True).clamp_min(1.0)
    return (hist.sqrt() / math.sqrt(n_regions)).flatten(1)


def hsv_stripe_features(images: torch.Tensor | np.ndarray, stripes: int = _STRIPES, chunk: int = 256) -> np.ndarray:
    """Colour histograms of horizontal stripes, the classic hand-made re-ID baseline.

    Args:
        images: (N, 3, H, W) float in [0, 1] (or uint8).
        stripes: horizontal bands of equal height (row r belongs to band r * stripes // H).

    Returns:
        float32 (N, stripes * 128): per stripe an 8x4x4 HSV histogram, L1-normalised and
        square-rooted (Hellinger), concatenated and scaled to unit L2 norm. Euclidean distance between
        two such vectors is a Hellinger distance; identical images are at distance 0.
    """
    x = torch.as_tensor(images)
    h, w = x.shape[-2:]
    regions = (torch.arange(h) * stripes // h)[:, None].expand(h, w)
    out = [_hsv_histograms(as_float(x[s]), regions, stripes) for s in chunks(len(x), chunk)]
    return torch.cat(out).numpy() if out else np.zeros((0, stripes * 128), np.float32)


def _standardise(x: torch.Tensor) -> torch.Tensor:
    """(N, D) -> zero mean, unit L2 norm per row (a flat row stays zero)."""
    x = x - x.mean(1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(_EPS)


def raw_pixel_features(images: torch.Tensor | np.ndarray, size: tuple[int, int] = (32, 16)) -> np.ndarray:
    """Raw pixels: (N, 3, H, W) float [0, 1] (or uint8) -> float32 (N, 3 * 32 * 16).

    Each image is area-downsampled to ``size`` (H, W), flattened and standardised (zero mean, unit
    norm), so adding a constant to every pixel, or scaling the contrast, leaves it unchanged.
    """
    x = F.interpolate(as_float(images), size=size, mode="area")
    return _standardise(x.flatten(1)).numpy()


def random_ranking(q_pids, g_pids, q_camids, g_camids, seed: int = 0) -> RankResult:
    """Chance level: uniform random (Q, G) distances (seeded) scored by :func:`market_rank`."""
    rng = np.random.default_rng(seed)
    dist = rng.random((len(q_pids), len(g_pids)))
    return market_rank(dist, q_pids, g_pids, q_camids, g_camids)


# ------------------------------------------------------------------------------------------------
# re-ID card


def _reid_row(method: str, result: RankResult, start: float) -> dict:
    return {"method": method, "rank1": result.rank1, "rank5": result.rank(min(5, len(result.cmc))),
            "mAP": result.mAP, "seconds": time.perf_counter() - start}  # fmt: skip


def _rank(q_feats: np.ndarray, g_feats: np.ndarray, query: MarketImages, gallery: MarketImages) -> RankResult:
    dist = distance_matrix(q_feats, g_feats, "euclidean")
    return market_rank(dist, query.pids, gallery.pids, query.camids, gallery.camids)


def reid_card(
    root: str | Path, cnn_steps: int = DEFAULT_CNN_STEPS, seed: int = 0, progress: Progress | None = None
) -> list[dict]:
    """Re-ID baselines on a Market-1501 root, scored with torchreid's protocol.

    Args:
        root: folder with bounding_box_train, query, bounding_box_test (or torchreid's nesting).
        cnn_steps: training steps of the small CNN; 0 leaves the CNN row out.
        seed: seeds the random ranking and the CNN.
        progress: wraps the CNN's training steps (``progress(iterable, total)``).

    Returns:
        rows {method, rank1, rank5, mAP, seconds} (fractions; seconds of compute, training included)
        for random ranking, HSV stripe histograms, raw pixels and the small CNN.
    """
    data = load_market(root)
    train, query, gallery = data["train"], data["query"], data["gallery"]
    rows = []
    start = time.perf_counter()
    rows.append(_reid_row(METHOD_RANDOM, random_ranking(query.pids, gallery.pids, query.camids, gallery.camids,
                                                        seed), start))  # fmt: skip
    with torch_session():
        for method, feat in ((METHOD_HSV, hsv_stripe_features), (METHOD_RAW, raw_pixel_features)):
            start = time.perf_counter()
            rows.append(_reid_row(method, _rank(feat(query.images), feat(gallery.images), query, gallery), start))
    if cnn_steps > 0:
        start = time.perf_counter()
        model = train_small_cnn(train.images, train.pids, steps=cnn_steps, seed=seed, progress=progress)
        qf, gf = cnn_features(model, query.images, bf16=True), cnn_features(model, gallery.images, bf16=True)
        result = _rank(qf, gf, query, gallery)
        rows.append(_reid_row(METHOD_CNN, result, start))
    return rows


# ------------------------------------------------------------------------------------------------
# face leak check


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def face_test_ids(root: str | Path, samples: Sequence[Sample]) -> list[int]:
    """Test identities: ``split.json``'s "test" list, else the last 40 % of the sorted ids."""
    split = Path(root) / "split.json"
    ids = sorted({s.identity for s in samples})
    if split.exists():
        wanted = {int(i) for i in json.loads(split.read_text())["test"]}
        return [i for i in ids if i in wanted]
    n_test = max(1, round(0.4 * len(ids)))
    return ids[len(ids) - n_test :]


def _face_gallery(samples: Sequence[Sample], frontal_bin: int = 6) -> list[int]:
    """Index of each identity's gallery image: the frontal (yaw bin 6) shot under illumination l1,
    or the first illumination present; the bin nearest frontal if an identity has no frontal shot."""
    by_id: dict[int, list[int]] = {}
    for i, s in enumerate(samples):
        by_id.setdefault(s.identity, []).append(i)
    picks = []
    for ident in sorted(by_id):
        idx = by_id[ident]
        best = min(abs(samples[i].camera - frontal_bin) for i in idx)
        frontal = [i for i in idx if abs(samples[i].camera - frontal_bin) == best]
        lit = [i for i in frontal if samples[i].condition == "l1"]
        picks.append(lit[0] if lit else min(frontal, key=lambda i: (_natural(samples[i].condition), i)))
    return picks


def _border_regions(size: int, border: int) -> torch.Tensor:
    """(size, size) long: 0 on the outer ``border``-px frame, -1 inside."""
    regions = torch.zeros((size, size), dtype=torch.long)
    regions[border : size - border, border : size - border] = -1
    return regions


def face_features(images: torch.Tensor, border: int = FACE_BORDER) -> dict[str, np.ndarray]:
    """Features of (N, 3, S, S) face crops (S = 110 usually; ``border`` is in px at 110).

    Returns:
        {FACE_BORDER_PIXELS: the frame's pixels at half resolution, standardised (N, ~3 * 1.2k),
        FACE_BORDER_HIST: the frame's Hellinger HSV histogram (N, 128),
        FACE_CENTRE: the central half (S/2 x S/2) area-resized to 28x28, standardised (N, 2352)}.
    """
    x = as_float(images)
    size = x.shape[-1]
    b = max(1, round(border * size / FACE_SIZE))
    half = F.interpolate(x, size=(size // 2, size // 2), mode="area")
    frame = (_border_regions(size // 2, max(1, b // 2)) == 0).expand(3, -1, -1).flatten()
    border_pixels = half.flatten(1)[:, frame]
    c0, c1 = size // 4, size - size // 4
    centre = F.interpolate(x[:, :, c0:c1, c0:c1], size=(28, 28), mode="area")
    return {
        FACE_BORDER_PIXELS: _standardise(border_pixels).numpy(),
        FACE_BORDER_HIST: _hsv_histograms(x, _border_regions(size, b), 1).numpy(),
        FACE_CENTRE: _standardise(centre.flatten(1)).numpy(),
    }


def face_card(root: str | Path) -> list[dict]:
    """Leak check of a face folder (``labels.csv``; test ids from ``split.json``).

    Among the test identities the gallery is one frontal image per identity (:func:`_face_gallery`)
    and every other test image is a probe. Rank-1 of the nearest gallery image (euclidean) with
    background-only features (the outer frame) must be near chance; with the face (centre crop) it
    should be far above.

    Returns:
        rows {method, rank1, chance} with chance = 1 / number of test identities.
    """
    samples = read_face_folder(root)
    test_ids = set(face_test_ids(root, samples))
    test = [s for s in samples if s.identity in test_ids]
    if not test:
        raise ValueError(f"{root}: no image of a test identity")
    gallery_idx = _face_gallery(test)
    in_gallery = set(gallery_idx)
    probe_idx = [i for i in range(len(test)) if i not in in_gallery]
    if not probe_idx:
        raise ValueError(f"{root}: each test identity has one image only; nothing to probe")
    with torch_session():
        feats = face_features(load_images([s.path for s in test], (FACE_SIZE, FACE_SIZE)))
    ids = np.array([s.identity for s in test])
    chance = 1.0 / len(gallery_idx)
    return [
        {"method": method, "rank1": _nearest_neighbour_rank1(f[probe_idx], f[gallery_idx], ids[probe_idx],
                                                             ids[gallery_idx]), "chance": chance}
        for method, f in feats.items()
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------------
# gait


def gei_features(paths: Sequence[str | Path]) -> np.ndarray:
    """Gait energy images: each sequence's mean silhouette in [0, 1] -> float32 (N, 64 * 44)."""
    feats = [load_sequence(p).astype(np.float32).mean(0).ravel() / 255.0 for p in paths]
    return np.stack(feats) if feats else np.zeros((0, 64 * 44), np.float32)


def gait_card(root: str | Path) -> list[dict]:
    """GEI nearest neighbour on the test ids of an OpenGait tree (``root/sil``, ``root/partition.json``),
    scored with the CASIA-B protocol (gallery nm-01..04; identical view excluded).

    Returns:
        one row {method, NM, BG, CL}: Rank-1 fractions, None for a probe group absent from the set.
    """
    root = Path(root)
    test = read_opengait(root / "sil", root / "partition.json")["test"]
    if not test:
        raise ValueError(f"{root}: partition.json's TEST_SET has no sequence under sil/")
    result = casia_b_rank1(
        gei_features([s.path for s in test]),
        labels=[opengait_id(s) for s in test],
        conditions=[s.condition for s in test],
        views=[s.path.parent.name for s in test],
    )
    return [{"method": GAIT_GEI, **{g: result.mean.get(g) for g in GAIT_GROUPS}}]


# ------------------------------------------------------------------------------------------------
# report


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100.0 * value:.1f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _near_chance(rank1: float, chance: float) -> bool:
    return rank1 <= max(2.0 * chance, chance + 0.05)


def check_targets(reid_rows: Sequence[dict] | None, face_rows: Sequence[dict] | None) -> list[str]:
    """One message per target missed (empty list when all are met; rows absent are not judged).

    Targets: hand-made re-ID features (HSV stripes, raw pixels) Rank-1 within HANDMADE_TARGET; the
    small CNN within CNN_TARGET; each background-only face row at most max(2 x chance, chance + 5 pts).
    """
    messages = []
    for row in reid_rows or ():
        band = REID_TARGETS.get(row["method"])
        if band is None:
            continue
        lo, hi = band
        r1 = row["rank1"]
        if r1 < lo:
            messages.append(f"re-ID {row['method']}: Rank-1 {_pct(r1)}% is below the {_pct(lo)}-{_pct(hi)}% target "
                            "(the set may be too hard or broken)")  # fmt: skip
        elif r1 > hi:
            messages.append(f"re-ID {row['method']}: Rank-1 {_pct(r1)}% is above the {_pct(lo)}-{_pct(hi)}% target "
                            "(the set is too easy)")  # fmt: skip
    for row in face_rows or ():
        if row["method"] in BACKGROUND_METHODS and not _near_chance(row["rank1"], row["chance"]):
            limit = max(2.0 * row["chance"], row["chance"] + 0.05)
            messages.append(f"face {row['method']}: Rank-1 {_pct(row['rank1'])}% is above {_pct(limit)}% "
                            f"(chance {_pct(row['chance'])}%): the background leaks the identity")  # fmt: skip
    return messages


def keep_hand_kept_preamble(previous: str, card: str) -> str:
    """``card`` (from :func:`format_card`) with its opening -- everything before the first "## " section --
    replaced by ``previous``'s: the existing card's hand-kept comment, sets table and notes survive a
    re-measurement. A ``previous`` without sections changes nothing."""
    marker = "\n## "
    if marker not in previous or marker not in card:
        return card
    return previous[: previous.index(marker)] + card[card.index(marker) :]


def format_card(
    reid_rows: Sequence[dict] | None, face_rows: Sequence[dict] | None, gait_rows: Sequence[dict] | None
) -> str:
    """The data card as markdown: three tables (percent, one decimal), what each baseline is, the
    targets, and which targets are missed. A section whose rows are None or empty says "not run"."""
    lines = ["# Data card", ""]
    lines += ["## Re-ID (Market-1501 protocol, torchreid rules)", ""]
    if reid_rows:
        lines += _table(("method", "Rank-1 %", "Rank-5 %", "mAP %", "seconds"),
                        ((r["method"], _pct(r["rank1"]), _pct(r["rank5"]), _pct(r["mAP"]), f"{r['seconds']:.1f}")
                         for r in reid_rows))  # fmt: skip
    else:
        lines.append("Not run.")
    lo, hi = HANDMADE_TARGET
    clo, chi = CNN_TARGET
    lines += [
        "",
        f"- **{METHOD_RANDOM}**: uniform random distances, the chance level of this query/gallery split.",
        f"- **{METHOD_HSV}**: 8x4x4 HSV histograms of 6 horizontal stripes (Hellinger, euclidean), the classic "
        "hand-made colour baseline (about 35-45 % Rank-1 on real Market-1501).",
        f"- **{METHOD_RAW}**: the image area-downsampled to 32x16, zero mean and unit norm, euclidean.",
        f"- **{METHOD_CNN}**: 4 conv blocks (32-64-128-256), global average pooling, cross-entropy with label "
        "smoothing and a batch-hard triplet loss, trained from scratch for a fixed number of CPU steps on the "
        "train split; L2-normalised, flip-averaged embeddings.",
        f"- Targets: hand-made features {_pct(lo)}-{_pct(hi)} % Rank-1 (colour alone must not find the person), "
        f"small CNN {_pct(clo)}-{_pct(chi)} % (learnable but not saturated, so methods can be told apart).",
        "",
        "## Face leak check (test identities, one frontal gallery image each)",
        "",
    ]
    if face_rows:
        lines += _table(("method", "Rank-1 %", "chance %"),
                        ((r["method"], _pct(r["rank1"]), _pct(r["chance"])) for r in face_rows))  # fmt: skip
    else:
        lines.append("Not run.")
    lines += [
        "",
        f"- **{FACE_BORDER_PIXELS}** / **{FACE_BORDER_HIST}**: nearest neighbour on the outer {FACE_BORDER}-px "
        "frame of the 110x110 crop only (pixels standardised; HSV histogram). Target: near chance, at most "
        "max(2 x chance, chance + 5 points); above it the background tells who the person is.",
        f"- **{FACE_CENTRE}**: the central 55x55 region at 28x28, standardised: should be far above chance.",
        "",
        "## Gait (CASIA-B protocol: gallery nm-01..04, identical view excluded)",
        "",
    ]
    if gait_rows:
        lines += _table(("method", "NM %", "BG %", "CL %"),
                        ((r["method"], *(_pct(r.get(g)) for g in GAIT_GROUPS)) for r in gait_rows))  # fmt: skip
    else:
        lines.append("Not run.")
    lines += [
        "",
        f"- **{GAIT_GEI}**: the gait energy image (mean silhouette of the sequence, 64x44), euclidean, on the test "
        "identities. NM should be clearly above BG and CL: bags and coats change the silhouette.",
        "",
        "## Targets",
        "",
    ]
    missed = check_targets(reid_rows, face_rows)
    lines += [f"- MISSED: {m}" for m in missed] if missed else ["All targets checked are met."]
    return "\n".join(lines) + "\n"
