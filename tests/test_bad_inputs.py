"""The bad-input suite: every endpoint of the running app, every input, the shared corpus by type.

Endpoints are enumerated from the served app (gradio_client's view_api), so a tab that lands later
is covered without touching this file. Each input gets the corpus for its type (tests/corpus.py)
while the other inputs keep their defaults. The suite fails on:

- an endpoint that is not behind the input gate (demos/gate.py), or whose API parameters are not
  named after its inputs, or whose optional flags are wrong;
- an opaque error: a refusal whose message does not name the field;
- a silent fallback: a bad value that is accepted;
- a valid but unusual input (a 16-bit PNG, a CMYK JPEG, a boundary value) that is refused;
- a traceback in the server's log, or a server that stops answering.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.corpus import (
    Case,
    choice_cases,
    clip_files,
    files_value_cases,
    flag_cases,
    image_files,
    number_cases,
    upload_value_cases,
)


@dataclass
class Tally:
    counts: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: Counter = field(default_factory=Counter)  # "valid" / "refused": server time, to see what the corpus costs


@functools.cache
def _demo():
    """The app built in this process (not launched), once: building it renders the tabs' example galleries."""
    from app import build_demo

    return build_demo()


@functools.cache
def _gated_forms() -> dict[str, Any]:
    """api_name -> the gate's Form behind it, from the app built in this process."""
    forms = {}
    for fn in _demo().fns.values():
        if fn.api_name and getattr(fn, "api_visibility", "public") == "public":
            forms[fn.api_name] = getattr(fn.fn, "gate_form", None)
    return forms


def _defaults(form) -> list[Any]:
    from demos.gate import Files, Upload

    return [None if isinstance(c, Upload | Files) else c.value if c.value is not None else c.component().value
            for c in form.checks]  # fmt: skip


def _cases(check, tmp_path) -> list[Case]:
    from demos.gate import Choice, Files, Flag, Number, Upload

    if isinstance(check, Files):
        return files_value_cases(check.optional) + clip_files(tmp_path / "clips")
    if isinstance(check, Number):
        return number_cases(check.lo, check.hi, check.whole, check.optional)
    if isinstance(check, Choice):
        return choice_cases(check.options, check.optional)
    if isinstance(check, Flag):
        return flag_cases(check.optional)
    if isinstance(check, Upload):
        return upload_value_cases(check.optional) + image_files(tmp_path / "corpus")
    raise AssertionError(f"no corpus for {type(check).__name__}")


def _valid_sample(check, tmp_path) -> Any:
    """The first value of the corpus that the check must accept."""
    return next(c.value for c in _cases(check, tmp_path) if c.accept and c.value is not None and c.value != [])


@pytest.fixture(scope="module")
def endpoints(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False, analytics_enabled=False)
    api = client.view_api(return_format="dict", print_info=False)
    return client, api["named_endpoints"], api["unnamed_endpoints"]


def test_every_endpoint_is_gated_and_named(endpoints):
    _, named, unnamed = endpoints
    forms = _gated_forms()
    assert not unnamed, f"endpoints without a name: {list(unnamed)}"
    assert named, "the app exposes no endpoint"
    for api_name, info in named.items():
        form = forms.get(api_name.lstrip("/"))
        assert form is not None, f"{api_name} is not behind the input gate (demos/gate.py Form.wire)"
        params = info["parameters"]
        assert [p["parameter_name"] for p in params] == [c.name for c in form.checks], api_name
        assert [p["label"] for p in params] == [c.label for c in form.checks], api_name
        for p, check in zip(params, form.checks, strict=True):
            if check.optional:
                assert p["parameter_has_default"] and p["parameter_default"] is None, (api_name, check.name)
            if type(check).__name__ == "Upload" and not check.optional:
                assert not p["parameter_has_default"], (api_name, check.name)


def _send(a: Any) -> Any:
    from gradio_client import handle_file

    if hasattr(a, "is_file") and a.is_file():
        return handle_file(str(a))
    if isinstance(a, list) and a and all(hasattr(p, "is_file") for p in a):
        return [handle_file(str(p)) for p in a]
    return a


def _call(client, api_name: str, args: list[Any]) -> tuple[bool, str]:
    from gradio_client.exceptions import AppError

    try:
        client.predict(*[_send(a) for a in args], api_name=api_name)
        return True, ""
    except AppError as err:
        return False, str(err)


CLIENTS_AT_ONCE = 8


@functools.cache
def _clients(url: str) -> tuple[Any, ...]:
    from gradio_client import Client

    return tuple(Client(url, verbose=False, analytics_enabled=False) for _ in range(CLIENTS_AT_ONCE))


def _call_many(url: str, api_name: str, trials: list[list[Any]]) -> list[tuple[bool, str]]:
    """(accepted, error message) of each call, sent by several clients at once: a refusal costs the server
    ~0.05 s but a client ~0.2 s of waiting. One call at a time per client (gradio_client's jobs submitted
    together on one client raced each other into CancelledError)."""
    clients = _clients(url)

    def run(k: int) -> list[tuple[bool, str]]:
        return [_call(clients[k], api_name, args) for args in trials[k :: len(clients)]]

    with ThreadPoolExecutor(len(clients)) as pool:
        per_client = list(pool.map(run, range(len(clients))))
    results: list[tuple[bool, str]] = [(False, "")] * len(trials)
    for k, answers in enumerate(per_client):
        results[k :: len(clients)] = answers
    return results


def _same_rules(check) -> str:
    """The check with its name and label blanked: inputs with the same rules refuse a value by the same code,
    so each bad value is sent to one of them (every input still refuses one value, naming itself)."""
    return repr(dataclasses.replace(check, name="", label=""))


def _judge(tally: Tally, where: str, bad_label: str | None, ok: bool, message: str) -> None:
    """Count one call: a valid value (``bad_label`` None) must be accepted; a bad one refused by a message that
    starts with its input's label."""
    tally.counts["cases"] += 1
    if bad_label is None and not ok:
        tally.failures.append(f"{where}: valid input refused: {message}")
    elif bad_label is not None and ok:
        tally.failures.append(f"{where}: silently accepted")
    elif bad_label is not None and not message.startswith(html.escape(bad_label, quote=False) + ":"):
        tally.failures.append(f"{where}: opaque error {message!r}")
    else:
        tally.counts["accepted" if ok else "refused with a message"] += 1


SHARDS = 2  # the endpoints are split in this many tests, so that pytest-xdist's workers share them


@pytest.mark.parametrize("shard", range(SHARDS))
def test_bad_input_corpus_on_every_endpoint(endpoints, app_server, tmp_path, shard):
    from demos.gate import InputError, Upload

    client, named, _ = endpoints
    forms = _gated_forms()
    tallies: dict[str, Tally] = {}
    tried_valid: set[tuple] = set()
    tried_refusals: set[tuple] = set()
    for api_name in sorted(named)[shard::SHARDS]:  # the shards together: every endpoint
        form = forms[api_name.lstrip("/")]
        tally = tallies.setdefault(api_name, Tally())
        refused_once: set[str] = set()  # inputs of this endpoint that have refused one bad value by name
        bad: list[tuple[str, str, list[Any]]] = []  # (what is sent, the input's label, the call's values)
        base = _defaults(form)
        ok, message = _call(client, api_name, base)
        assert ok, f"{api_name} refuses its own defaults: {message}"
        for index, check in enumerate(form.checks):
            args = list(base)
            if check.only_if is not None:  # make the input matter, or the gate rightly ignores it
                names = [c.name for c in form.checks]
                args[names.index(check.only_if[0])] = check.only_if[1]
            for case in _cases(check, tmp_path):
                if check.only_if is not None and (case.value is None or case.value == []):
                    case = Case(case.kind, None, False)  # the other input makes this one needed
                trial = list(args)
                trial[index] = case.value
                for other_index, other in enumerate(form.checks):  # a valid value may make another input needed
                    if case.accept and other.only_if == (check.name, case.value):
                        trial[other_index] = _valid_sample(other, tmp_path)
                if case.accept and isinstance(check, Upload):
                    # every valid file must pass the gate's own decoder (the code the server runs on it) ...
                    try:
                        decoded = check.parse(case.value)
                    except InputError as err:
                        tally.failures.append(f"{api_name} {check.name} <- {case.kind}: valid file refused: {err}")
                        continue
                    # ... but after it the method sees an RGB array: only a new shape (or a flat picture)
                    # can take it down another path, so one file per kind of array is sent to the server
                    kind_of_array = (decoded.shape, bool(decoded.std() > 0)) if decoded is not None else None
                    spec = (api_name, check.name, kind_of_array)
                else:
                    spec = (api_name, type(check).__name__, getattr(check, "lo", None), getattr(check, "hi", None),
                            getattr(check, "whole", None), getattr(check, "options", None), case.kind)  # fmt: skip
                if case.accept and spec in tried_valid:
                    continue  # the same valid value on an identical input (beta 1 .. 9) renders nothing new
                tried_valid.add(spec) if case.accept else None
                refusal = (_same_rules(check), case.kind)
                if not case.accept and check.name in refused_once and refusal in tried_refusals:
                    continue  # this bad value already met an input with the same rules (beta 0 for beta 1 .. 9)
                if not case.accept:
                    refused_once.add(check.name)
                    tried_refusals.add(refusal)
                where = f"{api_name} {check.name} <- {case.kind}"
                if not case.accept:  # sent together below: refusals wait on the client, not on the server
                    bad.append((where, check.label, trial))
                    continue
                started = time.perf_counter()
                ok, message = _call(client, api_name, trial)
                tally.seconds["valid"] += time.perf_counter() - started
                _judge(tally, where, None, ok, message)
        started = time.perf_counter()
        answers = _call_many(app_server.url, api_name, [trial for _, _, trial in bad])
        tally.seconds["refused"] += time.perf_counter() - started
        for (where, label, _), (ok, message) in zip(bad, answers, strict=True):
            _judge(tally, where, label, ok, message)
        assert app_server.alive(), f"the server stopped answering during {api_name}"
    report = "\n".join(
        f"{name}: {t.counts['cases']} cases, {t.counts['refused with a message']} refused with a message, "
        f"{t.counts['accepted']} valid accepted, {len(t.failures)} failures; "
        f"{t.seconds['valid']:.1f} s on valid values, {t.seconds['refused']:.1f} s on refusals"
        for name, t in tallies.items()
    )
    print("\nbad-input suite\n" + report)
    failures = [f for t in tallies.values() for f in t.failures]
    assert not failures, "\n".join(failures)
    assert "Traceback" not in app_server.log_text(), "the server log holds a traceback"


def _raw_call(url: str, api_name: str, body: str) -> dict:
    """POST a raw JSON body (it may hold NaN, which JSON clients refuse to send) and read the result."""
    base = f"{url}gradio_api/call/{api_name.lstrip('/')}"
    r = httpx.post(base, content=body, headers={"content-type": "application/json"}, timeout=30)
    r.raise_for_status()
    stream = httpx.get(f"{base}/{r.json()['event_id']}", timeout=120).text
    event = stream.split("event: ", 1)[1].split("\n", 1)[0]
    data = stream.split("data: ", 1)[1].split("\n", 1)[0]
    return {"event": event, "data": json.loads(data) if data.strip() not in ("", "null") else None}


def test_raw_requests_get_named_messages(endpoints, app_server):
    """What only a raw HTTP client can send: NaN and infinities, paths never uploaded, too few values."""
    from demos.gate import Files, Number, Upload

    _, named, _ = endpoints
    forms = _gated_forms()
    problems = []
    for api_name in named:
        form = forms[api_name.lstrip("/")]
        base = _defaults(form)
        for index, check in enumerate(form.checks):
            bad_values = []
            if isinstance(check, Number):
                bad_values = ["NaN", "Infinity", "-Infinity"]
            elif isinstance(check, Upload | Files):
                bad_values = [json.dumps({"path": p, "meta": {"_type": "gradio.FileData"}})
                              for p in ("/etc/passwd", "../../../etc/hostname")]  # fmt: skip
                if isinstance(check, Files):  # a files input takes a list of them
                    bad_values = [f"[{v}]" for v in bad_values]
            for literal in bad_values:
                args = [json.dumps(v) for v in base]
                if check.only_if is not None:
                    args[[c.name for c in form.checks].index(check.only_if[0])] = json.dumps(check.only_if[1])
                args[index] = literal
                out = _raw_call(app_server.url, api_name, '{"data": [' + ", ".join(args) + "]}")
                message = (out["data"] or {}).get("error") or ""
                if out["event"] != "error" or not message.startswith(html.escape(check.label, quote=False) + ":"):
                    problems.append(f"{api_name} {check.name} <- {literal}: {out}")
        too_few = json.dumps({"data": base[:-1]})
        out = _raw_call(app_server.url, api_name, too_few)
        if out["event"] != "error" or "values" not in ((out["data"] or {}).get("error") or ""):
            problems.append(f"{api_name} with one value too few: {out}")
    assert not problems, "\n".join(problems)
    assert app_server.alive()
    assert "Traceback" not in app_server.log_text()


def test_refusal_keeps_the_last_result_and_logs_one_line(endpoints, app_server):
    """The check step has no outputs (the UI keeps its last good result) and a refusal is one log line."""
    checks = [f for f in _demo().fns.values() if getattr(f.fn, "__name__", "") == "check_inputs"]
    assert checks and all(not f.outputs for f in checks)
    client, _, _ = endpoints
    before = app_server.log_text().count("\n")
    ok, message = _call(client, "/render_person", [7, 0, 10, 30, 0.55, "street", 1, 0.2, "none", False, 7.5])
    assert not ok and message.startswith("Wear clothes of seed:")
    new_lines = app_server.log_text().splitlines()[before:]
    refusals = [line for line in new_lines if "refused input" in line]
    assert len(refusals) == 1 and "Wear clothes of seed" in refusals[0]


def test_sixteen_bit_texture_renders_grey_not_white(app_url, tmp_path):
    """A 16-bit mid-grey PNG texture gives a mid-grey body (it once rendered white)."""
    from gradio_client import Client, handle_file

    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((64, 64), 32768, np.uint16)).save(path)
    client = Client(app_url, verbose=False, analytics_enabled=False)
    image_path, _ = client.predict(*([0.0] * 10), "T-pose", 0.0, 0, 5, "Uploaded image", handle_file(str(path)),
                                   api_name="/render_body")  # fmt: skip
    image = np.asarray(Image.open(image_path).convert("RGB")).astype(int)
    body = (image < 250).any(-1)
    assert body.mean() > 0.05
    level = image[body].mean()
    assert 40 < level < 200, f"a mid-grey texture rendered at level {level:.0f}"
