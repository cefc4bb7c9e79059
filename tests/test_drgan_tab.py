"""The face-pose tab: its callbacks with a tiny random DR-GAN, through the gate, and in a real browser."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from core.drgan.config import DRGANConfig
from core.drgan.model import DRGAN
from demos import drgan_tab as tab
from demos.gate import Form

P = tab.PEOPLE


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> tuple[Path, Path]:
    """Tiny random single- and multi-image DR-GANs in the trainer's final.pt format, at the small preset's sizes."""
    folder = tmp_path_factory.mktemp("drgan")
    torch.manual_seed(0)
    cfg = replace(DRGANConfig.small(), width=0.125, feature_dim=32)
    for name, c in (("single.pt", cfg), ("multi.pt", replace(cfg, multi=True))):
        model = DRGAN(c, num_ids=5)
        for m in model.modules():  # PyTorch's default init: the paper's N(0, 0.02) leaves a random model flat grey
            if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d | torch.nn.Linear):
                m.reset_parameters()
        torch.save({"config": c.to_dict(), "model": model.state_dict(), "num_ids": 5, "steps": 0, "seconds": 0.0},
                   folder / name)  # fmt: skip
    return folder / "single.pt", folder / "multi.pt"


@pytest.fixture
def model_env(point_env, checkpoints):
    point_env({tab.CHECKPOINT_ENV: checkpoints[0], tab.MULTI_ENV: checkpoints[1]})
    yield checkpoints


def _refusal(fn, checks, *args) -> str:
    action = Form(*checks).action(fn, "testing")
    with pytest.raises(gr.Error) as err:
        result = action(*args)
        if hasattr(result, "__next__"):
            list(result)
    return str(err.value)


def test_turn_an_example_face(model_env):
    shown, turned, strip, matrix, note = tab.turn_face(P[0], "+0°", 40.0, 3, None)
    assert shown.shape == (192, 192, 3) and turned.shape == (192, 192, 3)
    # the input, then 13 generated faces; the truth row under them
    assert strip.shape[1] > 14 * 80 and strip.shape[0] > 2 * 80
    assert matrix.shape[1] > 5 * 56
    assert "Turned to +45°" in note and "the bin nearest 40°" in note and "yaw estimate" in note
    again = tab.turn_face(P[0], "+0°", 40.0, 3, None)
    assert np.array_equal(again[1], turned)  # the same seed draws the same noise
    # the component's label sits over the top-left corner: the figures keep a blank band there
    for picture in (strip, matrix):
        assert (picture[: tab.LABEL_BAND] == 255).all() and (picture[tab.LABEL_BAND : tab.LABEL_BAND + 60] != 255).any()


def test_gallery_shows_each_example_face_at_its_yaw():
    """The gallery's pictures are rendered alone (6 faces when the app starts, not 6 strips of 13): each is the
    example's face, the one its strip of truths holds at the example's yaw."""
    from core.drgan import api

    pictures = api.example_pictures()
    assert pictures.shape == (api.EXAMPLE_COUNT, 3, 110, 110)
    assert torch.allclose(pictures[0], api.example_face(0).image, atol=1e-4)
    assert not torch.allclose(pictures[0], api.example_face(0, api.EXAMPLE_YAWS[0] + 1).image, atol=0.05)
    assert [caption for _, caption in tab._preview()] == list(P)


def test_figure_font_draws_every_character_the_figures_use():
    """ω and Σ drew as the missing-glyph box in Pillow's default face."""
    from core.drgan.figures import how_it_works_diagram
    from core.figures import font

    face = font(12)

    def mask(text: str) -> np.ndarray:
        m = face.getmask(text)
        return np.array(m).reshape(m.size[1], m.size[0])

    missing = mask("\ue000")  # a private-use code point: no font draws it, so it is the .notdef box
    for ch in "ωΣ°±→×" + "".join(chr(c) for c in range(33, 127)):
        drawn = mask(ch)
        assert drawn.shape != missing.shape or not np.array_equal(drawn, missing), f"{ch!r} draws as a box"
    assert how_it_works_diagram().shape[1] > 800


def test_fuse_example_faces(model_env):
    bars, strip, matrix, note = tab.fuse_faces(P[1], "three: -60°, 0°, +60°", 0, None, None, None, None)
    assert bars.shape[1] > 3 * 80 and strip.shape[1] > 14 * 80 and matrix.shape[0] > 3 * 56
    assert "Fused 3 faces" in note and "multi-image model" in note


def test_without_a_model_the_input_and_what_to_do(monkeypatch):
    monkeypatch.setenv(tab.CHECKPOINT_ENV, "/nonexistent/drgan.pt")
    monkeypatch.delenv(tab.MULTI_ENV, raising=False)
    shown, turned, strip, matrix, note = tab.turn_face(P[2], "+30°", 0.0, 0, None)
    assert shown is not None and turned is None and strip is not None and "python -m core train drgan" in note
    bars, strip, matrix, note = tab.fuse_faces(P[2], "two: -90°, -45°", 0, None, None, None, None)
    assert bars is None and strip is not None and "python -m core ship drgan" in note


def _photo(path: Path, size=(120, 90), seed=0) -> str:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_bad_inputs_are_refused_with_what_to_do(model_env, tmp_path):
    assert "no image was uploaded" in _refusal(tab.turn_face, tab.CHECKS, tab.YOUR_PHOTO, "+0°", 0, 0, None)
    assert "between -90 and 90" in _refusal(tab.turn_face, tab.CHECKS, P[0], "+0°", 120, 0, None)
    assert "whole number" in _refusal(tab.turn_face, tab.CHECKS, P[0], "+0°", 0, 1.5, None)
    assert "one of the choices" in _refusal(tab.turn_face, tab.CHECKS, P[0], "sideways", 0, 0, None)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert "Your photo" in _refusal(tab.turn_face, tab.CHECKS, tab.YOUR_PHOTO, "+0°", 0, 0, str(text))
    one = _photo(tmp_path / "one.png")
    refusal = _refusal(tab.fuse_faces, tab.MULTI_CHECKS, tab.YOUR_PHOTOS, "two: -90°, -45°", 0, None, one, None, None)
    assert "Photo 1: no image was uploaded" in refusal
    fused = Form(*tab.MULTI_CHECKS).action(tab.fuse_faces, "fusing")
    assert "Only one photo" in fused(tab.YOUR_PHOTOS, "two: -90°, -45°", 0, one, None, None, None)[-1]
    # photos 3 and 4 are optional, but a broken one is refused, not ignored
    assert "Photo 3" in _refusal(tab.fuse_faces, tab.MULTI_CHECKS, P[0], "two: -90°, -45°", 0, None, None, str(text),
                                 None)  # fmt: skip
    # a 1 x 1 picture: no face can be found in it, the tab says so and answers
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1), (200, 150, 120)).save(tiny)
    action = Form(*tab.CHECKS).action(tab.turn_face, "turning the face")
    note = action(tab.YOUR_PHOTO, "+0°", 0, 0, str(tiny))[-1]
    assert "too small to find a face" in note


def test_a_photo_without_a_face_says_so(model_env, tmp_path):
    """Noise has no face: the tab says so, crops the middle square (the picture is not square) and answers."""
    photo = _photo(tmp_path / "noise.png")
    action = Form(*tab.CHECKS).action(tab.turn_face, "turning the face")
    shown, turned, strip, matrix, note = action(tab.YOUR_PHOTO, "+0°", 0, 0, photo)
    assert turned is not None and shown.shape == (192, 192, 3)
    assert "no face" in note.lower() and "middle" in note and "rendered" in note
    fused = Form(*tab.MULTI_CHECKS).action(tab.fuse_faces, "fusing")
    bars, strip, matrix, note = fused(tab.YOUR_PHOTOS, "two: -90°, -45°", 0, photo, _photo(tmp_path / "b.png", seed=1),
                                      None, None)  # fmt: skip
    assert bars is not None and "Fused 2 faces" in note


# ---------------------------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_drgan_tab_in_a_real_browser_with_the_shipped_model(app_server, tmp_path):
    from tests.test_app import runs_in_browser

    runs = [("#dr-run", {"#dr-turned": 60_000, "#dr-strip": 30_000}, "Turned to +45°"),
            ("#dr-m-run", {"#dr-m-bars": 60_000}, "Fused 4 faces")]  # fmt: skip
    runs_in_browser(app_server, tab.TITLE, runs, tmp_path / "drgan_tab.png")
