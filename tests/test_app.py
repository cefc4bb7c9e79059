"""The app, served for real: through its HTTP API (gradio_client) and in a real Chromium."""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# software WebGL (SwiftShader) lets gr.Model3D draw the GLB without a GPU
FLAGS = ["--no-sandbox", "--enable-unsafe-swiftshader", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


def test_build_demo_does_not_launch():
    from app import TABS, build_demo

    demo = build_demo()
    assert demo.is_running is False
    assert [t.TITLE for t in TABS][0] == "Body & Renderer"


def test_body_tab_api_renders_a_body(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False, analytics_enabled=False)
    image_path, glb_path = client.predict(
        2.0, *([0.0] * 9), "Walk", 0.3, 45, 10, "UV checker", None, api_name="/render_body"
    )
    image = np.asarray(Image.open(image_path).convert("RGB"))
    assert image.shape == (400, 300, 3)
    body = (image < 250).any(-1)
    assert 0.05 < body.mean() < 0.7  # a person on a white background, not blank
    assert len(np.unique(image[body].reshape(-1, 3), axis=0)) > 50  # textured, not flat
    assert Path(glb_path).read_bytes()[:4] == b"glTF"


def test_body_tab_api_reports_bad_input(app_url):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False, analytics_enabled=False)
    with pytest.raises(AppError, match="Texture image .*: no image was uploaded"):
        client.predict(*([0.0] * 10), "T-pose", 0.0, 0, 5, "Uploaded image", None, api_name="/render_body")


@contextmanager
def _browser_page(url: str, height: int, width: int = 1280):
    """A page of the app in headless Debian Chromium driven by Playwright."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; scripts/install-browser.sh installs Debian's 'chromium'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            # not "networkidle": a page with gr.State keeps a heartbeat stream open for as long as it lives
            page.goto(url, wait_until="load")
            page.get_by_role("tab").first.wait_for(state="visible", timeout=60_000)
            yield page
        finally:
            browser.close()


@contextmanager
def tab_page(url: str, title: str, height: int = 1400):
    """A browser page of the app (:func:`_browser_page`) with the tab ``title`` open."""
    with _browser_page(url, height) as page:
        page.get_by_role("tab", name=title).click()
        yield page


def run_and_wait(page, button: str, pictures: dict[str, int], text: str) -> None:
    """Click ``button``; wait for the picture in each ``{selector: timeout in ms}``, in order, then ``text`` (10 s)."""
    page.locator(button).click()
    for selector, timeout in pictures.items():
        page.locator(f"{selector} img").wait_for(state="visible", timeout=timeout)
    page.get_by_text(text).first.wait_for(state="visible", timeout=10_000)


def runs_in_browser(server, title: str, runs: list[tuple[str, dict[str, int], str]], screenshot) -> None:
    """Open tab ``title``, do each :func:`run_and_wait` (button, pictures, text) in turn, save a full-page
    screenshot, and check the server is still up."""
    with tab_page(server.url, title) as page:
        for button, pictures, text in runs:
            run_and_wait(page, button, pictures, text)
        page.screenshot(path=str(screenshot), full_page=True)
    assert server.alive()


def test_data_studio_api(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False, analytics_enabled=False)
    base = (7, 90, 10, 30, 0.55, "street", 1, 0.45, "none")
    plain = client.predict(*base, False, 7, "walk", "none", "clean", api_name="/render_person")
    coat = client.predict(*base, True, 7, "walk", "none", "clean", api_name="/render_person")
    pole = client.predict(*base, False, 7, "walk", "pole", "clean", api_name="/render_person")
    low = client.predict(*base, False, 7, "walk", "none", "low resolution", api_name="/render_person")
    a, b, c, d = (np.asarray(Image.open(p).convert("RGB")).astype(int) for p in (plain, coat, pole, low))
    assert a.shape == (384, 192, 3) and np.abs(a - b).mean() > 1.0  # the coat shows
    assert np.abs(a - c).mean() > 1.0 and np.abs(a - d).mean() > 0.5  # so do the occluder and the camera effect
    cams, gait = client.predict(7, "cl-01", 0.3, api_name="/grids")
    assert len(cams) == 6 and len(gait) == 22
    zip_path = client.predict(3, api_name="/sample_dataset")
    import zipfile

    names = zipfile.ZipFile(zip_path).namelist()
    assert any(n.startswith("market_sample/query/") and n.endswith(".jpg") for n in names)


@pytest.mark.browser
def test_data_studio_in_a_real_browser(app_url, tmp_path):
    with _browser_page(app_url, 1600) as page:
        page.get_by_role("tab", name="Data Studio").click()
        page.locator("#ds-render").click()
        image = page.locator("#ds-image img")
        image.wait_for(state="visible", timeout=60_000)
        first = image.get_attribute("src")
        page.locator("#ds-coat input").check()
        page.locator("#ds-render").click()
        page.wait_for_function(
            "(old) => { const i = document.querySelector('#ds-image img'); return i && i.src !== old; }",
            arg=first,
            timeout=60_000,
        )
        page.get_by_text("in its own clothes").first.wait_for(state="visible", timeout=20_000)
        # a new identity seed takes its own clothes along (the clothes seed followed 7 before)
        seed = page.locator("#ds-seed input")
        seed.fill("12")
        seed.press("Enter")
        page.wait_for_function("() => document.querySelector('#ds-clothes input').value === '12'", timeout=20_000)
        page.locator("#ds-grids").click()
        page.locator("#ds-cams img").nth(5).wait_for(state="visible", timeout=60_000)
        assert page.locator("#ds-cams img").count() >= 6
        page.screenshot(path=str(tmp_path / "data_studio.png"), full_page=True)


@pytest.mark.browser
def test_phone_layout_stacks_the_panels_and_keeps_results_near_their_buttons(app_url):
    """At 390 px: each "How it works" text sits above its diagram at full width (it was a 120 px
    column beside a tiny picture), and the Body tab's result is close under its button."""
    with _browser_page(app_url, 800, width=390) as page:
        boxes = {}
        for tab, diagram in (("DG-Net", "#dg-diagram"), ("DR-GAN", "#dr-diagram"), ("Texture", "#tx-diagram")):
            page.get_by_role("tab", name=tab).first.click()
            picture = page.locator(diagram)
            picture.wait_for(state="visible", timeout=20_000)
            boxes[tab] = picture.bounding_box()
        page.get_by_role("tab", name="Body").first.click()
        button = page.locator("#body-render")
        button.wait_for(state="visible", timeout=20_000)
        gap = page.locator("#body-image").bounding_box()["y"] - button.bounding_box()["y"]
    for tab, box in boxes.items():
        assert box["width"] >= 280, (tab, box)  # stacked: about the phone's width (it was a 120 px column)
    assert 0 < gap < 300, gap


def test_data_studio_clothes_follow_the_identity_unless_chosen():
    import gradio as gr

    from demos.data_studio_tab import clothes_caption, follow_identity

    assert follow_identity(12, 7, 7) == (12, 12)  # its own clothes: they follow
    kept, last = follow_identity(12, 42, 7)  # another seed's clothes, chosen by the user: they stay
    assert isinstance(kept, type(gr.skip())) and last == 12
    assert follow_identity(None, 7, 7)[1] == 7  # no seed yet (typing): nothing moves
    assert "its own clothes" in clothes_caption(12, 12)
    assert "seed 42's clothes" in clothes_caption(12, 42) and clothes_caption(None, 3) == ""


@pytest.mark.browser
def test_body_tab_in_a_real_browser(app_url, tmp_path):
    with _browser_page(app_url, 1400) as page:
        page.get_by_role("tab", name="Body & Renderer").wait_for()
        image = page.locator("#body-image img")

        page.locator("#body-render").click()
        image.wait_for(state="visible", timeout=60_000)
        first = image.get_attribute("src")
        page.screenshot(path=str(tmp_path / "before.png"), full_page=True)
        glb_view = _wait_for_drawing(page.locator("#body-glb"), tmp_path / "glb.png")
        assert glb_view > 0.02, "the GLB viewer shows no textured body"

        slider = page.locator("#body-beta-0 input[type=number]")
        slider.fill("2.5")
        slider.press("Enter")
        page.locator("#body-azimuth input[type=number]").fill("90")
        page.locator("#body-azimuth input[type=number]").press("Enter")
        page.locator("#body-render").click()
        page.wait_for_function(
            "(old) => { const i = document.querySelector('#body-image img'); return i && i.src !== old; }",
            arg=first,
            timeout=60_000,
        )
        page.screenshot(path=str(tmp_path / "after.png"), full_page=True)
        second = image.get_attribute("src")
        assert second and second != first
    before, after = (np.asarray(Image.open(tmp_path / f).convert("RGB")) for f in ("before.png", "after.png"))
    assert before.shape == after.shape and np.abs(before.astype(int) - after).sum() > 0


def _wait_for_drawing(element, path: Path, timeout_s: float = 30.0) -> float:
    """Fraction of an element's pixels that differ from its flat background, once it draws."""
    import time

    deadline = time.monotonic() + timeout_s
    fraction = 0.0
    while time.monotonic() < deadline:
        element.screenshot(path=str(path))
        shot = np.asarray(Image.open(path).convert("RGB")).astype(int)
        background = np.median(shot.reshape(-1, 3), axis=0)
        fraction = float((np.abs(shot - background).sum(-1) > 60).mean())
        if fraction > 0.02:
            break
        time.sleep(1.0)
    return fraction


@pytest.mark.browser
def test_refused_input_keeps_the_last_result_in_a_real_browser(app_url, tmp_path):
    """A refusal shows its message and changes nothing on screen: the last render stays."""
    with _browser_page(app_url, 900) as page:
        page.locator("#body-render").click()
        image = page.locator("#body-image img")
        image.wait_for(state="visible", timeout=60_000)
        good = image.get_attribute("src")
        page.locator("#body-texture").get_by_text("Uploaded image").click()
        page.locator("#body-render").click()
        message = page.get_by_text("no image was uploaded").first
        message.wait_for(state="visible", timeout=30_000)
        assert "Texture image" in page.locator("body").inner_text()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(tmp_path / "refused.png"))
        assert image.is_visible() and image.get_attribute("src") == good
