"""Files the tabs hand to the browser (GLBs, zips), kept in one folder per tab and pruned as they go.

Gradio copies every returned file into its own cache, which the app empties on a schedule
(:class:`CacheSweeper`, started by app.py); this folder is ours and never holds more than ``keep`` entries
or anything older than ``max_age_s``.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class OutputFolder:
    """A private temporary folder whose oldest entries are deleted as new ones are made.

    Args:
        prefix: name prefix of the folder under the system's temp directory.
        keep: at most this many entries (files or folders) are kept.
        max_age_s: entries older than this are deleted too.
    """

    def __init__(self, prefix: str, keep: int = 16, max_age_s: float = 3600.0) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.keep = keep
        self.max_age_s = max_age_s
        self._lock = threading.Lock()

    def new_path(self, suffix: str = "") -> Path:
        """A fresh path inside the folder (nothing is created); older entries are pruned first."""
        self.prune(reserve=1)
        return self.root / f"{uuid.uuid4().hex[:12]}{suffix}"

    def new_dir(self) -> Path:
        """A fresh, empty sub-folder; older entries are pruned first."""
        path = self.new_path()
        path.mkdir()
        return path

    def prune(self, reserve: int = 0) -> None:
        """Delete entries beyond the newest ``keep - reserve`` and those older than ``max_age_s``."""
        with self._lock:
            if not self.root.exists():
                self.root.mkdir(parents=True)
            entries = []
            for p in self.root.iterdir():
                try:
                    entries.append((p.stat().st_mtime, p))
                except FileNotFoundError:
                    continue
            entries.sort(reverse=True)
            now = time.time()
            for rank, (mtime, path) in enumerate(entries):
                if rank >= max(self.keep - reserve, 0) or now - mtime > self.max_age_s:
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)

    def size_bytes(self) -> int:
        """Total size of everything in the folder."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def sweep_cache(blocks: Any, age_s: float | None) -> int:
    """Delete the files in Gradio's cache that ``blocks`` made more than ``age_s`` seconds ago (by ctime, as
    Gradio's ``delete_cache`` judges them; None: all of them), except those a component keeps; returns how
    many were deleted.

    Gradio's own pass (``gradio.route_utils.delete_files_created_by_app``) iterates the live sets of files
    while requests add to them, so under load it raises "Set changed size during iteration", and the task
    that runs it on ``delete_cache``'s schedule ends for good: the cache then grows without bound. This pass
    works on snapshots (``list`` of a set of strings runs without letting another thread in)."""
    keep = set()
    for component in list(blocks.blocks.values()):
        keep.update(getattr(component, "keep_in_cache", set()))
    now, deleted = time.time(), 0
    for files in list(blocks.temp_file_sets):
        for name in list(files):
            if name in keep:
                continue
            try:
                if age_s is None or now - Path(name).lstat().st_ctime > age_s:
                    os.remove(name)
                    deleted += 1
                    files.discard(name)
            except FileNotFoundError:
                files.discard(name)
    return deleted


class CacheSweeper:
    """A daemon thread that runs :func:`sweep_cache` every ``every_s`` seconds; a pass that fails is logged in
    one line and the schedule goes on. When the process exits normally (app.py's server stopped by Ctrl+C or
    SIGTERM), every cached file is deleted but those a component keeps.

    Args:
        blocks: the app (gr.Blocks) whose cached files are swept.
        every_s: seconds between passes.
        age_s: files older than this are deleted.
    """

    def __init__(self, blocks: Any, every_s: float, age_s: float) -> None:
        if every_s <= 0 or age_s <= 0:
            raise ValueError(f"every_s and age_s must be > 0, got {every_s} and {age_s}")
        self.blocks, self.every_s, self.age_s = blocks, every_s, age_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cache-sweeper", daemon=True)

    def start(self) -> CacheSweeper:
        self._thread.start()
        atexit.register(self.stop, empty=True)
        return self

    def stop(self, empty: bool = False) -> None:
        """End the schedule; ``empty``: then delete every cached file."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if empty:
            sweep_cache(self.blocks, None)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                sweep_cache(self.blocks, self.age_s)
            except Exception as err:  # noqa: BLE001 -- one failed pass must not end the schedule
                log.warning("cache sweep failed (%s: %s); the next pass runs in %.0f s", type(err).__name__, err,
                            self.every_s)  # fmt: skip
