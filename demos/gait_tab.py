"""Gait tab: one walk seen by GaitNet (appearance / pose split) and DyGait (dynamic maps), recognised
against a gallery of walkers; and GaitNet's appearance swap beside its rendered ground truth.

The callbacks :func:`analyse_walk` and :func:`swap_walks` take the gate's checked values; the tests call
them directly. The models are the manifest's ``gaitnet`` and ``dygait``, or the files the environment
variables ``DISENTANGLE_GAITNET_CHECKPOINT`` / ``DISENTANGLE_DYGAIT_CHECKPOINT`` name; the gallery is
``checkpoints/gait/gallery.npz``. Without them every run answers with what to do and still shows the walk.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable

import gradio as gr
import numpy as np

from core.data.opengait import CASIA_B_VIEWS
from core.gait.clip import GaitClip, read_clip
from core.gait.swap_eval import FILL, RETURN_J, SWAP, SwapWalks, swap_report
from core.gait.walkers import render_walk, silhouettes_of, swap_truth, test_subjects
from core.gaitapp import api, figures
from core.synth.gait_set import GaitConfig, render_gait_walk
from demos.gate import Choice, Files, Form
from demos.layout import Diagram, click_examples, how_it_works, picture
from demos.models import ModelCache, checkpoint_path, load_cached, model_or_note

log = logging.getLogger("disentangle.app")

TITLE = "Gait factors (GaitNet, DyGait)"
GAITNET_ENV, DYGAIT_ENV = "DISENTANGLE_GAITNET_CHECKPOINT", "DISENTANGLE_DYGAIT_CHECKPOINT"
SUBJECTS = tuple(test_subjects(GaitConfig()))
WALKERS = tuple(f"walker {n:03d}" for n in SUBJECTS)
YOUR_WALK = "your walk (upload)"
CLOTHES_SWAP = "nm-05 in the next walker's clothes (cs-01)"  # a walk only the renderer can make
CONDITIONS = {"normal (nm-05)": "nm-05", "normal (nm-06)": "nm-06", "with a bag (bg-01)": "bg-01",
              "with a bag (bg-02)": "bg-02", "in a coat (cl-01)": "cl-01", "in a coat (cl-02)": "cl-02",
              CLOTHES_SWAP: "cs-01"}  # fmt: skip
VIEWS = tuple(f"{v}°" for v in CASIA_B_VIEWS)
CLIP_TYPES = (".gif", ".mp4", ".webm", ".mov", ".avi", ".png", ".jpg", ".jpeg", ".webp", ".zip", ".pkl")

NOT_SHIPPED = (
    "The gait models are not shipped yet: train them with `python -m core train gaitnet` and `python -m core "
    "train dygait`, then `python -m core ship gait`; or point `DISENTANGLE_GAITNET_CHECKPOINT` and "
    "`DISENTANGLE_DYGAIT_CHECKPOINT` to the files. Shown meanwhile: the walk itself."
)
RENDERED_ONLY = ("The shipped models were trained on **rendered** walkers (25 synthetic people): on a real "
                 "clip expect rough results, and use a side view with the whole body in frame.")  # fmt: skip

INTRO = """\
Gait recognition tells people apart **by the way they walk**, whatever they wear or carry. Two ways to
get there: **GaitNet** (Zhang et al., CVPR 2019) learns to split every frame into an *appearance* code
(clothes, colours) and a *pose* code (body and limbs) and recognises people from the pose codes over
time; **DyGait** (Wang et al., ICCV 2023) works on silhouettes and stresses what *moves*: each frame
minus the walk's average. Pick a held-out walker (never seen in training) in a probe condition; the
gallery holds every held-out walker in normal clothes (nm-01) from 36°, 90° and 144°.
"""

HOW_IT_WORKS = """\
**GaitNet's codes.** An encoder turns each masked colour frame into an *appearance* code f_a and a
*pose* code f_g; a decoder draws the frame back from the two. A 3-layer LSTM runs over the f_g of the
walk; its outputs averaged over time are the **gait feature**.
- *Cross-reconstruction*: frame t2 is drawn from f_a of **another** frame t1 of the walk and f_g of t2,
  so f_a cannot carry the pose (it must serve any frame) and f_g must carry it.
- *Gait similarity*: the average f_g of two walks of one person in different clothes must match, so
  clothes cannot leak into f_g. Yet the shipped model names the clothes' owner more often than the
  walker for a walk in another walker's clothes (try the cs-01 condition): CASIA-B-style data changes
  only the coat. The model card measures an experiment that trains on such walks.
- *Incremental identity*: the LSTM's running average must name the person at every step, weighted
  more towards the end (w_t ∝ t²).

**DyGait's dynamic augmentation.** Each block has a *dynamic* branch, a 3-D convolution on x minus its
mean over time (what moves: arms, legs), beside a *static* one on x itself (body shape, a bag). Local
temporal aggregation merges 3 frames into 1, the maximum over time keeps the strongest response, and
generalised-mean pooling over horizontal strips gives one feature per body part. Triplet loss pulls
walks of one person together; cross-entropy on a BNNeck names the person.

**What to look for.** In the maps, the moving parts (legs, arms) should glow in the dynamic row and the
torso in the static row. In the swap, GaitNet should draw the appearance walker's clothes on the pose
walker's movement: compare with the rendered truth. Matches are framed green (right person) or red.
"""

_MODEL_LOCK = threading.Lock()
_MODELS = ModelCache()
_GALLERY: dict[str, api.Gallery] = {}


def shipped_models() -> api.GaitModels:
    """The GaitNet and DyGait named by the environment variables, else the registered ones."""
    gaitnet = checkpoint_path(GAITNET_ENV, "gaitnet", NOT_SHIPPED)
    dygait = checkpoint_path(DYGAIT_ENV, "dygait", NOT_SHIPPED)
    return load_cached(_MODELS, (gaitnet, dygait), lambda: api.load(gaitnet, dygait), "the gait models", NOT_SHIPPED)


def shipped_gallery() -> api.Gallery | None:
    with _MODEL_LOCK:
        if "gallery" not in _GALLERY:
            try:
                _GALLERY["gallery"] = api.load_gallery()
            except (OSError, ValueError, KeyError):
                return None
        return _GALLERY["gallery"]


def _models_or_note(notes: list[str]) -> api.GaitModels | None:
    return model_or_note(shipped_models, notes)


def _subject(walker: str) -> int:
    return SUBJECTS[WALKERS.index(walker)]


def _view(view: str) -> int:
    return int(view.rstrip("°"))


def _gif(clip: GaitClip) -> str:
    """The walk as an animated GIF file (colour beside silhouette), for the player."""
    handle, name = tempfile.mkstemp(prefix="walk_", suffix=".gif")
    os.close(handle)
    figures.walk_gif([clip.rgb, clip.sil] if clip.rgb is not None else [clip.sil], name, scale=3)
    return name


def _gallery_index(gallery: api.Gallery, subject: str, view: int) -> int:
    """The gallery walk of ``subject`` nearest to ``view``."""
    rows = [i for i, s in enumerate(gallery.subjects) if s == subject]
    return min(rows, key=lambda i: abs(int(gallery.views[i]) - view))


# ---------------------------------------------------------------------------------------------- actions


def timing_note(spent: dict[str, float]) -> str:
    """'rendering 1.2 s, the networks 0.4 s': where the wait went, stages under 0.05 s left out."""
    return ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in spent.items() if seconds >= 0.05) or "instant"


def analyse_walk(walker: str, condition: str, view: str, clip: GaitClip | None,
                 progress: Callable | None = None) -> tuple:  # fmt: skip
    """(walk GIF path, DyGait maps picture, pose-trajectory plot, matches picture, note)."""
    step = progress or (lambda *a, **k: None)
    notes: list[str] = []
    truth_subject: str | None = None
    began = time.perf_counter()
    spent: dict[str, float] = {}  # what the user's wait was spent on (stage -> seconds)
    if walker == YOUR_WALK:
        if clip is None:
            raise CHECKS[3].fail("'your walk' is chosen but nothing was uploaded", "Upload a clip, or pick a walker")
        notes.extend(f"Your walk: {n}." for n in clip.notes)
        notes.append(RENDERED_ONLY)
        label = "your walk"
    else:
        step(0.1, desc="rendering the walk")
        subject, code = _subject(walker), CONDITIONS[condition]
        truth_subject = f"{subject:03d}"
        label = f"{walker}, {code}, {view}"
        if code == "cs-01":  # the test set's clothes-swap walk: this walker's nm-05 in the next walker's clothes
            donor = SUBJECTS[(SUBJECTS.index(subject) + 1) % len(SUBJECTS)]
            walk = render_gait_walk(GaitConfig(), subject, "nm-05", _view(view), dressed_as=donor)
            clip = GaitClip(silhouettes_of(walk), walk.rgb, [])
            notes.append(f"This is {walker}'s own walk (body, face, hair, motion) in the clothes of walker "
                         f"{donor:03d}. A gait feature should still name {walker}; one that learnt the clothes "
                         f"names walker {donor:03d}.")  # fmt: skip
        else:
            clip = api.example_walk(subject, code, _view(view))
    gif = _gif(clip)
    spent["rendering the walk and its GIF"] = time.perf_counter() - began
    mark = time.perf_counter()
    models = _models_or_note(notes)
    spent["loading the models"] = time.perf_counter() - mark
    if models is None:
        return gif, None, None, None, "\n\n".join(notes)
    step(0.4, desc="DyGait's maps")
    start = time.perf_counter()
    dynamic, static = api.dynamic_maps(models, clip)
    rows = [("silhouette", clip.sil), ("DyGait: moving\n(dynamic branch)", figures.overlay(clip.sil, dynamic)),
            ("DyGait: static\n(static branch)", figures.overlay(clip.sil, static))]  # fmt: skip
    maps = figures.frame_rows(rows, f"DyGait's responses over the walk ({label})")
    gallery = shipped_gallery()
    trajectory = matches = None
    step(0.6, desc="GaitNet's pose features")
    if clip.rgb is not None:
        walks, names = [clip], [label]
        if gallery is not None and truth_subject in gallery.subjects:
            own = _gallery_index(gallery, truth_subject, _view(view))
            other_subject = next(s for s in gallery.subjects if s != truth_subject)
            other = _gallery_index(gallery, other_subject, _view(view))
            walks += [gallery.clip(own), gallery.clip(other)]
            names += [f"same walker, {gallery.label(own)}", f"another walker, {gallery.label(other)}"]
        trajectory = figures.trajectory_plot(api.pose_trajectories(models, walks), names,
                                             "GaitNet pose feature f_g over time (PCA)")  # fmt: skip
    else:
        notes.append("GaitNet needs colour frames: only DyGait ran on these silhouettes.")
    step(0.8, desc="recognising")
    if gallery is not None:
        hits = api.top_k(models, gallery, clip)
        rows = [(name, [(api.thumbnail(gallery, h.index), api.caption(gallery, h),
                         None if truth_subject is None else h.subject == truth_subject) for h in hs])
                for name, hs in hits.items()]  # fmt: skip
        matches = figures.hits_figure(rows, f"Top-5 gallery walkers for {label}")
        if truth_subject is not None:
            firsts = ", ".join(
                f"{n} {'right' if hs[0].subject == truth_subject else 'wrong'}" for n, hs in hits.items()
            )
            notes.insert(0, f"**Rank-1:** {firsts}.")
    else:
        notes.append("No gallery (checkpoints/gait/gallery.npz): `python -m core ship gait` writes it.")
    spent["the networks and figures (the first run also embeds the gallery once)"] = time.perf_counter() - start
    notes.insert(0, f"**{label}**: {len(clip.sil)} frames; ready in {time.perf_counter() - began:.1f} s "
                    f"({timing_note(spent)}).")  # fmt: skip
    step(1.0, desc="done")
    return gif, maps, trajectory, matches, "\n\n".join(notes)


def swap_walks(pose_walker: str, appearance_walker: str, view: str, progress: Callable | None = None) -> tuple:
    """(swap strip picture, note): GaitNet's D(f_a of the appearance walker, f_g of the pose walker)."""
    step = progress or (lambda *a, **k: None)
    notes: list[str] = []
    step(0.1, desc="rendering both walks and the truth")
    pose_subject, look_subject, v = _subject(pose_walker), _subject(appearance_walker), _view(view)
    walk = swap_truth(look_subject, pose_subject, "nm-05", v)
    look_walk = render_walk(look_subject, "nm-05", v)
    pose = GaitClip(silhouettes_of(walk), walk.rgb, [])
    look = GaitClip(silhouettes_of(look_walk), look_walk.rgb, [])
    models = _models_or_note(notes)
    rows: list[tuple[str, np.ndarray | None]] = [
        (f"pose from\n{pose_walker}", pose.rgb), (f"appearance from\n{appearance_walker}", look.rgb)]  # fmt: skip
    if models is not None:
        step(0.6, desc="swapping")
        swapped = api.swap(models, look, pose)
        rows.append(("GaitNet swap\nD(f_a, f_g)", swapped))
        if pose_walker != appearance_walker:
            step(0.8, desc="scoring against the truth")
            report = swap_report(lambda a, b: api.swap(models, a, b), [(look_subject, pose_subject)],
                                 walks=[SwapWalks(look_walk, walk)])  # fmt: skip
            notes.append(swap_score_table(report["rows"]))
    rows.append(("rendered truth", walk.truth))
    if pose_walker == appearance_walker:
        notes.append("Both walkers are the same person: the swap should rebuild the walk itself.")
    picture = figures.frame_rows(rows, f"Appearance swap, both walking in nm-05 at {view}")
    step(1.0, desc="done")
    return picture, "\n\n".join(notes)


SCORED_ROWS = ((SWAP, "GaitNet swap"), (RETURN_J, "the pose walker unchanged"), (FILL, "silhouette fill (no learning)"))


def swap_score_table(rows: dict[str, dict]) -> str:
    """Markdown: the swap beside two answers that need no learning, scored on the walker as the model card's
    bar does (clothes colour error ΔE where the clothes had to change, lower is better; "kept": blurred
    SSIM on what had to stay; silhouette IoU with the pose walker)."""
    lines = ["| against the rendered truth | clothes ΔE (lower is better) | kept | silhouette IoU |",
             "|---|---|---|---|"]  # fmt: skip
    for key, name in SCORED_ROWS:
        r = rows[key]
        lines.append(f"| {name} | {r['clothes_delta_e']:.1f} | {r['kept']:.2f} | {r['silhouette_iou']:.2f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- the tab

CHECKS = (
    Choice("walker", "Walker", options=(*WALKERS, YOUR_WALK), value=WALKERS[0], widget="dropdown",
           info="held-out walkers of the synthetic gait set (never trained on), or your own walk"),
    Choice("condition", "Condition", options=tuple(CONDITIONS), value="in a coat (cl-01)", widget="dropdown",
           info="the probe conditions of CASIA-B's protocol (the gallery walks in nm-01)"),
    Choice("view", "View", options=VIEWS, value="54°", widget="dropdown", info="0° walks towards the camera"),
    Files("clip", "Your walk (a GIF or MP4, its frames, or an OpenGait .pkl)", optional=True,
          only_if=("walker", YOUR_WALK), decode=read_clip, file_types=CLIP_TYPES),
)  # fmt: skip

SWAP_CHECKS = (
    Choice("pose_walker", "Pose (movement) from", options=WALKERS, value=WALKERS[2], widget="dropdown"),
    Choice("appearance_walker", "Appearance (clothes) from", options=WALKERS, value=WALKERS[7], widget="dropdown"),
    Choice("view", "View", options=VIEWS, value="90°", widget="dropdown"),
)  # fmt: skip

EXAMPLES = [
    ("coat, 54°", [WALKERS[0], "in a coat (cl-01)", "54°"]),
    ("bag, 90°", [WALKERS[3], "with a bag (bg-01)", "90°"]),
    ("normal, 126°", [WALKERS[5], "normal (nm-05)", "126°"]),
    ("coat, 0° (frontal)", [WALKERS[9], "in a coat (cl-02)", "0°"]),
]


def _preview() -> list[tuple[np.ndarray, str]]:
    gallery = shipped_gallery()
    if gallery is None:
        return []
    return [(np.kron(api.thumbnail(gallery, i), np.ones((2, 2, 1), np.uint8)), f"walker {gallery.subjects[i]}")
            for i in range(len(gallery)) if gallery.views[i] == "090"]  # fmt: skip


def build() -> None:
    """Lay out the tab inside the current gr.Blocks context."""
    form = Form(*CHECKS)
    gr.Markdown(INTRO)
    how_it_works(HOW_IT_WORKS, [Diagram(figures.gaitnet_diagram(), "GaitNet", "gait-gaitnet-diagram", True),
                                Diagram(figures.dygait_diagram(), "DyGait", "gait-dygait-diagram", True)])  # fmt: skip
    gr.Gallery(_preview(), label="The gallery walkers (held out from training; nm-01, 90°)", columns=10, height=170,
               format="png", object_fit="contain", elem_id="gait-walkers")  # fmt: skip
    gr.Markdown("### One walk: DyGait's maps, GaitNet's pose features, recognition")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            walker = form.add("walker", elem_id="gait-walker")
            condition = form.add("condition", elem_id="gait-condition")
            view = form.add("view", elem_id="gait-view")
            form.add("clip", height=120, elem_id="gait-clip")
            run = gr.Button("Analyse the walk", variant="primary", elem_id="gait-run")
            examples = click_examples(EXAMPLES, [walker, condition, view])
        with gr.Column(scale=1):
            walk = gr.Image(label="The walk (colour | silhouette)", type="filepath", interactive=False, height=260,
                            elem_id="gait-walk")  # fmt: skip
        with gr.Column(scale=2):
            note = gr.Markdown(elem_id="gait-note")
            trajectory = picture("GaitNet pose-feature trajectory", "gait-trajectory", height=300)
    maps = picture("DyGait: which parts move", "gait-maps")
    matches = picture("Recognition: top-5 gallery walkers (green right, red wrong)", "gait-matches")
    form.wire([run.click, examples.load_input_event], analyse_walk, [walk, maps, trajectory, matches, note],
              api_name="gait_analyse", what="analysing the walk", concurrency_id="gait")  # fmt: skip

    gr.Markdown("### GaitNet: one walker's movement in another's clothes")
    swap_form = Form(*SWAP_CHECKS)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            swap_form.add_each(
                ("pose_walker", "gait-pose-walker"),
                ("appearance_walker", "gait-look-walker"),
                ("view", "gait-swap-view"),
            )
            swap_run = gr.Button("Swap appearance", variant="primary", elem_id="gait-swap-run")
            swap_note = gr.Markdown(elem_id="gait-swap-note")
        with gr.Column(scale=3):
            strip = picture("Inputs, GaitNet's swap and the rendered truth", "gait-swap")
    swap_form.wire([swap_run.click], swap_walks, [strip, swap_note], api_name="gait_swap",
                   what="swapping appearance", concurrency_id="gait")  # fmt: skip
