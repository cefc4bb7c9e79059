"""Texture tab: a full-body texture from one photo, by the U-Net or by optimisation, seen from any side.

The callback :func:`make_texture` (a generator: optimisation streams its progress and loss curve) takes
the gate's checked values; the tests call it directly. The shipped model is the manifest's ``texgen``
(U-Net) and ``texgen-pcb`` (the re-ID network of the loss), or the files the environment variables
``DISENTANGLE_TEXGEN_CHECKPOINT`` / ``DISENTANGLE_TEXGEN_PCB`` name. Without them every run answers with
what to do, and still shows the projection baseline and the ground truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import gradio as gr
import numpy as np
import torch

from core.figures import to_picture
from core.synth.examples import EXAMPLE_COUNT, FIRST_TEST_PERSON
from core.texgen import api
from core.texgen.figures import how_it_works_diagram, loss_curve, orbit_picture, texture_picture
from demos.files import OutputFolder
from demos.gate import Choice, Form, Number, Upload, show_model3d
from demos.layout import Diagram, click_examples, example_gallery, how_it_works, picture
from demos.models import ModelCache, ModelUnavailable, checkpoint_path, env_names_file, load_cached

log = logging.getLogger("disentangle.app")

TITLE = "3D texture (Re-ID supervised)"
CHECKPOINT_ENV, PCB_ENV = "DISENTANGLE_TEXGEN_CHECKPOINT", "DISENTANGLE_TEXGEN_PCB"
PEOPLE = tuple(f"person {FIRST_TEST_PERSON + k}" for k in range(EXAMPLE_COUNT))
YOUR_PHOTO = "your photo"
UNET, OPTIMISE = "U-Net (instant)", "optimisation"
LOSSES = {"re-ID": "reid", "L1 (pixels)": "l1", "both": "both"}
INITS = {"the U-Net's texture": "unet", "flat grey": "grey"}

NOT_SHIPPED = (
    "The texture model is not shipped yet: train it with `python -m core train pcb` and `python -m core train "
    "texgen`, then `python -m core ship texgen`; or point `DISENTANGLE_TEXGEN_CHECKPOINT` (and "
    "`DISENTANGLE_TEXGEN_PCB`) to the files. Shown meanwhile: the projection baseline."
)

INTRO = """\
Re-identification supervised texture generation (Wang et al., CVPR 2019) puts a **full-body texture** on a
3D body from **one photo**. No texture ground truth exists for real photos, so the paper's trick is to ask a
**re-identification network**: render the textured body in the photo's pose and camera, and make the
render look like *the same person* to it. Our body is an open SMPL-compatible model rendered with
**PyTorch3D**; our people are synthetic, so the texture can be checked from sides the photo never showed.
"""

HOW_IT_WORKS = """\
**The factors.** *Texture* (a UV map: what the clothes and skin look like), *geometry* (body shape and pose),
*view* (the camera). Geometry and view come from the photo's body fit (for our synthetic people: the body and
camera they were rendered with); the texture is what is learnt.

**Two ways to get the texture.**
- *U-Net* (instant): the photo's pixels are first **projected** through the fitted body into the 64 x 64 UV
  map (what the photo does not show is filled from the mirror-image point); a 5-level U-Net working in UV
  space then corrects that texture. Trained on other people with the losses below; one forward pass. (The
  paper's U-Net reads the photo itself; ours scored higher from every view this way, see the model card.)
- *Optimisation*: the texture itself is fitted to this one photo (the body is rasterised **once**, then
  only re-shaded at every step), starting from the U-Net's texture or from grey.

**What each loss does.**
- *Re-ID loss* (weight 5000 in training): a frozen **PCB** re-ID network reads the render and the photo; the
  outputs of its 4 ResNet stages, each L2-normalised, must match. It forgives small misalignments that a
  pixel loss punishes. In training the texture is also rendered in **another photo of the same person**
  (another camera), so it learns the sides this photo does not show.
- *Face/hand prior* (weight 1): low-resolution crops show no face detail, so the face and hand texels are
  pulled towards a real texture's.
- *L1* (the paper's ablation; our U-Net also trains with it, weight 10): pixel differences on the body.
- *Texture truth* (ours, weight 30; not in the paper): our training people are synthetic, so their painted
  texture is known, and the U-Net's texels on the body are pulled to it. This is what taught it the back:
  photos alone paint a skirt's colour where the body has bare legs.

**What to look for.** The orbit strip turns the body: the first view is the photo's; the back (180 deg) was
never seen. The row underneath is the truth for our synthetic people.
"""

_MODELS = ModelCache()


def shipped_model() -> api.TextureModel:
    """The U-Net + PCB named by the environment variables, else the registered ``texgen`` / ``texgen-pcb``
    (the PCB from the manifest only when the U-Net comes from it too)."""
    unet = checkpoint_path(CHECKPOINT_ENV, "texgen", NOT_SHIPPED)
    pcb = checkpoint_path(PCB_ENV, "texgen-pcb", NOT_SHIPPED, use_manifest=not env_names_file(CHECKPOINT_ENV))
    return load_cached(_MODELS, (unet, pcb), lambda: api.load_files(unet, pcb), "the texture model", NOT_SHIPPED)


# ---------------------------------------------------------------------------------------------- inputs


def _photo_tensor(photo: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(photo.astype(np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()


def _fit_photo(photo: np.ndarray) -> tuple[object, np.ndarray | None, list[str]]:
    """(annotation, overlay picture or None, notes) for an uploaded photo: a body fitted to it when the
    'photo' extra is installed and a person is found, else a default standing body."""
    notes = []
    try:
        from core.render.photo_detect import detect_person
        from core.render.photo_fit import fit_body, overlay_fit
        from core.synth.engine import shared_renderer

        body = shared_renderer().body  # the process's body model: loading one costs seconds
        fitted = fit_body(detect_person(photo), photo.shape[:2], body=body)
        overlay = overlay_fit(photo, fitted, body=body)
        notes.append(f"Body fitted to your photo (keypoint error {fitted.keypoint_error:.1f} px, silhouette IoU "
                     f"{fitted.mask_iou:.2f}); the picture shows what the texture was lifted onto.")  # fmt: skip
        notes.extend(fitted.warnings)
        return fitted.annotation(), overlay, notes
    except ImportError:
        notes.append("No body fit: the photo extra is not installed (`pip install -e '.[photo]'`, mediapipe). The "
                     "texture is shown on a default standing body.")  # fmt: skip
    except Exception as err:  # no person found, or the fit failed: say so, keep going where we can
        log.info("photo fit failed: %s", err)
        notes.append(f"No body fit: {err} The texture is shown on a default standing body.")
    return None, None, notes


OUTPUTS = OutputFolder("disentangle-texgen-", keep=32)  # one sub-folder per result, the newest kept


def _save(texture: torch.Tensor, note, stem: str) -> tuple[str, list[str]]:
    png, glb = api.export(texture, note, OUTPUTS.new_dir(), stem=stem)
    return str(glb), [str(png), str(glb)]


# ---------------------------------------------------------------------------------------------- action


class StopRequests:
    """Sessions whose optimisation should stop at its next progress report (the Stop button).

    The loop stops itself and finishes the result with the texture drawn so far (orbit, 3D body,
    downloads). Cancelling the event instead left the outputs half-updated, and on a slow server Gradio
    then marked the note as an error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: set[str] = set()

    def request(self, request: gr.Request) -> None:
        with self._lock:
            self._sessions.add(_session(request))

    def clear(self, session: str) -> None:
        with self._lock:
            self._sessions.discard(session)

    def pending(self, session: str) -> bool:
        with self._lock:
            return session in self._sessions


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "")


STOPS = StopRequests()


def make_texture(person: str, method: str, loss: str, steps: int, init: str, photo: np.ndarray | None,
                 progress: Callable | None = None, request: gr.Request | None = None) -> Iterator[tuple]:  # fmt: skip
    """Yields (texture map, orbit strip, GLB path, download files, loss curve, body-fit picture, note).

    An optimisation stops early when this session presses Stop (:data:`STOPS`)."""
    step = progress or (lambda *a, **k: None)
    session = _session(request)
    STOPS.clear(session)  # a Stop pressed before this run does not end it
    notes: list[str] = []
    truth, fit_picture = None, None
    step(0.05, desc="preparing the input")
    if person == YOUR_PHOTO:
        if photo is None:
            raise CHECKS[5].fail("'your photo' is chosen but none was uploaded", "Upload a photo, or pick a person")
        image = _photo_tensor(photo)
        note, fit_picture, fit_notes = _fit_photo(photo)
        notes.extend(fit_notes)
        h, w = photo.shape[:2]
        notes.append(f"Your photo: {w} x {h} px, resized to 64 x 128 for the network; the shipped model was "
                     "trained on rendered people, so real photos are harder for it.")  # fmt: skip
        if note is None:
            if method == OPTIMISE:
                raise CHECKS[1].fail("optimisation needs the body in the photo, and none could be fitted",
                                     "Choose the U-Net, or install the photo extra and upload a photo of one "
                                     "whole, standing person")  # fmt: skip
            note = api.default_annotation()
        label = "your photo"
    else:
        example = api.example_picture(PEOPLE.index(person))
        image, note, truth, label = example.image, example.annotation, example.truth, person
    model = None
    try:
        model = shipped_model()
    except ModelUnavailable as err:
        notes.insert(0, str(err))
        gr.Warning(str(err).replace("`", ""), title="No model")
    start = time.perf_counter()
    curve = None
    if model is None:
        texture = api.projection_baseline(image, note)
        what = "projection baseline (no model)"
    elif method == UNET:
        texture = api.texture_unet(model, image, note)
        what = "U-Net"
    else:
        if LOSSES[loss] != "l1" and model.pcb is None:
            raise CHECKS[2].fail("this model has no re-ID network", "Choose the L1 loss")
        what = f"optimisation, {loss} loss, {steps} steps from {init}"
        texture = None
        for report in api.optimize(model, image, note, loss=LOSSES[loss], steps=steps, init=INITS[init],
                                   report_every=max(1, steps // 20)):  # fmt: skip
            texture = report.texture
            curve = loss_curve(report.history)
            step(report.step / steps, desc=f"optimising: step {report.step} of {steps}")
            yield (texture_picture(texture), None, None, None, curve, fit_picture,
                   f"Optimising: step {report.step} of {steps} ({report.seconds:.1f} s).")  # fmt: skip
            if report.step < steps and STOPS.pending(session):
                STOPS.clear(session)
                what = f"optimisation, {loss} loss, stopped at step {report.step} of {steps}, from {init}"
                notes.append(f"Stopped at step {report.step} of {steps}: the texture so far is shown.")
                break
    seconds = time.perf_counter() - start
    step(0.9, desc="rendering the views")
    strip = api.orbit(texture, note)
    true_strip = api.orbit(truth, note) if truth is not None else None
    picture = orbit_picture(strip, true_strip, image[0] if person != YOUR_PHOTO else None,
                            f"{label}: {what}")  # fmt: skip
    glb, files = _save(texture, note, label.replace(" ", "_"))
    notes.insert(1 if model is None else 0, f"**{what}**: {seconds:.2f} s.")
    if truth is None and person == YOUR_PHOTO:
        notes.append("No ground truth: it exists only for the example people.")
    step(1.0, desc="done")
    yield texture_picture(texture), picture, glb, files, curve, fit_picture, "\n\n".join(notes)


# ---------------------------------------------------------------------------------------------- the tab

CHECKS = (
    Choice("person", "Person", options=(*PEOPLE, YOUR_PHOTO), value=PEOPLE[0], widget="dropdown",
           info="test people of the synthetic re-ID set (never trained on), or your photo"),
    Choice("method", "Method", options=(UNET, OPTIMISE), value=UNET),
    Choice("loss", "Optimisation loss", options=tuple(LOSSES), value="re-ID"),
    Number("steps", "Optimisation steps", lo=10, hi=500, value=200, whole=True, step=10),
    Choice("init", "Optimisation starts from", options=tuple(INITS), value="the U-Net's texture"),
    Upload("photo", "Your photo (used when the person is 'your photo')", optional=True,
           only_if=("person", YOUR_PHOTO)),
)  # fmt: skip

EXAMPLES = [
    ("U-Net, instant", [PEOPLE[0], UNET, "re-ID", 200, "the U-Net's texture"]),
    ("optimise with the re-ID loss", [PEOPLE[1], OPTIMISE, "re-ID", 200, "the U-Net's texture"]),
    ("optimise with L1 only (the ablation)", [PEOPLE[1], OPTIMISE, "L1 (pixels)", 200, "the U-Net's texture"]),
    ("optimise from grey: unseen sides stay grey", [PEOPLE[2], OPTIMISE, "both", 200, "flat grey"]),
]


def _preview() -> list[tuple[np.ndarray, str]]:
    """(picture, caption) of the example people."""
    return [(np.asarray(to_picture(api.example_picture(k).image[0], 192)), p) for k, p in enumerate(PEOPLE)]


def build() -> None:
    """Lay out the tab inside the current gr.Blocks context."""
    form = Form(*CHECKS)
    gr.Markdown(INTRO)
    how_it_works(HOW_IT_WORKS, [Diagram(how_it_works_diagram(), "Re-ID supervised texture generation at a glance",
                                        "tx-diagram")])  # fmt: skip
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            person = form.add("person", elem_id="tx-person")
            form.add("photo", height=200, elem_id="tx-photo")
            method = form.add("method", elem_id="tx-method")
            with gr.Accordion("Optimisation settings", open=True):
                loss = form.add("loss", elem_id="tx-loss")
                steps = form.add("steps", elem_id="tx-steps")
                init = form.add("init", elem_id="tx-init")
            with gr.Row():
                run = gr.Button("Make the texture", variant="primary", elem_id="tx-run")
                stop = gr.Button("Stop", variant="stop", elem_id="tx-stop")
            examples = click_examples(EXAMPLES, [person, method, loss, steps, init])
        with gr.Column(scale=3):
            example_gallery(_preview, "the texture example people", "The example people",
                            columns=8, height=220, elem_id="tx-people")  # fmt: skip
            with gr.Row(equal_height=False):
                texture = picture("Texture (UV map)", "tx-texture", height=256)
                curve = picture("Loss curve (optimisation)", "tx-curve", height=256)
                fit = picture("Body fitted to your photo", "tx-fit", height=256)
    orbit = picture("Orbit", "tx-orbit", show_label=False)
    with gr.Row(equal_height=False):
        viewer = gr.Model3D(label="3D body (drag to turn)", clear_color=(0.95, 0.95, 0.95, 1.0), height=420,
                            elem_id="tx-model3d")  # fmt: skip
        with gr.Column():
            files = gr.File(label="Downloads: texture PNG and GLB", file_count="multiple", elem_id="tx-files")
            note = gr.Markdown(elem_id="tx-note")
    glb = gr.State()  # the GLB path: the viewer draws it in a step of its own (show_model3d)
    events = form.wire([run.click, examples.load_input_event], make_texture,
                       [texture, orbit, glb, files, curve, fit, note], api_name="texgen_texture",
                       what="making the texture", concurrency_id="texgen")  # fmt: skip
    show_model3d(events, glb, viewer)
    # stops an optimisation at its next report; the result is finished with the texture drawn so far
    stop.click(STOPS.request, None, None, api_visibility="private", concurrency_limit=None, show_progress="hidden")
