"""Data Studio tab: one synthetic person, one factor at a time; camera and view grids; a sample set."""

from __future__ import annotations

from typing import Any

import gradio as gr

from core.data.opengait import CASIA_B_CONDITIONS
from core.synth.nuisance import BACKGROUNDS, BAGS, OCCLUDERS, POSES
from core.synth.studio import CAPTURES, MAX_SEED, DataStudio
from demos.files import OutputFolder
from demos.gate import Choice, Flag, Form, Number
from demos.layout import picture

TITLE = "Data Studio"

INTRO = """\
Every model here trains on people we render, so every factor is known. Pick an identity seed and
change **one factor at a time**: the person (body, face, clothes, gait) stays the same while the
view, light, scene, pose, bag, coat, something in front, or one camera effect changes. Clothes
have shape (skirts, jackets, hoods, shoes, hair with volume) and street colours, mostly dark and
neutral. "Wear clothes of" puts another seed's clothes on this body: the ground truth of an
appearance swap.
"""

GRIDS_NOTE = """\
**One identity across cameras and views.** The grids use the identity seed, the gait condition and
the walk phase only: the re-ID cameras and the gait views bring their own view, light and
background, and the gait condition sets the bag and coat (bg = bag, cl = coat), so the bag, coat and
"Wear clothes of" controls above do not apply here.
"""

EXAMPLES = [
    # label, seed, azimuth, elevation, light az, light, background, scene, phase, bag, coat, clothes,
    # pose, occluder, capture
    ("front, street", 7, 0, 10, 30, 0.55, "street", 1, 0.2, "none", False, 7, "walk", "none", "clean"),
    ("side view with backpack", 7, 90, 10, 30, 0.55, "street", 1, 0.45, "backpack", False, 7, "walk", "none", "clean"),
    ("same person in a coat", 7, 90, 10, 30, 0.55, "street", 1, 0.45, "none", True, 7, "walk", "none", "clean"),
    (
        "wearing seed 42's clothes",
        7,
        30,
        10,
        30,
        0.55,
        "floor-wall",
        3,
        0.7,
        "none",
        False,
        42,
        "walk",
        "none",
        "clean",
    ),
    ("a dress, carrying a box", 16, 20, 10, 30, 0.55, "shopfront", 4, 0.3, "none", False, 16, "carry", "none", "clean"),
    (
        "behind a passer-by, low resolution",
        7,
        30,
        15,
        30,
        0.55,
        "corridor",
        2,
        0.3,
        "none",
        False,
        7,
        "walk",
        "person",
        "low resolution",
    ),
]


def _seed(name: str, label: str, value: int) -> Number:
    return Number(name, label, lo=0, hi=MAX_SEED, value=value, whole=True, widget="number")


SEED = _seed("identity_seed", "Identity seed", 7)
PHASE = Number("walk_phase", "Walk phase", lo=0.0, hi=0.99, value=0.2, step=0.01)
PERSON_CHECKS = (
    SEED,
    Number("azimuth", "View azimuth (deg)", lo=-180, hi=180, value=0, step=5),
    Number("elevation", "View elevation (deg)", lo=-10, hi=45, value=10, step=1),
    Number("light_azimuth", "Light azimuth (deg)", lo=-180, hi=180, value=30, step=5),
    Number("light_intensity", "Light intensity", lo=0.0, hi=1.2, value=0.55, step=0.05),
    Choice("background", "Background", options=BACKGROUNDS, value="street", widget="dropdown"),
    _seed("scene_seed", "Scene seed", 1),
    PHASE,
    Choice("bag", "Bag", options=BAGS, value="none", widget="dropdown"),
    Flag("coat", "Coat"),
    _seed("clothes_seed", "Wear clothes of seed", 7),
    Choice("pose", "Pose", options=POSES, value="walk", widget="dropdown"),
    Choice("occluder", "In front", options=OCCLUDERS, value="none", widget="dropdown"),
    Choice("capture", "Camera effect", options=tuple(CAPTURES), value="clean", widget="dropdown"),
)
GRID_CHECKS = (SEED, Choice("condition", "Gait condition", options=CASIA_B_CONDITIONS, value="nm-01",
                            widget="dropdown"), PHASE)  # fmt: skip
SAMPLE_CHECKS = (SEED,)


def follow_identity(seed: Any, clothes: Any, last_seed: Any) -> tuple[Any, Any]:
    """A new identity seed -> (clothes seed, remembered seed): the clothes follow the identity when
    they were that identity's own (clothes == the previous seed); a choice of other clothes stays."""
    if not _whole(seed):
        return gr.skip(), last_seed  # not a seed yet (the user is typing): leave both as they are
    return (int(seed) if _whole(clothes) and int(clothes) == int(last_seed) else gr.skip()), int(seed)


def clothes_caption(seed: Any, clothes: Any) -> str:
    """Whose clothes the render shows."""
    if not (_whole(seed) and _whole(clothes)):
        return ""
    if int(seed) == int(clothes):
        return f"Identity seed {int(seed)} in **its own clothes**."
    s, c = int(seed), int(clothes)
    return f"Identity seed {s} wearing **seed {c}'s clothes** (body, face and hair stay seed {s}'s)."


def _whole(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()


def build() -> None:
    """Lay out the tab inside the current gr.Blocks context."""
    studio = DataStudio(image_size=(384, 192))  # the preview: 3x the re-ID set's 128x64
    samples = OutputFolder("disentangle-sample-", keep=8)
    person, grid, sample_form = Form(*PERSON_CHECKS), Form(*GRID_CHECKS), Form(*SAMPLE_CHECKS)

    def render(seed, azimuth, elevation, light_az, light, background, scene, phase, bag, coat, clothes, pose,
               occluder, capture):  # fmt: skip
        n = studio.nuisance(azimuth, elevation, light_az, light, background, scene, phase, bag, coat, pose, occluder,
                            capture)  # fmt: skip
        return studio.render(seed, n, clothes)

    def grids(seed, condition, phase, progress=None):
        if progress is not None:
            progress(0.1, desc="re-ID cameras")
        cams = studio.reid_cameras(seed)
        if progress is not None:
            progress(0.5, desc="gait views")
        views = studio.gait_views(seed, condition, phase)
        gait = [(sil, cap) for sil, _, cap in views] + [(rgb, cap) for _, rgb, cap in views]
        return cams, gait

    def sample(seed, progress=None):
        if progress is not None:
            progress(0.2, desc="rendering a tiny Market-1501-style set")
        return str(studio.sample_zip(seed, out_dir=samples.new_dir()))

    gr.Markdown(INTRO)
    # person and view | result | the other factors: on a phone the result comes right after the view
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=260):
            button = gr.Button("Render", variant="primary", elem_id="ds-render")
            seed = person.add("identity_seed", elem_id="ds-seed")
            clothes = person.add("clothes_seed", elem_id="ds-clothes")
            person.add("azimuth", elem_id="ds-azimuth")
            person.add("elevation", elem_id="ds-elevation")
        with gr.Column(scale=1, min_width=220):
            image = picture("Render", "ds-image", height=400)
        with gr.Column(scale=2, min_width=260):
            with gr.Row():
                person.add("light_azimuth")
                person.add("light_intensity")
            with gr.Row():
                person.add("background")
                person.add("scene_seed")
            phase = person.add("walk_phase", elem_id="ds-phase")
            with gr.Row():
                person.add("bag", elem_id="ds-bag")
                person.add("coat", elem_id="ds-coat")
            with gr.Row():
                person.add_each(("pose", "ds-pose"), ("occluder", "ds-occluder"), ("capture", "ds-capture"))
            examples = gr.Examples(
                examples=[list(e[1:]) for e in EXAMPLES], example_labels=[e[0] for e in EXAMPLES],
                inputs=person.inputs, cache_examples=False, label="Examples (click one: it renders)",
            )  # fmt: skip
    shown = gr.Markdown(elem_id="ds-clothes-note")
    rendered = person.wire([button.click, examples.load_input_event], render, image, api_name="render_person",
                           what="rendering the person", concurrency_id="render")  # fmt: skip
    for event in rendered:  # say whose clothes the picture shows
        event.success(clothes_caption, inputs=[seed, clothes], outputs=shown, show_progress="hidden",
                      api_visibility="private")  # fmt: skip
    # the clothes follow the identity seed, unless the user chose another seed's clothes
    last_seed = gr.State(SEED.value)
    seed.change(follow_identity, inputs=[seed, clothes, last_seed], outputs=[clothes, last_seed],
                show_progress="hidden", api_visibility="private")  # fmt: skip

    gr.Markdown(GRIDS_NOTE)
    grid.use("identity_seed", seed)
    grid.use("walk_phase", phase)
    with gr.Row():
        grid.add("condition", elem_id="ds-condition")
        grid_button = gr.Button("Show grids", elem_id="ds-grids")
    cams = gr.Gallery(
        label="Re-ID cameras 1-6", columns=6, height=300, format="png", object_fit="contain", elem_id="ds-cams"
    )
    gait = gr.Gallery(label="Gait views 0-180 deg: silhouettes (64x44), then RGB", columns=11, height=340,
                      format="png", object_fit="contain", elem_id="ds-gait")  # fmt: skip
    grid.wire([grid_button.click], grids, [cams, gait], api_name="grids", what="rendering the grids",
              concurrency_id="render")  # fmt: skip

    gr.Markdown("### Download a sample\nA tiny Market-1501-style set (2 + 2 people) from the identity seed above.")
    sample_form.use("identity_seed", seed)
    with gr.Row():
        sample_button = gr.Button("Make a sample Market-1501-style set", elem_id="ds-sample")
        sample_file = gr.File(label="market_sample.zip", elem_id="ds-sample-file")
    sample_form.wire([sample_button.click], sample, sample_file, api_name="sample_dataset",
                     what="making the sample set", concurrency_id="render")  # fmt: skip
