"""demos.models: where a tab's weights come from, the load-once cache and the note when there are none."""

from __future__ import annotations

import threading
import time

import pytest

from demos import models

ENV = "DISENTANGLE_TEST_CHECKPOINT"
NOTE = "Train one first."


def test_cache_loads_once_and_evicts():
    cache, calls = models.ModelCache(size=2), []

    def loader(name):
        def load():
            calls.append(name)
            time.sleep(0.05)
            return name

        return load

    threads = [threading.Thread(target=cache.get, args=(("a",), loader("a"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["a"]
    cache.get(("b",), loader("b"))
    cache.get(("c",), loader("c"))
    assert cache.get(("a",), loader("a")) == "a" and calls == ["a", "b", "c", "a"]
    cache.clear()
    assert cache.get(("b",), loader("b")) == "b" and calls[-1] == "b"


def test_environment_variable_wins_and_is_checked(monkeypatch, tmp_path):
    weights = tmp_path / "run.pt"
    weights.write_bytes(b"x")
    monkeypatch.setenv(ENV, str(weights))
    assert models.checkpoint_path(ENV, "no-such-entry", NOTE) == weights
    monkeypatch.setenv(ENV, str(tmp_path / "gone.pt"))
    with pytest.raises(models.ModelUnavailable, match=f"`{ENV}` names .*gone.pt.*not a file. {NOTE}"):
        models.checkpoint_path(ENV, "no-such-entry", NOTE)


def test_manifest_entries_required_or_optional(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(models.ModelUnavailable) as err:
        models.checkpoint_path(ENV, "no-such-entry", NOTE)
    assert str(err.value) == NOTE  # nothing registered: only what to do
    assert models.checkpoint_path(ENV, "no-such-entry", NOTE, required=False) is None
    assert models.checkpoint_path(ENV, "no-such-entry", NOTE, use_manifest=False) is None
    shipped = models.checkpoint_path(ENV, "gaitnet", NOTE)  # a registered, committed checkpoint
    assert shipped is not None and shipped.is_file() and shipped.name == "gaitnet.pt"


def test_load_failure_becomes_a_note_and_a_new_file_reloads(tmp_path):
    weights = tmp_path / "run.pt"
    weights.write_bytes(b"not a checkpoint")
    cache = models.ModelCache()

    def broken():
        raise RuntimeError("invalid load key")

    with pytest.raises(models.ModelUnavailable, match=f"the test model could not be loaded .invalid load key.. {NOTE}"):
        models.load_cached(cache, (weights,), broken, "the test model", NOTE)
    assert models.load_cached(cache, (weights, None), lambda: "v1", "the test model", NOTE) == "v1"
    assert models.load_cached(cache, (weights, None), lambda: "v2", "the test model", NOTE) == "v1"  # cached
    time.sleep(0.01)
    weights.write_bytes(b"a new version, longer")
    assert models.load_cached(cache, (weights, None), lambda: "v3", "the test model", NOTE) == "v3"


def test_model_or_note_collects_the_message():
    notes: list[str] = []

    def missing():
        raise models.ModelUnavailable("No model: train one.")

    with pytest.warns(UserWarning, match="No model: train one."):
        assert models.model_or_note(missing, notes) is None
    assert notes == ["No model: train one."]
    assert models.model_or_note(lambda: 42, notes) == 42 and len(notes) == 1
