"""Face-pose tab: turn a face to any yaw (DR-GAN), from one picture or from several fused.

The callbacks :func:`turn_face` and :func:`fuse_faces` take the gate's checked values; the tests call
them directly. The shipped models are the manifest's ``drgan`` and ``drgan-multi``, or the files the
environment variables ``DISENTANGLE_DRGAN_CHECKPOINT`` / ``DISENTANGLE_DRGAN_MULTI`` name. Without them
every run answers with what to do and still shows the input and its rendered truth.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import gradio as gr
import numpy as np
import torch

from core.data.face import YAW_BINS
from core.drgan import api
from core.drgan.figures import how_it_works_diagram, omega_bars, pose_strip_figure, similarity_picture, to_unit
from core.figures import BACKGROUND, to_picture
from demos.gate import Choice, Form, Number, Upload
from demos.layout import Diagram, click_examples, example_gallery, how_it_works, picture
from demos.models import ModelCache, checkpoint_path, env_names_file, load_cached, model_or_note

log = logging.getLogger("disentangle.app")

TITLE = "Face pose (DR-GAN)"
CHECKPOINT_ENV, MULTI_ENV = "DISENTANGLE_DRGAN_CHECKPOINT", "DISENTANGLE_DRGAN_MULTI"
PEOPLE = tuple(f"person {api.FIRST_TEST_PERSON + k}" for k in range(api.EXAMPLE_COUNT))
YOUR_PHOTO = "your photo"
YOUR_PHOTOS = "your photos"
YAW_NAMES = tuple(f"{y:+d}°" for y in YAW_BINS)
INPUT_SETS = {
    "two: -90°, -45°": (0, 3),
    "three: -60°, 0°, +60°": (2, 6, 10),
    "four: -75°, -30°, +30°, +75°": (1, 4, 8, 11),
    "four profiles: -90°, -75°, +75°, +90°": (0, 1, 11, 12),
}
STRIP_YAWS = (0, 3, 6, 9, 12)  # the outputs of the similarity matrix: -90, -45, 0, 45, 90

NOT_SHIPPED = (
    "The DR-GAN model is not shipped yet: train it with `python -m core train drgan` (and `--multi`), then "
    "`python -m core ship drgan`; or point `DISENTANGLE_DRGAN_CHECKPOINT` (and `DISENTANGLE_DRGAN_MULTI`) to "
    "the files. Shown meanwhile: the input and its rendered truth."
)
RENDERED_ONLY = ("The shipped model was trained on **rendered** faces (340 synthetic people): on a real photo "
                 "expect the pose to follow and the likeness to be rough.")  # fmt: skip

INTRO = """\
DR-GAN (Tran, Yin & Liu, CVPR 2017) learns a face's **identity apart from its pose**. An encoder turns a
face into an identity code f(x); a decoder draws that identity at **any of 13 yaws** (-90° to +90°) from a
one-hot pose code and noise. The identity code is also a **pose-invariant face-recognition feature**, and
several photos of one person can be **fused** into one, better code.
"""

HOW_IT_WORKS = """\
**The codes.** *Identity* f(x): 320 numbers from the encoder (14 convolutions, BN + ELU). *Pose* c: a one-hot
code over 13 yaw bins, chosen by you. *Noise* z: 50 numbers in [-1, 1] (the seed) for what neither fixes.

**What each loss does.**
- *Discriminator D* is a classifier with N^d + 1 identity outputs (the extra one is **"fake"**) and 13 pose
  outputs. On real faces it learns who and which yaw; on generated faces it learns to answer "fake".
- *Generator* wants D to see, on each generated face, **the input's identity** and **the requested yaw**.
  Since D must read the identity from f(x) alone while c says the pose, f(x) is pushed to hold who it
  is and not where the face looks. The generator is updated twice per D update (the authors' schedule).
- *Pixel L1 (our CPU preset only, not the paper's)*: the synthetic set has each person at every yaw, so
  the small model also learns from the true face at the target yaw (weight 20); without it the small
  model fooled D's pose head with noise patterns instead of faces.
- *Identity loss (ours, not the paper's)*: a frozen copy of an earlier DR-GAN's encoder (a face-recognition
  feature) must see the same person in the generated face as in the true one (weight 10), so the
  generator keeps what tells people apart, not just the average pixels L1 rewards.
- *Which weights ship*: a moving average of the generator, or the live one, whichever lets an independent
  judge name more of 20 held-out people from their turned faces (checked every 500 steps).

**Several photos.** Each photo also gets a confidence ω in (0, 1); the fused code is Σ ω_i f_i / Σ ω_i.
The multi-image model is trained on random subsets of a person's faces and learns which ones to trust.

**What to look for.** The strip under the generated faces is the rendered truth (for the example people):
the same person, light and yaw. The **yaw estimate** is D's own pose head reading your input.
"""

_MODELS = ModelCache()


def shipped_model() -> api.FaceModel:
    """The DR-GANs named by the environment variables, else the registered ``drgan`` / ``drgan-multi``
    (the multi-image model is optional, and taken from the manifest only with the single-image one)."""
    single = checkpoint_path(CHECKPOINT_ENV, "drgan", NOT_SHIPPED)
    multi = checkpoint_path(MULTI_ENV, "drgan-multi", NOT_SHIPPED, use_manifest=not env_names_file(CHECKPOINT_ENV),
                            required=False)  # fmt: skip
    return load_cached(_MODELS, (single, multi), lambda: api.load_files(single, multi), "the DR-GAN model",
                       NOT_SHIPPED)  # fmt: skip


def _model_or_note(notes: list[str]) -> tuple[api.FaceModel | None, object]:
    """(the shipped model or None, its config or the small preset's); without a model, ``notes`` and a
    warning say what to do."""
    from core.drgan.config import DRGANConfig

    model = model_or_note(shipped_model, notes)
    return (model, model.config) if model is not None else (None, DRGANConfig.small())


# ---------------------------------------------------------------------------------------------- inputs


def _photo_face(photo: np.ndarray, check, cfg) -> tuple[torch.Tensor, list[str]]:
    """An uploaded photo -> (1, 3, S, S) in [-1, 1] and notes: the face found and cropped like the training
    faces when the photo extra is installed; without a face (or the extra) the picture's middle square."""
    notes = []
    image = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    try:
        from core.drgan.align import FaceNotFound, PhotoExtraMissing, align_face

        aligned = align_face(photo, cfg.load_size)
        image = aligned.crop
        x0, y0, x1, y1 = aligned.box
        notes.append(f"{check.label}: face found (detector score {aligned.score:.2f}) and cropped like the "
                     f"training faces, a {x1 - x0:.0f} px square around it.")  # fmt: skip
        notes.extend(aligned.notes)
    except (ImportError, PhotoExtraMissing):
        notes.append(f"{check.label}: no face detection, the photo extra is not installed (`pip install -e "
                     "'.[photo]'`); the picture is used as it is, so crop it tightly around the head.")  # fmt: skip
    except FaceNotFound as err:
        notes.append(f"**{check.label}: {err}.** The picture's middle square is used as it is, so the result "
                     "means little.")  # fmt: skip
    except Exception as err:  # the detector failed on this picture: say so and go on without it
        log.warning("face detection failed: %s", err)
        notes.append(f"**{check.label}: face detection failed on this picture ({err.__class__.__name__}).** Its "
                     "middle square is used as it is.")  # fmt: skip
    x, crop_notes = api.prepare_face(image, cfg)
    notes.extend(n[0].upper() + n[1:] + "." for n in crop_notes)
    return x, notes


def _example(person: str, yaw_bin: int) -> api.ExampleFace:
    return api.example_face(PEOPLE.index(person), yaw_bin)


def _yaw_text(model: api.FaceModel | None, x: torch.Tensor) -> str:
    if model is None:
        return ""
    yaw, probs = api.estimate_yaw(model, x)
    top = int(probs.argmax())
    return (f"D's yaw estimate of the input: **{yaw:+.0f}°** (most likely bin {YAW_BINS[top]:+d}°, "
            f"p = {float(probs[top]):.2f}).")  # fmt: skip


LABEL_BAND = 30  # px: Gradio draws an image component's label over the picture's top-left corner


def below_label(picture: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H + LABEL_BAND, W, 3): a blank band on top, so that the component's label
    does not cover the figure's column headers (the -90/-75 yaws, the similarity matrix's top row)."""
    band = np.empty((LABEL_BAND, *picture.shape[1:]), dtype=picture.dtype)
    band[:] = BACKGROUND
    return np.concatenate([band, picture])


def _similarity(model: api.FaceModel, inputs: torch.Tensor, outputs01: torch.Tensor) -> np.ndarray:
    """Matrix picture: inputs (n, 3, S, S) in [-1, 1] x outputs (m, 3, S, S) in [0, 1]."""
    outputs = outputs01 * 2 - 1
    return similarity_picture(api.similarity_matrix(model, inputs, outputs), inputs, outputs)


# ---------------------------------------------------------------------------------------------- actions


def turn_face(person: str, input_yaw: str, yaw: float, seed: int, photo: np.ndarray | None,
              progress: Callable | None = None) -> tuple:  # fmt: skip
    """(input picture, turned face, 13-pose strip picture, similarity matrix picture, note)."""
    step = progress or (lambda *a, **k: None)
    step(0.1, desc="preparing the face")
    notes: list[str] = []
    model, cfg = _model_or_note(notes)
    truth = None
    if person == YOUR_PHOTO:
        if photo is None:
            raise CHECKS[4].fail("'your photo' is chosen but none was uploaded", "Upload a face, or pick a person")
        x, photo_notes = _photo_face(photo, CHECKS[4], cfg)
        notes.extend(photo_notes)
        notes.append(RENDERED_ONLY)
        label = "your photo"
    else:
        ex = _example(person, YAW_NAMES.index(input_yaw))
        x, _ = api.prepare_face(ex.image, cfg)
        truth = api.prepare_faces(ex.truth, cfg)
        label = ex.label
    input_picture = np.asarray(to_picture(to_unit(x[0]), 192))
    if model is None:
        blank = torch.full((1, 13, *x.shape[1:]), -1.0)
        strip = pose_strip_figure(x, blank, truth[None] if truth is not None else None, labels=[label])
        return input_picture, None, below_label(strip), None, "\n\n".join(notes)
    step(0.4, desc="turning the face")
    start = time.perf_counter()
    turned, got = api.rotate(model, x, yaw, seed=seed)
    strip01 = api.all_poses(model, x, seed=seed)
    seconds = time.perf_counter() - start
    strip = pose_strip_figure(x, (strip01 * 2 - 1)[None], truth[None] if truth is not None else None, labels=[label])
    matrix = _similarity(model, x, strip01[list(STRIP_YAWS)])
    notes.insert(0, f"**Turned to {got:+d}°**" + (f" (the bin nearest {yaw:g}°)" if got != yaw else "")
                 + f"; the 13-pose strip took {seconds:.2f} s. " + _yaw_text(model, x))  # fmt: skip
    if truth is None:
        notes.append("No ground truth: it exists only for the example people.")
    step(1.0, desc="done")
    return (
        input_picture,
        np.asarray(to_picture(turned, 192)),
        below_label(strip),
        below_label(matrix),
        "\n\n".join(notes),
    )


def fuse_faces(person: str, input_set: str, seed: int, photo_1: np.ndarray | None, photo_2: np.ndarray | None,
               photo_3: np.ndarray | None, photo_4: np.ndarray | None,
               progress: Callable | None = None) -> tuple:  # fmt: skip
    """(confidence bars, fused 13-pose strip, similarity matrix, note)."""
    step = progress or (lambda *a, **k: None)
    step(0.1, desc="preparing the faces")
    notes: list[str] = []
    model, cfg = _model_or_note(notes)
    truth = None
    if person == YOUR_PHOTOS:
        photos = [(p, c) for p, c in zip((photo_1, photo_2, photo_3, photo_4), MULTI_CHECKS[3:], strict=True)
                  if p is not None]  # fmt: skip
        if len(photos) < 2:
            notes.append("**Only one photo:** the fusion is that photo's own code. Upload 2-4 photos of one person "
                         "to compare their confidences.")  # fmt: skip
        faces = []
        for photo, check in photos:
            x, photo_notes = _photo_face(photo, check, cfg)
            faces.append(x)
            notes.extend(photo_notes)
        x = torch.cat(faces)
        notes.append(RENDERED_ONLY)
        label = "your photos"
    else:
        bins = INPUT_SETS[input_set]
        examples = [_example(person, b) for b in bins]
        x = api.prepare_faces([ex.image for ex in examples], cfg)
        truth = api.prepare_faces(examples[0].truth, cfg)
        label = f"{person}, {input_set.split(': ')[1]}"
    if model is None:
        blank = torch.full((1, 13, *x.shape[1:]), -1.0)
        strip = pose_strip_figure(x[:1], blank, truth[None] if truth is not None else None, labels=[label])
        return None, below_label(strip), None, "\n\n".join(notes)
    step(0.5, desc="fusing")
    omega, strip01 = api.fuse(model, x, seed=seed)
    bars = omega_bars(omega.tolist(), x)
    strip = pose_strip_figure(x[:1], (strip01 * 2 - 1)[None], truth[None] if truth is not None else None,
                              labels=[label])  # fmt: skip
    matrix = _similarity(model, x, strip01[list(STRIP_YAWS)])
    which = (
        "multi-image model" if model.multi is not None else "single-image model (equal weights: no multi-image model)"
    )
    notes.insert(0, f"**Fused {len(x)} faces** with the {which}; the strip starts from the first input. Rows of "
                    "the matrix: your inputs; columns: the fused face at -90°, -45°, 0°, 45°, 90°.")  # fmt: skip
    step(1.0, desc="done")
    return below_label(bars), below_label(strip), below_label(matrix), "\n\n".join(notes)


# ---------------------------------------------------------------------------------------------- the tab

CHECKS = (
    Choice("person", "Face", options=(*PEOPLE, YOUR_PHOTO), value=PEOPLE[0], widget="dropdown",
           info="held-out people of the synthetic face set (never trained on), or your photo"),
    Choice("input_yaw", "Example's input yaw", options=YAW_NAMES, value="+0°", widget="dropdown",
           info="the yaw the example person is shown at (not used for your photo)"),
    Number("yaw", "Target yaw (degrees)", lo=-90, hi=90, value=45, step=15),
    Number("seed", "Noise seed", lo=0, hi=2**31 - 1, value=0, whole=True, widget="number"),
    Upload("photo", "Your photo (used when the face is 'your photo')", optional=True,
           only_if=("person", YOUR_PHOTO)),
)  # fmt: skip

MULTI_CHECKS = (
    Choice("person", "Faces", options=(*PEOPLE, YOUR_PHOTOS), value=PEOPLE[1], widget="dropdown",
           info="an example person at several yaws, or 2-4 photos of one person"),
    Choice("input_set", "Example inputs", options=tuple(INPUT_SETS), value="four: -75°, -30°, +30°, +75°"),
    Number("seed", "Noise seed", lo=0, hi=2**31 - 1, value=0, whole=True, widget="number"),
    # the first photo is needed when "your photos" is chosen; the others are optional
    Upload("photo_1", "Photo 1", optional=True, only_if=("person", YOUR_PHOTOS)),
    *(Upload(f"photo_{k}", f"Photo {k}", optional=True) for k in (2, 3, 4)),
)  # fmt: skip

EXAMPLES = [
    ("frontal -> +45°", [PEOPLE[0], "+0°", 45, 0]),
    ("profile -> frontal", [PEOPLE[1], "-90°", 0, 0]),
    ("+60° -> -60°", [PEOPLE[2], "+60°", -60, 1]),
    ("-30° -> +90°", [PEOPLE[3], "-30°", 90, 2]),
]


def _preview() -> list[tuple[np.ndarray, str]]:
    """(picture, caption) of the example people."""
    return [(np.asarray(to_picture(face, 110)), p) for face, p in zip(api.example_pictures(), PEOPLE, strict=True)]


def build() -> None:
    """Lay out the tab inside the current gr.Blocks context."""
    form = Form(*CHECKS)
    gr.Markdown(INTRO)
    how_it_works(HOW_IT_WORKS, [Diagram(how_it_works_diagram(), "DR-GAN at a glance", "dr-diagram")])
    example_gallery(_preview, "the face example people", "The example people (held out from training)",
                    columns=6, height=150, elem_id="dr-people")  # fmt: skip
    gr.Markdown("### One face, any yaw")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            person = form.add("person", elem_id="dr-person")
            input_yaw = form.add("input_yaw", elem_id="dr-input-yaw")
            form.add("photo", height=200, elem_id="dr-photo")
            yaw = form.add("yaw", elem_id="dr-yaw")
            seed = form.add("seed", elem_id="dr-seed")
            run = gr.Button("Turn the face", variant="primary", elem_id="dr-run")
            examples = click_examples(EXAMPLES, [person, input_yaw, yaw, seed])
        with gr.Column(scale=3):
            with gr.Row():
                shown = picture("Input (the crop the network sees)", "dr-input", height=200)
                turned = picture("Turned", "dr-turned", height=200)
                matrix = picture(
                    "Identity similarity: input vs outputs at -90, -45, 0, 45, 90°", "dr-matrix", height=200
                )
            note = gr.Markdown(elem_id="dr-note")
    strip = picture("All 13 poses (generated; the rendered truth under it)", "dr-strip")
    form.wire([run.click, examples.load_input_event], turn_face, [shown, turned, strip, matrix, note],
              api_name="drgan_turn", what="turning the face", concurrency_id="drgan")  # fmt: skip

    gr.Markdown("### Several photos of one person (multi-image DR-GAN)")
    multi = Form(*MULTI_CHECKS)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            multi.add_each(("person", "dr-m-person"), ("input_set", "dr-m-set"), ("seed", "dr-m-seed"))
            with gr.Accordion("Your photos (when 'your photos' is chosen)", open=False):
                with gr.Row():
                    for k in range(1, 5):
                        multi.add(f"photo_{k}", height=140, elem_id=f"dr-m-photo{k}")
            fuse_run = gr.Button("Fuse and turn", variant="primary", elem_id="dr-m-run")
        with gr.Column(scale=3):
            with gr.Row():
                bars = picture("Confidences ω of the inputs", "dr-m-bars", height=240)
                m_matrix = picture("Identity similarity: inputs vs the fused face", "dr-m-matrix", height=240)
            m_note = gr.Markdown(elem_id="dr-m-note")
    m_strip = picture("The fused face at all 13 poses", "dr-m-strip")
    multi.wire([fuse_run.click], fuse_faces, [bars, m_strip, m_matrix, m_note], api_name="drgan_fuse",
               what="fusing the faces", concurrency_id="drgan")  # fmt: skip
