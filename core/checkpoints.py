"""Checkpoint registry: name -> file under checkpoints/, with sha256, config, data and metrics.

``checkpoints/manifest.json`` holds one entry per shipped file. Loading goes through
:func:`resolve`, which checks the file exists and matches its recorded sha256, so a corrupted or
stale file fails with a message that says what to do instead of a confusing tensor error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
MANIFEST = CHECKPOINT_DIR / "manifest.json"


class CheckpointError(RuntimeError):
    """A checkpoint is unknown, missing or does not match its manifest entry."""


def half_precision_copy(final: Path, out: Path) -> Path:
    """Copy a trainer's ``final.pt`` ({"model": state_dict, ...}) to ``out`` with float weights in fp16."""
    import torch

    state = torch.load(final, map_location="cpu", weights_only=True)
    state["model"] = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, out)
    return out


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
