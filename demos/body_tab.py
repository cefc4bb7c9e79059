"""Body & Renderer tab: shape sliders, pose, view and texture -> rendered image and a GLB viewer."""

from __future__ import annotations

import gradio as gr

from core.body.skeleton import NUM_BETAS
from core.render.preview import BETA_LIMIT, POSES, TEXTURE_CHOICES, UPLOADED, BodyStudio
from demos.files import OutputFolder
from demos.gate import Choice, Form, Number, Upload
from demos.layout import picture

TITLE = "Body & Renderer"

INTRO = """\
Our open, SMPL-compatible body (built from Anny; 10 shape components, 24 joints) rendered with
PyTorch3D. Move the shape sliders (each is one standard deviation of adult body shapes; beta 0 is
mostly height), pick a pose and a view, and put a texture on it: a UV checker shows how the texture
wraps the body, or upload any image. The light moves with the camera, so every side reads. The GLB
on the right opens in your own 3D viewer too.
"""

EXAMPLES = [
    # label, betas, pose, phase, azimuth, elevation, texture
    ("mean body, front, checker", [0.0] * NUM_BETAS, "T-pose", 0.0, 0, 5, "UV checker"),
    ("tall, walking, side view", [2.0] + [0.0] * (NUM_BETAS - 1), "Walk", 0.25, 90, 5, "UV checker"),
    (
        "short and broad, A-pose, back",
        [-2.0, 2.0] + [0.0] * (NUM_BETAS - 2),
        "A-pose",
        0.0,
        180,
        10,
        "UV grid",
    ),
    ("mid-stride from above", [0.0, -1.0, 1.0] + [0.0] * (NUM_BETAS - 3), "Walk", 0.6, 35, 35, "UV grid"),
]

FORM_CHECKS = (
    *(Number(f"beta_{i}", f"beta {i}", lo=-BETA_LIMIT, hi=BETA_LIMIT, value=0.0, step=0.1) for i in range(NUM_BETAS)),
    Choice("pose", "Pose", options=POSES, value="T-pose"),
    Number("walk_phase", "Walk phase", lo=0.0, hi=0.99, value=0.0, step=0.01,
           info="only the Walk pose uses it: 0 = left leg passing under the body"),
    Number("azimuth", "View azimuth (deg)", lo=-180, hi=180, value=0, step=5,
           info="0 front, 90 the body's left, 180 back"),
    Number("elevation", "View elevation (deg)", lo=-30, hi=60, value=5, step=5),
    Choice("texture", "Texture", options=TEXTURE_CHOICES, value="UV checker"),
    Upload("texture_image", f"Texture image (used by '{UPLOADED}')", optional=True, only_if=("texture", UPLOADED)),
)  # fmt: skip


def build() -> None:
    """Lay out the tab inside the current gr.Blocks context."""
    studio = BodyStudio()
    glbs = OutputFolder("disentangle-body-", keep=32)
    form = Form(*FORM_CHECKS)

    def render(*values, progress=None):
        betas = list(values[:NUM_BETAS])
        pose, phase, azimuth, elevation, texture_choice, upload = values[NUM_BETAS:]
        if progress is not None:
            progress(0.1, desc="posing")
        texture = studio.texture(texture_choice, upload)
        if progress is not None:
            progress(0.3, desc="rendering")
        image = studio.render(betas, pose, phase, azimuth, elevation, texture)
        if progress is not None:
            progress(0.8, desc="exporting GLB")
        glb = studio.export(glbs.new_path(".glb"), betas, pose, phase, texture)
        return image, str(glb)

    gr.Markdown(INTRO)
    # made first (the examples need them), shown in the last column
    betas = [form.add(f"beta_{i}", elem_id=f"body-beta-{i}", render=False) for i in range(NUM_BETAS)]
    # controls | result | shape sliders: on a phone the columns stack, and the result comes before the sliders
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=260):
            form.add_each(
                ("pose", "body-pose"),
                ("walk_phase", "body-phase"),
                ("azimuth", "body-azimuth"),
                ("elevation", "body-elevation"),
                ("texture", "body-texture"),
            )
            form.add("texture_image", height=150, elem_id="body-upload")
        with gr.Column(scale=4, min_width=300):
            # the button right above the result: on a phone the controls stack first, then button, then result
            button = gr.Button("Render", variant="primary", elem_id="body-render")
            with gr.Row(equal_height=True):
                image = picture("Render", "body-image", height=400)
                model3d = gr.Model3D(label="GLB (drag to orbit)", clear_color=(0.95, 0.95, 0.95, 1.0), height=400,
                                     elem_id="body-glb")  # fmt: skip
            examples = gr.Examples(
                examples=[[*b, p, ph, az, el, tex, None] for _, b, p, ph, az, el, tex in EXAMPLES],
                example_labels=[e[0] for e in EXAMPLES], inputs=form.inputs, cache_examples=False,
                label="Examples (click one: it renders)",
            )  # fmt: skip
        with gr.Column(scale=2, min_width=260):
            with gr.Accordion("Body shape (betas, +-3 standard deviations)", open=True):
                for slider in betas:
                    slider.render()
    form.wire([button.click, examples.load_input_event], render, [image, model3d], api_name="render_body",
              what="rendering the body", concurrency_id="render")  # fmt: skip
