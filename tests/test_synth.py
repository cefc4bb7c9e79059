"""The synthetic people engine: deterministic, factors isolated, labels right, readers agree."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data import (
    PKSampler,
    load_sequence,
    normalise_silhouette,
    parse_name,
    read_face_folder,
    read_market,
    read_opengait,
)
from core.data.face import YAW_BINS
from core.synth import Nuisance, sample_identity
from core.synth.engine import shared_renderer
from core.synth.face_set import FaceConfig, write_face
from core.synth.gait_set import GaitConfig, write_gait
from core.synth.reid_set import ReidConfig, write_reid
from core.synth.truth import face_at_yaw, novel_views, swap_truth

REID = ReidConfig(train_ids=2, test_ids=2, images_per_camera=2, distractors=2, junk=2, seed=3)
FACE = FaceConfig(ids=2, illuminations=2, seed=3)
GAIT = GaitConfig(ids=2, train_ids=1, frames=8, views=(0, 90), conditions=("nm-01", "bg-01", "cl-01"), seed=3)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    return {
        "reid": (root / "reid", write_reid(root / "reid", REID)),
        "face": (root / "face", write_face(root / "face", FACE)),
        "gait": (root / "gait", write_gait(root / "gait", GAIT)),
    }


def test_same_seed_same_person_same_pixels():
    a, b = sample_identity(11), sample_identity(11)
    assert a == b and a != sample_identity(12)
    n = Nuisance(azimuth=30, background="street", bag="backpack", phase=0.3, noise=0.02, blur=0.5, seed=5)
    img1 = shared_renderer().render([a], [n]).image
    img2 = shared_renderer().render([b], [n]).image
    assert torch.equal(img1, img2)
    img3 = shared_renderer().render([sample_identity(12)], [n]).image
    assert not torch.equal(img1, img3)


def test_writers_are_byte_deterministic(tmp_path, sets):
    root, _ = sets["reid"]
    write_reid(tmp_path / "again", REID)
    for path in sorted((root / "query").glob("*.jpg")):
        assert (tmp_path / "again" / "query" / path.name).read_bytes() == path.read_bytes()


def test_changing_the_camera_leaves_the_texture_unchanged():
    pr = shared_renderer()
    ident = sample_identity(5)
    t1 = pr.texture(ident, Nuisance(azimuth=0, light_intensity=0.3, seed=1))
    t2 = pr.texture(ident, Nuisance(azimuth=120, elevation=30, light_intensity=0.7, background="noise", seed=9))
    assert torch.equal(t1, t2)
    assert not torch.equal(pr.body_texture(ident), pr.body_texture(sample_identity(6)))


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / (a | b).sum())


def test_changing_clothes_keeps_the_body_and_changes_the_cloth():
    """Clothes have bulk now: the silhouette changes only by the cloth, the body stays."""
    seeds = [s for s in range(50) if sample_identity(s).lower.kind == "jeans" and sample_identity(s).outer is None]
    a, b = sample_identity(seeds[0]), sample_identity(seeds[1])
    skirt = next(s for s in range(50) if sample_identity(s).lower.kind == "skirt")
    n = Nuisance(azimuth=60, phase=0.4, seed=2)
    people = [a, a.with_clothes_of(b), b, a.with_clothes_of(sample_identity(skirt))]
    pic = shared_renderer().render(people, [n] * 4)
    assert _iou(pic.mask[0], pic.mask[1]) > 0.9  # same body, pose and camera; similar cloth
    assert _iou(pic.mask[0], pic.mask[2]) < _iou(pic.mask[0], pic.mask[1])  # another body
    assert not torch.allclose(pic.image[0], pic.image[1])  # other clothes
    assert pic.mask[3].sum() > pic.mask[0].sum() * 1.02  # a skirt is a shape, not paint


def test_bag_and_coat_change_the_silhouette():
    ident = sample_identity(3)
    base = Nuisance(azimuth=90, phase=0.25, seed=1)
    pic = shared_renderer().render([ident] * 3, [base, Nuisance(azimuth=90, phase=0.25, seed=1, bag="backpack"),
                                                  Nuisance(azimuth=90, phase=0.25, seed=1, coat=True)])  # fmt: skip
    area = pic.mask.sum((1, 2, 3))
    assert area[1] > area[0] * 1.03 and area[2] > area[0] * 1.02


def test_reid_names_parse_back_to_their_labels(sets):
    root, counts = sets["reid"]
    factors = [json.loads(line) for line in (root / "factors.jsonl").read_text().splitlines()]
    people = [f for f in factors if "person" in f]
    assert len(people) == counts["train"] + counts["query"] + counts["gallery"] - REID.distractors - REID.junk
    for row in people:
        parsed = parse_name(row["file"].split("/")[1])
        assert parsed.identity == row["person"] and parsed.camera == row["camera"]
        # the camera in the name is the camera whose viewpoint rendered it
        assert (
            abs(((row["nuisance"]["azimuth"] - [0, 90, 180, 270, 40, 220][parsed.camera - 1]) + 180) % 360 - 180) <= 40
        )


def test_market_reader_reads_what_the_writer_wrote(sets):
    root, counts = sets["reid"]
    data = read_market(root)
    assert {k: len(v) for k, v in data.items()} == {k: counts[k] for k in ("train", "query", "gallery")}
    train_ids = {s.identity for s in data["train"]}
    test_ids = {s.identity for s in data["query"]}
    assert train_ids == {1, 2} and test_ids == {3, 4}
    gallery_ids = {s.identity for s in data["gallery"]}
    assert {0, -1} <= gallery_ids and test_ids <= gallery_ids  # distractors, junk and every query's person
    for q in data["query"]:  # every query can be found in another camera
        assert any(g.identity == q.identity and g.camera != q.camera for g in data["gallery"])


def test_face_reader_and_yaw_bins(sets):
    root, counts = sets["face"]
    samples = read_face_folder(root)
    assert len(samples) == counts["images"] == FACE.ids * 13 * FACE.illuminations
    assert sorted({s.view for s in samples}) == [float(y) for y in YAW_BINS]
    from PIL import Image

    img = Image.open(samples[0].path)
    assert img.size == (110, 110)


def test_gait_reader_shapes_and_partition(sets):
    root, counts = sets["gait"]
    split = read_opengait(root / "sil", root / "partition.json")
    assert {s.identity for s in split["train"]} | {s.identity for s in split["test"]} == {1, 2}
    seqs = split["train"] + split["test"]
    assert len(seqs) == counts["sequences"] == 2 * 3 * 2
    frames = load_sequence(seqs[0].path)
    assert frames.dtype == np.uint8 and frames.shape == (GAIT.frames, 64, 44)
    assert load_sequence(seqs[0].path, cut=False).shape == (GAIT.frames, 64, 64)  # stored as OpenGait writes
    assert frames.max() == 255 and 0.15 < (frames > 127).mean() < 0.7
    import pickle

    with open(root / "rgb" / seqs[0].path.relative_to(root / "sil"), "rb") as fh:
        colour = pickle.load(fh)
    assert colour.shape == (GAIT.frames, 64, 32, 3)


def test_opengait_pretreatment_centres_and_scales():
    mask = np.zeros((200, 150), bool)
    mask[40:160, 60:90] = True
    sil = normalise_silhouette(mask)
    assert sil.shape == (64, 64) and sil[:, 32].max() == 255
    cols = np.flatnonzero(sil.max(0) > 127)
    assert abs((cols[0] + cols[-1]) / 2 - 31.5) <= 1.5
    assert normalise_silhouette(np.zeros((50, 50), bool)) is None


def test_pk_sampler_batches():
    ids = [i // 3 for i in range(30)]  # 10 identities x 3
    batches = list(PKSampler(ids, p=4, k=4, seed=0))
    assert len(batches) == 2
    for batch in batches:
        labels = [ids[i] for i in batch]
        assert len(set(labels)) == 4 and all(labels.count(x) == 4 for x in set(labels))
    with pytest.raises(ValueError):
        PKSampler(ids, p=20, k=2)


def test_ground_truth_renders():
    a, s = sample_identity(1), sample_identity(2)
    n = Nuisance(azimuth=20, seed=4)
    truth = swap_truth(a, s, n)
    same_structure = shared_renderer().render([s], [n]).image[0]
    assert truth.shape == (3, 128, 64) and not torch.equal(truth, same_structure)
    face = face_at_yaw(a, 45.0)
    assert face.shape == (3, 110, 110)
    views = novel_views(a, n, [0, 180])
    assert views.shape == (2, 3, 128, 64) and not torch.equal(views[0], views[1])


@pytest.mark.parametrize(
    "args, message",
    [
        (["synth", "reid", "--out", "{tmp}", "--train-ids", "0"], "--train-ids"),
        (["synth", "reid", "--out", "{tmp}", "--size", "abc"], "128x64"),
        (["synth", "gait", "--out", "{tmp}", "--views", "0,270"], "--views"),
        (["synth", "gait", "--out", "{tmp}", "--conditions", "xx-01"], "--conditions"),
        (["synth", "face", "--out", "{tmp}", "--workers", "0"], "--workers"),
        (["synth", "face", "--out", "{file}"], "not a folder"),
        (["synth", "face", "--out", "{tmp}", "--test-fraction", "1"], "--test-fraction"),
        (["synth", "reid", "--out", "{tmp}", "--cameras", "10"], "--cameras"),
        (["synth", "reid", "--out", "{tmp}", "--train-ids", "9000", "--test-ids", "1000"], "9999"),
        (["synth", "reid", "--out", "{tmp}", "--seed", "-1"], "--seed"),
        (["synth", "gait", "--out", "{tmp}", "--views", "0,abc"], "--views"),
        (["synth", "gait", "--out", "{tmp}", "--views", "0,0"], "--views"),
        (["synth", "gait", "--out", "{tmp}", "--conditions", "nm/../../x"], "--conditions"),
        (["synth", "reid", "--out", "/dev/null/x", "--train-ids", "1"], "error"),
        (["body", "build", "--out", "{tmp}/elsewhere.npz"], "--no-register"),
    ],
)
def test_synth_cli_bad_arguments(tmp_path, args, message):
    (tmp_path / "file").write_text("x")
    args = [a.format(tmp=tmp_path / "out", file=tmp_path / "file") for a in args]
    res = subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr


def test_synth_cli_writes_and_resumes(tmp_path):
    cmd = [sys.executable, "-m", "core", "synth", "reid", "--out", str(tmp_path), "--train-ids", "1",
           "--test-ids", "1", "--images-per-camera", "2", "--distractors", "0", "--junk", "0",
           "--workers", "2"]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    files = sorted(tmp_path.rglob("*.jpg"))
    stamps = {p: p.stat().st_mtime_ns for p in files}
    victim = files[0]
    original = victim.read_bytes()
    victim.unlink()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and victim.read_bytes() == original  # the gap is refilled identically
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items() if p != victim)  # only the gap was redone
    changed = subprocess.run([*cmd, "--seed", "5"], capture_output=True, text=True, timeout=300)
    assert changed.returncode == 2 and "other settings" in changed.stderr  # never mix two datasets


def test_refuses_to_mix_datasets_made_with_other_settings(tmp_path):
    from core.synth.writer import DatasetMismatchError

    cfg = ReidConfig(train_ids=1, test_ids=1, images_per_camera=2, cameras=2, distractors=0, junk=0, seed=1)
    write_reid(tmp_path, cfg)
    with pytest.raises(DatasetMismatchError, match="other settings"):
        write_reid(tmp_path, ReidConfig(train_ids=1, test_ids=1, images_per_camera=2, cameras=2, distractors=0, junk=0,
                                        seed=2))  # fmt: skip
    (tmp_path.parent / "foreign").mkdir()
    (tmp_path.parent / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetMismatchError, match="not empty"):
        write_reid(tmp_path.parent / "foreign", cfg)


def test_market_names_limits():
    with pytest.raises(ValueError, match="use at most 8"):
        write_reid(Path("/nonexistent/never"), ReidConfig(cameras=10))
    with pytest.raises(ValueError, match="layout duke"):
        write_reid(Path("/nonexistent/never"), ReidConfig(cameras=7, layout="market"))
    with pytest.raises(ValueError, match="layout duke"):
        write_reid(Path("/nonexistent/never"), ReidConfig(train_ids=1000, test_ids=600, layout="market"))
    assert parse_name("0002_c9s1_000020_01.jpg").camera == 9
    duke = parse_name("0042_c7_f0012345.jpg")
    assert (duke.identity, duke.camera, duke.frame) == (42, 7, 12345)
    assert parse_name("-1_c3s2_000100_00.jpg").identity == -1
    with pytest.raises(ValueError, match="not a Market-1501"):
        parse_name("10001_c1s1_000050_01.jpg")


def test_gait_conditions_beyond_casia_b_differ():
    from core.synth.gait_set import gait_nuisances

    ident = sample_identity(4)
    a = gait_nuisances(ident, GAIT, 1, "nm-07", 90)
    b = gait_nuisances(ident, GAIT, 1, "nm-08", 90)
    assert a != b


def test_opengait_reader_accepts_64x64_and_rejects_empty_roots(tmp_path):
    from core.data.opengait import save_sequence

    frames = np.zeros((5, 64, 64), np.uint8)
    frames[:, 10:50, 20:44] = 255
    save_sequence(tmp_path / "001" / "nm-01" / "090" / "090.pkl", frames)
    seqs = read_opengait(tmp_path)["all"]
    cut = load_sequence(seqs[0].path)
    assert cut.shape == (5, 64, 44) and cut.max() == 255 and seqs[0].view == 90.0
    with pytest.raises(FileNotFoundError, match="no <id>/<condition>/<view>"):
        read_opengait(tmp_path / "001")


def test_face_yaw_turns_the_head_the_documented_way():
    """Yaw +90 puts the camera at the person's left: the left ear faces it, the right is hidden."""
    from core.body.skeleton import LANDMARK_NAMES
    from core.synth.face_set import face_nuisance

    pr = shared_renderer()
    ident = sample_identity(8)
    out = pr.body(betas=torch.tensor([ident.betas]))
    ears = out.landmarks[0, [LANDMARK_NAMES.index("lear"), LANDMARK_NAMES.index("rear")]]
    for yaw, near in ((90.0, 0), (-90.0, 1)):
        cams = pr.cameras(out.vertices, [face_nuisance(yaw, 1, 3, 0)], (110, 110))
        depth = cams.get_world_to_view_transform().transform_points(ears[None])[0, :, 2]
        assert depth[near] < depth[1 - near]
    faces = render_faces_for_test(ident)
    mask_cols = faces.mask[:, 0].amax(1)  # (yaws, W)
    centre = (mask_cols * torch.arange(110)).sum(1) / mask_cols.sum(1)
    assert torch.all((centre - 55).abs() < 20)  # head-centred crops


def render_faces_for_test(ident):
    from core.synth.face_set import face_nuisance, render_faces

    yaws = [-90.0, -45.0, 0.0, 45.0, 90.0]
    return render_faces([ident] * len(yaws), [face_nuisance(y, 1, 3, 0) for y in yaws])


def test_pairs_writer_truth_matches_the_api(tmp_path):
    from core.synth.truth import PairsConfig, write_pairs

    cfg = PairsConfig(pairs=2, people=10, seed=3)
    assert write_pairs(tmp_path, cfg) == {"pairs": 2}
    import csv

    from PIL import Image

    rows = list(csv.DictReader(open(tmp_path / "pairs.csv")))
    assert len(rows) == 2
    truth = np.asarray(Image.open(tmp_path / rows[0]["truth"])).astype(int)
    structure = np.asarray(Image.open(tmp_path / rows[0]["structure"])).astype(int)
    assert truth.shape == (128, 64, 3) and np.abs(truth - structure).mean() > 2  # other clothes
    # the mask is the structure person: outside it the structure picture is its background
    mask = np.asarray(Image.open(tmp_path / rows[0]["structure_mask"])) > 127
    background = np.asarray(Image.open(tmp_path / rows[0]["background"])).astype(int)
    assert 0.1 < mask.mean() < 0.7
    outside = np.abs(structure - background).mean(-1)[~mask].mean()
    inside = np.abs(structure - background).mean(-1)[mask].mean()
    assert outside < 6 and inside > 4 * outside, (outside, inside)


def test_dark_uint8_textures_stay_dark():
    from core.render.textures import texture_from_image

    assert float(texture_from_image(np.ones((8, 8, 3), np.uint8), size=8).max()) < 0.01


def test_data_studio_rejects_bad_input():
    from core.synth.studio import DataStudio

    studio = DataStudio()
    with pytest.raises(ValueError, match="identity seed"):
        studio.render(None, studio.nuisance())
    with pytest.raises(ValueError, match="identity seed"):
        studio.render(7.5, studio.nuisance())
    with pytest.raises(ValueError, match="condition"):
        studio.gait_views(3, "xx-01")
    with pytest.raises(ValueError, match="background"):
        studio.nuisance(background="moon")


def test_head_close_ups_frame_the_head_by_default():
    """Without look_at/extent a head-only render frames the whole head region, centred."""
    pic = shared_renderer().render([sample_identity(2)], [Nuisance(pose="stand", seed=1)], (96, 96), head_only=True)
    rows = torch.nonzero(pic.mask[0, 0].amax(1)).squeeze(1)
    cols = torch.nonzero(pic.mask[0, 0].amax(0)).squeeze(1)
    assert rows.max() - rows.min() > 70  # fills the height (framing 0.9)
    assert abs(float(cols.min() + cols.max()) / 2 - 47.5) < 8


def test_silhouette_cutting_follows_opengait():
    """int(W // 64) * 10 columns off each side; narrower frames pass through (never width 0)."""
    from core.data.opengait import cut_silhouette

    for width, expected in ((64, 44), (128, 88), (44, 44), (32, 32), (63, 63)):
        frames = np.zeros((2, 64, width), np.uint8)
        frames[:, :, width // 2] = 255  # the centre column survives the cut
        out = cut_silhouette(frames)
        assert out.shape == (2, 64, expected), width
        assert out.max() == 255


def test_market_layout_follows_the_real_readers(sets):
    """torchreid's rules and asserts, DG-Net's gt_bbox multi-query set, names without collisions,
    and frame numbers that do not encode the person."""
    from core.data import check_market_layout, read_split

    root, counts = sets["reid"]
    assert check_market_layout(root) == []
    data = read_market(root)
    names = [s.path.name for split in data.values() for s in split]
    assert len(names) == len(set(names))
    gt = read_split(root, "gt_bbox")
    assert counts["gt_bbox"] == len(gt) > 0
    for q in data["query"]:  # DG-Net averages gt_bbox images of the query's person and camera
        assert any(g.identity == q.identity and g.camera == q.camera for g in gt)
    people = [s for s in data["train"] + data["gallery"] if s.identity > 0]
    assert not all(s.frame // 10 == s.identity for s in people)  # the old leak: frame = pid x 10 + k
    assert all(0 <= s.frame < 30_000 for s in people)


def test_one_detection_one_label(tmp_path, sets):
    """Market's c#s#_frame_box names one detection: people seen in the same frame of a camera get other
    box indices, and junk or distractors never reuse a person's detection (issue 21's set had 4 such names)."""
    from collections import defaultdict

    from core.data import check_market_layout
    from core.synth.reid_set import _extra_names, _person_walks, detection_boxes, detection_key, reid_name

    cfg = ReidConfig(train_ids=100, test_ids=80, cameras=6, distractors=20)
    ids = list(range(1, 181))
    boxes = detection_boxes(cfg, ids)
    owners, before = defaultdict(set), defaultdict(set)
    for p in ids:
        for cam, k, frame in _person_walks(cfg, p)[1]:
            owners[detection_key(reid_name("market", p, cam + 1, frame, boxes[(p, cam, k)]))].add(p)
            before[detection_key(reid_name("market", p, cam + 1, frame, 0))].add(p)
    assert any(len(v) > 1 for v in before.values())  # the collision the old writer made on this set
    taken = set(owners)
    for kind, count in (("junk", cfg.junk), ("distractor", cfg.distractors)):
        for name in _extra_names(cfg, "market", kind, count, set(taken)):
            owners[detection_key(name)].add(kind)
    assert all(len(v) == 1 for v in owners.values())
    # the layout check catches a shared detection
    import shutil

    root = shutil.copytree(sets["reid"][0], tmp_path / "reid")
    assert check_market_layout(root) == []
    train = root / "bounding_box_train"
    first = sorted(train.glob("*.jpg"))[0]
    label, _, key = first.name.partition("_")
    other = sorted({p.name.split("_")[0] for p in train.glob("*.jpg")} - {label})[0]
    (train / f"{other}_{key}").write_bytes(first.read_bytes())
    assert any("also belongs to label" in p for p in check_market_layout(root))


def test_duke_names_beyond_six_cameras(tmp_path):
    from core.data import check_market_layout

    cfg = ReidConfig(train_ids=1, test_ids=1, cameras=8, images_per_camera=2, min_cameras=8, distractors=1, junk=5)
    counts = write_reid(tmp_path, cfg)
    assert counts["junk"] == 0 and counts["distractors"] == 1  # Duke has no -1 junk
    data = read_market(tmp_path)
    assert {s.camera for s in data["train"]} == set(range(1, 9))
    assert all("_f" in s.path.name and "s1_" not in s.path.name for s in data["train"])
    assert check_market_layout(tmp_path, layout="duke") == []
    assert check_market_layout(tmp_path, layout="market") != []  # a Market reader would assert on camera 7


def test_annotations_reproject_onto_the_picture(sets):
    """The exported body and camera put the person where the picture shows them."""
    from pytorch3d.renderer import FoVPerspectiveCameras

    root, _ = sets["reid"]
    samples = read_market(root, annotations=True)["train"]
    assert all(s.annotation is not None for s in samples)
    body = shared_renderer().body
    for s in samples[:4]:
        a = s.annotation
        out = body(betas=torch.from_numpy(a.betas)[None], body_pose=torch.from_numpy(a.body_pose)[None])
        cam = FoVPerspectiveCameras(R=torch.from_numpy(a.R)[None], T=torch.from_numpy(a.T)[None], fov=a.fov)
        h, w = a.image_size
        ndc = cam.transform_points_screen(out.vertices, image_size=((h, w),))[0, :, :2]
        centre = torch.tensor([w / 2, h / 2])
        pix = centre + a.box_zoom * (ndc - centre) + torch.tensor(a.box_shift) * torch.tensor([w, h])
        height = (pix[:, 1].max() - pix[:, 1].min()) / h
        assert 0.6 < height < 1.15  # the framing the camera was set up with (with box zoom)
        assert 0 < float(pix[:, 0].mean()) < w


def test_face_backgrounds_do_not_identify_the_person(sets):
    root, _ = sets["face"]
    from PIL import Image

    from core.data import read_face_split

    samples = read_face_folder(root)
    corners = {}
    for s in samples:
        img = np.asarray(Image.open(s.path), dtype=np.float32)
        corner = np.concatenate([img[:8, :8].mean((0, 1)), img[-8:, -8:].mean((0, 1))])
        corners.setdefault(s.identity, []).append(corner)
    within = np.mean([np.std(v, 0).mean() for v in corners.values()])
    overall = np.std(np.concatenate(list(corners.values())), 0).mean()
    assert within > 0.7 * overall  # one person's pictures vary as much as everybody's
    split = read_face_split(root)
    assert split["train"] and split["test"] and not set(split["train"]) & set(split["test"])
    assert set(split["train"]) | set(split["test"]) == {s.identity for s in samples}


def test_gait_tree_is_what_opengait_loads(sets):
    from core.data.opengait import check_opengait_tree

    root, _ = sets["gait"]
    assert check_opengait_tree(root / "sil", root / "partition.json") == []
    part = json.loads((root / "partition.json").read_text())
    assert part["TRAIN_SET"] == ["001"] and part["TEST_SET"] == ["002"]  # exact folder names
    from core.synth.gait_set import gait_nuisances

    ident = sample_identity(4)
    bg1, bg2 = (gait_nuisances(ident, GAIT, 1, c, 90)[0] for c in ("bg-01", "bg-02"))
    cl1, cl2 = (gait_nuisances(ident, GAIT, 1, c, 90)[0] for c in ("cl-01", "cl-02"))
    assert (bg1.bag, bg1.bag_colour) != (bg2.bag, bg2.bag_colour) and cl1.coat_seed != cl2.coat_seed


def test_pairs_come_from_test_people_only(tmp_path):
    from core.synth.truth import PairsConfig, write_pairs

    cfg = PairsConfig(pairs=2)
    write_pairs(tmp_path, cfg)
    with (tmp_path / "pairs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for row in rows:
        a, s = int(row["appearance_id"]), int(row["structure_id"])
        assert a > ReidConfig.train_ids and s > ReidConfig.train_ids and a != s
