"""Soak: repeated requests against the served app (loopback only, bounded in count and time).

Memory (the server's RSS) must level off and disk (Gradio's cache plus the tabs' own folders) must drain:
uploads and results are deleted on a schedule (the test server keeps them 30 s), and each request's
memory is bounded by the gate's downscale-on-load.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from conftest import CACHE_EVERY_S, CACHE_MINUTES
from PIL import Image

ROUNDS = int(__import__("os").environ.get("SOAK_ROUNDS", 4))
ROUND_SECONDS = 15.0
MAX_REQUESTS_PER_ROUND = 60
CLIENTS = 3


def test_memory_and_disk_stay_flat(app_server, tmp_path):
    from gradio_client import Client, handle_file

    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8)).save(photo)

    # one client per simulated user, as a browser tab keeps its session
    clients = [Client(app_server.url, verbose=False, analytics_enabled=False) for _ in range(CLIENTS)]

    def request(i: int) -> None:
        client = clients[i % CLIENTS]
        beta = float(rng.uniform(-2, 2))
        if i % 3 == 0:
            client.predict(beta, *([0.0] * 9), "Walk", (i % 10) / 10, (i * 37) % 360 - 180, 10,
                           "Uploaded image", handle_file(str(photo)), api_name="/render_body")  # fmt: skip
        elif i % 3 == 1:
            client.predict(beta, *([0.0] * 9), "A-pose", 0.0, (i * 53) % 360 - 180, 5, "UV grid", None,
                           api_name="/render_body")  # fmt: skip
        else:
            client.predict(i % 50, (i * 29) % 360 - 180, 10, 30, 0.55, "street", i % 7, 0.3, "none", False, i % 50,
                           api_name="/render_person")  # fmt: skip

    rss, disk, done = [], [], 0
    soak_start = time.time()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for _ in range(ROUNDS):
            start, sent = time.monotonic(), 0
            while time.monotonic() - start < ROUND_SECONDS and sent < MAX_REQUESTS_PER_ROUND:
                list(pool.map(request, range(done, done + CLIENTS)))
                done += CLIENTS
                sent += CLIENTS
            rss.append(app_server.rss_mb())
            disk.append(app_server.disk_mb())
    print(f"\nsoak: {done} requests in {ROUNDS} rounds of {ROUND_SECONDS:.0f} s; server RSS MB per round "
          f"{[round(r) for r in rss]}; cache + output folders MB {[round(d, 1) for d in disk]}")  # fmt: skip
    assert app_server.alive()
    assert done >= ROUNDS * CLIENTS
    # after the first round (models loaded, caches warm) memory levels off
    assert max(rss[1:]) - rss[1] < 80, f"server memory keeps growing: {rss}"
    # files older than the schedule's age are deleted: nothing in Gradio's cache outlives it by more
    # than one pass of the schedule (plus slack for a busy machine); judged by age, not by size, so a
    # slow machine that sends fewer, later requests per round is judged by the same rule
    oldest = app_server.oldest_cache_file_s(since=soak_start)
    # (30 s slack: under the full suite one pass came 23 s late; the soak lasts 75 s, so a cache that is
    # never cleaned still fails)
    assert oldest < CACHE_MINUTES * 60 + CACHE_EVERY_S + 30, f"a cached file is {oldest:.0f} s old; disk MB {disk}"
    # and once the users leave, the cache drains: every file the soak wrote is deleted within one age plus
    # one pass (slack for a busy machine). Judged after the load, not by the level under it: the level
    # follows the request rate, which rises on a fresh machine as its models warm up (a CI run went
    # 40 -> 94 MB over five rounds while every file was deleted on time)
    deadline = time.monotonic() + CACHE_MINUTES * 60 + CACHE_EVERY_S + 30
    while app_server.cache_files_since(soak_start) and time.monotonic() < deadline:
        time.sleep(2)
    left = app_server.cache_files_since(soak_start)
    assert not left, f"{len(left)} cached files outlive the schedule; disk MB {disk}"
    # the tabs' own folders keep at most their newest 32 entries, however many requests came
    entries = app_server.output_folder_entries()
    assert entries and max(entries.values()) <= 32, f"an output folder keeps growing: {entries}"
    print(f"after the drain: cache + output folders {app_server.disk_mb():.1f} MB; output folders {entries}")
    assert "Traceback" not in app_server.log_text()
