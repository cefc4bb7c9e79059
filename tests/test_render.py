"""The renderer draws real, correctly oriented pixels; its shortcuts change no pixel."""

import numpy as np
import pytest
import torch

from core.body import walk_pose
from core.body.skeleton import LANDMARK_NAMES
from core.render import (
    BodyRenderer,
    export_glb,
    fit_distance,
    make_cameras,
    texture_from_image,
    uv_checker,
    uv_grid,
)
from core.render.preview import BodyStudio

SIZE = (128, 64)


@pytest.fixture(scope="module")
def scene(body):
    verts = body(body_pose=walk_pose(torch.tensor([0.1, 0.6]))).vertices
    cams = make_cameras(azimuth=torch.tensor([0.0, 90.0]), elevation=5.0, distance=fit_distance(1.8, 30.0, SIZE))
    return verts, cams


def test_render_rgba_shapes_and_content(body, scene):
    verts, cams = scene
    rgba = BodyRenderer.for_body(body, SIZE).render(verts, cams, uv_checker())
    assert rgba.shape == (2, 4, *SIZE)
    assert 0.0 <= float(rgba.min()) and float(rgba.max()) <= 1.0
    alpha = rgba[:, 3]
    coverage = alpha.mean((1, 2))
    assert torch.all(coverage > 0.1) and torch.all(coverage < 0.8)  # a person, not empty or full
    # where the body is, the texture shows (several distinct colours); elsewhere the white background
    assert torch.all(rgba[:, :3][alpha[:, None].expand(-1, 3, -1, -1) == 0] == 1.0)
    inside = rgba[0, :3, alpha[0] > 0]
    assert float(inside.std(1).mean()) > 0.05


def test_back_face_culling_changes_no_pixel(body, scene):
    verts, cams = scene
    culled = BodyRenderer.for_body(body, SIZE).rasterize(verts, cams)
    full = BodyRenderer.for_body(body, SIZE, cull_back_faces=False, band_rows=0).rasterize(verts, cams)
    assert torch.equal(culled.body_face_index(), full.body_face_index())
    assert sum(len(ids) for ids in culled.face_ids) < 0.7 * 2 * len(body.faces)


@pytest.mark.parametrize("size, distance_scale", [((128, 64), 1.0), ((96, 96), 2.5), ((40, 200), 1.0), ((37, 29), 0.6)])
def test_banded_rasterisation_equals_one_pass(body, size, distance_scale):
    """Bands of rows (with empty bands, odd sizes, wide and tall images) give the same fragments."""
    verts = body(body_pose=walk_pose(torch.tensor([0.2, 0.7]))).vertices
    dist = fit_distance(1.8, 30.0, size) * distance_scale
    cams = make_cameras(azimuth=torch.tensor([10.0, 200.0]), elevation=torch.tensor([0.0, 25.0]), distance=dist)
    one = BodyRenderer.for_body(body, size, band_rows=0).rasterize(verts, cams).fragments
    for rows in (1, 8, 13):
        banded = BodyRenderer.for_body(body, size, band_rows=rows).rasterize(verts, cams).fragments
        assert torch.equal(one.pix_to_face, banded.pix_to_face)
        assert torch.allclose(one.zbuf, banded.zbuf, atol=1e-5)
        assert torch.allclose(one.bary_coords, banded.bary_coords, atol=1e-3)  # float rounding on tiny faces
        assert torch.allclose(one.dists, banded.dists, atol=1e-6)


def test_cached_raster_reshades_exactly(body, scene):
    verts, cams = scene
    renderer = BodyRenderer.for_body(body, SIZE)
    raster = renderer.rasterize(verts, cams)
    first = renderer.shade(raster, uv_checker())
    again = renderer.shade(raster, uv_grid())
    fresh = renderer.render(verts, cams, uv_grid())
    assert torch.allclose(again, fresh, atol=1e-6)
    assert not torch.allclose(first, again)


def test_silhouette_matches_alpha_and_view(body):
    verts = body().vertices  # T-pose: wide from the front, narrow from the side
    renderer = BodyRenderer.for_body(body, (96, 96))
    cams = make_cameras(azimuth=torch.tensor([0.0, 90.0]), elevation=0.0, distance=fit_distance(1.9, 30.0, (96, 96)))
    sil = renderer.silhouette(verts.expand(2, -1, -1), cams)
    assert set(sil.unique().tolist()) == {0.0, 1.0}
    widths = sil[:, 0].amax(1).sum(1)  # columns touched
    assert widths[0] > 2 * widths[1]


def test_azimuth_zero_sees_the_face(body):
    """The nose must project in front of the ears at azimuth 0 (nearer the camera)."""
    out = body()
    cams = make_cameras(azimuth=0.0, elevation=0.0, distance=3.0)
    pts = out.landmarks[0][[LANDMARK_NAMES.index(n) for n in ("nose", "lear", "rear", "leye")]]
    depth = cams.get_world_to_view_transform().transform_points(pts[None])[0, :, 2]
    assert depth[0] < depth[1] and depth[0] < depth[2]
    screen = cams.transform_points_screen(pts[None], image_size=((64, 64),))[0]
    # the body's left eye appears on the image's right when seen from the front
    assert screen[3, 0] > screen[0, 0]


def test_glb_round_trip(tmp_path, body):
    import trimesh

    verts = body(body_pose=walk_pose(0.3)).vertices[0]
    path = export_glb(tmp_path / "body.glb", verts, body.faces, body.verts_uvs, body.faces_uvs, uv_checker(64))
    scene = trimesh.load(path)
    mesh = next(iter(scene.geometry.values()))
    assert len(mesh.faces) == len(body.faces)
    assert mesh.visual.uv.shape == (len(mesh.vertices), 2)
    image = mesh.visual.material.baseColorTexture
    assert image.size == (64, 64)
    # the exported positions are the posed body's (seams only duplicate vertices)
    assert np.allclose(np.sort(mesh.vertices[:, 1])[[0, -1]], np.sort(verts[:, 1].numpy())[[0, -1]], atol=1e-5)


def test_texture_from_image(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 255
    tex = texture_from_image(rgb, size=32)
    assert tex.shape == (32, 32, 3) and torch.allclose(tex[..., 0], torch.ones(32, 32))
    bad = tmp_path / "not_an_image.png"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="could not read"):
        texture_from_image(bad)


def test_studio_validates_and_reuses_the_raster(body):
    studio = BodyStudio(body, image_size=(64, 48))
    betas = [0.0] * 10
    a = studio.render(betas, "Walk", 0.2, 30, 10, studio.texture("UV checker"))
    b = studio.render(betas, "Walk", 0.2, 30, 10, studio.texture("UV grid"))
    assert a.shape == (64, 48, 3) and a.dtype == np.uint8
    assert studio.raster_reuses == 1 and not np.array_equal(a, b)
    with pytest.raises(ValueError, match="beta 0"):
        studio.render([9.0] + betas[1:], "T-pose", 0, 0, 0, studio.texture("UV grid"))
    with pytest.raises(ValueError, match="unknown pose"):
        studio.body_pose("cartwheel")
    with pytest.raises(ValueError, match="upload a texture"):
        studio.texture("Uploaded image", None)
    with pytest.raises(ValueError, match="elevation"):
        studio.render(betas, "T-pose", 0, 0, 120, studio.texture("UV grid"))


def test_close_up_crops_skip_faces_outside_the_image(body):
    """A head crop rasterises only the faces near the head, with the same pixels as a full pass."""
    verts = body().vertices
    head = body().joints[0, 15]
    cams = make_cameras(azimuth=20.0, elevation=0.0, distance=0.8, look_at=tuple(head.tolist()))
    culled = BodyRenderer.for_body(body, (96, 96)).rasterize(verts, cams)
    full = BodyRenderer.for_body(body, (96, 96), cull_back_faces=False, band_rows=0).rasterize(verts, cams)
    assert torch.equal(culled.body_face_index(), full.body_face_index())
    assert len(culled.face_ids[0]) < 0.25 * len(body.faces)
