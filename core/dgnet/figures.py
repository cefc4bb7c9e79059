"""DG-Net's pictures: its data flow as a small diagram (the tab's "how it works") and the model card's swap grid
beside the rendered ground truth."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.dgnet.api import swap_grid
from core.figures import diagram, labelled_grid
from core.synth.examples import example_people, render_people, truth_grid

__all__ = ["examples_figure", "how_it_works_diagram"]


@lru_cache(maxsize=1)
def how_it_works_diagram() -> np.ndarray:
    """DG-Net's data flow as a (H, W, 3) uint8 picture: image a -> E_a -> appearance code; image b -> gray ->
    E_s -> structure code; the decoder G with AdaIN -> "b wearing a's clothes"; D and the ID heads."""
    return diagram(
        1000,
        390,
        """
        box 20 40 130 110 grey image a | the clothes
        box 20 240 130 310 grey image b | the pose
        box 165 240 255 310 grey gray | (ours: its | high-pass)
        box 170 30 370 120 blue E_a appearance | ResNet, last stride 1 | 4 horizontal part max-pools
        box 290 230 470 320 orange E_s structure | convs, residual blocks, | ASPP
        box 410 40 580 110 blue appearance code | 4 parts x C: clothes
        box 510 240 680 310 orange structure code | C x H/4 x W/4: pose, | body shape, background
        box 620 40 760 110 blue MLPs | AdaIN scales, shifts
        box 720 160 860 230 green decoder G: AdaIN | blocks, upsampling; | ours: + a mask | over image b
        box 890 160 990 230 grey b wearing | a's clothes
        box 760 300 990 370 purple D: real or generated? | (multi-scale LSGAN)
        box 170 150 420 205 purple ID heads: primary (KL to teacher) | + fine-grained (names the id)
        arrow 130,75 170,75
        arrow 370,75 410,75
        arrow 580,75 620,75
        arrow 760,75 790,75 790,160
        arrow 130,275 165,275
        arrow 255,275 290,275
        arrow 470,275 510,275
        arrow 680,275 790,275 790,230
        arrow 860,195 890,195
        arrow 270,120 270,150
        arrow dashed 940,230 940,300
        arrow dashed 120,80,160 960,160 960,140 440,140 440,178 420,178
        text 600 128 12 mm 120,80,160 generated image -> E_a again: ID loss, code reconstruction
        text 500 15 16 mm ink DG-Net: clothes from a, everything else from b
        text 20 345 12 - 90,90,90 solid: the swap the demo runs; dashed: used in training only
    """,
    )


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
