"""The input gate's decoding and checks, without a server."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from PIL import Image

from demos.gate import Choice, Flag, Form, InputError, Number, Upload, decode_image
from tests.corpus import image_files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return {c.kind: c for c in image_files(tmp_path_factory.mktemp("corpus"))}


def test_every_corpus_file_is_decoded_or_refused_by_name(corpus):
    check = Upload("texture", "Texture image", max_side=256)
    for case in corpus.values():
        if case.accept:
            image = decode_image(case.value, check)
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, case.kind
            assert max(image.shape[:2]) <= 256, case.kind
        else:
            with pytest.raises(InputError, match=r"^Texture image: .+\. .+\.$"):
                decode_image(case.value, check)


def test_decoded_colours_and_orientation(corpus):
    """Quadrants red | green over blue | yellow survive every mode that keeps colour."""
    for kind in ("RGB PNG", "palette GIF", "animated GIF", "RGBA PNG", "WebP", "CMYK JPEG"):
        image = decode_image(corpus[kind].value).astype(int)
        h, w, _ = image.shape
        top_left, bottom_right = image[h // 4, w // 4], image[3 * h // 4, 3 * w // 4]
        assert top_left[0] > 150 and top_left[2] < 100, (kind, top_left)  # red
        assert bottom_right[0] > 150 and bottom_right[1] > 150 and bottom_right[2] < 120, (kind, bottom_right)
    rotated = decode_image(corpus["EXIF-rotated JPEG"].value)
    assert rotated.shape[:2] == (96, 64)  # 96 x 64 stored, shown upright as 64 wide x 96 tall
    assert rotated[5, -5, 0] > 150 and rotated[5, -5, 2] < 100  # red is now top right


def test_high_depth_grey_keeps_its_level(corpus):
    assert abs(decode_image(corpus["16-bit grey PNG"].value).mean() - 128) < 2
    assert decode_image(corpus["1x1 PNG"].value).shape == (1, 1, 3)


def test_transparency_becomes_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(path)
    assert (decode_image(path) == 255).all()


def test_bomb_is_refused_from_its_header_at_once(corpus):
    start = time.perf_counter()
    with pytest.raises(InputError, match="13000 x 13000 pixels"):
        decode_image(corpus["13000x13000 PNG bomb"].value)
    assert time.perf_counter() - start < 1.0


def test_large_photo_is_downscaled_on_load(corpus):
    image = decode_image(corpus["12 MP JPEG"].value)
    assert max(image.shape[:2]) == 1024


def test_number_checks():
    beta = Number("beta_0", "beta 0", lo=-3, hi=3)
    assert beta.parse(2) == 2.0 and beta.parse(-3.0) == -3.0
    for bad in (None, "1", True, math.nan, math.inf, 3.5, [1]):
        with pytest.raises(InputError, match="^beta 0: "):
            beta.parse(bad)
    seed = Number("seed", "Seed", lo=0, hi=100, whole=True)
    assert seed.parse(7.0) == 7 and isinstance(seed.parse(7.0), int)
    with pytest.raises(InputError, match="3.7 is not a whole number"):
        seed.parse(3.7)
    assert Number("x", "X", optional=True).parse(None) is None


def test_choice_and_flag_checks():
    pose = Choice("pose", "Pose", options=("T-pose", "Walk"))
    assert pose.parse("Walk") == "Walk"
    for bad in ("walk", "", None, 1, "<b>x</b>"):
        with pytest.raises(InputError, match="^Pose: "):
            pose.parse(bad)
    with pytest.raises(InputError) as err:
        pose.parse("<b>x</b>")
    assert "<b>" not in str(err.value)  # Gradio shows messages as HTML
    coat = Flag("coat", "Coat")
    assert coat.parse(True) is True
    for bad in (1, "true", None):
        with pytest.raises(InputError, match="^Coat: "):
            coat.parse(bad)


def test_form_reports_every_bad_field_and_skips_unused_uploads(corpus):
    form = Form(
        Choice("texture", "Texture", options=("checker", "upload")),
        Upload("image", "Texture image", optional=True, only_if=("texture", "upload")),
        Number("azimuth", "Azimuth", lo=-180, hi=180),
    )
    broken = str(corpus["truncated PNG"].value)
    assert form.parse("checker", {"path": broken}, 10)[1] is None  # a broken upload does not block the checker
    with pytest.raises(InputError) as err:
        form.parse("upload", {"path": broken}, 500)
    assert "Texture image:" in str(err.value) and "Azimuth:" in str(err.value)


def test_action_signature_names_the_api_parameters():
    import inspect

    form = Form(Number("azimuth", "Azimuth", lo=0, hi=1), Upload("photo", "Photo", optional=True))
    run = form.action(lambda azimuth, photo: azimuth, "testing")
    params = inspect.signature(run).parameters
    assert list(params) == ["azimuth", "photo"]
    assert params["photo"].default is None and params["azimuth"].default is inspect.Parameter.empty
    assert run(0.5, None) == 0.5
