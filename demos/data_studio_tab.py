"""Data Studio tab: one synthetic person, one factor at a time; camera and view grids; a sample set."""

from __future__ import annotations

import gradio as gr

from core.data.gait import CASIA_B_CONDITIONS
from core.synth.nuisance import BACKGROUNDS, BAGS
from core.synth.studio import DataStudio

TITLE = "Data Studio"

INTRO = """\
Every model here trains on people we render, so every factor is known. Pick an identity seed and
change **one factor at a time**: the person (body, face, clothes, gait) stays the same while the
view, light, background, walk phase, bag or coat change. "Wear clothes of" puts another seed's
clothes on this body: the ground truth of an appearance swap. The grids show the same person in
the re-ID set's 6 cameras and in the gait set's 11 views (silhouette as stored, then the RGB frame).
"""

EXAMPLES = [
    # label, seed, azimuth, elevation, light az, light, background, scene, phase, bag, coat, clothes
    ("front, street", 7, 0, 10, 30, 0.55, "street", 1, 0.2, "none", False, 7),
    ("side view with backpack", 7, 90, 10, 30, 0.55, "street", 1, 0.45, "backpack", False, 7),
    ("same person in a coat", 7, 90, 10, 30, 0.55, "street", 1, 0.45, "none", True, 7),
    ("wearing seed 42's clothes", 7, 30, 10, 30, 0.55, "floor-wall", 3, 0.7, "none", False, 42),
]


def build() -> None:
    """Lay out the tab inside the current gr.Blocks context."""
    studio = DataStudio()

    def render(seed, azimuth, elevation, light_az, light, background, scene, phase, bag, coat, clothes):
        try:
            n = studio.nuisance(azimuth, elevation, light_az, light, background, scene, phase, bag, coat)
            return studio.render(seed, n, clothes)
        except ValueError as err:
            raise gr.Error(str(err)) from None

    def grids(seed, condition, phase, progress=gr.Progress()):  # noqa: B008 (Gradio injects progress)
        try:
            progress(0.1, desc="re-ID cameras")
            cams = studio.reid_cameras(seed)
            progress(0.5, desc="gait views")
            views = studio.gait_views(seed, condition, phase)
        except ValueError as err:
            raise gr.Error(str(err)) from None
        gait = [(sil, cap) for sil, _, cap in views] + [(rgb, cap) for _, rgb, cap in views]
        return cams, gait

    def sample(seed, progress=gr.Progress()):  # noqa: B008
        progress(0.2, desc="rendering a tiny Market-1501-style set")
        try:
            return str(studio.sample_zip(seed))
        except ValueError as err:
            raise gr.Error(str(err)) from None

    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=1):
            seed = gr.Number(value=7, precision=0, minimum=0, label="Identity seed", elem_id="ds-seed")
            clothes = gr.Number(value=7, precision=0, minimum=0, label="Wear clothes of seed", elem_id="ds-clothes")
            azimuth = gr.Slider(-180, 180, value=0, step=5, label="View azimuth (deg)", elem_id="ds-azimuth")
            elevation = gr.Slider(-10, 45, value=10, step=1, label="View elevation (deg)", elem_id="ds-elevation")
            with gr.Row():
                light_az = gr.Slider(-180, 180, value=30, step=5, label="Light azimuth (deg)")
                light = gr.Slider(0.0, 1.2, value=0.55, step=0.05, label="Light intensity")
            with gr.Row():
                background = gr.Dropdown(list(BACKGROUNDS), value="street", label="Background")
                scene = gr.Number(value=1, precision=0, minimum=0, label="Scene seed")
            phase = gr.Slider(0.0, 0.99, value=0.2, step=0.01, label="Walk phase", elem_id="ds-phase")
            with gr.Row():
                bag = gr.Dropdown(list(BAGS), value="none", label="Bag", elem_id="ds-bag")
                coat = gr.Checkbox(value=False, label="Coat", elem_id="ds-coat")
            button = gr.Button("Render", variant="primary", elem_id="ds-render")
        with gr.Column(scale=1):
            image = gr.Image(label="Render (256x128)", type="numpy", format="png", interactive=False, height=420,
                             elem_id="ds-image")  # fmt: skip
    controls = [seed, azimuth, elevation, light_az, light, background, scene, phase, bag, coat, clothes]
    button.click(render, inputs=controls, outputs=image, api_name="render_person", concurrency_id="render")
    examples = gr.Examples(
        examples=[list(e[1:]) for e in EXAMPLES], example_labels=[e[0] for e in EXAMPLES],
        inputs=controls, cache_examples=False,
    )  # fmt: skip
    examples.load_input_event.then(render, inputs=controls, outputs=image, concurrency_id="render",
                                   api_visibility="undocumented")  # fmt: skip

    gr.Markdown("### One identity across cameras and views")
    with gr.Row():
        condition = gr.Dropdown(list(CASIA_B_CONDITIONS), value="nm-01", label="Gait condition")
        grid_button = gr.Button("Show grids", elem_id="ds-grids")
    cams = gr.Gallery(
        label="Re-ID cameras 1-6", columns=6, height=300, format="png", object_fit="contain", elem_id="ds-cams"
    )
    gait = gr.Gallery(label="Gait views 0-180 deg: silhouettes (64x44), then RGB", columns=11, height=340,
                      format="png", object_fit="contain", elem_id="ds-gait")  # fmt: skip
    grid_button.click(grids, inputs=[seed, condition, phase], outputs=[cams, gait], api_name="grids",
                      concurrency_id="render")  # fmt: skip

    gr.Markdown("### Download a sample")
    with gr.Row():
        sample_button = gr.Button("Make a sample Market-1501-style set (2 + 2 people)", elem_id="ds-sample")
        sample_file = gr.File(label="market_sample.zip", elem_id="ds-sample-file")
    sample_button.click(sample, inputs=[seed], outputs=sample_file, api_name="sample_dataset", concurrency_id="render")
