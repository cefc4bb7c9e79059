"""The one config base (core.config): presets, overrides and the YAML / JSON round trip, for all six configs."""

from __future__ import annotations

import inspect

import pytest

from core.config import ConfigMixin
from core.dgnet.config import DGNetConfig
from core.drgan.config import DRGANConfig
from core.dygait.config import DyGaitConfig
from core.gaitnet.config import GaitNetConfig
from core.reid.train import BaselineConfig
from core.texgen.config import TexGenConfig

CONFIGS = (DGNetConfig, DRGANConfig, DyGaitConfig, GaitNetConfig, TexGenConfig, BaselineConfig)


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_one_signature_and_paper_defaults(cls):
    assert issubclass(cls, ConfigMixin)
    params = list(inspect.signature(cls.from_preset).parameters.values())
    kind = inspect.Parameter
    assert [(p.name, p.kind) for p in params] == [("name", kind.POSITIONAL_ONLY), ("overrides", kind.VAR_KEYWORD)]
    assert cls.preset_names()[0] == "paper"
    assert cls.from_preset("paper") == cls()  # the defaults are the paper's


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_every_preset_round_trips_through_yaml_and_json(cls, suffix, tmp_path):
    for name in cls.preset_names():
        cfg = cls.from_preset(name)
        assert cls.from_dict(cfg.to_dict()) == cfg
        path = cfg.save_config(tmp_path / f"{name}{suffix}")
        assert cls.from_config(path) == cfg, name  # nested sections and tuples come back as they were


def test_overrides_reach_fields_sections_and_builders():
    cfg = DGNetConfig.from_preset("small", num_classes=37, height=64, loss={"paired_w": 2.0}, **{"train.max_iter": 9})
    assert cfg.appearance.num_classes == 37 and cfg.height == 64
    assert cfg.loss.paired_w == 2.0 and cfg.train.max_iter == 9
    assert cfg.gen == DGNetConfig.small(37).gen  # the rest is the preset's
    assert DGNetConfig.from_preset("small-long", num_classes=5, max_iter=4000).train.step_size == 2400
    multi = DRGANConfig.from_preset("small", multi=True)  # a builder keyword: also a quarter of the steps
    assert multi.multi and multi.steps == DRGANConfig.small().steps // 4
    assert DyGaitConfig.from_preset("tiny", channels=[2, 4, 4, 4]).channels == (2, 4, 4, 4)
    assert BaselineConfig.from_preset("pcb-tiny", part_dim=16).part_dim == 16
    assert TexGenConfig.from_preset("tiny", lr="1e-4").lr == 1e-4  # YAML 1.1 reads 1e-4 as text


def test_unknown_presets_keys_and_bad_values_are_clear_errors():
    with pytest.raises(ValueError, match=r"unknown GaitNetConfig preset 'huge'; choose one of \['paper', 'small'"):
        GaitNetConfig.from_preset("huge")
    with pytest.raises(ValueError, match="has no field 'stepz'"):
        TexGenConfig.from_preset("small", stepz=3)
    with pytest.raises(ValueError, match=r"unknown keys in DGNetConfig.train: \['max_iters'\]"):
        DGNetConfig.from_dict(DGNetConfig().to_dict() | {"train": {"max_iters": 3}})
    with pytest.raises(ValueError, match="steps must be a whole number"):
        DRGANConfig.from_preset("tiny", steps=2.5)
    with pytest.raises(ValueError, match="bf16 must be true or false"):
        DyGaitConfig.from_dict({"bf16": "yes"})
    with pytest.raises(ValueError, match="2 frames after LTA"):  # the class's own validation still runs
        DyGaitConfig.from_preset("tiny", clip=7)
