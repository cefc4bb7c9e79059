"""Layout pieces every tab shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gradio as gr
import numpy as np

PANEL_MIN_WIDTH = 340  # px: narrower than two of these (a phone), the text and the diagram stack


@dataclass(frozen=True)
class Diagram:
    """A picture of the "How it works" panel: (H, W, 3) uint8, its label and its element id."""

    picture: np.ndarray
    label: str
    elem_id: str
    show_label: bool = False


def how_it_works(text: str, diagrams: Sequence[Diagram]) -> None:
    """The "How it works" accordion: the text beside its diagrams on a wide screen, above them on a phone.

    Each side is a column with a minimum width, so Gradio's row wraps them when the screen cannot hold
    both (at 390 px the text sat in a 120 px column beside a tiny diagram)."""
    with gr.Accordion("How it works", open=True):
        with gr.Row(equal_height=False):
            with gr.Column(min_width=PANEL_MIN_WIDTH):
                gr.Markdown(text)
            with gr.Column(min_width=PANEL_MIN_WIDTH):
                for d in diagrams:
                    gr.Image(d.picture, label=d.label, show_label=d.show_label, interactive=False, format="png",
                             elem_id=d.elem_id)  # fmt: skip
