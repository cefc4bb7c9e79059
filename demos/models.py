"""The tabs' shipped models: where each file comes from, one cache, and the message when there is none.

Every model tab finds its weights the same way: an environment variable may name a file (to try a
run before shipping it), else the entry registered in ``checkpoints/manifest.json``. When neither
gives a file, or the file does not load, the tab shows a note that says what to do instead of
failing; :class:`ModelUnavailable` carries that note.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

import gradio as gr

__all__ = ["ModelCache", "ModelUnavailable", "checkpoint_path", "env_names_file", "file_key", "load_cached",
           "model_or_note"]  # fmt: skip

T = TypeVar("T")

# What a damaged or foreign checkpoint raises while loading (torch, our loaders' checks, missing keys).
LOAD_ERRORS = (ValueError, RuntimeError, OSError, KeyError)


class ModelUnavailable(Exception):
    """The chosen model cannot be had; the message says what to do (shown, not raised to the user)."""


def file_key(path: Path | None) -> tuple | None:
    """A cache key that changes when the file is replaced: (resolved path, mtime, size); None for None."""
    if path is None:
        return None
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def env_names_file(env: str) -> bool:
    """Whether the environment variable ``env`` is set to something (a file to use instead of the manifest)."""
    return bool(os.environ.get(env, "").strip())


def checkpoint_path(env: str, name: str, not_shipped: str, *, use_manifest: bool = True,
                    required: bool = True) -> Path | None:  # fmt: skip
    """The file the environment variable ``env`` names, else the manifest's entry ``name``.

    use_manifest: False leaves the manifest out (None when ``env`` is unset), for a companion file that
        must come from the same place as the main one.
    required: False returns None for an entry that is not registered (an optional companion).
    Raises ModelUnavailable with ``not_shipped`` appended when the file is missing or not registered.
    """
    from core.checkpoints import CheckpointError, resolve

    named = os.environ.get(env, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ModelUnavailable(f"`{env}` names `{path}`, which is not a file. {not_shipped}")
        return path
    if not use_manifest:
        return None
    try:
        path = resolve(name, verify=False)
    except CheckpointError as err:
        if "unknown checkpoint" in str(err):
            if not required:
                return None
            raise ModelUnavailable(not_shipped) from None
        raise ModelUnavailable(f"{err} {not_shipped}") from None
    if not path.is_file():
        raise ModelUnavailable(f"`{path}` (registered as `{name}`) is not a file. {not_shipped}")
    return path


class ModelCache:
    """Loaded models by key, the least recently used dropped beyond ``size``.

    Thread-safe: one lock guards the table, another serialises loading, so a model is loaded once
    even when two requests ask for it together.
    """

    def __init__(self, size: int = 1) -> None:
        self._models: OrderedDict[Hashable, object] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]  # type: ignore[return-value]
        with self._load_lock:
            with self._lock:
                if key in self._models:
                    return self._models[key]  # type: ignore[return-value]
            model = load()
            with self._lock:
                self._models[key] = model
                while len(self._models) > self._size:
                    self._models.popitem(last=False)
        return model

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


def load_cached(cache: ModelCache, paths: tuple[Path | None, ...], load: Callable[[], T], what: str,
                not_shipped: str) -> T:  # fmt: skip
    """``load()`` once per version of ``paths`` (kept in ``cache``); a load failure becomes ModelUnavailable
    naming ``what`` ("the DG-Net model") and the error."""
    try:
        return cache.get(tuple(file_key(p) for p in paths), load)
    except LOAD_ERRORS as err:
        raise ModelUnavailable(f"{what} could not be loaded ({err}). {not_shipped}") from None


def model_or_note(get: Callable[[], T], notes: list[str]) -> T | None:
    """``get()``, or None with its message added to ``notes`` and shown as a warning toast."""
    try:
        return get()
    except ModelUnavailable as err:
        notes.append(str(err))
        gr.Warning(str(err).replace("`", ""), title="No model")
        return None
