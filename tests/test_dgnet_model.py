"""DG-Net networks: equivalence with the official code, official file round trips, and behaviour.

tests/fixtures/dgnet_official.pt was made by scripts/dgnet_official_fixture.py from NVlabs/DG-Net: the
official key -> shape lists of gen / id / dis for three configs, the seeds of their synthetic weights and
inputs, and the official outputs at sampled positions. Here the same weights are written as official
release files, loaded with ``load_official`` and run through our networks.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from core.dgnet import DGNet, DGNetConfig, denormalise, load_official, normalise, save_official, to_gray
from core.dgnet.official import synthetic_official_weights
from core.nn import AdaptiveInstanceNorm2d, ClassBlock, Conv2dBlock, LayerNorm, adain_layers

FIXTURE = Path(__file__).parent / "fixtures" / "dgnet_official.pt"
REL_TOL = 1e-4


@pytest.fixture(scope="module")
def official() -> dict:
    return torch.load(FIXTURE, weights_only=True)


@pytest.fixture(scope="module")
def official_files(official: dict, tmp_path_factory: pytest.TempPathFactory):
    """Write (once per config) the fixture's weights as an official run: config.yaml + checkpoints/*.pt."""
    written: dict[str, dict[str, Path]] = {}

    def write(name: str) -> dict[str, Path]:
        if name not in written:
            rec = official["configs"][name]
            run = tmp_path_factory.mktemp(f"official_{name}")
            (run / "checkpoints").mkdir()
            paths = {"config": run / "config.yaml"}
            paths["config"].write_text(yaml.safe_dump(rec["yaml"]))
            for part in ("gen", "id", "dis"):
                weights = synthetic_official_weights(dict(rec["keys"][part]), rec["seeds"][part])
                paths[part] = run / "checkpoints" / f"{part}_00100000.pt"
                torch.save({"a": weights}, paths[part])
            written[name] = paths
        return written[name]

    return write


def _load(paths: dict[str, Path], **kwargs) -> DGNet:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean official file must load without any skipped key
        return load_official(paths["gen"], paths["id"], paths["config"], **kwargs)


def _inputs(rec: dict) -> torch.Tensor:
    g = torch.Generator().manual_seed(rec["seeds"]["input"])
    y = rec["yaml"]
    return normalise(torch.rand(rec["batch"], 3, y["crop_image_height"], y["crop_image_width"], generator=g))


def _rel_diff(ours: torch.Tensor, ref: dict) -> float:
    """Max |ours - official| over the sampled positions and the norm gap, relative to the official magnitude."""
    assert list(ours.shape) == ref["shape"]
    flat = ours.detach().reshape(-1).float()
    sampled = (flat[ref["idx"].long()] - ref["val"]).abs().max().item() / ref["max_abs"]
    norm_gap = abs(flat.norm().item() - ref["norm"]) / ref["norm"]
    return max(sampled, norm_gap)


@pytest.mark.parametrize("name", ["market", "duke_avg", "variant"])
def test_reproduces_official_outputs(name: str, official: dict, official_files) -> None:
    rec = official["configs"][name]
    paths = official_files(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load_official(paths["gen"], paths["id"], paths["config"], dis_path=paths["dis"])
    assert not model.training and model.load_report.clean

    # Our modules hold exactly the official keys, shapes and registration order.
    for part, module in (("gen", model.gen), ("id", model.id), ("dis", model.dis)):
        ours = [(k, list(v.shape)) for k, v in module.state_dict().items()]
        assert ours == [(k, list(s)) for k, s in rec["keys"][part]], part

    x = _inputs(rec)
    outs: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        outs["appearance"], (outs["logits1"], outs["logits2"]) = model.encode_appearance(x)
        outs["structure"] = model.encode_structure(x)
        outs["recon"] = model.decode(outs["structure"], outs["appearance"])
        # Image i keeps its appearance and takes the other image's structure (swap() is checked against
        # decode() below on the small model; one ResNet-50 pass less here).
        outs["swap"] = model.decode(outs["structure"].flip(0), outs["appearance"])
        for i, out in enumerate(model.dis(outs["swap"])):
            outs[f"dis{i}"] = out
        if "embedding1" in rec["outputs"]:
            outs["embedding1"], outs["embedding2"] = model.id.embeddings(x)
    loss, reg = model.dis.dis_loss(outs["swap"], x)
    outs["dis_loss"], outs["dis_reg"] = loss.detach(), reg.detach()
    outs["gen_adv_loss"] = model.dis.gen_loss(outs["swap"]).detach()

    assert set(outs) == set(rec["outputs"])
    diffs = {k: _rel_diff(outs[k], rec["outputs"][k]) for k in outs}
    print(name, {k: f"{v:.1e}" for k, v in diffs.items()})
    assert max(diffs.values()) <= REL_TOL, diffs

    if name == "market":  # the paper's sizes
        assert outs["appearance"].shape == (2, 8192)
        assert outs["structure"].shape == (2, 128, 64, 32)
        assert outs["recon"].shape == (2, 3, 256, 128)
        assert outs["logits1"].shape == outs["logits2"].shape == (2, 751)


def test_save_official_round_trip(official_files, tmp_path: Path) -> None:
    model = _load(official_files("market"))
    paths = save_official(model, tmp_path / "run", 100000)
    assert {p.name for p in paths.values()} == {"config.yaml", "gen_00100000.pt", "id_00100000.pt"}
    assert paths["gen"].parent == tmp_path / "run" / "checkpoints"
    raw = yaml.safe_load(paths["config"].read_text())
    assert (raw["ID_class"], raw["ID_style"], raw["gen"]["dim"], raw["dis"]["LAMBDA"]) == (751, "AB", 16, 0.01)
    again = _load(paths)
    assert again.config == model.config
    for mine, theirs in ((model.gen, again.gen), (model.id, again.id)):
        a, b = mine.state_dict(), theirs.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_load_official_refuses_mismatches(official_files, tmp_path: Path) -> None:
    paths = official_files("market")
    raw = yaml.safe_load(paths["config"].read_text())

    wrong_classes = tmp_path / "duke.yaml"
    wrong_classes.write_text(yaml.safe_dump(raw | {"ID_class": 702}))
    expected = r"(?s)id_00100000.pt does not match.*classifier1.classifier.0.weight.*751.*702"
    with pytest.raises(ValueError, match=expected):
        load_official(paths["gen"], paths["id"], wrong_classes)

    pcb = tmp_path / "pcb.yaml"
    pcb.write_text(yaml.safe_dump(raw | {"ID_style": "PCB"}))
    with pytest.raises(ValueError, match="ID_style='PCB' is not supported"):
        load_official(paths["gen"], paths["id"], pcb)

    not_official = tmp_path / "plain.pt"
    torch.save({"weights": {}}, not_official)
    with pytest.raises(ValueError, match=r"\{'a': state_dict\}"):
        load_official(not_official, paths["id"], paths["config"])

    gen = torch.load(paths["gen"], weights_only=True)["a"]
    truncated = tmp_path / "gen_truncated.pt"
    torch.save({"a": {k: v for k, v in gen.items() if not k.startswith("mlp_w3.")}}, truncated)
    with pytest.raises(ValueError, match="lacks 6 weights.*mlp_w3"):
        load_official(truncated, paths["id"], paths["config"])


def test_load_official_tolerates_harmless_keys_and_reports_extras(official_files, tmp_path: Path) -> None:
    paths = official_files("market")
    gen = torch.load(paths["gen"], weights_only=True)["a"]
    # Older files may lack the AdaIN dummy buffers, or carry modules this network does not have.
    edited = {k: v for k, v in gen.items() if not k.endswith("running_mean")} | {"enc_style.x.weight": torch.ones(1)}
    path = tmp_path / "gen_edited.pt"
    torch.save({"a": edited}, path)
    with pytest.warns(UserWarning, match="enc_style.x.weight"):
        model = load_official(path, paths["id"], paths["config"])
    assert model.load_report.unexpected["gen_edited.pt"] == ["enc_style.x.weight"]
    assert len(model.load_report.ignored["gen_edited.pt"]) == 8  # the 8 AdaIN running_mean buffers
    assert model.dis is None


# ---------------------------------------------------------------------------------------------- config


def test_config_defaults_are_the_paper_values() -> None:
    c = DGNetConfig()
    assert (c.height, c.width, c.appearance_dim) == (256, 128, 8192)
    assert (c.structure_channels, c.structure_size) == (128, (64, 32))
    assert (c.gen.dim, c.gen.n_downsample, c.gen.n_res, c.gen.mlp_dim, c.gen.id_dim) == (16, 2, 4, 512, 2048)
    assert (c.appearance.num_classes, c.appearance.stride, c.appearance.pool) == (751, 1, "max")
    assert (c.dis.dim, c.dis.n_layer, c.dis.n_res, c.dis.num_scales, c.dis.gp_weight) == (32, 2, 4, 3, 0.01)
    losses = (c.loss.recon_x_w, c.loss.recon_xp_w, c.loss.recon_id_w, c.loss.fine_w, c.loss.max_teacher_w)
    assert losses == (5, 5, 0.5, 0.2, 2)
    assert (c.loss.warm_iter, c.loss.warm_scale, c.train.max_iter, c.train.batch_size) == (30000, 0.0005, 100000, 8)
    assert c.train.lr_milestones == [60000, 90000, 105000]


def test_small_preset() -> None:
    c = DGNetConfig.small(num_classes=37)
    assert (c.height, c.width, c.appearance.backbone) == (128, 64, "resnet18")
    assert (c.gen.id_dim, c.appearance_dim) == (512, 2048)
    assert c.appearance.num_classes == 37 and c.train.max_iter == 3000
    assert (c.structure_channels, c.structure_size) == (64, (32, 16))
    # Warm-up keeps the paper's proportions: starts at 30% of training and takes 2% (to 1) of it.
    assert c.loss.warm_iter == 900 and round(c.loss.max_w / c.loss.warm_scale) == 60
    assert DGNetConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="builds only ResNet-50"):
        c.to_official_yaml()


def test_sharp_preset_departs_only_in_named_fields() -> None:
    paper, sharp = DGNetConfig(), DGNetConfig.small_sharp(37)
    # the paper's settings are still the defaults of every departure
    assert (paper.dis.gp_weight, paper.dis.init, paper.train.beta1_d, paper.train.weight_decay_d) == (
        0.01, "gaussian", 0.0, 5e-4)  # fmt: skip
    assert (paper.loss.recon_only_iter, paper.loss.gan_ramp_iter, paper.loss.paired_w, paper.train.ema) == (0, 0, 0, 0)
    assert not paper.train.freeze_appearance
    assert (sharp.dis.gp_weight, sharp.dis.init, sharp.train.beta1_d, sharp.train.weight_decay_d) == (
        0.0, "kaiming", 0.5, 0.0)  # fmt: skip
    assert sharp.train.ema == 0.999 and sharp.train.freeze_appearance and sharp.loss.paired_w == 10.0
    assert sharp.loss.colour_w == 2.0 and paper.loss.colour_w == 0.0
    small = DGNetConfig.small(37)
    assert (sharp.appearance, sharp.height) == (small.appearance, small.height)  # same networks,
    # but E_s sees a high-pass picture and G paints over the structure picture
    assert replace(sharp.gen, structure_input="gray", composite=False) == small.gen
    assert sharp.gen.structure_input == "highpass" and paper.gen.structure_input == "gray"
    assert sharp.gen.composite and not paper.gen.composite
    assert DGNetConfig.from_dict(sharp.to_dict()) == sharp
    assert DGNetConfig.from_preset("small-sharp", num_classes=37) == sharp
    yaml = paper.to_official_yaml()  # our departures have no official key
    assert not {"paired_w", "ema", "beta1_d", "freeze_appearance"} & set(yaml)
    with pytest.raises(ValueError, match="ema"):
        DGNetConfig(train=replace(paper.train, ema=1.0))
    with pytest.raises(ValueError, match="structure_input"):
        DGNetConfig(gen=replace(paper.gen, structure_input="edges"))
    with pytest.raises(ValueError, match="no high-pass"):
        DGNetConfig(gen=replace(paper.gen, structure_input="highpass")).to_official_yaml()


def test_composite_generator_paints_over_the_structure_picture() -> None:
    """gen.composite: G's mask chooses per pixel between its colours and the structure picture's; it
    starts at 0.88 of G's picture; decoding without the picture is refused; a plain model is unchanged."""
    from core.dgnet.model import MASK_START_LOGIT, paint_over

    torch.manual_seed(0)
    tiny = DGNetConfig.tiny(5)
    model = DGNet(replace(tiny, gen=replace(tiny.gen, composite=True)), with_discriminator=False).eval()
    a, s = torch.randn(2, 3, 64, 32), torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        decoded = model.gen.decode(model.encode_structure(s), model.encode_appearance(a)[0])
        assert decoded.shape == (2, 4, 64, 32)
        assert torch.allclose(decoded[:, 3], torch.full_like(decoded[:, 3], MASK_START_LOGIT))
        alpha = torch.sigmoid(torch.tensor(MASK_START_LOGIT))
        expected = alpha * decoded[:, :3] + (1 - alpha) * s
        assert torch.allclose(model.swap(a, s), expected, atol=1e-5)
        with pytest.raises(ValueError, match="pass structure_img"):
            model.decode(model.encode_structure(s), model.encode_appearance(a)[0])
        shut = torch.cat([decoded[:, :3], torch.full_like(decoded[:, 3:], -30.0)], 1)  # mask closed: s itself
        assert torch.allclose(paint_over(shut, s), s, atol=1e-6)
    plain = DGNet(tiny, with_discriminator=False)
    assert plain.gen.dec.mask is None and not any("mask" in k for k in plain.state_dict())


def test_highpass_structure_input_drops_a_garments_lightness() -> None:
    """Two pictures that differ by a flat lightness step over a wide region give the same high-pass input
    inside it (away from its edges), while the official gray input differs there by the full step."""
    from core.dgnet.model import highpass_gray, to_gray

    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 32) * 0.1
    lighter = x.clone()
    lighter[:, :, 16:48, 4:28] += 1.0  # a garment 32x24 px, one unit lighter
    inside = (slice(None), slice(None), slice(28, 36), slice(12, 20))  # > 3 sigma from its edges
    assert (to_gray(lighter) - to_gray(x))[inside].abs().min() > 0.99
    assert (highpass_gray(lighter, 1.5) - highpass_gray(x, 1.5))[inside].abs().max() < 0.02
    assert highpass_gray(x, 3.0).shape == (1, 1, 64, 32)


def test_staged_weights_hold_the_adversary_then_ramp_it_in() -> None:
    from core.dgnet.losses import loss_weights

    loss = DGNetConfig.small_sharp(37).loss
    first = loss_weights(loss, 0)
    assert first.gan == 0.0 and first.recon_id == 0.0 and first.recon_x == 5
    assert first.paired == 10.0 and first.colour == 2.0
    start, ramp = loss.recon_only_iter, loss.gan_ramp_iter
    assert loss_weights(loss, start + ramp // 2).gan == pytest.approx(0.5 * loss.gan_w)
    assert loss_weights(loss, start + ramp).gan == loss.gan_w and loss_weights(loss, start).recon_id == loss.recon_id_w
    paper = DGNetConfig().loss
    assert loss_weights(paper, 0).gan == paper.gan_w and loss_weights(paper, 0).paired == 0.0


def test_official_yaml_translation(official: dict) -> None:
    latest = official["configs"]["market"]["yaml"]  # the official configs/latest.yaml, unchanged
    assert DGNetConfig.from_official_yaml(latest) == DGNetConfig()
    raw = DGNetConfig().to_official_yaml()
    assert raw == latest  # every key and value
    assert DGNetConfig.from_official_yaml(raw) == DGNetConfig()
    del raw["ID_stride"]
    assert DGNetConfig.from_official_yaml(raw).appearance.stride == 2  # the official default
    for key, value, message in [
        ("single", "edge", "single='edge'"),
        ("input_dim_a", 3, "input_dim_a=3"),
        ("pool", "gem", "pool='gem'"),
        ("gen", raw["gen"] | {"dec": "slim"}, "gen.dec='slim'"),
        ("gen", raw["gen"] | {"n_res": 3}, "n_res=3"),
        ("dis", raw["dis"] | {"gan_type": "nsgan"}, "only 'lsgan'"),
        ("ID_class", 12.5, "whole number"),
    ]:
        with pytest.raises(ValueError, match=message):
            DGNetConfig.from_official_yaml(raw | {key: value})
    with pytest.raises(ValueError, match="no 'gen'"):
        DGNetConfig.from_official_yaml({"ID_class": 3, "dis": {}})


# ---------------------------------------------------------------------------------------------- behaviour


@pytest.fixture(scope="module")
def small() -> DGNet:
    torch.manual_seed(0)
    return DGNet(DGNetConfig.small(num_classes=20)).eval()


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return normalise(torch.rand(2, 3, 128, 64, generator=torch.Generator().manual_seed(1)))


def test_small_preset_shapes(small: DGNet, batch: torch.Tensor) -> None:
    with torch.no_grad():
        code, (l1, l2) = small.encode_appearance(batch)
        s = small.encode_structure(batch)
        y = small.decode(s, code)
    assert code.shape == (2, 2048) and l1.shape == l2.shape == (2, 20)
    assert s.shape == (2, 64, 32, 16) and y.shape == (2, 3, 128, 64)
    assert torch.isfinite(y).all()


def test_appearance_code_is_channel_major_parts_and_detached(small: DGNet, batch: torch.Tensor) -> None:
    from core.reid import resnet_feature_map

    x = batch.clone().requires_grad_(True)
    code, (logits, _) = small.encode_appearance(x)
    assert not code.requires_grad and logits.requires_grad  # only the ID heads train E_a
    fmap = resnet_feature_map(small.id.model, batch).detach()  # 128x64 input, last stride 1: 8x4 map
    assert fmap.shape == (2, 512, 8, 4)
    stripes = fmap.view(2, 512, 4, 2, 4).amax(dim=(3, 4))  # 4 horizontal stripes of 2 rows, max-pooled
    c, p = 37, 3
    assert torch.equal(code[:, c * 4 + p], stripes[:, c, p])
    assert torch.equal(code.view(2, 512, 4), stripes)


def test_structure_input_is_the_channel_mean(small: DGNet, batch: torch.Tensor) -> None:
    seen = []
    handle = small.gen.enc_content.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    try:
        with torch.no_grad():
            s = small.encode_structure(batch)
            # Colour changes that keep the channel mean do not change the structure code.
            shifted = batch + torch.tensor([0.5, -0.25, -0.25]).view(1, 3, 1, 1)
            s2 = small.encode_structure(shifted)
    finally:
        handle.remove()
    assert torch.equal(seen[0], batch.mean(dim=1, keepdim=True)) and torch.equal(to_gray(batch), seen[0])
    assert torch.allclose(s, s2, atol=1e-5)


def test_adain_parameters_follow_the_mlp_pairs(small: DGNet, batch: torch.Tensor) -> None:
    batch = batch[:1]  # one image is enough to trace the wiring
    layers = adain_layers(small.gen.dec)
    c = small.config.structure_channels  # 64 in the small preset (128 in the paper)
    assert len(layers) == 8 and all(m.num_features == c for m in layers)
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = [m.register_forward_hook(lambda m, args, out: captured.append(args[1:3])) for m in layers]
    try:
        with torch.no_grad():
            code, _ = small.encode_appearance(batch)
            s = small.encode_structure(batch)
            small.decode(s, code)
            base = [(a.clone(), b.clone()) for a, b in captured]
            quarter = small.config.gen.id_dim
            for k in range(4):
                captured.clear()
                changed = code.clone()
                changed[:, k * quarter : (k + 1) * quarter] += 1.0
                small.decode(s, changed)
                touched = [j for j in range(8) if not torch.equal(captured[j][0], base[j][0])]
                assert touched == [2 * k, 2 * k + 1], (k, touched)
                # Residual block k's two AdaIN layers read mlp_w{k+1} / mlp_b{k+1}, first half then second half.
                w = getattr(small.gen, f"mlp_w{k + 1}")(changed[:, k * quarter : (k + 1) * quarter])
                b = getattr(small.gen, f"mlp_b{k + 1}")(changed[:, k * quarter : (k + 1) * quarter])
                assert torch.equal(captured[2 * k][0], w[:, :c]) and torch.equal(captured[2 * k + 1][0], w[:, c:])
                assert torch.equal(captured[2 * k][1], b[:, :c]) and torch.equal(captured[2 * k + 1][1], b[:, c:])
    finally:
        for h in hooks:
            h.remove()


def test_swap_with_itself_is_the_reconstruction(small: DGNet, batch: torch.Tensor) -> None:
    with torch.no_grad():
        code, s = small.encode_appearance(batch)[0], small.encode_structure(batch)
        own = small.decode(s, code)
        assert torch.allclose(small.swap(batch, batch), own, atol=1e-6)
        # A single appearance image dresses every structure image.
        one = small.swap(batch[:1], batch)
        assert one.shape == (2, 3, 128, 64)
        assert torch.allclose(one, small.decode(s, code[:1].expand(2, -1)), atol=1e-5)
        assert torch.allclose(one[0], own[0], atol=1e-5)


def test_clear_errors_on_wrong_inputs(small: DGNet, batch: torch.Tensor) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, 128, 64\).*got \(2, 3, 256, 128\)"):
        small.encode_appearance(torch.zeros(2, 3, 256, 128))
    with pytest.raises(ValueError, match=r"\(B, 3, 128, 64\)"):
        small.encode_structure(torch.zeros(3, 128, 64))
    with pytest.raises(TypeError, match="float tensor"):
        small.encode_structure(torch.zeros(1, 3, 128, 64, dtype=torch.uint8))
    with torch.no_grad():
        s = small.encode_structure(batch)
        code, _ = small.encode_appearance(batch)
    with pytest.raises(ValueError, match=r"appearance code must have shape \(B, 2048\)"):
        small.decode(s, torch.zeros(2, 8192))
    with pytest.raises(ValueError, match="batches differ"):
        small.decode(s, code[:1])
    with pytest.raises(ValueError, match=r"structure code must have shape \(B, 64, 32, 16\)"):
        small.decode(s[:, :32], code)
    with pytest.raises(ValueError, match="equal sizes"):
        small.swap(torch.cat([batch, batch[:1]]), batch)


def test_discriminator_losses(small: DGNet, batch: torch.Tensor) -> None:
    dis = small.dis
    fake = small.swap(batch, batch.flip(0))  # carries the generator's graph
    real = batch.clone()
    outs = dis(real)
    assert [tuple(o.shape) for o in outs] == [(2, 1, 32, 16), (2, 1, 16, 8), (2, 1, 8, 4)]
    loss, reg = dis.dis_loss(fake, real)
    assert not real.requires_grad and reg.item() > 0 and loss.item() > reg.item()
    loss.backward()
    assert all(p.grad is None for p in small.gen.parameters())  # D's loss does not reach G
    assert dis.cnns[0][0].conv.weight.grad is not None
    dis.zero_grad(set_to_none=True)
    g_loss = dis.gen_loss(fake)
    g_loss.backward()
    assert small.gen.mlp_w1.model[0].fc.weight.grad is not None
    small.zero_grad(set_to_none=True)


def test_normalise_round_trip() -> None:
    img = torch.rand(2, 3, 8, 4)
    assert torch.allclose(denormalise(normalise(img)), img, atol=1e-6)
    assert denormalise(torch.full((1, 3, 2, 2), 50.0)).max() == 1.0
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        normalise(torch.rand(3, 8, 4))


# ---------------------------------------------------------------------------------------------- blocks


def test_layer_norm_is_dgnets() -> None:
    x = torch.randn(2, 4, 5, 3)
    ln = LayerNorm(4)
    flat = x.reshape(2, -1)
    expected = (x - flat.mean(1).view(2, 1, 1, 1)) / (flat.std(1, unbiased=True).view(2, 1, 1, 1) + 1e-5)
    expected = expected * ln.gamma.view(1, 4, 1, 1) + ln.beta.view(1, 4, 1, 1)
    assert torch.allclose(ln(x), expected, atol=1e-6)
    assert not torch.allclose(ln(x), torch.nn.functional.group_norm(x, 1, ln.gamma, ln.beta), atol=1e-3)


def test_adain_and_block_keys() -> None:
    x = torch.randn(2, 3, 6, 5)
    scale, shift = torch.randn(2, 3), torch.randn(2, 3)
    norm = AdaptiveInstanceNorm2d(3)
    mean, var = x.mean((2, 3), keepdim=True), x.var((2, 3), unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-5) * scale[:, :, None, None] + shift[:, :, None, None]
    assert torch.allclose(norm(x, scale, shift), expected, atol=1e-5)
    with pytest.raises(RuntimeError, match="assign_adain_params"):
        norm(x)
    assert set(norm.state_dict()) == {"running_mean", "running_var"}
    assert set(Conv2dBlock(3, 4, 3, norm="ln").state_dict()) == {"conv.weight", "conv.bias", "norm.gamma", "norm.beta"}
    assert set(ClassBlock(8, 5, bottleneck=4).state_dict()) == {
        "add_block.0.weight",
        "add_block.0.bias",
        "add_block.1.weight",
        "add_block.1.bias",
        "add_block.1.running_mean",
        "add_block.1.running_var",
        "add_block.1.num_batches_tracked",
        "classifier.0.weight",
        "classifier.0.bias",
    }
