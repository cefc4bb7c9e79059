"""Disentangle Studio: ``python app.py [--host 127.0.0.1 --port 7860 --share]``.

Adding a demo is one import: put its module (with TITLE and build()) in TABS.
"""

from __future__ import annotations

import argparse

import gradio as gr

from demos import body_tab, data_studio_tab

TABS = [body_tab, data_studio_tab]

HEADER = """\
# Disentangle Studio
See disentangled representation learning for humans: swap appearance and structure, turn faces,
texture 3D bodies and split gait into its factors, on people we render ourselves so every result
has a ground truth.
"""

MAX_FILE_SIZE = "10mb"


def build_demo() -> gr.Blocks:
    """The whole app as gr.Blocks, built without launching it."""
    with gr.Blocks(title="Disentangle Studio", analytics_enabled=False) as demo:
        gr.Markdown(HEADER)
        with gr.Tabs():
            for tab in TABS:
                with gr.Tab(tab.TITLE):
                    tab.build()
    demo.queue(max_size=32, default_concurrency_limit=2)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Disentangle Studio")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    args = parser.parse_args(argv)
    build_demo().launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
