"""demos/files.py: the sweeper that empties Gradio's cache on the app's schedule, under concurrent requests."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from demos.files import CacheSweeper, sweep_cache


def _blocks(files: list[str], kept: set[str] = frozenset()) -> SimpleNamespace:
    """What the sweep reads of a gr.Blocks: its components (keep_in_cache) and its sets of cached files."""
    return SimpleNamespace(blocks={0: SimpleNamespace(keep_in_cache=set(kept)), 1: object()},
                           temp_file_sets=[set(files)])  # fmt: skip


def _write(folder: Path, count: int) -> list[str]:
    names = []
    for _ in range(count):
        path = folder / f"{uuid.uuid4().hex}.png"
        path.write_bytes(b"x")
        names.append(str(path))
    return names


def test_sweep_deletes_old_files_while_requests_add_new_ones(tmp_path):
    old = _write(tmp_path, 3000)
    kept = old[0]
    blocks = _blocks(old, {kept})
    time.sleep(0.05)
    stop = threading.Event()
    added: list[str] = []

    def request() -> None:  # a request adding its output to the cache while the sweep runs
        while not stop.is_set():
            added.extend(name := _write(tmp_path, 1))
            blocks.temp_file_sets[0].add(name[0])

    thread = threading.Thread(target=request)
    thread.start()
    try:
        deleted = sweep_cache(blocks, age_s=0.04)
    finally:
        stop.set()
        thread.join()
    assert added, "no request ran during the sweep"
    assert deleted >= len(old) - 1
    assert os.path.exists(kept) and kept in blocks.temp_file_sets[0]  # a component's kept file stays
    assert not any(os.path.exists(name) for name in old[1:])
    assert not set(old[1:]) & blocks.temp_file_sets[0]  # deleted files leave the set
    young = [name for name in added if time.time() - os.path.getctime(name) < 0.02]
    assert all(name in blocks.temp_file_sets[0] for name in young)  # files newer than the age stay


def test_sweeper_keeps_its_schedule_after_a_failed_pass(tmp_path, caplog):
    names = _write(tmp_path, 5)
    blocks = _blocks(names)
    good_sets = blocks.temp_file_sets
    blocks.temp_file_sets = None  # the first pass fails (not iterable)
    sweeper = CacheSweeper(blocks, every_s=0.05, age_s=0.01).start()
    try:
        time.sleep(0.2)
        assert "cache sweep failed" in caplog.text
        blocks.temp_file_sets = good_sets
        deadline = time.monotonic() + 5
        while any(os.path.exists(n) for n in names) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sweeper.stop()
    assert not any(os.path.exists(n) for n in names)
    young = _write(tmp_path, 3)
    blocks.temp_file_sets[0].update(young)
    sweeper.stop(empty=True)  # what runs when the server exits: every cached file goes, however young
    assert not any(os.path.exists(n) for n in young)
    with pytest.raises(ValueError, match="every_s"):
        CacheSweeper(blocks, every_s=0, age_s=1)
