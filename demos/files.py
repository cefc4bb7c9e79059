"""Files the tabs hand to the browser (GLBs, zips), kept in one folder per tab and pruned as they go.

Gradio copies every returned file into its own cache, which the app empties on a schedule
(``delete_cache`` in app.py); this folder is ours and never holds more than ``keep`` entries or
anything older than ``max_age_s``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path


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
