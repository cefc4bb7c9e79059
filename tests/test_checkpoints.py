"""The one checkpoint path (core.checkpoints.save_pretrained / from_pretrained) and every shipped file through it."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from core.checkpoints import CheckpointError, from_pretrained, load_manifest, resolve, save_pretrained, sha256_of
from core.dgnet import api as dgnet_api
from core.drgan import api as drgan_api
from core.drgan import judge
from core.dygait import api as dygait_api
from core.gaitnet import api as gaitnet_api
from core.gaitnet.config import GaitNetConfig
from core.gaitnet.model import GaitNet
from core.reid import train as reid_train
from core.texgen import train as texgen_train

# every shipped model file and the recipe that reads it
SHIPPED = {
    "dgnet": dgnet_api.RECIPE,
    "dgnet-teacher": reid_train.RECIPE,
    "drgan": drgan_api.RECIPE,
    "drgan-multi": drgan_api.RECIPE,
    "drgan-judge": judge.RECIPE,
    "drgan-teacher": drgan_api.RECIPE,
    "dygait": dygait_api.RECIPE,
    "gaitnet": gaitnet_api.RECIPE,
    "gaitnet-base": gaitnet_api.RECIPE,
    "texgen": texgen_train.RECIPE,
    "texgen-pcb": reid_train.RECIPE,
}


def _tiny_gaitnet() -> tuple[GaitNet, GaitNetConfig]:
    torch.manual_seed(0)
    cfg = GaitNetConfig.from_preset("tiny")
    return GaitNet(cfg, 3).eval(), cfg


def _registered(tmp_path, file, name: str = "tiny") -> tuple:
    """A manifest in tmp_path with ``file`` registered as ``name``."""
    manifest = tmp_path / "manifest.json"
    entry = {"name": name, "method": "GaitNet", "file": file.name, "sha256": sha256_of(file)}
    manifest.write_text(json.dumps({"checkpoints": [entry]}))
    return manifest, entry


def test_every_model_file_in_the_manifest_has_a_recipe():
    files = {name for name, entry in load_manifest().items() if entry["file"].endswith(".pt")}
    assert files == set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_shipped_checkpoint_loads_as_float32_eval(name):
    model, config = from_pretrained(SHIPPED[name], name)
    assert not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert config == type(config).from_dict(load_manifest()[name]["config"])  # the manifest records the same


def test_fp16_file_loads_as_float32_and_round_trips(tmp_path):
    model, cfg = _tiny_gaitnet()
    path = save_pretrained(model, tmp_path / "tiny.pt", cfg, num_classes=3, steps=4)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"config", "model", "num_classes", "steps"}
    assert {v.dtype for v in raw["model"].values() if v.is_floating_point()} == {torch.float16}
    loaded, loaded_cfg = from_pretrained(gaitnet_api.RECIPE, path)
    assert loaded_cfg == cfg
    for key, value in loaded.state_dict().items():
        original = model.state_dict()[key]
        assert value.dtype == original.dtype
        assert torch.equal(value, original.half().float() if original.is_floating_point() else original), key
    full, _ = from_pretrained(gaitnet_api.RECIPE, save_pretrained(model, tmp_path / "full.pt", cfg, half=False,
                                                                   num_classes=3))  # fmt: skip
    assert all(torch.equal(full.state_dict()[k], v) for k, v in model.state_dict().items())


def test_names_resolve_through_the_manifest_and_a_changed_file_is_refused(tmp_path):
    model, cfg = _tiny_gaitnet()
    path = save_pretrained(model, tmp_path / "tiny.pt", cfg, num_classes=3)
    manifest, _ = _registered(tmp_path, path)
    assert from_pretrained(gaitnet_api.RECIPE, "tiny", manifest=manifest)[1] == cfg
    with pytest.raises(CheckpointError, match="unknown checkpoint 'other'; registered: tiny"):
        from_pretrained(gaitnet_api.RECIPE, "other", manifest=manifest)
    save_pretrained(model, path, cfg, num_classes=4)  # rebuilt without updating the manifest
    with pytest.raises(CheckpointError, match="does not match the sha256"):
        from_pretrained(gaitnet_api.RECIPE, "tiny", manifest=manifest)
    path.unlink()
    with pytest.raises(CheckpointError, match="is missing"):
        from_pretrained(gaitnet_api.RECIPE, "tiny", manifest=manifest)


def test_wrong_files_are_clear_value_errors(tmp_path):
    model, cfg = _tiny_gaitnet()
    torch.save({"model": model.state_dict()}, tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="is not a GaitNet model .* \\(no 'config'\\)"):
        from_pretrained(gaitnet_api.RECIPE, tmp_path / "bare.pt")
    partial = {k: v for k, v in model.state_dict().items() if not k.startswith("lstm.")}
    save_pretrained(partial, tmp_path / "partial.pt", cfg, num_classes=3)
    with pytest.raises(ValueError, match="does not fit the network: missing \\['lstm"):
        from_pretrained(gaitnet_api.RECIPE, tmp_path / "partial.pt")
    # a run's resume checkpoint: read by recipes that map it (GaitNet's last weights), refused by the others
    resume = {"config": cfg.to_dict(), "trainer": {"model": model.state_dict(), "opt": {}}, "step": 7, "rng": [],
              "seconds": 1.0}  # fmt: skip
    torch.save(resume, tmp_path / "last.pt")
    loaded, _ = from_pretrained(gaitnet_api.RECIPE, tmp_path / "last.pt")
    assert torch.equal(loaded.classifier[0].weight, model.classifier[0].weight)
    with pytest.raises(ValueError, match="resume checkpoint \\(last.pt\\).*final.pt"):
        from_pretrained(dygait_api.RECIPE, tmp_path / "last.pt")


def test_dgnet_files_keep_their_gen_id_layout(tmp_path):
    """The shipped DG-Net file stores {"gen", "id"}; the key shim joins them into the model's gen.* / id.*."""
    shipped = from_pretrained(dgnet_api.RECIPE, "dgnet")[0]
    copy = shutil.copy(resolve("dgnet"), tmp_path / "dgnet.pt")
    assert set(torch.load(copy, weights_only=True)) >= {"config", "gen", "id"}
    again = dgnet_api.load(copy)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in shipped.state_dict().items())
