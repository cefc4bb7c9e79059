"""The texture tab: its callback with a tiny random U-Net and PCB, through the gate, and in a real browser."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from core.reid.pcb import PCB
from core.reid.train import BaselineConfig
from core.texgen.config import TexGenConfig
from core.texgen.model import TextureUNet
from demos import texgen_tab as tab
from demos.gate import Form

ROOT = Path(__file__).resolve().parents[1]
P = tab.PEOPLE


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny random U-Net and PCB in the trainers' final.pt formats."""
    folder = tmp_path_factory.mktemp("texgen")
    torch.manual_seed(0)
    cfg = replace(TexGenConfig.small(), unet_widths=(8, 8, 16, 16, 16), texture_size=32)
    unet = TextureUNet.from_config(cfg)
    torch.save({"config": asdict(cfg), "model": unet.state_dict(), "steps": 0, "seconds": 0.0}, folder / "unet.pt")
    pcfg = replace(BaselineConfig.pcb_small(), part_dim=16)
    pcb = PCB(5, pcfg.arch, pcfg.parts, pcfg.part_dim)
    torch.save({"config": asdict(pcfg), "model": pcb.state_dict(), "num_classes": 5, "metrics": {}, "steps": 0,
                "seconds": 0.0}, folder / "pcb.pt")  # fmt: skip
    return folder / "unet.pt", folder / "pcb.pt"


@pytest.fixture
def model_env(point_env, checkpoints):
    point_env({tab.CHECKPOINT_ENV: checkpoints[0], tab.PCB_ENV: checkpoints[1]})
    yield checkpoints


def _run(*args):
    return list(tab.make_texture(*args))


def test_unet_texture_with_orbit_truth_and_files(model_env):
    out = _run(P[0], tab.UNET, "re-ID", 200, "the U-Net's texture", None)
    assert len(out) == 1
    texture, orbit, glb, files, curve, fit, note = out[0]
    assert texture.shape == (256, 256, 3) and curve is None and fit is None
    # two rows (the result and the ground truth), the photo plus 8 views in each
    assert orbit.shape[0] > 2 * 192 and orbit.shape[1] > 9 * 80
    assert Path(glb).read_bytes()[:4] == b"glTF" and len(files) == 2 and files[0].endswith(".png")
    assert "U-Net" in note


def test_optimisation_streams_progress_and_a_loss_curve(model_env):
    out = _run(P[1], tab.OPTIMISE, "both", 20, "flat grey", None)
    assert len(out) >= 3  # progress items, then the result
    for item in out[:-1]:
        assert item[0].shape == (256, 256, 3) and item[4] is not None and "step" in item[6]
    texture, orbit, glb, files, curve, fit, note = out[-1]
    assert orbit is not None and Path(glb).exists() and curve.ndim == 3
    assert "optimisation, both loss, 20 steps" in note


def test_without_a_model_the_baseline_and_what_to_do(monkeypatch):
    import core.checkpoints as registry

    monkeypatch.delenv(tab.CHECKPOINT_ENV, raising=False)
    monkeypatch.delenv(tab.PCB_ENV, raising=False)

    def unknown(name, *args, **kwargs):
        raise registry.CheckpointError(f"unknown checkpoint {name!r}")

    monkeypatch.setattr(registry, "resolve", unknown)
    texture, orbit, *_, note = _run(P[0], tab.UNET, "re-ID", 200, "the U-Net's texture", None)[-1]
    assert orbit is not None and "not shipped yet" in note and "projection baseline" in note


def _refusal(*raw) -> str:
    action = Form(*tab.CHECKS).action(tab.make_texture, "making the texture")
    with pytest.raises(gr.Error) as err:
        list(action(*raw))
    return str(err.value)


def _photo(path: Path, size=(300, 160)) -> str:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_bad_inputs_are_refused_with_what_to_do(model_env, tmp_path):
    assert "no image was uploaded" in _refusal(tab.YOUR_PHOTO, tab.UNET, "re-ID", 200, "the U-Net's texture", None)
    assert "between 10 and 500" in _refusal(P[0], tab.OPTIMISE, "re-ID", 5000, "the U-Net's texture", None)
    assert "one of the choices" in _refusal(P[0], "magic", "re-ID", 200, "the U-Net's texture", None)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert "Your photo" in _refusal(tab.YOUR_PHOTO, tab.UNET, "re-ID", 200, "the U-Net's texture", str(text))


def test_a_photo_without_a_person(model_env, tmp_path):
    """Noise has no person: the U-Net still answers (on a default body, saying so); optimisation refuses."""
    photo = _photo(tmp_path / "noise.png")
    action = Form(*tab.CHECKS).action(tab.make_texture, "making the texture")
    items = list(action(tab.YOUR_PHOTO, tab.UNET, "re-ID", 200, "the U-Net's texture", photo))
    texture, orbit, glb, files, curve, fit, note = items[-1]
    assert "No body fit" in note and "160 x 300 px" in note and "default standing body" in note
    assert "optimisation needs the body" in _refusal(tab.YOUR_PHOTO, tab.OPTIMISE, "L1 (pixels)", 20, "flat grey",
                                                     photo)  # fmt: skip


# ---------------------------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_texgen_tab_in_a_real_browser_with_the_shipped_model(app_server, tmp_path):
    from tests.test_app import _wait_for_drawing, run_and_wait, tab_page

    with tab_page(app_server.url, tab.TITLE) as page:
        run_and_wait(page, "#tx-run", {"#tx-orbit": 90_000, "#tx-texture": 30_000}, "U-Net:")
        # the 3D viewer draws the textured body (it stayed blank when a generator filled it)
        page.locator("#tx-model3d canvas").wait_for(state="attached", timeout=30_000)
        drawn = _wait_for_drawing(page.locator("#tx-model3d"), tmp_path / "viewer.png")
        assert drawn > 0.02, "the 3D viewer shows no textured body"
        page.screenshot(path=str(tmp_path / "texgen_tab.png"), full_page=True)
        size = page.locator("#tx-orbit img").evaluate("(img) => [img.naturalHeight, img.naturalWidth]")
    assert size[0] > 2 * 192
    assert "Traceback" not in app_server.log_text()


@pytest.mark.browser
def test_texgen_optimisation_stops_and_keeps_what_it_drew(app_server):
    from tests.test_app import _browser_page

    with _browser_page(app_server.url, 1400) as page:
        page.get_by_role("tab", name=tab.TITLE).click()
        page.locator("#tx-method").get_by_text(tab.OPTIMISE).click()
        steps = page.locator("#tx-steps input[type=number]")
        steps.fill("500")
        steps.press("Enter")
        page.locator("#tx-run").click()
        note = page.locator("#tx-note")
        page.get_by_text("Optimising: step").first.wait_for(state="visible", timeout=120_000)
        page.locator("#tx-stop").click()
        page.get_by_text("Stopped at step").first.wait_for(state="visible", timeout=120_000)
        stopped = note.inner_text()
        page.wait_for_timeout(4000)
        later = note.inner_text()
        texture_shown = page.locator("#tx-texture img").is_visible()
        orbit_shown = page.locator("#tx-orbit img").is_visible()
    assert later == stopped  # no more progress after Stop
    assert "of 500" in stopped and "step 500 of 500" not in stopped and "Error" not in stopped
    assert texture_shown and orbit_shown  # the texture drawn so far stays, and its orbit is rendered
    assert app_server.alive() and "Traceback" not in app_server.log_text()
