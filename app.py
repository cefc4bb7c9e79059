"""Disentangle Studio: ``python app.py [--host 127.0.0.1 --port 7860 --share]``.

Adding a demo is one import: put its module (with TITLE and build()) in TABS.
"""

from __future__ import annotations

import argparse
import logging
import signal

import gradio as gr

from demos import body_tab, data_studio_tab, dgnet_tab, drgan_tab, gait_tab, texgen_tab
from demos.files import CacheSweeper
from demos.gate import StudioBlocks

TABS = [body_tab, data_studio_tab, dgnet_tab, texgen_tab, drgan_tab, gait_tab]

HEADER = """\
# Disentangle Studio
See disentangled representation learning for humans: swap appearance and structure, turn faces,
texture 3D bodies and split gait into its factors, on people we render ourselves so every result
has a ground truth.
"""

MAX_FILE_SIZE = "10mb"
# Gradio keeps a copy of every upload and every returned file: every 5 minutes, delete those older than 15
CACHE_SCHEDULE = (300, 900)


def build_demo() -> gr.Blocks:
    """The whole app as gr.Blocks, built without launching it. Its cached files are deleted by a
    :class:`~demos.files.CacheSweeper` that :func:`main` starts, not by Gradio's ``delete_cache``, whose pass
    ends for good the first time a request adds a file while it runs (see :func:`demos.files.sweep_cache`)."""
    with StudioBlocks(title="Disentangle Studio", analytics_enabled=False) as demo:
        gr.Markdown(HEADER)
        with gr.Tabs(overflow_behavior="wrap"):  # every tab stays visible (a menu hides the later ones)
            for tab in TABS:
                with gr.Tab(tab.TITLE):
                    tab.build()
    demo.queue(max_size=32, default_concurrency_limit=2)
    return demo


def _tune_malloc(arenas: int = 2, mmap_threshold: int = 1 << 20) -> None:
    """Keep the server's memory flat under load (tests/test_soak.py measures it).

    Gradio runs requests on a pool of threads and glibc gives each its own malloc arena; and after
    a large buffer is freed glibc raises its mmap threshold, so later image-sized buffers come from
    the heap and fragment it. Few arenas and a fixed threshold (image buffers are mmapped and go
    back to the system when freed) stop both. No-op where glibc's mallopt is absent.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
        libc.mallopt(-3, mmap_threshold)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Disentangle Studio")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    parser.add_argument("--cache-minutes", type=float, default=CACHE_SCHEDULE[1] / 60,
                        help="delete uploads and results older than this (default 15)")  # fmt: skip
    args = parser.parse_args(argv)
    if not args.cache_minutes > 0:
        parser.error("--cache-minutes must be > 0")
    age = max(1, round(args.cache_minutes * 60))
    _tune_malloc()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    demo = build_demo()
    CacheSweeper(demo, every_s=max(1, min(CACHE_SCHEDULE[0], age // 3)), age_s=age).start()  # and empties it at exit
    # SIGTERM (docker stop, a supervisor) as Ctrl+C: Gradio closes the server and the process exits normally, so
    # the sweeper's exit pass runs (by default SIGTERM ends the process on the spot, leaving the cache behind)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
