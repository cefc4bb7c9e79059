"""The gait tab: its callbacks with tiny random GaitNet and DyGait models and a tiny gallery, through the
gate, and in a real browser with the shipped models."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from core.dygait.config import DyGaitConfig
from core.dygait.model import DyGait
from core.gaitapp import api
from core.gaitnet.config import GaitNetConfig
from core.gaitnet.model import GaitNet
from demos import gait_tab as tab
from demos.gate import Form
from tests.corpus import clip_files

W = tab.WALKERS


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Tiny random models in the trainers' final.pt format, and a 3-walk gallery of held-out walkers."""
    folder = tmp_path_factory.mktemp("gait")
    torch.manual_seed(0)
    gn_cfg, dy_cfg = GaitNetConfig.tiny(), DyGaitConfig.tiny()
    for name, cfg, model in (("gaitnet.pt", gn_cfg, GaitNet(gn_cfg, 5)), ("dygait.pt", dy_cfg, DyGait(dy_cfg, 5))):
        torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "num_classes": 5, "steps": 0,
                    "seconds": 0.0}, folder / name)  # fmt: skip
    walks = [api.example_walk(s, "nm-01", 90) for s in tab.SUBJECTS[:3]]
    length = min(len(w.sil) for w in walks)
    sil, rgb = np.stack([w.sil[:length] for w in walks]), np.stack([w.rgb[:length] for w in walks])
    gallery = api.Gallery([f"{s:03d}" for s in tab.SUBJECTS[:3]], ["nm-01"] * 3, ["090"] * 3, sil, rgb)
    api.save_gallery(gallery, folder / "gallery.npz")
    return folder / "gaitnet.pt", folder / "dygait.pt", folder / "gallery.npz"


@pytest.fixture
def model_env(monkeypatch, files):
    monkeypatch.setenv(tab.GAITNET_ENV, str(files[0]))
    monkeypatch.setenv(tab.DYGAIT_ENV, str(files[1]))
    monkeypatch.setattr(api, "GALLERY_FILE", files[2])
    tab._GALLERY.clear()
    yield files
    tab._GALLERY.clear()


def test_analyse_an_example_walker(model_env):
    import re
    import time

    began = time.perf_counter()
    gif, maps, trajectory, matches, note = tab.analyse_walk(W[1], "in a coat (cl-01)", "72°", None)
    waited = time.perf_counter() - began
    # the note reports the whole wait (it said 0.4 s where the user waited 7 s), and what it went on
    reported = float(re.search(r"ready in ([0-9.]+) s", note).group(1))
    assert 0.8 * waited - 0.1 <= reported <= waited + 0.1 and "rendering the walk" in note
    assert Path(gif).read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    assert maps.shape[0] > 3 * 96 and maps.shape[1] > 10 * 60  # 3 rows of 10 frames
    assert trajectory.shape[2] == 3 and matches.shape[0] > 2 * 120  # a row of matches per model
    assert "walker 032, cl-01, 72°" in note and "Rank-1:" in note and "GaitNet" in note and "DyGait" in note


def test_a_walk_in_another_walkers_clothes(model_env):
    gif, maps, trajectory, matches, note = tab.analyse_walk(W[1], tab.CLOTHES_SWAP, "90°", None)
    assert maps is not None and matches is not None and trajectory is not None
    assert f"{W[1]}'s own walk" in note and f"clothes of walker {W[2][-3:]}" in note and "Rank-1:" in note


def test_analyse_an_upload(model_env, tmp_path):
    cases = {c.kind: c for c in clip_files(tmp_path / "clips")}
    action = Form(*tab.CHECKS).action(tab.analyse_walk, "analysing")
    walk = [str(p) for p in cases["walk GIF (person on black)"].value]
    gif, maps, trajectory, matches, note = action(tab.YOUR_WALK, "normal (nm-05)", "90°", walk)
    assert maps is not None and trajectory is not None and matches is not None
    assert "your walk" in note and "rendered" in note and "Rank-1" not in note  # no truth for an upload
    # silhouettes only: DyGait runs, GaitNet is skipped with a note
    frames = [str(p) for p in cases["12 silhouette PNG frames"].value]
    gif, maps, trajectory, matches, note = action(tab.YOUR_WALK, "normal (nm-05)", "90°", frames)
    assert maps is not None and trajectory is None and "GaitNet needs colour frames" in note


def test_swap_beside_the_rendered_truth(model_env):
    picture, note = tab.swap_walks(W[0], W[4], "90°")
    assert picture.shape[0] > 4 * 96  # pose walker, appearance walker, swap, truth
    assert "| GaitNet swap |" in note and "| silhouette fill (no learning) |" in note and "clothes ΔE" in note


def test_without_models_the_walk_and_what_to_do(monkeypatch):
    monkeypatch.setenv(tab.GAITNET_ENV, "/nonexistent/gaitnet.pt")
    gif, maps, trajectory, matches, note = tab.analyse_walk(W[2], "normal (nm-05)", "90°", None)
    assert Path(gif).exists() and maps is None and "python -m core train gaitnet" in note
    picture, note = tab.swap_walks(W[0], W[1], "90°")
    assert picture is not None and "python -m core ship gait" in note


def test_bad_inputs_are_refused_with_what_to_do(model_env, tmp_path):
    def refusal(*args) -> str:
        with pytest.raises(gr.Error) as err:
            Form(*tab.CHECKS).action(tab.analyse_walk, "analysing")(*args)
        return str(err.value)

    assert "nothing was uploaded" in refusal(tab.YOUR_WALK, "normal (nm-05)", "90°", None)
    assert "one of the choices" in refusal(W[0], "normal (nm-05)", "17°", None)
    cases = {c.kind: c for c in clip_files(tmp_path / "clips")}
    message = refusal(tab.YOUR_WALK, "normal (nm-05)", "90°", [str(p) for p in cases["one picture"].value])
    assert message.lstrip("'\"").startswith("Your walk") and "single picture" in message
    message = refusal(tab.YOUR_WALK, "normal (nm-05)", "90°", [str(p) for p in cases["pickle that runs code"].value])
    assert "not an OpenGait sequence pickle" in message
    # a broken upload is ignored while a walker is chosen (the upload is not used then)
    action = Form(*tab.CHECKS).action(tab.analyse_walk, "analysing")
    assert "walker 031" in action(W[0], "normal (nm-05)", "90°", [str(p) for p in cases["one picture"].value])[-1]


# ---------------------------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_gait_tab_in_a_real_browser_with_the_shipped_models(app_server, tmp_path):
    from tests.test_app import runs_in_browser

    runs = [("#gait-run", {"#gait-maps": 90_000, "#gait-matches": 30_000}, "Rank-1:"),
            ("#gait-swap-run", {"#gait-swap": 90_000}, "clothes ΔE")]  # fmt: skip
    runs_in_browser(app_server, tab.TITLE, runs, tmp_path / "gait_tab.png")


def test_stored_gallery_features_are_used_only_with_their_model_and_gallery(files, tmp_path):
    """``gallery_features.npz`` spares a search the gallery's embedding, but only for the model file and the
    gallery file it was computed from: another model (or a changed gallery) is embedded afresh."""
    import shutil

    gaitnet_file, dygait_file, gallery_file = (Path(shutil.copy(f, tmp_path)) for f in files)
    models = api.load(gaitnet_file, dygait_file)
    fresh = api.load_gallery(gallery_file)
    assert not fresh.stored  # nothing stored yet
    computed = {name: api._gallery_features(models, fresh, name) for name in models.names}
    api.save_gallery_features(models, gallery_file)
    gallery = api.load_gallery(gallery_file)
    assert set(gallery.stored) == {"GaitNet", "DyGait"}
    for name in models.names:
        np.testing.assert_allclose(gallery.stored[name][1], computed[name], rtol=1e-5, atol=1e-6)
        assert api._gallery_features(models, gallery, name) is gallery.stored[name][1]  # read, not recomputed
    walk = api.example_walk(tab.SUBJECTS[0], "nm-02", 90)
    assert {k: [h.index for h in v] for k, v in api.top_k(models, gallery, walk).items()} == {
        k: [h.index for h in v] for k, v in api.top_k(models, fresh, walk).items()}  # fmt: skip

    torch.manual_seed(1)  # another DyGait file: its features are computed, the stored ones ignored
    other = DyGait(DyGaitConfig.tiny(), 5)
    raw = torch.load(dygait_file, weights_only=True)
    torch.save({**raw, "model": other.state_dict()}, tmp_path / "other.pt")
    retrained = api.load(gaitnet_file, tmp_path / "other.pt")
    again = api.load_gallery(gallery_file)
    assert api._gallery_features(retrained, again, "GaitNet") is again.stored["GaitNet"][1]
    dy = api._gallery_features(retrained, again, "DyGait")
    assert dy is not again.stored["DyGait"][1] and not np.allclose(dy, again.stored["DyGait"][1])

    changed = api.load_gallery(gallery_file)  # a gallery re-saved with other walks drops the stored features
    changed.sil = changed.sil[::-1].copy()
    api.save_gallery(changed, gallery_file)
    assert not api.load_gallery(gallery_file).stored
