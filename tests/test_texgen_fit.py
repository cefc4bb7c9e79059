"""Fitting the body to a photo: a synthetic round trip recovers a known body and camera, the fit is
a usable annotation and is drawn over the photo; MediaPipe finds and fits a rendered person and
refuses a picture with nobody in it."""

import sys

import numpy as np
import pytest
import torch
from pytorch3d.renderer import FoVPerspectiveCameras

from core.body import walk_pose
from core.data.annotations import Annotation
from core.render import BodyRenderer, fit_distance, make_cameras
from core.render.photo_detect import MP_LANDMARKS, NUM_MP_LANDMARKS, PhotoFitError, detect_person
from core.render.photo_fit import fit_body, fit_from_keypoints, overlay_fit
from core.render.photo_terms import BodyFit, body_keypoints, project

SIZE = (256, 128)
FOV = 9.0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _silhouette(body, vertices: torch.Tensor, cameras) -> np.ndarray:
    renderer = BodyRenderer(body.faces, body.verts_uvs, body.faces_uvs, SIZE)
    return renderer.rasterize(vertices, cameras).mask[0, 0].numpy() > 0.5


@pytest.fixture(scope="module")
def truth(body):
    """A walking body of a known, seeded shape seen from 30 degrees: its keypoints and silhouette."""
    betas = torch.randn(1, 10, generator=torch.Generator().manual_seed(0)) * 0.7
    with torch.no_grad():
        out = body(betas=betas, body_pose=walk_pose(0.3))
    verts = out.vertices[0]
    centre = ((verts.min(0).values + verts.max(0).values) / 2).tolist()
    cams = make_cameras(azimuth=30.0, elevation=8.0, distance=fit_distance(1.9, FOV, SIZE), look_at=centre, fov=FOV)
    with torch.no_grad():
        points = body_keypoints(out.joints, out.landmarks)
        keypoints = project(points, cams.R, cams.T, FOV, SIZE)[0].numpy()
        joints = project(out.joints, cams.R, cams.T, FOV, SIZE)[0].numpy()
    visibility = np.isfinite(keypoints[:, 0]).astype(np.float32)  # the landmarks our body pairs with
    mask = _silhouette(body, out.vertices, cams)
    return {"points": points, "cams": cams, "keypoints": keypoints, "visibility": visibility, "mask": mask,
            "joints": joints}  # fmt: skip


@pytest.fixture(scope="module")
def round_trip(body, truth):
    calls = []
    fit = fit_from_keypoints(
        truth["keypoints"], truth["visibility"], truth["mask"].astype(np.float32), SIZE, body=body,
        progress=lambda step, total, info: calls.append((step, total, info["loss"])),
    )  # fmt: skip
    return fit, calls


def test_projection_is_pytorch3d_screen_space(truth):
    points = torch.nan_to_num(truth["points"])
    ours = project(points, truth["cams"].R, truth["cams"].T, FOV, SIZE)
    theirs = truth["cams"].transform_points_screen(points, image_size=(SIZE,))[..., :2]
    assert torch.allclose(ours, theirs, atol=1e-3)
    mapped = np.isfinite(truth["keypoints"][:, 0])
    assert mapped.sum() == 27 and not mapped[MP_LANDMARKS.index("mouth_left")]


def test_round_trip_recovers_the_known_body(body, truth, round_trip):
    fit, calls = round_trip
    print(f"round trip: {fit.seconds:.1f} s, keypoints {fit.keypoint_error:.2f} px, IoU {fit.mask_iou:.3f}")
    assert fit.keypoint_error < 2.5
    assert fit.mask_iou > 0.88
    assert fit.warnings == ()
    with torch.no_grad():
        joints = body(**fit.body_params()).joints
        fitted = project(joints, torch.from_numpy(fit.R)[None], torch.from_numpy(fit.T)[None], fit.fov, SIZE)[0]
    error = np.linalg.norm(fitted.numpy() - truth["joints"], axis=1)  # all 24 joints, seen or not
    assert error.mean() < 2.5 and error.max() < 8.0
    # progress: one call per step, counting up to the total
    assert [c[0] for c in calls] == list(range(1, calls[-1][1] + 1))


def test_fit_is_an_annotation(body, truth, round_trip):
    """The fit renders like a synthetic image's annotation: same fields, same conventions."""
    fit, _ = round_trip
    note = fit.annotation()
    assert isinstance(note, Annotation)
    for key, shape in (("betas", (10,)), ("body_pose", (69,)), ("global_orient", (3,)), ("transl", (3,)),
                       ("R", (3, 3)), ("T", (3,))):  # fmt: skip
        value = getattr(note, key)
        assert value.shape == shape and value.dtype == np.float32, key
    assert note.image_size == SIZE and not note.transl.any()
    row = {
        k: np.asarray(getattr(note, k)).tolist() for k in ("betas", "body_pose", "global_orient", "transl", "R", "T")
    }
    again = Annotation.from_dict({**row, "fov": note.fov, "image_size": list(note.image_size)})
    stack = lambda k: torch.from_numpy(getattr(again, k))[None]  # noqa: E731
    with torch.no_grad():
        verts = body(**{k: stack(k) for k in ("betas", "body_pose", "global_orient", "transl")}).vertices
    cams = FoVPerspectiveCameras(R=stack("R"), T=stack("T"), fov=again.fov, znear=0.05, zfar=50.0)
    assert _iou(_silhouette(body, verts, cams), truth["mask"]) == pytest.approx(fit.mask_iou, abs=1e-6)


def test_overlay_shows_the_body_over_the_photo(body, truth, round_trip):
    fit, _ = round_trip
    photo = np.full((*SIZE, 3), 90, np.uint8)
    out = overlay_fit(photo, fit, body)
    assert out.shape == photo.shape and out.dtype == np.uint8
    changed = (out != photo).any(-1)
    assert _iou(changed, truth["mask"]) > 0.7  # the tint lies on the person
    assert (out[truth["mask"]][:, 2] > 120).mean() > 0.8  # ... in the overlay's blue
    with pytest.raises(ValueError, match="fit was made for"):
        overlay_fit(np.zeros((64, 32, 3), np.uint8), fit, body)


def test_hidden_legs_are_guessed_and_said(body, truth):
    visibility = truth["visibility"].copy()
    for name in MP_LANDMARKS[25:]:  # knees, ankles, heels and toes out of view
        visibility[MP_LANDMARKS.index(name)] = 0.0
    mask = truth["mask"].copy()
    mask[150:] = False
    fit = fit_from_keypoints(truth["keypoints"], visibility, mask, SIZE, body=body, steps=64)
    assert isinstance(fit, BodyFit) and np.isfinite(fit.body_pose).all()
    assert any("lower body is not visible" in w for w in fit.warnings)


def test_unusable_keypoints_say_what_is_wrong():
    mask = np.zeros(SIZE, np.float32)
    with pytest.raises(ValueError, match=r"keypoints must be \(33, 2\)"):
        fit_from_keypoints(np.zeros((17, 2)), np.ones(17), mask, SIZE)
    with pytest.raises(ValueError, match="the mask is"):
        fit_from_keypoints(np.zeros((33, 2)), np.ones(33), np.zeros((10, 10)), SIZE)
    few = np.zeros(NUM_MP_LANDMARKS, np.float32)
    few[:3] = 1.0
    with pytest.raises(PhotoFitError, match="too few body keypoints"):
        fit_from_keypoints(np.zeros((33, 2)), few, mask, SIZE)


def test_missing_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # as if the 'photo' extra were not installed
    with pytest.raises(PhotoFitError, match=r"pip install -e '\.\[photo\]'") as err:
        detect_person(np.zeros((128, 64, 3), np.uint8))
    assert isinstance(err.value, ImportError)  # callers that fall back on a missing extra catch it


def test_bad_photo_is_refused_before_detection():
    with pytest.raises(PhotoFitError, match="RGB image"):
        detect_person(np.zeros((128, 64), np.float32))


def test_mediapipe_fits_a_rendered_person(body):
    pytest.importorskip("mediapipe")
    from core.synth.engine import shared_renderer
    from core.synth.identity import sample_identity
    from core.synth.studio import DataStudio

    nuisance = DataStudio(SIZE).nuisance(azimuth=30.0, background="street")
    pic = shared_renderer().render([sample_identity(5)], [nuisance], SIZE)
    photo = (pic.image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    person = pic.mask[0, 0].numpy() > 0.5
    found = detect_person(photo)
    assert found.keypoints.shape == (33, 2) and found.visibility.shape == (33,) and found.mask.shape == SIZE
    assert _iou(found.mask > 0.5, person) > 0.85
    fit = fit_body(found, body=body)
    with torch.no_grad():
        verts = body(**fit.body_params()).vertices
    iou = _iou(_silhouette(body, verts, fit.cameras()), person)
    print(f"mediapipe: {fit.seconds:.1f} s, keypoints {fit.keypoint_error:.2f} px, IoU {fit.mask_iou:.3f} / {iou:.3f}")
    assert iou > 0.75 and fit.mask_iou > 0.75
    assert fit.keypoint_error < 8.0


def test_mediapipe_finds_people_in_re_id_sized_crops():
    """128x64 crops like the Data Studio's camera views: MediaPipe alone found 6 of these 18 (they were
    refused as "no person found"); enlarged with a margin, 14."""
    pytest.importorskip("mediapipe")
    from core.render.photo_detect import PoseDetector
    from core.synth.studio import DataStudio

    crops = [image for seed in (7, 11, 23) for image, _ in DataStudio((128, 64)).reid_cameras(seed)]
    with PoseDetector() as detector:
        plain = sum(detector._detect(image) is not None for image in crops)
        found = []
        for image in crops:
            try:
                found.append(detector(image))
            except PhotoFitError as err:
                assert "128x64 px" in str(err) and "256 px tall" in str(err)  # says what size works
    assert len(found) >= 12 and len(found) > plain + 4, (len(found), plain)
    for detection in found:  # mapped back onto the crop's own pixels
        assert detection.mask.shape == (128, 64)
        shoulders = detection.keypoints[[11, 12]]  # MediaPipe's left and right shoulder: inside the crop
        assert (shoulders[:, 0] > -4).all() and (shoulders[:, 0] < 68).all(), shoulders
        assert (shoulders[:, 1] > 0).all() and (shoulders[:, 1] < 80).all(), shoulders


def test_mediapipe_refuses_a_picture_without_a_person():
    pytest.importorskip("mediapipe")
    with pytest.raises(PhotoFitError, match="no person found in the photo"):
        detect_person(np.full((*SIZE, 3), 128, np.uint8))


def test_mediapipe_fits_a_real_portrait(body):
    """A real photo (Grace Hopper, in matplotlib's sample data): head and shoulders only, so the fit
    covers the person but says that the legs and arms are guessed."""
    pytest.importorskip("mediapipe")
    import matplotlib.cbook
    from PIL import Image

    photo = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    found = detect_person(photo)
    fit = fit_body(found, body=body)
    print(f"portrait: {fit.seconds:.1f} s, keypoints {fit.keypoint_error:.1f} px, IoU {fit.mask_iou:.3f}")
    assert fit.mask_iou > 0.7
    assert fit.keypoint_error < 0.02 * photo.shape[0]
    assert any("lower body is not visible" in w for w in fit.warnings)
    assert overlay_fit(photo, fit, body).shape == photo.shape
