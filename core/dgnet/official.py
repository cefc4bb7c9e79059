"""The official DG-Net release files (NVlabs/DG-Net): read them as they are, write them in their layout.

Layout of a run ``outputs/<name>/``: ``config.yaml`` and ``checkpoints/gen_%08d.pt``, ``id_%08d.pt``,
``dis_%08d.pt``; each ``.pt`` is ``{'a': state_dict}``. The released Market-1501 model ships
``gen_00100000.pt`` and ``id_00100000.pt`` with its ``config.yaml``.

The official tools load these with ``strict=False``. :func:`load_official` does the same but says what
it skipped: known-harmless differences (the AdaIN layers' unused running buffers, the unused ImageNet
``model.fc``, BatchNorm ``num_batches_tracked``) pass silently, any other missing key is an error (the
weight would stay random), any other extra key is reported with a warning, and a shape mismatch (for
instance a config whose ``ID_class`` differs from the file's heads) is an error naming both shapes.

:func:`synthetic_official_weights` makes deterministic stand-in weights for equivalence tests against the
official code (scripts/dgnet_official_fixture.py).
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from torch import Tensor, nn

from core.dgnet.config import DGNetConfig
from core.dgnet.model import DGNet

__all__ = ["LoadReport", "load_official", "save_official", "synthetic_official_weights"]


@dataclass
class LoadReport:
    """What a non-strict load left out, per file; harmless keys are listed apart."""

    missing: dict[str, list[str]] = field(default_factory=dict)
    unexpected: dict[str, list[str]] = field(default_factory=dict)
    ignored: dict[str, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not any(self.missing.values()) and not any(self.unexpected.values())


def _harmless(key: str) -> bool:
    """Keys whose presence or absence changes no output."""
    if key.endswith("num_batches_tracked"):
        return True
    if key.startswith("model.fc."):  # torchvision's ImageNet classifier, never called
        return True
    # AdaIN layers (norm of the decoder's residual blocks) keep unused running statistics.
    return key.startswith("dec.model.") and key.endswith((".norm.running_mean", ".norm.running_var"))


def _read_official_file(path: Path) -> dict[str, Tensor]:
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, Mapping) or "a" not in data:
        found = sorted(data)[:5] if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(f"{path}: expected an official DG-Net checkpoint {{'a': state_dict}}, found {found}")
    state = data["a"]
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: entry 'a' is {type(state).__name__}, not a state_dict")
    return dict(state)


def _load_into(module: nn.Module, state: Mapping[str, Tensor], path: Path, report: LoadReport) -> None:
    expected = module.state_dict()
    wrong = [
        f"{k}: file {tuple(v.shape)}, config gives {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    if wrong:
        raise ValueError(
            f"{path.name} does not match the network its config.yaml describes (wrong config for these "
            "weights? e.g. ID_class, ID_stride or gen sizes):\n  " + "\n  ".join(wrong)
        )
    missing, unexpected = module.load_state_dict(state, strict=False)
    report.ignored[path.name] = sorted(k for k in [*missing, *unexpected] if _harmless(k))
    report.missing[path.name] = sorted(k for k in missing if not _harmless(k))
    report.unexpected[path.name] = sorted(k for k in unexpected if not _harmless(k))
    if report.missing[path.name]:
        raise ValueError(
            f"{path.name} lacks {len(report.missing[path.name])} weights the network needs, e.g. "
            f"{report.missing[path.name][:5]}; it is not a DG-Net checkpoint of this kind"
        )
    if report.unexpected[path.name]:
        warnings.warn(
            f"{path.name}: {len(report.unexpected[path.name])} keys not used by this network were skipped "
            f"(the official tools skip them too): {report.unexpected[path.name][:8]}",
            stacklevel=3,
        )


def load_official(
    gen_path: str | Path,
    id_path: str | Path,
    config_path: str | Path,
    dis_path: str | Path | None = None,
) -> DGNet:
    """A :class:`DGNet` in eval mode from the official ``gen_*.pt``, ``id_*.pt`` and the run's ``config.yaml``.

    ``dis_path`` (``dis_*.pt``) is optional; without it the model has no discriminator. The model's
    ``load_report`` attribute is a :class:`LoadReport`. Raises ValueError with the reason when the files
    are not DG-Net checkpoints, do not fit the config, or the config asks for something unsupported.
    """
    config_path, gen_path, id_path = Path(config_path), Path(gen_path), Path(id_path)
    raw = yaml.safe_load(config_path.read_text())
    try:
        config = DGNetConfig.from_official_yaml(raw)
    except ValueError as err:
        raise ValueError(f"{config_path}: {err}") from err
    # Read every file before building the networks, so a wrong file fails fast.
    files = {"gen": gen_path, "id": id_path} | ({"dis": Path(dis_path)} if dis_path is not None else {})
    states = {part: _read_official_file(path) for part, path in files.items()}
    model = DGNet(config, with_discriminator=dis_path is not None)
    report = LoadReport()
    for part, path in files.items():
        _load_into(getattr(model, part), states[part], path, report)
    model.load_report = report
    return model.eval()


def save_official(model: DGNet, out_dir: str | Path, iteration: int, config: DGNetConfig | None = None) -> dict:
    """Write ``model`` in the official run layout; returns the paths written.

    ``out_dir/config.yaml`` and ``out_dir/checkpoints/{gen,id,dis}_%08d.pt`` (``dis`` only when the model
    has one), each ``{'a': state_dict}``. ``iteration`` is the number in the file names as the official code
    writes it (its 0-based iteration + 1, e.g. 100000). The official code can read these files.
    """
    config = config or model.config
    out_dir = Path(out_dir)
    ckpt = out_dir / "checkpoints"
    ckpt.mkdir(parents=True, exist_ok=True)
    paths = {"config": out_dir / "config.yaml"}
    paths["config"].write_text(yaml.safe_dump(config.to_official_yaml(), sort_keys=False))
    parts = {"gen": model.gen, "id": model.id} | ({"dis": model.dis} if model.dis is not None else {})
    for name, module in parts.items():
        paths[name] = ckpt / f"{name}_{iteration:08d}.pt"
        torch.save({"a": module.state_dict()}, paths[name])
    return paths


# ---------------------------------------------------------------------------------------------- test weights


def _generator(seed: int, key: str) -> torch.Generator:
    # crc32, not hash(): Python salts string hashes per process, and the values must be the same everywhere.
    return torch.Generator().manual_seed(zlib.crc32(f"{seed}/{key}".encode()))


def _synthetic_tensor(key: str, shape: Sequence[int], seed: int) -> Tensor:
    shape = tuple(int(s) for s in shape)
    g = _generator(seed, key)
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return torch.zeros(shape, dtype=torch.long)
    if leaf == "running_var":
        return torch.rand(shape, generator=g) + 0.5  # [0.5, 1.5): positive, around 1
    if leaf == "running_mean":
        return (torch.rand(shape, generator=g) - 0.5) * 0.2
    if leaf == "gamma" or (leaf == "weight" and len(shape) == 1):  # layer norm / batch norm scales
        return torch.rand(shape, generator=g) * 0.5 + 0.75  # [0.75, 1.25)
    if leaf in ("beta", "bias") or len(shape) < 2:
        return torch.randn(shape, generator=g) * 0.05
    # Conv / linear weights: N(0, 1/fan_in) keeps activations of order one through deep stacks.
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=g) / math.sqrt(fan_in)


def synthetic_official_weights(shapes: Mapping[str, Sequence[int]], seed: int) -> dict[str, Tensor]:
    """Deterministic stand-in weights for a state_dict given as key -> shape (float32, CPU).

    Each tensor depends only on (seed, key, shape), so the official modules and ours get identical values
    from the key lists alone. Scales keep a random ResNet-50 + generator finite and informative:
    conv/linear weights N(0, 1/fan_in), norm scales in [0.75, 1.25), biases N(0, 0.05^2), running means
    in [-0.1, 0.1), running variances in [0.5, 1.5), ``num_batches_tracked`` 0.
    """
    return {key: _synthetic_tensor(key, shape, seed) for key, shape in shapes.items()}
