"""Record what the official DG-Net code computes, for tests/test_dgnet_model.py to compare ours against.

The official modules are imported from a checkout of NVlabs/DG-Net given on the command line; nothing of
theirs is copied into this repository (their license is CC BY-NC-SA 4.0). For each configuration below
(derived from their ``configs/latest.yaml``), the script builds their ``AdaINGen``, ``ft_netAB`` and
``MsImageDis`` on the CPU exactly as ``trainer.py`` does, fills every state_dict entry with
:func:`core.dgnet.official.synthetic_official_weights` (deterministic from key, shape and seed), runs the
encoders, the decoder (reconstruction and swap), the discriminator and its two losses on seeded inputs,
and saves a small fixture: the official key -> shape lists, the seeds, and each output at a few hundred
sampled positions with its maximum magnitude and norm.

Usage:
    git clone https://github.com/NVlabs/DG-Net /tmp/DG-Net   # or any copy of its files
    python scripts/dgnet_official_fixture.py /tmp/DG-Net --commit 9855f08711df1d7ebdf976885b0fddec8e7d4a37

Runtime patches, so their GPU-only code runs here: ``torchvision.models.resnet50(pretrained=True)`` builds
a randomly initialised network (no download; every weight is overwritten anyway), ``.cuda()`` is a no-op,
and ``cv2`` (imported by trainer.py for the unused edge input) is stubbed when it is not installed.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import subprocess
import sys
import types
import zlib
from pathlib import Path

import torch
import torchvision
import yaml
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.dgnet.model import normalise  # noqa: E402
from core.dgnet.official import synthetic_official_weights  # noqa: E402

SAMPLES = 384  # positions kept per output tensor
BATCH = 2

# name -> changes to configs/latest.yaml (None deletes the key). Market as released; Duke's identity count
# with average pooling at a smaller input size (which also keeps the test fast); and a variant that leaves
# ID_stride out (the official default is then 2) and changes every generator / discriminator option that
# our modules reproduce.
CONFIGS: dict[str, dict] = {
    "market": {},
    "duke_avg": {"ID_class": 702, "pool": "avg", "crop_image_height": 128, "crop_image_width": 64},
    "variant": {
        "ID_class": 10,
        "ID_stride": None,
        "gen": {
            "dim": 8,
            "n_downsample": 3,
            "activ": "relu",
            "pad_type": "zero",
            "tanh": True,
            "dropout": 0.1,
            "mlp_dim": 256,
        },
        "dis": {
            "dim": 16,
            "n_layer": 3,
            "n_res": 2,
            "num_scales": 2,
            "activ": "relu",
            "pad_type": "zero",
            "LAMBDA": 0.1,
        },
    },
}


def apply_changes(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    return out


def import_official(path: Path) -> tuple[types.ModuleType, types.ModuleType, types.ModuleType]:
    """Their networks.py, reIDmodel.py and trainer.py, importable and runnable on a CPU."""
    original_resnet50 = torchvision.models.resnet50

    def resnet50(pretrained: bool = False, **kwargs: object) -> nn.Module:
        return original_resnet50(weights=None, **kwargs)

    torchvision.models.resnet50 = resnet50
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self
    try:
        importlib.import_module("cv2")
    except ImportError:
        sys.modules["cv2"] = types.ModuleType("cv2")
    sys.path.insert(0, str(path))
    return (importlib.import_module(m) for m in ("networks", "reIDmodel", "trainer"))


def key_shapes(module: nn.Module) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in module.state_dict().items()]


def sample(t: Tensor, name: str) -> dict:
    """``t`` at SAMPLES seeded positions, with its maximum magnitude and norm over all positions."""
    flat = t.detach().reshape(-1).float()
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    idx = torch.randperm(flat.numel(), generator=g)[:SAMPLES].sort().values
    return {
        "shape": list(t.shape),
        "idx": idx.to(torch.int32),
        "val": flat[idx].clone(),
        "max_abs": flat.abs().max().item(),
        "norm": flat.norm().item(),
    }


def run_config(mods: tuple, name: str, cfg: dict, index: int) -> dict:
    networks, reid_model, trainer = mods
    seeds = {"gen": 1000 + index, "id": 2000 + index, "dis": 3000 + index, "input": 10 + index}
    # As DGNet_Trainer.__init__ builds them.
    gen = networks.AdaINGen(cfg["input_dim_a"], cfg["gen"], fp16=False)
    stride = cfg["ID_stride"] if "ID_stride" in cfg else 2
    ida = reid_model.ft_netAB(cfg["ID_class"], stride=stride, norm=cfg["norm_id"], pool=cfg["pool"])
    dis = networks.MsImageDis(3, cfg["dis"], fp16=False)
    keys = {"gen": key_shapes(gen), "id": key_shapes(ida), "dis": key_shapes(dis)}
    for part, module in (("gen", gen), ("id", ida), ("dis", dis)):
        weights = synthetic_official_weights(dict(keys[part]), seeds[part])
        module.load_state_dict(weights, strict=True)
        module.eval()

    g = torch.Generator().manual_seed(seeds["input"])
    x = normalise(torch.rand(BATCH, 3, cfg["crop_image_height"], cfg["crop_image_width"], generator=g))
    outputs: dict[str, Tensor] = {}
    with torch.no_grad():
        s = gen.encode(trainer.to_gray(False)(x))
        f, (logits1, logits2) = ida(x)
        outputs |= {"structure": s, "appearance": f, "logits1": logits1, "logits2": logits2}
        outputs["recon"] = gen.decode(s, f)
        # Image i keeps its own appearance and takes the structure of the other image.
        outputs["swap"] = gen.decode(s.flip(0), f)
        for i, out in enumerate(dis(outputs["swap"])):
            outputs[f"dis{i}"] = out
    loss, reg = dis.calc_dis_loss(dis, outputs["swap"], x.clone())
    outputs["dis_loss"], outputs["dis_reg"] = loss.detach(), reg.detach()
    outputs["gen_adv_loss"] = dis.calc_gen_loss(dis, outputs["swap"]).detach()
    if index == 0:
        # reid_eval/test_2label.py: heads without their last Linear give the two 512-d retrieval features.
        ida.classifier1.classifier = nn.Sequential()
        ida.classifier2.classifier = nn.Sequential()
        with torch.no_grad():
            _, (emb1, emb2) = ida(x)
        outputs |= {"embedding1": emb1, "embedding2": emb2}
    for out_name, t in outputs.items():
        if not torch.isfinite(t).all() or t.abs().max() == 0:
            raise RuntimeError(f"{name}/{out_name}: degenerate output; pick other weight scales")
    return {
        "yaml": cfg,
        "seeds": seeds,
        "batch": BATCH,
        "keys": keys,
        "outputs": {k: sample(v, f"{name}/{k}") for k, v in outputs.items()},
    }


def commit_of(path: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("official", type=Path, help="directory with NVlabs/DG-Net's networks.py, reIDmodel.py, ...")
    parser.add_argument("--commit", help="the official commit the files come from (default: git rev-parse)")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "dgnet_official.pt")
    args = parser.parse_args()
    torch.set_grad_enabled(True)
    mods = tuple(import_official(args.official.resolve()))
    base = yaml.safe_load((args.official / "configs" / "latest.yaml").read_text())
    fixture = {
        "official_commit": args.commit or commit_of(args.official),
        "torch": str(torch.__version__),
        "configs": {
            name: run_config(mods, name, apply_changes(base, changes), i)
            for i, (name, changes) in enumerate(CONFIGS.items())
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(fixture, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB): {', '.join(fixture['configs'])}")


if __name__ == "__main__":
    main()
