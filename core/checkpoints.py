"""Checkpoint registry and the one path from a checkpoint file to a model.

``checkpoints/manifest.json`` holds one entry per shipped file. Loading goes through
:func:`resolve`, which checks the file exists and matches its recorded sha256, so a corrupted or
stale file fails with a message that says what to do instead of a confusing tensor error.

Every method loads its models with :func:`from_pretrained` (a registered name or a ``.pt`` path, read with
``torch.load(weights_only=True)``, float weights cast to float32 once, the config rebuilt from the stored
dict by the method's :class:`~core.config.ConfigMixin`), described by a :class:`ModelRecipe`; files are
written by :func:`save_pretrained` (config, state dict in fp16 by default, and extra entries). The layout::

    {"config": Config.to_dict(), "model": state_dict, ...extra: "num_classes" / "num_ids", "steps", ...}

DG-Net's files keep their own layout, ``{"config", "gen", "id", ...}`` (its trainer, resume and the official
release split the two networks); its recipe joins them with a key shim (``core.dgnet.api``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from core.config import ConfigMixin

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
MANIFEST = CHECKPOINT_DIR / "manifest.json"


class CheckpointError(RuntimeError):
    """A checkpoint is unknown, missing or does not match its manifest entry."""


def cast_floats(state: Mapping[str, Tensor], dtype: torch.dtype) -> dict[str, Tensor]:
    """The state dict with every floating-point tensor in ``dtype`` (integer buffers unchanged)."""
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}


def save_pretrained(
    model_or_state: nn.Module | Mapping[str, Tensor],
    path: str | Path,
    config: ConfigMixin | Mapping[str, Any],
    half: bool = True,
    **extra: Any,
) -> Path:
    """Write ``{"config": dict, "model": state dict, **extra}`` to ``path``; float weights in fp16 when
    ``half`` (what the project ships). ``extra`` holds what the model's constructor needs besides the config
    (``num_classes=...``) and what a card reports (``steps``, ``metrics``). Register the file with
    :func:`save_entry` to load it by name."""
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    weights = {k: v.detach().cpu() for k, v in state.items()}
    body = {"config": config.to_dict() if isinstance(config, ConfigMixin) else dict(config),
            "model": cast_floats(weights, torch.float16) if half else weights, **extra}  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(body, path)
    return path


def half_precision_copy(final: Path, out: Path) -> Path:
    """Copy a trainer's ``final.pt`` ({"config", "model": state_dict, ...}) to ``out`` with float weights in fp16."""
    state = torch.load(final, map_location="cpu", weights_only=True)
    return save_pretrained(state.pop("model"), out, state.pop("config"), **state)


def data_summary(data: Path) -> dict[str, Any]:
    """What a manifest entry records of a dataset: its root, kind, counts and generator config (meta.json)."""
    meta = json.loads((data / "meta.json").read_text()) if (data / "meta.json").exists() else {}
    return {"root": str(data), "kind": meta.get("kind", "market"), "counts": meta.get("counts"),
            "config": meta.get("config")}  # fmt: skip


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(manifest: Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """Entries by name."""
    if not manifest.exists():
        return {}
    return {e["name"]: e for e in json.loads(manifest.read_text())["checkpoints"]}


def save_entry(entry: dict[str, Any], manifest: Path = MANIFEST) -> None:
    """Add or replace one entry (matched by name); keeps entries sorted by name."""
    entries = load_manifest(manifest)
    entries[entry["name"]] = entry
    manifest.parent.mkdir(parents=True, exist_ok=True)
    body = {"checkpoints": [entries[k] for k in sorted(entries)]}
    manifest.write_text(json.dumps(body, indent=2) + "\n")


def resolve(name: str, manifest: Path = MANIFEST, verify: bool = True) -> Path:
    """Path of a registered checkpoint, verified against its sha256."""
    entries = load_manifest(manifest)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise CheckpointError(f"unknown checkpoint {name!r}; registered: {known}")
    entry = entries[name]
    path = manifest.parent / entry["file"]
    if not path.exists():
        raise CheckpointError(
            f"checkpoint {name!r} is registered but {path} is missing; restore it with "
            "`git checkout -- checkpoints` or rebuild it (see its model card)."
        )
    if verify and sha256_of(path) != entry["sha256"]:
        raise CheckpointError(
            f"{path} does not match the sha256 in {manifest.name}; the file is corrupt or was "
            "rebuilt without updating the manifest. Restore it or rebuild it with the CLI."
        )
    return path


def verify_all(manifest: Path = MANIFEST) -> list[tuple[str, bool, str]]:
    """(name, ok, message) for every manifest entry."""
    results = []
    for name in load_manifest(manifest):
        try:
            resolve(name, manifest)
            results.append((name, True, "ok"))
        except CheckpointError as err:
            results.append((name, False, str(err)))
    return results


def _model_entry(state: dict[str, Any]) -> Mapping[str, Tensor]:
    return state["model"]


def _no_hint(missing: list[str], unexpected: list[str]) -> str:
    return ""


@dataclass(frozen=True)
class ModelRecipe:
    """How one method's checkpoint file becomes a model (see :func:`from_pretrained`).

    config: the method's config class; the file's ``"config"`` dict is rebuilt with its ``from_dict``.
    build: a freshly initialised model from the config, ``build(config)``, or ``build(config, count)`` with
        ``count``.
    what: what the file should be, for errors ("a GaitNet model (python -m core train gait writes final.pt)").
    count: the file's entry holding the class count the constructor takes after the config (``"num_classes"``,
        DR-GAN's ``"num_ids"``), or a function of the file's dict giving it.
    requires: entries the file must have (besides a ``count`` entry).
    weights: the file's dict -> one state dict for ``build``'s model: the place for a layout shim.
    infer_config: for files with no ``"config"`` (another codebase's layout): the config read from the weights.
    hint: (missing keys, unexpected keys) -> a sentence added to the error when the weights do not fit.
    from_resume: a run's resume checkpoint (``last.pt``: config, trainer state, step) -> the file layout above
        with the last step's weights, for methods whose final.pt holds a validation pick and whose last
        weights are worth evaluating too; None refuses ``last.pt`` with a message naming final.pt.
    """

    config: type[ConfigMixin]
    build: Callable[..., nn.Module]
    what: str
    count: str | Callable[[dict[str, Any]], int] | None = None
    requires: tuple[str, ...] = ("config", "model")
    weights: Callable[[dict[str, Any]], Mapping[str, Tensor]] = _model_entry
    infer_config: Callable[[dict[str, Any]], Any] | None = None
    hint: Callable[[list[str], list[str]], str] = _no_hint
    from_resume: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def checkpoint_path(name: str | Path, manifest: Path = MANIFEST) -> Path:
    """A ``Path`` or a ``.pt`` string is a file (no sha256 to check); any other string is a registered name,
    resolved (and sha256-checked) through the manifest."""
    if isinstance(name, Path) or str(name).endswith(".pt"):
        return Path(name)
    return resolve(name, manifest)


def load_weights(
    model: nn.Module,
    state: Mapping[str, Tensor],
    source: str,
    hint: Callable[[list[str], list[str]], str] = _no_hint,
) -> nn.Module:
    """Load ``state`` into ``model`` with every key and shape required, float weights cast to float32 (the
    one cast: files ship in fp16); a mismatch is a ValueError naming the first missing / unexpected keys and
    ``hint(missing, unexpected)``."""
    try:
        missing, unexpected = model.load_state_dict(cast_floats(state, torch.float32), strict=False)
    except RuntimeError as err:  # same keys, other shapes
        raise ValueError(f"{source} does not fit the network: {err}") from None
    if missing or unexpected:
        raise ValueError(f"{source} does not fit the network: missing {missing[:4]}, unexpected {unexpected[:4]}"
                         f"{hint(missing, unexpected)}")  # fmt: skip
    return model


def from_pretrained(
    recipe: ModelRecipe, name: str | Path, device: str | torch.device = "cpu", manifest: Path = MANIFEST
) -> tuple[nn.Module, Any]:
    """(model in eval mode, float32, on ``device``; its config) from a registered name or a file.

    Names go through :func:`resolve` (CheckpointError when unknown, missing or not matching its sha256);
    files are read with ``torch.load(weights_only=True)``; a file that is not ``recipe.what`` or whose
    weights do not fit the network its config describes is a ValueError.
    """
    path = checkpoint_path(name, manifest)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "trainer" in state and "step" in state and "model" not in state:
        if recipe.from_resume is None:
            raise ValueError(f"{path} is a training run's resume checkpoint (last.pt), not {recipe.what}; "
                             "pass the run's final.pt")  # fmt: skip
        state = recipe.from_resume(state)
    requires = recipe.requires + ((recipe.count,) if isinstance(recipe.count, str) else ())
    if not isinstance(state, dict) or not set(requires) <= set(state):
        lacking = [k for k in requires if k not in state] if isinstance(state, dict) else list(requires)
        raise ValueError(f"{path} is not {recipe.what} (no {lacking[0]!r})")
    if "config" in state:
        config = recipe.config.from_dict(state["config"])
    elif recipe.infer_config is not None:
        config = recipe.infer_config(state)
    else:
        raise ValueError(f"{path} is not {recipe.what} (no 'config')")
    if recipe.count is None:
        fresh = recipe.build(config)
    else:
        fresh = recipe.build(config, int(state[recipe.count] if isinstance(recipe.count, str) else recipe.count(state)))
    model = load_weights(fresh, recipe.weights(state), str(path), recipe.hint)
    return model.to(device).eval(), config
