"""DG-Net's pictures: its data flow as a small diagram (the tab's "how it works") and the model card's swap grid
beside the rendered ground truth."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from core.dgnet.api import swap_grid
from core.figures import BACKGROUND, BLUE, GREEN, GREY, INK, ORANGE, PURPLE, arrow, box, font, labelled_grid
from core.synth.examples import example_people, render_people, truth_grid

__all__ = ["examples_figure", "how_it_works_diagram"]


@lru_cache(maxsize=1)
def how_it_works_diagram() -> np.ndarray:
    """DG-Net's data flow as a (H, W, 3) uint8 picture: image a -> E_a -> appearance code; image b -> gray ->
    E_s -> structure code; the decoder G with AdaIN -> "b wearing a's clothes"; D and the ID heads."""
    w, h = 1000, 390
    canvas = Image.new("RGB", (w, h), BACKGROUND)
    d = ImageDraw.Draw(canvas)
    # inputs
    box(d, (20, 40, 130, 110), "image a\nthe clothes", GREY)
    box(d, (20, 240, 130, 310), "image b\nthe pose", GREY)
    box(d, (165, 240, 255, 310), "gray\n(ours: its\nhigh-pass)", GREY)
    # encoders and codes
    box(d, (170, 30, 370, 120), "E_a appearance\nResNet, last stride 1\n4 horizontal part max-pools", BLUE)
    box(d, (290, 230, 470, 320), "E_s structure\nconvs, residual blocks,\nASPP", ORANGE)
    box(d, (410, 40, 580, 110), "appearance code\n4 parts x C: clothes", BLUE)
    box(d, (510, 240, 680, 310), "structure code\nC x H/4 x W/4: pose,\nbody shape, background", ORANGE)
    box(d, (620, 40, 760, 110), "MLPs\nAdaIN scales, shifts", BLUE)
    # decoder, output, critics
    box(d, (720, 160, 860, 230), "decoder G: AdaIN\nblocks, upsampling;\nours: + a mask\nover image b", GREEN)
    box(d, (890, 160, 990, 230), "b wearing\na's clothes", GREY)
    box(d, (760, 300, 990, 370), "D: real or generated?\n(multi-scale LSGAN)", PURPLE)
    box(d, (170, 150, 420, 205), "ID heads: primary (KL to teacher)\n+ fine-grained (names the id)", PURPLE)
    # arrows
    arrow(d, [(130, 75), (170, 75)])
    arrow(d, [(370, 75), (410, 75)])
    arrow(d, [(580, 75), (620, 75)])
    arrow(d, [(760, 75), (790, 75), (790, 160)])
    arrow(d, [(130, 275), (165, 275)])
    arrow(d, [(255, 275), (290, 275)])
    arrow(d, [(470, 275), (510, 275)])
    arrow(d, [(680, 275), (790, 275), (790, 230)])
    arrow(d, [(860, 195), (890, 195)])
    arrow(d, [(270, 120), (270, 150)])
    arrow(d, [(940, 230), (940, 300)], dashed=True)
    arrow(d, [(960, 160), (960, 140), (440, 140), (440, 178), (420, 178)], colour=(120, 80, 160), dashed=True)
    d.text((600, 128), "generated image -> E_a again: ID loss, code reconstruction", fill=(120, 80, 160),
           font=font(12), anchor="mm")  # fmt: skip
    d.text((w / 2, 15), "DG-Net: clothes from a, everything else from b", fill=INK, font=font(16), anchor="mm")
    d.text((20, 345), "solid: the swap the demo runs; dashed: used in training only", fill=(90, 90, 90), font=font(12))
    return np.asarray(canvas)


def examples_figure(model, count: int = 4) -> np.ndarray:
    """The model card's picture, (H, W, 3) uint8: a ``count`` x ``count`` swap grid of the first example
    (test) people beside the rendered ground truth, as the app's tab shows them.

    model: a :class:`core.dgnet.DGNet`.
    """
    people = example_people()[:count]
    images = render_people(people)
    labels = [p.label for p in people]
    out = swap_grid(model, images, images)
    size = (model.config.height, model.config.width)
    truth = truth_grid(people, people, size)
    made = labelled_grid(
        out, list(images), list(images), labels, labels, "DG-Net: the row's clothes on the column's person"
    )
    true = labelled_grid(truth, list(images), list(images), labels, labels, "ground truth (rendered)")
    gap = np.full((made.shape[0], 24, 3), 255, dtype=np.uint8)
    return np.concatenate([made, gap, true], axis=1)
