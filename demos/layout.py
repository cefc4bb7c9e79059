"""Layout pieces every tab shares."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np

log = logging.getLogger("disentangle.app")

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


def picture(label: str, elem_id: str, **options: Any) -> gr.Image:
    """An output picture: a numpy image shown as PNG (lossless, so the pixels the model made), not editable."""
    return gr.Image(label=label, type="numpy", format="png", interactive=False, elem_id=elem_id, **options)


def example_gallery(render: Callable[[], list[tuple[np.ndarray, str]]], what: str, label: str, **options: Any
                    ) -> gr.Gallery:  # fmt: skip
    """The gallery of a tab's example people, ``render()``'s (picture, caption) pairs, whole in each cell; empty
    (and logged) if rendering fails, as the tab works without it."""
    try:
        items = render()
    except Exception:  # the tab still works without its preview
        log.exception("could not render %s", what)
        items = []
    return gr.Gallery(items, label=label, format="png", object_fit="contain", **options)


def click_examples(rows: Sequence[tuple[str, list]], inputs: list, action: str = "runs") -> gr.Examples:
    """Examples to click, each (caption, input values); a click fills ``inputs`` (the tab's wiring then runs it)."""
    return gr.Examples(examples=[values for _, values in rows], example_labels=[label for label, _ in rows],
                       inputs=inputs, cache_examples=False, label=f"Examples (click one: it {action})")  # fmt: skip
