"""Evaluators in core.metrics: hand-computed cases, upstream rules, and brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.metrics import (
    GaitResult,
    RankResult,
    casia_b_rank1,
    dgnet_rank,
    distance_matrix,
    market_rank,
    part_distance,
)

# ---------------------------------------------------------------- independent references (plain Python)


def brute_market(dist, qp, gp, qc, gc, max_rank):
    """torchreid's rules written another way: first-hit rank and precision at each hit, via sorted()."""
    n_g = len(gp)
    max_rank = min(max_rank, n_g)
    rows, aps = [], []
    for i in range(len(qp)):
        ranked = sorted(range(n_g), key=lambda j: dist[i][j])  # Python's sort is stable
        kept = [j for j in ranked if not (gp[j] == qp[i] and gc[j] == qc[i])]
        hits = [r for r, j in enumerate(kept) if gp[j] == qp[i]]
        if not hits:
            continue
        rows.append([1.0 if hits[0] < k else 0.0 for k in range(1, max_rank + 1)])
        aps.append(sum((n + 1) / (r + 1) for n, r in enumerate(hits)) / len(hits))
    return np.mean(rows, axis=0), float(np.mean(aps)), len(rows)


def brute_dgnet(score, qp, gp, qc, gc, max_rank):
    """DG-Net's rules written another way: loop over the ranking, trapezoid per good hit."""
    n_q, n_g = len(qp), len(gp)
    max_rank = min(max_rank, n_g)
    cmc, ap_total, valid = np.zeros(max_rank), 0.0, 0
    for i in range(n_q):
        ranked = sorted(range(n_g), key=lambda j: -score[i][j])
        kept = [j for j in ranked if gp[j] != -1 and not (gp[j] == qp[i] and gc[j] == qc[i])]
        hits = [r for r, j in enumerate(kept) if gp[j] == qp[i]]
        if not hits:
            continue
        valid += 1
        for k in range(max_rank):
            cmc[k] += 1.0 if hits[0] <= k else 0.0
        for n, r in enumerate(hits):
            before = 1.0 if r == 0 else n / r
            ap_total += (before + (n + 1) / (r + 1)) / 2 / len(hits)
    return cmc / n_q, ap_total / n_q, valid


# ---------------------------------------------------------------- torchreid rules


# Gallery for the hand cases:      g0      g1      g2      g3 (distractor)  g4
G_PIDS = np.array([1, 2, 1, 0, 2])
G_CAMS = np.array([0, 1, 1, 2, 0])


def test_market_hand_example():
    # q0 pid 1 cam 0: order g0 g1 g2 g3 g4; g0 (pid 1, cam 0) removed -> g1 g2 g3 g4 -> matches 0 1 0 0.
    #    CMC 0 1 1 1 (+ pad 1); AP = (1/2) / 1 = 1/2.
    # q1 pid 2 cam 0: order g2 g3 g1 g4 g0; g4 (pid 2, cam 0) removed -> g2 g3 g1 g0 -> matches 0 0 1 0.
    #    CMC 0 0 1 1 (+ pad 1); AP = 1/3. The distractor g3 (pid 0) is an ordinary miss.
    # q2 pid 1 cam 2: nothing removed; order g0 g3 g2 g1 g4 -> matches 1 0 1 0 0.
    #    CMC 1 1 1 1 1; AP = (1/1 + 2/3) / 2 = 5/6.
    # max_rank 50 > G = 5 -> 5. CMC = mean of rows = 1/3 2/3 1 1 1; mAP = (1/2 + 1/3 + 5/6) / 3 = 5/9.
    dist = np.array(
        [
            [0.1, 0.2, 0.3, 0.4, 0.5],
            [0.5, 0.3, 0.1, 0.2, 0.4],
            [0.1, 0.4, 0.3, 0.2, 0.5],
        ]
    )
    res = market_rank(dist, [1, 2, 1], G_PIDS, [0, 0, 2], G_CAMS)
    np.testing.assert_allclose(res.cmc, [1 / 3, 2 / 3, 1, 1, 1])
    assert res.mAP == pytest.approx(5 / 9)
    assert res.valid_queries == 3
    assert res.rank1 == pytest.approx(1 / 3) and res.rank5 == 1.0
    with pytest.raises(ValueError, match="rank 10"):
        _ = res.rank10
    assert isinstance(res, RankResult) and res.cmc.dtype == np.float64 and not res.cmc.flags.writeable


def test_market_same_camera_removal_and_skipped_query():
    # Query pid 1 cam 0. The nearest item is pid 1 in the SAME camera: removed, not a hit.
    dist = np.array([[0.0, 0.5, 0.9]])
    res = market_rank(dist, [1], [1, 3, 1], [0], [0, 1, 1])
    np.testing.assert_allclose(res.cmc, [0, 1, 1])  # g1 (miss), g2 (hit), padded
    assert res.mAP == pytest.approx(0.5)
    # The same item in another camera is kept: rank-1 hit.
    assert market_rank(dist, [1], [1, 3, 1], [0], [2, 1, 1]).rank1 == 1.0
    # A second query (pid 3, cam 1) whose only match is in its own camera is skipped: the scores are
    # those of the first query alone, averaged over 1 valid query, not 2.
    skip = market_rank(np.vstack([dist, dist]), [1, 3], [1, 3, 1], [0, 1], [0, 1, 1])
    assert skip.valid_queries == 1
    np.testing.assert_allclose(skip.cmc, res.cmc)
    assert skip.mAP == pytest.approx(res.mAP)


def test_market_distractor_pid0_is_a_miss():
    res = market_rank(np.array([[0.1, 0.2]]), [5], [0, 5], [0], [1, 1])
    assert res.rank1 == 0.0 and res.mAP == pytest.approx(0.5)


def test_market_ties_keep_gallery_order():
    # Equal distances: the stable sort keeps g0 (a miss) before g1 (the hit).
    res = market_rank(np.zeros((1, 2)), [1], [2, 1], [0], [1, 1])
    assert res.rank1 == 0.0 and res.mAP == pytest.approx(0.5)
    assert market_rank(np.zeros((1, 2)), [1], [1, 2], [0], [1, 1]).rank1 == 1.0


def test_market_ragged_rows_padded():
    # G = 4, max_rank lowered to 4. q0 loses 2 same-camera items, so only 2 are ranked; q1 loses none.
    dist = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    g_pids, g_cams = [1, 1, 2, 1], [0, 0, 1, 1]
    res = market_rank(dist, [1, 2], g_pids, [0, 0], g_cams)
    # q0: kept g2 (miss) g3 (hit) -> 0 1, padded to 0 1 1 1. q1: order g3 g2 g1 g0 -> 0 1 0 0 -> 0 1 1 1.
    assert res.cmc.shape == (4,)
    np.testing.assert_allclose(res.cmc, [0, 1, 1, 1])
    assert market_rank(dist, [1, 2], g_pids, [0, 0], g_cams, max_rank=3).cmc.shape == (3,)


def test_market_errors():
    with pytest.raises(ValueError, match="no valid query"):
        market_rank(np.zeros((1, 2)), [7], [1, 2], [0], [0, 0])
    with pytest.raises(ValueError, match="gallery columns"):
        market_rank(np.zeros((1, 2)), [1], [1, 2, 3], [0], [0, 1, 1])
    with pytest.raises(ValueError, match="query rows"):
        market_rank(np.zeros((2, 2)), [1], [1, 2], [0], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        market_rank(np.array([[np.nan, 1.0]]), [1], [1, 2], [0], [1, 1])
    with pytest.raises(ValueError, match="max_rank"):
        market_rank(np.zeros((1, 2)), [1], [1, 2], [0], [1, 1], max_rank=0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_market_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_q, n_g = 30, 60
    # Integer distances make many ties, which the stable order must resolve like Python's sorted().
    dist = rng.integers(0, 6, size=(n_q, n_g)).astype(float) if seed % 2 else rng.random((n_q, n_g))
    qp, gp = rng.integers(0, 8, n_q), rng.integers(0, 8, n_g)
    qc, gc = rng.integers(0, 3, n_q), rng.integers(0, 3, n_g)
    for max_rank in (5, 50, 100):
        res = market_rank(torch.from_numpy(dist), qp, gp, qc, gc, max_rank=max_rank)
        cmc, m_ap, valid = brute_market(dist, qp, gp, qc, gc, max_rank)
        np.testing.assert_allclose(res.cmc, cmc, atol=1e-12)
        assert res.mAP == pytest.approx(m_ap, abs=1e-12)
        assert res.valid_queries == valid


# ---------------------------------------------------------------- DG-Net rules


def test_dgnet_hand_example():
    #              g0     g1        g2     g3 (distractor) g4     g5
    g_pids = np.array([1, -1, 1, 0, 1, 2])
    g_cams = np.array([1, 2, 2, 3, 3, 2])
    score = np.array(
        [
            [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
            [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
            [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        ]
    )
    # q0 pid 1 cam 1: order g0..g5; junk g0 (same pid, same cam) and g1 (pid -1) ->
    #    g2 g3 g4 g5, good rows 0 and 2 (n_good 2).
    #    hit 0 at row 0: (1 + 1/1) / 2 / 2 = 1/2; hit 1 at row 2: (1/2 + 2/3) / 2 / 2 = 7/24. AP 19/24.
    #    (torchreid's AP here would be (1 + 2/3) / 2 = 20/24.) CMC 1 1 1 1 1 1.
    # q1 pid 2 cam 2: its only pid-2 item (g5) is in cam 2 -> no good item: contributes 0.
    # q2 pid 1 cam 3: order g5 g4 g3 g2 g1 g0; junk g4, g1 -> g5 g3 g2 g0, good rows 2 and 3.
    #    hit 0 at row 2: (0/2 + 1/3) / 2 / 2 = 1/12; hit 1 at row 3: (1/3 + 2/4) / 2 / 2 = 5/24. AP 7/24.
    #    CMC 0 0 1 1 1 1.
    # Divisor: all 3 queries. CMC = 1/3 1/3 2/3 2/3 2/3 2/3; mAP = (19/24 + 0 + 7/24) / 3 = 13/36.
    res = dgnet_rank(score, [1, 2, 1], g_pids, [1, 2, 3], g_cams)
    np.testing.assert_allclose(res.cmc, [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3])
    assert res.mAP == pytest.approx(13 / 36)
    assert res.valid_queries == 2
    # torchreid's rules on the same data differ: -1 is an ordinary miss, q1 is skipped, plain AP.
    tr = market_rank(-score, [1, 2, 1], g_pids, [1, 2, 3], g_cams)
    assert tr.valid_queries == 2 and tr.mAP != pytest.approx(res.mAP)


def test_dgnet_junk_removed_not_a_miss():
    # A pid -1 item ranked first is dropped, so the good item behind it is rank 1.
    res = dgnet_rank(np.array([[0.9, 0.5]]), [4], [-1, 4], [0], [1, 1])
    assert res.rank1 == 1.0 and res.mAP == pytest.approx(1.0)
    # pid 0 is not junk: ranked first it is a miss. The one good hit is at row 1: precision before it
    # 0/1, at it 1/2 -> trapezoid AP (0 + 1/2) / 2 = 1/4, where torchreid's plain AP is 1/2.
    res0 = dgnet_rank(np.array([[0.9, 0.5]]), [4], [0, 4], [0], [1, 1])
    assert res0.rank1 == 0.0 and res0.mAP == pytest.approx(0.25)
    assert market_rank(-np.array([[0.9, 0.5]]), [4], [0, 4], [0], [1, 1]).mAP == pytest.approx(0.5)


def test_dgnet_no_valid_query_gives_zero():
    res = dgnet_rank(np.ones((2, 2)), [1, 2], [1, 2], [0, 0], [0, 0])
    assert res.valid_queries == 0 and res.mAP == 0.0 and not res.cmc.any()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_dgnet_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    n_q, n_g = 25, 50
    score = rng.integers(0, 5, size=(n_q, n_g)).astype(float) if seed % 2 else rng.standard_normal((n_q, n_g))
    qp, gp = rng.integers(0, 6, n_q), rng.integers(-1, 6, n_g)
    qc, gc = rng.integers(1, 4, n_q), rng.integers(1, 4, n_g)
    res = dgnet_rank(score, qp, gp, qc, gc, max_rank=20)
    cmc, m_ap, valid = brute_dgnet(score, qp, gp, qc, gc, 20)
    np.testing.assert_allclose(res.cmc, cmc, atol=1e-12)
    assert res.mAP == pytest.approx(m_ap, abs=1e-12)
    assert res.valid_queries == valid


# ---------------------------------------------------------------- distances


def test_distance_matrix_euclidean_and_cosine():
    rng = np.random.default_rng(7)
    q, g = rng.standard_normal((6, 5)), rng.standard_normal((9, 5))
    np.testing.assert_allclose(distance_matrix(q, g), np.linalg.norm(q[:, None] - g[None], axis=2), atol=1e-10)
    cos = 1 - (q @ g.T) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(g, axis=1))
    np.testing.assert_allclose(distance_matrix(q, g, "cosine"), cos, atol=1e-12)
    out = distance_matrix(torch.from_numpy(q).float().requires_grad_(), torch.from_numpy(g).float())
    assert out.dtype == np.float64 and out.shape == (6, 9)
    np.testing.assert_allclose(out, distance_matrix(q, g), atol=1e-5)
    assert distance_matrix(np.zeros((1, 5)), g, "cosine")[0] == pytest.approx(np.ones(9))
    with pytest.raises(ValueError, match="metric"):
        distance_matrix(q, g, "manhattan")
    with pytest.raises(ValueError, match="feature sizes"):
        distance_matrix(q, g[:, :4])


def test_cosine_and_euclidean_agree_on_normalised_features():
    rng = np.random.default_rng(11)
    q, g = rng.standard_normal((20, 16)), rng.standard_normal((80, 16))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    euc, cos = distance_matrix(q, g), distance_matrix(q, g, "cosine")
    np.testing.assert_allclose(euc**2, 2 * cos, atol=1e-12)
    labels = (rng.integers(0, 5, 20), rng.integers(0, 5, 80), rng.integers(0, 3, 20), rng.integers(0, 3, 80))
    a, b = market_rank(euc, *labels), market_rank(cos, *labels)
    np.testing.assert_allclose(a.cmc, b.cmc)
    assert a.mAP == pytest.approx(b.mAP)


# ---------------------------------------------------------------- CASIA-B

CONDITIONS = [f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"]


def gait_set(n_ids, views, conditions=CONDITIONS):
    """Metadata of every (id, condition, view) sequence: labels, conditions, views, id index, view index."""
    rows = [(i, c, v) for i in range(n_ids) for c in conditions for v in range(len(views))]
    labels = [f"{i + 75:03d}" for i, _, _ in rows]
    conds = [c for _, c, _ in rows]
    view_names = [views[v] for _, _, v in rows]
    return labels, conds, view_names, np.array([i for i, _, _ in rows]), np.array([v for _, _, v in rows])


def brute_casia(features, labels, conds, views, metric):
    """OpenGait's loops, written plainly: per-part distances, nearest gallery item, de_diag mean."""
    feats = np.asarray(features, dtype=float)
    feats = feats[:, :, None] if feats.ndim == 2 else feats
    if metric == "cosine":
        feats = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    labels, conds, views = np.array(labels), np.array(conds), np.array(views)
    names = sorted(set(views))
    probes = {"NM": ["nm-05", "nm-06"], "BG": ["bg-01", "bg-02"], "CL": ["cl-01", "cl-02"]}
    gallery = np.isin(conds, ["nm-01", "nm-02", "nm-03", "nm-04"])
    out = {}
    for group, pconds in probes.items():
        acc = np.zeros((len(names), len(names)))
        for a, pv in enumerate(names):
            p_idx = np.flatnonzero(np.isin(conds, pconds) & (views == pv))
            for b, gv in enumerate(names):
                g_idx = np.flatnonzero(gallery & (views == gv))
                correct = 0
                for i in p_idx:
                    if metric == "cosine":
                        d = [1 - np.mean(np.sum(feats[i] * feats[j], axis=0)) for j in g_idx]
                    else:
                        d = [np.mean(np.linalg.norm(feats[i] - feats[j], axis=0)) for j in g_idx]
                    correct += labels[g_idx[int(np.argmin(d))]] == labels[i]
                acc[a, b] = correct / len(p_idx)
        out[group] = (acc * (1 - np.eye(len(names)))).sum(1) / (len(names) - 1)
    return out


VIEWS = ("000", "018", "036", "054")


def test_casia_identity_features_rank1_is_one():
    labels, conds, views, ids, _ = gait_set(8, VIEWS)
    rng = np.random.default_rng(0)
    feats = np.eye(8)[ids] + 0.05 * rng.standard_normal((len(ids), 8))
    res = casia_b_rank1(torch.from_numpy(feats), labels, conds, views)
    assert isinstance(res, GaitResult) and res.views == VIEWS
    assert res.mean == {"NM": 1.0, "BG": 1.0, "CL": 1.0}
    assert res.per_view["BG"] == dict.fromkeys(VIEWS, 1.0)
    for acc in res.matrix.values():
        assert acc.shape == (4, 4) and np.isnan(np.diag(acc)).all()
        assert (acc[~np.eye(4, dtype=bool)] == 1.0).all()


def test_casia_random_features_near_chance():
    labels, conds, views, ids, _ = gait_set(30, ("000", "090", "180"))
    feats = np.random.default_rng(1).standard_normal((len(ids), 32))
    res = casia_b_rank1(feats, labels, conds, views)
    # 30 ids -> chance 1/30 = 0.033; 180 probes x 2 other views per group.
    for value in res.mean.values():
        assert 0.0 < value < 0.1


def test_casia_identical_view_is_excluded():
    # A sequence's feature names (id + view index) mod n: the same subject matches exactly only in its
    # own view; in any other view the exact match (distance 0) is another subject. Identical-view
    # Rank-1 would be 1, every other pair is 0, so the protocol's figure must be 0 (with the diagonal
    # it would be 1/3).
    labels, conds, views, ids, view_idx = gait_set(5, ("000", "090", "180"))
    feats = np.eye(5)[(ids + view_idx) % 5]
    res = casia_b_rank1(feats, labels, conds, views)
    assert res.mean == {"NM": 0.0, "BG": 0.0, "CL": 0.0}
    assert np.isnan(np.diag(res.matrix["NM"])).all()
    assert np.nansum(res.matrix["NM"]) == 0.0


def test_casia_missing_cl_group_is_omitted():
    no_cl = [c for c in CONDITIONS if not c.startswith("cl")]
    labels, conds, views, ids, _ = gait_set(6, VIEWS, no_cl)
    res = casia_b_rank1(np.eye(6)[ids], labels, conds, views)
    assert set(res.mean) == set(res.per_view) == set(res.matrix) == {"NM", "BG"}


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("seed", [0, 1])
def test_casia_matches_brute_force(metric, seed):
    # Identity signal plus heavy noise, so Rank-1 lands strictly between 0 and 1 and varies per view.
    labels, conds, views, ids, _ = gait_set(6, ("000", "018", "036"))
    rng = np.random.default_rng(seed)
    feats = np.eye(6)[ids][:, :, None] + 0.6 * rng.standard_normal((len(ids), 6, 4))  # (N, C=6, P=4)
    res = casia_b_rank1(feats, labels, conds, views, metric=metric)
    ref = brute_casia(feats, labels, conds, views, metric)
    for group, per_view in ref.items():
        np.testing.assert_allclose([res.per_view[group][v] for v in res.views], per_view, atol=1e-12)
        assert res.mean[group] == pytest.approx(per_view.mean())


def test_part_distance_is_mean_over_parts():
    # Probe 0 0; a = 2 0 (per-part distances 2, 0 -> mean 1); b = 1.2 1.2 (-> 1.2). Flattened, a is
    # farther (2 against 1.70); averaged over parts, as OpenGait does, a is nearer.
    probe, a, b = [[0.0, 0.0]], [[2.0, 0.0]], [[1.2, 1.2]]
    feats = np.array([probe, a, b])  # (3, C=1, P=2)
    np.testing.assert_allclose(part_distance(feats[:1], feats[1:]), [[1.0, 1.2]])
    # The same in a CASIA-B set: one probe of subject A per view, gallery A (= a) and B (= b) per view.
    rows = [("A", "nm-05", probe), ("A", "nm-01", a), ("B", "nm-01", b)]
    labels = [r[0] for r in rows for _ in ("000", "090")]
    conds = [r[1] for r in rows for _ in ("000", "090")]
    views = [v for _ in rows for v in ("000", "090")]
    feats = np.array([r[2] for r in rows for _ in ("000", "090")])
    assert casia_b_rank1(feats, labels, conds, views).mean == {"NM": 1.0}
    assert casia_b_rank1(feats.reshape(len(feats), -1), labels, conds, views).mean == {"NM": 0.0}
    # (N, D) is one part: the same as (N, D, 1).
    flat = feats.reshape(len(feats), -1)
    np.testing.assert_array_equal(
        casia_b_rank1(flat, labels, conds, views).matrix["NM"],
        casia_b_rank1(flat[:, :, None], labels, conds, views).matrix["NM"],
    )


def test_casia_errors():
    labels, conds, views, ids, _ = gait_set(3, ("090",))
    with pytest.raises(ValueError, match="at least 2 views"):
        casia_b_rank1(np.eye(3)[ids], labels, conds, views)
    # A probe view with no gallery item.
    labels, conds, views, ids, _ = gait_set(3, VIEWS)
    keep = [i for i, (c, v) in enumerate(zip(conds, views, strict=True)) if not (v == "036" and c <= "nm-04")]
    pick = [labels[i] for i in keep], [conds[i] for i in keep], [views[i] for i in keep]
    with pytest.raises(ValueError, match="'036' has no gallery"):
        casia_b_rank1(np.eye(3)[ids[keep]], *pick)
    # A present group missing one view.
    keep = [i for i, (c, v) in enumerate(zip(conds, views, strict=True)) if not (v == "054" and c.startswith("bg"))]
    pick = [labels[i] for i in keep], [conds[i] for i in keep], [views[i] for i in keep]
    with pytest.raises(ValueError, match="BG has no sequence in view '054'"):
        casia_b_rank1(np.eye(3)[ids[keep]], *pick)
    with pytest.raises(ValueError, match="labels has 2 entries"):
        casia_b_rank1(np.eye(3)[ids], labels[:2], conds, views)
    with pytest.raises(ValueError, match=r"\(N, D\) or \(N, C, P\)"):
        casia_b_rank1(np.zeros(len(ids)), labels, conds, views)
