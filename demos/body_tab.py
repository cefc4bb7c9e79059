"""Body & Renderer tab: shape sliders, pose, view and texture -> rendered image and a GLB viewer."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import gradio as gr

from core.body.skeleton import NUM_BETAS
from core.render.preview import BETA_LIMIT, POSES, TEXTURE_CHOICES, UPLOADED, BodyStudio

TITLE = "Body & Renderer"

INTRO = """\
Our open, SMPL-compatible body (built from Anny; 10 shape components, 24 joints) rendered with
PyTorch3D. Move the shape sliders (each is one standard deviation of adult body shapes; beta 0 is
mostly height), pick a pose and a view, and put a texture on it: a UV checker shows how the texture
wraps the body, or upload any image. The GLB on the right opens in your own 3D viewer too.
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


KEEP_GLBS = 32  # exported GLBs kept on disk; older ones are deleted so the temp folder stays small


def _keep_newest(folder: Path, keep: int) -> None:
    files = sorted(folder.glob("*.glb"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)


def build() -> None:
    """Lay out the tab inside the current gr.Blocks context."""
    studio = BodyStudio()
    out_dir = Path(tempfile.mkdtemp(prefix="disentangle-body-"))

    def render(*values, progress=gr.Progress()):  # noqa: B008 (Gradio injects progress here)
        betas = list(values[:NUM_BETAS])
        pose, phase, azimuth, elevation, texture_choice, upload = values[NUM_BETAS:]
        try:
            progress(0.1, desc="posing")
            texture = studio.texture(texture_choice, upload)
            progress(0.3, desc="rendering")
            image = studio.render(betas, pose, phase, azimuth, elevation, texture)
            progress(0.8, desc="exporting GLB")
            glb = studio.export(out_dir / f"body-{uuid.uuid4().hex[:12]}.glb", betas, pose, phase, texture)
            _keep_newest(out_dir, KEEP_GLBS)
        except ValueError as err:
            raise gr.Error(str(err)) from None
        return image, str(glb)

    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Accordion("Body shape (betas)", open=True):
                betas = [
                    gr.Slider(-BETA_LIMIT, BETA_LIMIT, value=0.0, step=0.1, label=f"beta {i}",
                              elem_id=f"body-beta-{i}")
                    for i in range(NUM_BETAS)
                ]  # fmt: skip
            pose = gr.Radio(list(POSES), value="T-pose", label="Pose", elem_id="body-pose")
            phase = gr.Slider(
                0.0,
                0.99,
                value=0.0,
                step=0.01,
                label="Walk phase",
                elem_id="body-phase",
                info="used by the Walk pose: 0 = left leg passing under the body",
            )
            azimuth = gr.Slider(
                -180,
                180,
                value=0,
                step=5,
                label="View azimuth (deg)",
                elem_id="body-azimuth",
                info="0 front, 90 the body's left side, 180 back",
            )
            elevation = gr.Slider(-30, 60, value=5, step=5, label="View elevation (deg)", elem_id="body-elevation")
            texture = gr.Radio(list(TEXTURE_CHOICES), value="UV checker", label="Texture", elem_id="body-texture")
            upload = gr.Image(
                label=f"Texture image (for '{UPLOADED}')", type="numpy", height=160, elem_id="body-upload"
            )
            button = gr.Button("Render", variant="primary", elem_id="body-render")
        with gr.Column(scale=1):
            image = gr.Image(
                label="Render",
                type="numpy",
                format="png",
                interactive=False,
                height=420,
                elem_id="body-image",
            )
            model3d = gr.Model3D(
                label="GLB (drag to orbit)",
                clear_color=(0.95, 0.95, 0.95, 1.0),
                height=360,
                elem_id="body-glb",
            )
    inputs = [*betas, pose, phase, azimuth, elevation, texture, upload]
    button.click(render, inputs=inputs, outputs=[image, model3d], api_name="render_body", concurrency_id="render")
    examples = gr.Examples(
        examples=[[*b, p, ph, az, el, tex, None] for _, b, p, ph, az, el, tex in EXAMPLES],
        example_labels=[e[0] for e in EXAMPLES], inputs=inputs, cache_examples=False,
    )  # fmt: skip
    # a clicked example renders in the same concurrency group as the button
    examples.load_input_event.then(render, inputs=inputs, outputs=[image, model3d], concurrency_id="render",
                                   api_visibility="undocumented")  # fmt: skip
