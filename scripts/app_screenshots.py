"""Screenshots of every tab of a running app, at desktop and phone width, after one click on Render.

    python app.py &  python scripts/app_screenshots.py --url http://127.0.0.1:7860/ --out docs

Needs Debian's Chromium (scripts/install-browser.sh) and Playwright (the test extra).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

FLAGS = ["--no-sandbox", "--enable-unsafe-swiftshader", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
TABS = {"Body & Renderer": ("body", "#body-render", "#body-image img"),
        "Data Studio": ("data_studio", "#ds-render", "#ds-image img"),
        "Appearance <-> Structure (DG-Net)": ("dgnet", "#dg-swap", "#dg-grid img"),
        "3D texture (Re-ID supervised)": ("texgen", "#tx-run", "#tx-orbit img"),
        "Face pose (DR-GAN)": ("drgan", "#dr-run", "#dr-strip img"),
        "Gait factors (GaitNet, DyGait)": ("gait", "#gait-run", "#gait-matches img")}  # fmt: skip
EXTRA_CLICKS = {"gait": [("#gait-swap-run", "#gait-swap img")]}  # a second section of the tab
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
FULL_PAGE = {"dgnet", "texgen", "drgan", "gait"}  # their results sit below the "How it works" panel


VIEWERS = {"texgen": ("#tx-model3d",)}  # gr.Model3D canvases that must draw


def _wait_for_drawing(element, timeout_ms: int = 30_000) -> bool:
    """Wait until a 3D viewer shows more than its flat background (it draws a moment after its file loads)."""
    waited = 0
    while waited < timeout_ms:
        shot = np.asarray(Image.open(io.BytesIO(element.screenshot())).convert("RGB")).astype(int)
        background = np.median(shot.reshape(-1, 3), axis=0)
        if (np.abs(shot - background).sum(-1) > 60).mean() > 0.02:
            return True
        element.page.wait_for_timeout(1000)
        waited += 1000
    return False


def shoot(url: str, out: Path, chromium: str = "/usr/bin/chromium", only: list[str] | None = None) -> list[Path]:
    """Screenshots of the tabs whose short names (body, data_studio, dgnet, texgen, drgan, gait) are in ``only``
    (all if None)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        try:
            for view, (w, h) in VIEWPORTS.items():
                page = browser.new_page(viewport={"width": w, "height": h})
                # not "networkidle": a page with gr.State keeps a heartbeat stream open for as long as it lives
                page.goto(url, wait_until="load")
                page.get_by_role("tab").first.wait_for(state="visible", timeout=60_000)
                for tab, (name, button, result) in TABS.items():
                    if only and name not in only:
                        continue
                    page.get_by_role("tab", name=tab).click()
                    page.locator(button).click()
                    page.locator(result).wait_for(state="visible", timeout=120_000)
                    for more_button, more_result in EXTRA_CLICKS.get(name, ()):
                        page.locator(more_button).click()
                        page.locator(more_result).wait_for(state="visible", timeout=120_000)
                    page.wait_for_timeout(1500)
                    page.evaluate("window.scrollTo(0, 0)")
                    path = out / f"app_{name}_{view}.png"
                    if view == "phone" or name in FULL_PAGE:
                        # a viewport as tall as the page, not full_page=True: that capture resizes the page
                        # and the WebGL viewer is cleared and shot blank
                        height = page.evaluate("document.documentElement.scrollHeight")
                        page.set_viewport_size({"width": w, "height": height})
                    for viewer in VIEWERS.get(name, ()):
                        _wait_for_drawing(page.locator(viewer))
                    page.screenshot(path=str(path))
                    page.set_viewport_size({"width": w, "height": h})
                    written.append(path)
                page.close()
        finally:
            browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--tabs", nargs="*", default=None, help="short names: body data_studio dgnet texgen drgan gait")
    args = parser.parse_args()
    for path in shoot(args.url, args.out, only=args.tabs):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
