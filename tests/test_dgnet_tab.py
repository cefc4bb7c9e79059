"""The DG-Net tab: its callbacks with a tiny random DG-Net, the official-folder switch, the gate, and one
browser test against the app served with that checkpoint."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from core import figures
from core.dgnet import DGNet, DGNetConfig, save_official
from core.dgnet.figures import how_it_works_diagram
from core.synth import examples as ex
from demos import dgnet_tab as tab
from demos.gate import Form

ROOT = Path(__file__).resolve().parents[1]
P = tab.PEOPLE
DEFAULT = (*P[:4], *P[4:8])  # appearance 1-4, structure 1-4


def _tiny_model(num_classes: int = 10) -> DGNet:
    torch.manual_seed(0)
    return DGNet(DGNetConfig.tiny(num_classes), with_discriminator=False).eval()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny random DG-Net in the exported format (core.dgnet.api.export_checkpoint / load_file)."""
    model = _tiny_model()
    path = tmp_path_factory.mktemp("dgnet") / "tiny_dgnet.pt"
    state = {"config": model.config.to_dict(), "gen": model.gen.state_dict(), "id": model.id.state_dict()}
    torch.save(state, path)
    return path


@pytest.fixture
def model_env(monkeypatch, checkpoint):
    monkeypatch.setenv(tab.CHECKPOINT_ENV, str(checkpoint))
    tab.MODELS.clear()
    yield checkpoint
    tab.MODELS.clear()


@pytest.fixture
def no_model(monkeypatch):
    """Neither the environment variable nor a registered ``dgnet``."""
    import core.checkpoints as registry

    def unknown(name, *args, **kwargs):
        raise registry.CheckpointError(f"unknown checkpoint {name!r}; registered: body")

    monkeypatch.delenv(tab.CHECKPOINT_ENV, raising=False)
    monkeypatch.setattr(registry, "resolve", unknown)
    tab.MODELS.clear()
    yield
    tab.MODELS.clear()


def _grid_shape(rows: int, cols: int, tile_w: int = 80) -> tuple[int, int, int]:
    """Size of labelled_grid's picture for 2:1 tiles at the default display height."""
    h = figures.TILE_H
    width = figures.GAP + tile_w + figures.HEADER_GAP + cols * (tile_w + figures.GAP)
    height = (
        figures.TITLE_H
        + h
        + figures.LABEL_H
        + figures.GAP
        + figures.HEADER_GAP
        + rows * (h + figures.GAP)
        + figures.GAP
    )
    return height, width, 3


def _refusal(action, *args) -> str:
    """The message of the gr.Error that ``action(*args)`` raises."""
    with pytest.raises(gr.Error) as info:
        action(*args)
    return info.value.message


def _image_file(path: Path, size=(300, 200), colour=(200, 40, 40)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


# ---------------------------------------------------------------------------------------------- swap


def test_swap_grid_and_ground_truth_for_synthetic_people(model_env):
    start = time.perf_counter()
    grid, truth, note = tab.swap(tab.SHIPPED, *DEFAULT, None, None)
    print(f"\n4x4 swap (tiny model, first call, incl. rendering): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    tab.swap(tab.SHIPPED, *DEFAULT, None, None)
    print(f"4x4 swap (tiny model, cached renders): {time.perf_counter() - start:.2f} s; {note}")
    assert grid.shape == truth.shape == _grid_shape(4, 4)
    assert grid.dtype == truth.dtype == np.uint8
    assert "4 x 4 swaps" in note and "64x32" in note
    assert np.abs(grid.astype(int) - truth).mean() > 5  # a random model does not draw the truth
    # the ground truth grid is the renderer's swap_truth: person j wearing person i's clothes, seen as j was
    from core.synth.truth import swap_truth

    people = ex.example_people()
    cells = ex.truth_grid(people[:4], people[4:8])
    assert cells.shape == (4, 4, 3, *ex.RENDER_SIZE)
    direct = swap_truth(people[2].identity, people[5].identity, people[5].nuisance)
    assert torch.allclose(cells[2, 1], direct, atol=1e-3)
    assert (cells[2, 1] - ex.render_people([people[5]])[0]).abs().mean() > 0.01  # other clothes than j's own


def test_swap_with_uploads_resizes_with_a_note(model_env, tmp_path):
    wide = np.asarray(Image.new("RGB", (300, 200), (30, 90, 200)))
    grid, truth, note = tab.swap(tab.SHIPPED, P[0], tab.NONE, tab.NONE, tab.NONE, P[4], P[5], tab.NONE, tab.NONE,
                                 wide, None)  # fmt: skip
    assert grid.shape == truth.shape == _grid_shape(2, 2)  # the upload adds a row; its truth row is grey
    assert "300 x 200 px, resized to 32 x 64" in note and "stretched" in note
    grid, truth, note = tab.swap(tab.SHIPPED, *[tab.NONE] * 8, wide, wide)
    assert grid.shape == _grid_shape(1, 1) and truth is None and "No ground truth" in note


def test_swap_needs_a_person_on_each_side(model_env):
    from demos.gate import InputError

    with pytest.raises(InputError, match="^Appearance 1: no appearance person is picked"):
        tab.swap(tab.SHIPPED, *[tab.NONE] * 4, *P[4:8], None, None)
    with pytest.raises(InputError, match="^Structure 1: no structure person is picked"):
        tab.swap(tab.SHIPPED, *P[:4], *[tab.NONE] * 4, None, None)


def test_uploads_through_the_gate(model_env, tmp_path):
    """A non-image and a broken file are refused by the gate naming the field; the action is not run."""
    action = Form(*tab.SWAP_CHECKS).action(tab.swap, "swapping appearance and structure")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    message = _refusal(action, tab.SHIPPED, *DEFAULT, str(text), None)
    assert message.startswith("Your appearance image (optional, adds a row): the file is not an image"), message
    broken = tmp_path / "broken.png"
    broken.write_bytes(_image_file(tmp_path / "ok.png").read_bytes()[:60])
    message = _refusal(action, tab.SHIPPED, *DEFAULT, None, str(broken))
    assert message.startswith("Your structure image (optional, adds a column): the file is damaged"), message
    message = _refusal(action, tab.SHIPPED, P[0], "person 999", *DEFAULT[2:], None, None)
    assert message.startswith("Appearance 2: 'person 999' is not one of the choices"), message
    grid, truth, note = action(tab.SHIPPED, *DEFAULT, str(_image_file(tmp_path / "tall.png", (50, 400))), None)
    assert grid.shape == _grid_shape(5, 4) and "50 x 400 px" in note


# ---------------------------------------------------------------------------------------------- interpolation


@pytest.mark.parametrize("steps", [3, 11])
def test_interpolation_strip_has_k_steps(model_env, steps):
    strip, note = tab.interpolate(tab.SHIPPED, P[0], P[1], P[4], steps, None, None)
    tiles = steps + 3  # the structure person, A, the k steps, B
    width = figures.GAP + tiles * (80 + figures.GAP) + 3 * (figures.HEADER_GAP - figures.GAP)
    assert strip.shape == (figures.TITLE_H + figures.TILE_H + figures.LABEL_H + figures.GAP, width, 3)


def test_interpolation_with_an_upload_choice(model_env):
    from demos.gate import InputError

    with pytest.raises(InputError, match="^Appearance A: 'your appearance image' is chosen but none was uploaded"):
        tab.interpolate(tab.SHIPPED, tab.YOUR_APPEARANCE, P[1], P[4], 5, None, None)
    photo = np.asarray(Image.new("RGB", (64, 128), (10, 120, 60)))
    strip, note = tab.interpolate(tab.SHIPPED, tab.YOUR_APPEARANCE, P[1], tab.YOUR_STRUCTURE, 5, photo, photo)
    assert strip.shape[1] > 0 and "64 x 128 px, resized to 32 x 64" in note and "stretched" not in note


# ---------------------------------------------------------------------------------------------- retrieval


def test_retrieval_top10_marked_right_or_wrong(model_env, monkeypatch):
    # the tab's gallery is 20 people x 3 cameras; 10 x 2 here (rendering 12 more people costs ~10 s)
    assert (ex.GALLERY_PEOPLE, ex.GALLERY_CAMERAS) == (20, 3)
    monkeypatch.setattr(tab, "retrieval_gallery", lambda: ex.retrieval_gallery(people=10, cameras=2))
    query, results, summary = tab.retrieve(tab.SHIPPED, P[0], None)
    gallery = tab.retrieval_gallery()
    assert len(gallery.persons) == 20 and (gallery.persons == ex.FIRST_TEST_PERSON).sum() == 2
    first = ex.example_people()[0]
    assert first.camera not in gallery.cameras[gallery.persons == first.person]  # other cameras only
    assert query.shape[0] == 256 and len(results) == tab.TOP_K
    for image, caption in results:
        right = caption.endswith(" - right")
        assert right or caption.endswith(" - wrong")
        assert tuple(image[2, image.shape[1] // 2]) == (tab.RIGHT if right else tab.WRONG)  # the frame's colour
        assert (f"person {first.person}," in caption) == right
    assert "of the 2** pictures of person 151" in summary and "Ranked 20 gallery images" in summary

    # a gallery picture as the query: itself at rank 1, marked right
    model = tab.chosen_model(tab.SHIPPED)
    index = int(np.flatnonzero(gallery.persons == first.person)[1])
    hits = tab.rank_gallery(model, gallery.images[index], first.person)
    assert len(hits) == 10 and hits[0].index == index and hits[0].right is True and hits[0].rank == 1
    assert [h.right for h in hits] == [bool(gallery.persons[h.index] == first.person) for h in hits]

    # an upload: its person is unknown, so nothing is marked
    photo = np.asarray(Image.new("RGB", (80, 160), (90, 90, 90)))
    _, results, summary = tab.retrieve(tab.SHIPPED, tab.YOUR_QUERY, photo)
    assert len(results) == 10 and not any(c.endswith(("right", "wrong")) for _, c in results)
    assert "not marked" in summary


# ---------------------------------------------------------------------------------------------- models


@pytest.mark.filterwarnings("ignore:No official weights:UserWarning")
def test_official_folder_errors_and_success(model_env, tmp_path):
    def refused(folder, match):
        for step in (tab.check_official_folder, tab.load_official_folder):  # the tab's check step refuses first
            with pytest.raises(gr.Error) as info:
                step(folder)
            assert info.value.message.startswith("Official run folder: ")
            assert match in info.value.message, info.value.message

    refused("", "no folder was given")
    refused(str(tmp_path / "nowhere"), "there is no folder")
    refused(str(_image_file(tmp_path / "a.png")), "is not a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(str(empty), "it has no config.yaml, no checkpoints/gen_XXXXXXXX.pt, no checkpoints/id_XXXXXXXX.pt")
    fake = tmp_path / "fake"
    (fake / "checkpoints").mkdir(parents=True)
    (fake / "config.yaml").write_text("lr: 0.1\n")
    (fake / "checkpoints" / "gen_00000001.pt").write_bytes(b"junk")
    (fake / "checkpoints" / "id_00000001.pt").write_bytes(b"junk")
    refused(str(fake), "no 'gen'")
    assert tab.MODELS.official_folder is None
    _, _, note = tab.swap(tab.OFFICIAL, *DEFAULT, None, None)
    assert "No official weights are loaded yet" in note

    # a real official layout (small ResNet-50 DG-Net written with core.dgnet.save_official) loads and swaps
    cfg = DGNetConfig.paper(5)
    cfg = replace(cfg, height=64, width=32, gen=replace(cfg.gen, dim=4, mlp_dim=16, n_downsample=1))
    save_official(DGNet(cfg, with_discriminator=False), tmp_path / "run", 100)
    status, choice = tab.load_official_folder(f"  {tmp_path / 'run'}  ")
    assert choice == tab.OFFICIAL and "resnet50" in status
    grid, truth, note = tab.swap(tab.OFFICIAL, *DEFAULT, None, None)
    assert grid.shape == _grid_shape(4, 4) and note.startswith("official DG-Net: resnet50")


@pytest.mark.filterwarnings("ignore:.*not shipped yet:UserWarning")
def test_missing_checkpoint_answers_with_a_message(no_model):
    with pytest.warns(UserWarning, match="not shipped yet"):  # gr.Warning: a toast in the app
        grid, truth, note = tab.swap(tab.SHIPPED, *DEFAULT, None, None)
    assert grid is None and truth.shape == _grid_shape(4, 4)  # the ground truth still shows
    assert "not shipped yet" in note and "python -m core train dgnet" in note
    strip, note = tab.interpolate(tab.SHIPPED, P[0], P[1], P[4], 5, None, None)
    assert strip is None and "not shipped yet" in note
    query, results, note = tab.retrieve(tab.SHIPPED, P[0], None)
    assert query is not None and results == [] and "not shipped yet" in note
    # through the gate: an answer, not an error
    action = Form(*tab.RETRIEVAL_CHECKS).action(tab.retrieve, "retrieving")
    assert "not shipped yet" in action(tab.SHIPPED, P[1], None)[2]


@pytest.mark.filterwarnings("ignore:.*not a file:UserWarning")
def test_environment_variable_to_a_missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv(tab.CHECKPOINT_ENV, str(tmp_path / "gone.pt"))
    tab.MODELS.clear()
    _, note = tab.interpolate(tab.SHIPPED, P[0], P[1], P[4], 5, None, None)
    assert tab.CHECKPOINT_ENV in note and "not a file" in note


def test_quality_caveat_follows_the_manifest_bar(monkeypatch, tmp_path):
    from core.checkpoints import save_entry

    monkeypatch.delenv(tab.CHECKPOINT_ENV, raising=False)
    manifest = tmp_path / "manifest.json"
    assert tab.shipped_quality_note(manifest) is None  # nothing registered

    def register(bar) -> None:
        metrics = {"swap": {}} if bar is None else {"swap": {}, "bar": bar}
        save_entry({"name": "dgnet", "file": "dgnet/dgnet.pt", "steps": 8000, "metrics": metrics}, manifest)

    register(None)  # scored before the bar existed
    note = tab.shipped_quality_note(manifest)
    assert "8,000 iterations" in note and "before the fair swap bar" in note
    register([{"check": "clothes colour", "passed": False}, {"check": "kept", "passed": True}])
    note = tab.shipped_quality_note(manifest)
    assert "clothes colour" in note and "kept" not in note.split("bar:")[1]
    register([{"check": "clothes colour", "passed": True}, {"check": "kept", "passed": True}])
    assert tab.shipped_quality_note(manifest) is None  # every check passed: no caveat
    register([{"check": "clothes colour", "passed": False}])
    monkeypatch.setenv(tab.CHECKPOINT_ENV, str(tmp_path / "mine.pt"))  # another file: its scores are unknown
    assert tab.shipped_quality_note(manifest) is None


def test_diagram():
    picture = how_it_works_diagram()
    assert picture.dtype == np.uint8 and picture.shape[2] == 3 and picture.shape[1] > picture.shape[0]
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 20  # boxes, text and arrows, not blank


# ---------------------------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_dgnet_tab_in_a_real_browser_with_the_shipped_model(app_server, tmp_path):
    """The shipped DG-Net (manifest entry ``dgnet``): swap grid beside the truth, a strip, a retrieval."""
    from tests.test_app import run_and_wait, tab_page

    with tab_page(app_server.url, tab.TITLE) as page:
        run_and_wait(page, "#dg-swap", {"#dg-grid": 90_000, "#dg-truth": 30_000}, "4 x 4 swaps")
        size = page.locator("#dg-grid img").evaluate("(img) => [img.naturalHeight, img.naturalWidth]")
        page.locator("#dg-interpolate").click()
        page.locator("#dg-strip img").wait_for(state="visible", timeout=60_000)
        page.locator("#dg-retrieve").click()
        page.locator("#dg-results img").first.wait_for(state="visible", timeout=60_000)
        page.get_by_text("Green frame: the same person").first.wait_for(state="visible", timeout=10_000)
        page.screenshot(path=str(tmp_path / "dgnet_tab.png"), full_page=True)
        notes = page.locator("#dg-swap-note").inner_text()
        # a refused official folder shows a plain toast and leaves the Model switch as it was
        radio = page.locator("#dg-model")
        before = radio.inner_text()
        page.locator("#dg-load").click()
        toast = page.get_by_text("no folder was given").first
        toast.wait_for(state="visible", timeout=20_000)
        page.wait_for_timeout(500)
        after = radio.inner_text()
        toasts = page.locator(".toast-body").all_inner_texts()
    assert tuple(size) == _grid_shape(4, 4)[:2]
    assert "not shipped" not in notes  # the registered model answered, not the note
    assert after == before and tab.SHIPPED in after and "Error" not in after, after
    assert not any("*" in t for t in toasts), toasts
    assert app_server.alive()
