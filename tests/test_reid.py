"""Re-ID backbones (core.reid): last stride, the baseline's official key layout, features, loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
import yaml

from core.reid import RESNET_CHANNELS, ReidBaseline, build_resnet, load_reid_baseline, resnet_feature_map


def test_last_stride_one_keeps_16x8_at_256x128() -> None:
    net = build_resnet("resnet50", last_stride=1).eval()
    assert net.layer4[0].conv2.stride == (1, 1) and net.layer4[0].downsample[0].stride == (1, 1)
    with torch.no_grad():
        assert resnet_feature_map(net, torch.randn(1, 3, 256, 128)).shape == (1, 2048, 16, 8)
    assert build_resnet("resnet50").layer4[0].conv2.stride == (2, 2)  # torchvision's default


@pytest.mark.parametrize(("last_stride", "size"), [(1, (16, 8)), (2, (8, 4))])
def test_basic_block_backbones_take_the_stride_too(last_stride: int, size: tuple[int, int]) -> None:
    # ResNet-18/34 carry the stride on conv1 of the block, not conv2.
    net = build_resnet("resnet18", last_stride=last_stride).eval()
    with torch.no_grad():
        assert resnet_feature_map(net, torch.randn(1, 3, 256, 128)).shape == (1, 512, *size)


def test_backbones_are_never_downloaded_and_names_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown backbone 'vgg16'"):
        build_resnet("vgg16")
    with pytest.raises(ValueError, match="last_stride must be 1 or 2"):
        build_resnet("resnet18", last_stride=4)
    assert RESNET_CHANNELS["resnet34"] == 512


def test_baseline_has_person_reid_baseline_keys() -> None:
    model = ReidBaseline(751)
    keys = model.state_dict()
    resnet = {f"model.{k}" for k in torchvision.models.resnet50(weights=None).state_dict()}
    head = {k for k in keys if k.startswith("classifier.")}
    assert set(keys) == resnet | head
    assert "model.fc.weight" in keys  # kept so net_last.pth loads strictly
    assert head == {
        "classifier.add_block.0.weight",
        "classifier.add_block.0.bias",
        "classifier.add_block.1.weight",
        "classifier.add_block.1.bias",
        "classifier.add_block.1.running_mean",
        "classifier.add_block.1.running_var",
        "classifier.add_block.1.num_batches_tracked",
        "classifier.classifier.0.weight",
        "classifier.classifier.0.bias",
    }
    assert keys["classifier.add_block.0.weight"].shape == (512, 2048)
    assert keys["classifier.classifier.0.weight"].shape == (751, 512)


def test_baseline_features_and_logits() -> None:
    model = ReidBaseline(13, arch="resnet18", last_stride=1).eval()
    x = torch.randn(2, 3, 128, 64)
    with torch.no_grad():
        logits = model(x)
        bottleneck = model.features(x)
        pooled = model.features(x, kind="pooled")
    assert logits.shape == (2, 13) and bottleneck.shape == (2, 512) and pooled.shape == (2, 512)
    assert torch.allclose(model.classifier.classifier(bottleneck), logits, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(2, 1, 128, 64))


def test_load_reid_baseline_from_its_files(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trained = ReidBaseline(7, last_stride=1)
    weights = tmp_path / "net_last.pth"
    torch.save(trained.state_dict(), weights)
    opts = tmp_path / "opts.yaml"
    opts.write_text(yaml.safe_dump({"stride": 1, "nclasses": 7, "droprate": 0.5, "linear_num": 512, "PCB": False}))
    loaded = load_reid_baseline(weights, opts)
    assert not loaded.training and loaded.model.layer4[0].conv2.stride == (1, 1)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in trained.state_dict().items())

    opts.write_text(yaml.safe_dump({"stride": 1, "nclasses": 7, "linear_num": 256}))
    with pytest.raises(ValueError, match=r"(?s)does not fit.*add_block.0.weight"):
        load_reid_baseline(weights, opts)
    opts.write_text(yaml.safe_dump({"PCB": True, "nclasses": 7}))
    with pytest.raises(ValueError, match="only the plain ResNet-50 ft_net"):
        load_reid_baseline(weights, opts)


def test_pcb_stripes_layers_and_features() -> None:
    from core.reid.pcb import PCB

    torch.manual_seed(0)
    model = PCB(num_classes=7, arch="resnet18", parts=6, part_dim=32).eval()
    x = torch.randn(2, 3, 128, 64)
    layers = model.layer_features(x)
    # layer1..4 at 1/4, 1/8, 1/16 and (last stride 1) 1/16 again
    assert [tuple(t.shape[1:]) for t in layers] == [(64, 32, 16), (128, 16, 8), (256, 8, 4), (512, 8, 4)]
    assert model(x).shape == (2, 6, 7)
    f = model.features(x)
    assert f.shape == (2, 6 * 32)
    # every stripe is unit length, so the whole feature has length sqrt(6)
    assert torch.allclose(f.norm(dim=1), torch.full((2,), 6**0.5), atol=1e-4)
    # stripes are local: changing the bottom of the image moves the bottom stripe more than the top one
    y = x.clone()
    y[:, :, 112:] = 5.0
    top_x, top_y = model.part_features(x)[:, 0], model.part_features(y)[:, 0]
    bottom_x, bottom_y = model.part_features(x)[:, -1], model.part_features(y)[:, -1]
    assert (top_x - top_y).norm() < 0.5 * (bottom_x - bottom_y).norm()
