"""Re-ID supervised texture generation: rasters, losses, optimisation, baseline, trainer, evaluation."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from pytorch3d.renderer import look_at_view_transform

from core.reid.pcb import PCB
from core.reid.train import BaselineConfig, train_baseline
from core.render.uv import orbit_annotation, shade
from core.synth.engine import shared_renderer
from core.synth.reid_set import ReidConfig, write_reid
from core.texgen import api
from core.texgen.config import TexGenConfig
from core.texgen.data import background_bank, load_person_images, person_texture, sample_batch, true_textures
from core.texgen.evaluate import TexGenEvalConfig, evaluate_texgen, format_report
from core.texgen.losses import ReidFeatureLoss, masked_l1, skin_uv_mask, valid_texels
from core.texgen.model import TextureUNet
from core.texgen.optimize import mirror_texel_index, optimize_texture, project_texture, projection_maps
from core.texgen.train import TexGenTrainer, load_pcb, load_texgen, prior_textures, train_texgen


@pytest.fixture(scope="module")
def picture():
    return api.example_picture(1)


def _smooth_texture(size: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 8, 8, generator=gen)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


# ------------------------------------------------------------------------------------------------ rendering


def test_raster_of_the_annotation_matches_the_rendered_person(picture):
    """The naked body in the annotated camera lands on the person the synthetic engine drew, and the
    person's true texture seen through it reproduces the picture's colours (another person's does not)."""
    raster = api.raster_for(picture.annotation)
    pr = shared_renderer()
    person = api.example_picture(1)
    from core.synth.examples import example_people

    p = example_people()[1]
    drawn = pr.render([p.identity], [p.nuisance], (128, 64)).mask[0, 0] > 0.5
    ours = raster.mask[0, 0] > 0.5
    iou = float((drawn & ours).sum() / (drawn | ours).sum())
    moved = ours.roll(4, dims=1)
    assert iou > 0.65  # the drawn person also has clothing bulk, hair, perhaps a bag
    assert iou > float((drawn & moved).sum() / (drawn | moved).sum()) + 0.1  # 4 pixels off is clearly worse
    both = (drawn & ours)[None, None].float()
    own = masked_l1(shade(person.truth, raster), picture.image, both).item()
    other = masked_l1(shade(api.example_picture(2).truth, raster), picture.image, both).item()
    assert own < 0.12 and own < 0.6 * other


def test_orbit_turns_the_camera_about_the_body_axis():
    r0, t0 = look_at_view_transform(dist=5.0, elev=0.0, azim=30.0, at=((0.0, 0.9, 0.0),))
    r1, t1 = look_at_view_transform(dist=5.0, elev=0.0, azim=30.0 + 90.0, at=((0.0, 0.9, 0.0),))
    note = replace(api.default_annotation(), R=r0[0].numpy(), T=t0[0].numpy())
    turned = orbit_annotation(note, 90.0)
    assert np.allclose(turned.R, r1[0].numpy(), atol=1e-5) and np.allclose(turned.T, t1[0].numpy(), atol=1e-5)
    assert np.allclose(orbit_annotation(note, 360.0).R, note.R, atol=1e-5)


def test_shading_is_differentiable_and_projection_inverts_it(picture):
    raster = api.raster_for(picture.annotation)
    texture = _smooth_texture(64).requires_grad_(True)
    image = shade(texture, raster)
    image.sum().backward()
    seen = texture.grad.abs().sum(1)[0] > 0
    assert 0.05 < seen.float().mean() < 0.7  # one view shows part of the body, not all of it
    back = project_texture(image.detach(), raster, 64)
    err = (back - texture.detach()).abs().mean(1)[0][seen].mean()
    unrelated = (_smooth_texture(64, seed=1) - texture.detach()).abs().mean(1)[0][seen].mean()
    # visible texels come back, up to bilinear blur and texels only a neighbour's sample touched
    assert err < 0.06 and err < 0.3 * unrelated


def test_mirror_maps_front_texels_to_the_back():
    atlas = shared_renderer().atlas
    index, valid = mirror_texel_index(atlas, 32)
    rows = ((np.arange(32) + 0.5) * atlas.size / 32).astype(int)
    pos = torch.from_numpy(atlas.position[rows][:, rows].reshape(-1, 3))
    on = valid.nonzero().squeeze(1)
    front = on[pos[on, 2] > 0.08]  # clearly on the front of the torso or limbs
    assert len(front) > 20
    assert (pos[index[0, front], 2] < 0).float().mean() > 0.9  # z flipped
    assert (pos[index[1, front], 2] > 0).float().mean() > 0.9  # x flipped only: still the front


def test_skin_mask_is_the_face_and_hands():
    mask = skin_uv_mask(shared_renderer().atlas, 64)
    assert mask.shape == (64, 64) and 0.003 < mask.float().mean() < 0.1


# ------------------------------------------------------------------------------------------------ networks


def test_unet_shapes_and_input_checks():
    net = TextureUNet((4, 8, 8, 16, 16), texture_size=32)
    tex = net(torch.rand(2, 3, 128, 64))
    assert tex.shape == (2, 3, 32, 32) and 0 <= tex.min() and tex.max() <= 1
    with pytest.raises(ValueError, match="divisible by 16"):
        net(torch.rand(1, 3, 100, 64))
    with pytest.raises(ValueError, match="RGB"):
        net(torch.rand(1, 1, 128, 64))


def test_reid_feature_loss_is_zero_for_the_same_image_and_trains_only_the_input():
    torch.manual_seed(0)
    loss = ReidFeatureLoss(PCB(5, "resnet18", part_dim=16), (64, 32))
    a, b = torch.rand(2, 3, 64, 32), torch.rand(2, 3, 64, 32)
    assert loss(a, a).abs().max() < 1e-6
    x = b.clone().requires_grad_(True)
    value = loss(x, a).sum()
    value.backward()
    assert value > 0 and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.pcb.parameters())


def test_optimisation_lowers_its_loss_and_checks_its_arguments(picture):
    raster = api.raster_for(picture.annotation)
    reports = list(optimize_texture(picture.image, raster, loss="l1", steps=40, texture_size=32, report_every=20))
    assert [r.step for r in reports] == [20, 40]
    history = reports[-1].history
    assert history[-1]["l1"] < 0.7 * history[0]["l1"]
    assert 0 <= reports[-1].texture.min() and reports[-1].texture.max() <= 1
    torch.manual_seed(0)
    reid = ReidFeatureLoss(PCB(5, "resnet18", part_dim=16), (128, 64))
    both = list(optimize_texture(picture.image, raster, loss="both", steps=3, reid_loss=reid, texture_size=32))
    assert set(both[-1].losses) == {"l1", "reid"}
    # texels the photo does not show get no gradient from the photo alone; the re-ID loss on the body
    # turned to the back reaches them
    back = api.raster_for(orbit_annotation(picture.annotation, 180.0))
    grey = torch.full((1, 3, 32, 32), 0.5)
    alone = list(optimize_texture(picture.image, raster, loss="reid", steps=2, reid_loss=reid, texture_size=32))
    turned = list(optimize_texture(picture.image, raster, loss="reid", steps=2, reid_loss=reid, texture_size=32,
                                   other_views=back))  # fmt: skip
    moved_alone = (alone[-1].texture - grey).abs().amax(1)
    moved_turned = (turned[-1].texture - grey).abs().amax(1)
    assert ((moved_turned > 1e-4) & (moved_alone < 1e-6)).sum() > 50
    with pytest.raises(ValueError, match="needs a PCB"):
        next(optimize_texture(picture.image, raster, loss="reid"))
    with pytest.raises(ValueError, match="loss must be"):
        next(optimize_texture(picture.image, raster, loss="ssim"))


def test_orbit_and_export(picture, tmp_path):
    strip = api.orbit(picture.truth, picture.annotation, views=4)
    assert strip.shape == (4, 3, 128, 64)
    # the back view (180) differs from the front view, and each view shows a body on white
    assert (strip[0] - strip[2]).abs().mean() > 0.02
    assert all(((s < 0.99).any(0)).float().mean() > 0.1 for s in strip)
    png, glb = api.export(picture.truth, picture.annotation, tmp_path)
    assert png.stat().st_size > 1000 and glb.read_bytes()[:4] == b"glTF"


# ------------------------------------------------------------------------------------------------ training


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("texgen")
    data = root / "reid"
    write_reid(data, ReidConfig(train_ids=4, test_ids=3, cameras=2, images_per_camera=2, distractors=0, junk=0,
                                image_size=(64, 32)))  # fmt: skip
    pcb = train_baseline(data, root / "pcb", replace(BaselineConfig.from_preset("pcb-tiny"), part_dim=16),
                         device="cpu")  # fmt: skip
    return data, root, pcb["path"]


def test_texgen_trains_resumes_and_evaluates(tiny_run):
    data, root, pcb_path = tiny_run
    cfg = TexGenConfig.tiny()
    run = root / "texgen"
    first = train_texgen(data, run, cfg, pcb_path, device="cpu", max_steps=3)
    assert first["steps"] == 3 and not (run / "final.pt").exists()
    result = train_texgen(data, run, cfg, pcb_path, resume=True, device="cpu")
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) and r["reid"] > 0 and r["reid_other"] > 0 for r in rows)
    assert list(run.glob("cache/raster_train_*.pt"))  # rasters cached for the next run
    unet, loaded = load_texgen(result["path"])
    assert loaded == cfg
    model = api.load_files(result["path"], pcb_path)
    report = evaluate_texgen(model, data, TexGenEvalConfig(people=2, steps=2, gt_texture_size=64, inits=("unet",)))
    assert report["people"] == 2 and len(report["views"]) == 7
    methods = report["methods"]
    assert set(methods) == {"U-Net", "optimise (reid) from the U-Net", "optimise (l1) from the U-Net",
                            "optimise (both) from the U-Net", "optimise (reid, 4 views) from the U-Net",
                            "projection, mirror fill (baseline)",
                            "projection, no mirror", "flat mean body colour (no model)",
                            "true texture at the texture size (oracle)"}  # fmt: skip
    for scores in methods.values():
        assert -1 <= scores["input"]["ssim"] <= 1 and -1 <= scores["input"]["mask_ssim"] <= 1
        for view in ("unseen", "back"):
            assert -1 <= scores[view]["ssim"] <= 1 and 0 <= scores[view]["l1"] <= 1 and scores[view]["delta_e"] >= 0
    oracle, flat = methods["true texture at the texture size (oracle)"], methods["flat mean body colour (no model)"]
    # the truth at the texture's resolution is close to the truth on every unseen view; one colour is not
    assert oracle["unseen"]["l1"] < 0.5 * flat["unseen"]["l1"] and oracle["unseen"]["ssim"] > flat["unseen"]["ssim"]
    assert "| U-Net |" in format_report(report)


def test_projection_unet_starts_as_the_projection_and_trains(tiny_run, picture):
    """unet_input="projection": the U-Net sees the photo projected into UV (5 maps) and starts as that
    projection (zero-initialised correction); its trainer logs the L1 of another view's render."""
    cfg = replace(TexGenConfig.tiny(), unet_input="projection", l1_weight=10.0)
    unet = TextureUNet.from_config(cfg)
    raster = api.raster_for(picture.annotation)
    mirror = mirror_texel_index(shared_renderer().atlas, cfg.texture_size)
    maps = projection_maps(picture.image, raster, cfg.texture_size, mirror)
    assert maps.shape == (1, 5, cfg.texture_size, cfg.texture_size)
    seen, mirrored = maps[:, 3], maps[:, 4]
    assert 0.1 < float(seen.mean()) < 0.7 and float(mirrored.mean()) > 0 and not bool((seen * mirrored).any())
    assert torch.equal(maps[:, :3], project_texture(picture.image, raster, cfg.texture_size, mirror))
    with torch.no_grad():
        start = unet(maps)
    assert (start - maps[:, :3].clamp(0.01, 0.99)).abs().max() < 1e-5
    with pytest.raises(ValueError, match="projection maps"):
        unet(picture.image)
    data, root, pcb_path = tiny_run
    result = train_texgen(data, root / "texgen-uv", cfg, pcb_path, device="cpu")
    rows = [json.loads(line) for line in (root / "texgen-uv" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) and r["l1_other"] > 0 for r in rows)
    model = api.load_files(result["path"], pcb_path)
    texture = api.texture_unet(model, picture.image, picture.annotation)
    assert texture.shape == (1, 3, cfg.texture_size, cfg.texture_size) and 0 <= texture.min() <= texture.max() <= 1
    with pytest.raises(ValueError, match="unet_input"):
        TexGenConfig(unet_input="photo")


def test_truth_supervision_pulls_the_texture_to_the_painted_truth(tiny_run):
    """truth_weight > 0 (a departure): every training image's true texture, painted once per person and coat,
    is the U-Net's target on the body's texels; a few steps on one batch bring the texture closer to it."""
    data, _, pcb_path = tiny_run
    cfg = replace(TexGenConfig.tiny(), unet_input="projection", truth_weight=30.0, reid_weight=0.0, face_weight=0.0,
                  lr=3e-3)  # fmt: skip
    size, atlas = cfg.texture_size, shared_renderer().atlas
    train = load_person_images(data, "train", (cfg.height, cfg.width), limit=8)
    truths = true_textures(train, size)
    assert truths.dtype == torch.uint8 and truths.shape == (len(train), 3, size, size)
    painted = person_texture(train.identity_seeds[3], train.nuisances[3], size)
    assert (truths[3].float() / 255 - painted).abs().max() <= 0.5 / 255 + 1e-6
    parts = (cfg, load_pcb(pcb_path), prior_textures(train, size), background_bank(4, (cfg.height, cfg.width)),
             skin_uv_mask(atlas, size), torch.device("cpu"), None, mirror_texel_index(atlas, size))  # fmt: skip
    with pytest.raises(ValueError, match="true textures"):
        TexGenTrainer(*parts)
    trainer = TexGenTrainer(*parts, truths, valid_texels(atlas, size))
    rng = np.random.default_rng(0)
    batch = sample_batch(train, 2, 2, rng)
    rows = [trainer.step(batch, rng) for _ in range(12)]
    losses = [row["truth"] for row in rows]
    assert losses[-1] < 0.9 * losses[0], losses  # 0.81 measured
    # at reid_weight 0 the re-ID distance is logged (computed without a graph through PCB)
    assert all(row["reid"] > 0 for row in rows)


def test_annotations_attach_with_a_relative_root(tiny_run, monkeypatch):
    """python -m core train texgen --data data/reid passes a relative root: every training image keeps its body."""
    from core.data.market import read_market

    data, _, _ = tiny_run
    monkeypatch.chdir(data.parent)
    samples = read_market(data.name, annotations=True)["train"]
    assert samples and all(s.annotation is not None for s in samples)


def test_texgen_trains_as_two_gloo_processes_under_torchrun(tiny_run, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    data, _, pcb_path = tiny_run
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "core",
           "train", "texgen", "--preset", "tiny", "--data", str(data), "--pcb", str(pcb_path), "--out", "x",
           "--device", "cpu"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    final = torch.load(tmp_path / "x" / "final.pt", weights_only=True)
    assert final["steps"] == TexGenConfig.tiny().steps
