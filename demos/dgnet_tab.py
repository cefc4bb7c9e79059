"""DG-Net tab: swap appearance and structure between people, interpolate clothes, retrieve people.

The callbacks (:func:`swap`, :func:`interpolate`, :func:`retrieve`, :func:`load_official_folder`) take the
gate's checked values and return what the components show; the tests call them directly.

Which model: the shipped one (``checkpoints/manifest.json`` entry ``dgnet``, or the exported ``.pt`` file
that the environment variable ``DISENTANGLE_DGNET_CHECKPOINT`` names), or an official NVlabs/DG-Net run
folder the user loads. A model that is not there is not an input error: every action then answers with a
sentence saying what to do (and still shows the ground truth where it can).
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.dgnet import DGNet, api
from core.dgnet.figures import how_it_works_diagram
from core.figures import bordered, labelled_grid, labelled_strip, to_picture
from core.synth.examples import (
    EXAMPLE_COUNT,
    FIRST_TEST_PERSON,
    RENDER_SIZE,
    ExamplePerson,
    example_people,
    render_people,
    retrieval_gallery,
    truth_grid,
)
from demos.gate import Choice, Form, Number, Upload
from demos.layout import Diagram, click_examples, example_gallery, how_it_works, picture
from demos.models import ModelCache, ModelUnavailable, checkpoint_path, env_names_file, file_key, load_cached

log = logging.getLogger("disentangle.app")

TITLE = "Appearance <-> Structure (DG-Net)"

CHECKPOINT_ENV = "DISENTANGLE_DGNET_CHECKPOINT"
SHIPPED, OFFICIAL = "shipped DG-Net", "official weights (load a folder below)"
NONE = "none"
YOUR_APPEARANCE, YOUR_STRUCTURE, YOUR_QUERY = "your appearance image", "your structure image", "your query image"
PEOPLE = tuple(f"person {FIRST_TEST_PERSON + k}" for k in range(EXAMPLE_COUNT))
SLOTS = 4  # example people per side of the grid (an upload adds one more)
TOP_K = 10
RIGHT, WRONG, UNKNOWN = (22, 163, 74), (220, 38, 38), (150, 150, 150)

NOT_SHIPPED = (
    "The DG-Net checkpoint is not shipped yet: train it with `python -m core train dgnet --data DIR --preset "
    "small` and register it as `dgnet`, or point the environment variable `DISENTANGLE_DGNET_CHECKPOINT` to an "
    "exported `.pt`, or load official weights (choose *official weights* and enter the run folder)."
)

INTRO = """\
DG-Net (Zheng et al., CVPR 2019) splits a picture of a person into an **appearance code** (the clothes)
and a **structure code** (pose, body shape, background), and can put anyone's clothes on anyone. The people
below are test people of our synthetic re-ID set, never seen in training, so for every swap we can also
**render the true answer** (person j wearing person i's clothes) -- something no real dataset has.
"""

HOW_IT_WORKS = """\
**Two codes.**
- *Appearance code* (encoder E_a): a ResNet reads the colour image; its last feature map is cut into
  **4 horizontal stripes** (head, torso, legs, feet) and each stripe is max-pooled. It says what the
  clothes, shoes and hair look like, not where they are.
- *Structure code* (encoder E_s): a small convolutional net reads the **gray** image (no colour, so it
  cannot carry the clothes' colours) and keeps a map at 1/4 of the size: pose, body shape, outline and
  background.
- *Decoder* G starts from the structure map; the appearance code, through small MLPs, sets the scale and
  shift of every **AdaIN** layer and so "paints" the clothes onto the structure.
- *Our shipped model changes three things* (config values; the paper's setting is the default): E_s reads a
  **high-pass** of the gray image (edges, folds and the face, but not how light a garment is: with the plain
  gray image the swaps kept j's light or dark clothes); G also draws a **mask** and paints over the
  structure picture, so j's face, skin and scene are kept rather than redrawn; and the swap losses also
  train E_a through the appearance code (the paper stops them there), which taught the code the clothes' colours.

**What each loss teaches.**
- *Self-reconstruction*: an image decoded from its own two codes must come back (L1); and with the
  appearance code of **another image of the same person** too -- so the appearance code ignores pose and camera.
- *Cross-identity code reconstruction*: a's appearance on b's structure has no true image in real data, so
  the new image is encoded again and must give back a's **appearance** code and b's **structure** code.
- *ID loss*: real images must be recognised as their person; generated ones as the clothes' owner.
- *Adversarial*: a discriminator D tells real from generated pictures; G learns to fool it.
- *Primary feature learning*: on generated images the primary ID head copies a **teacher** (a plain re-ID
  network trained first) through a KL divergence to its soft labels.
- *Fine-grained feature learning*: a second head must name the **structure donor** of a generated image,
  so it learns identity cues that are not the clothes (body, hair, carried things).
- *Rendered truth* (ours, not the paper's): for training people our renderer draws j in i's clothes, so the
  swap is also compared with that truth (L1, and a Lab colour loss where the clothes changed).

Re-identification uses both heads (primary + 0.5 x fine-grained). **What to look for**: every row keeps
one person's clothes, every column keeps one person's pose and background; compare with the ground truth.
"""


# ---------------------------------------------------------------------------------------------- models


class DGNetModels(ModelCache):
    """The loaded DG-Nets (least recently used out) and the official run folder the user chose last."""

    def __init__(self, size: int = 3) -> None:
        super().__init__(size)
        self._folder_lock = threading.Lock()
        self._official: Path | None = None

    @property
    def official_folder(self) -> Path | None:
        with self._folder_lock:
            return self._official

    @official_folder.setter
    def official_folder(self, folder: Path | None) -> None:
        with self._folder_lock:
            self._official = folder

    def clear(self) -> None:
        super().clear()
        self.official_folder = None


MODELS = DGNetModels()


def shipped_model() -> DGNet:
    """The file named by DISENTANGLE_DGNET_CHECKPOINT, else the registered ``dgnet``; ModelUnavailable if neither."""
    path = checkpoint_path(CHECKPOINT_ENV, api.DEFAULT_NAME, NOT_SHIPPED)
    return load_cached(MODELS, (path,), lambda: api.load_file(path), "the DG-Net model", NOT_SHIPPED)


def find_official_files(folder: Path) -> tuple[Path, Path, Path]:
    """(config.yaml, the last gen_*.pt, the last id_*.pt) of an official run folder, or ValueError."""
    if not folder.is_dir():
        raise ValueError(f"'{folder}' is not a folder" if folder.exists() else f"there is no folder '{folder}'")
    config = folder / "config.yaml"
    gens = sorted(folder.glob("checkpoints/gen_*.pt")) or sorted(folder.glob("gen_*.pt"))
    ids = sorted(folder.glob("checkpoints/id_*.pt")) or sorted(folder.glob("id_*.pt"))
    missing = [name for name, ok in (("config.yaml", config.is_file()), ("checkpoints/gen_XXXXXXXX.pt", gens),
                                     ("checkpoints/id_XXXXXXXX.pt", ids)) if not ok]  # fmt: skip
    if missing:
        raise ValueError(f"'{folder}' is not an official DG-Net run folder: it has no {', no '.join(missing)}")
    return config, gens[-1], ids[-1]


def official_model(folder: Path) -> DGNet:
    """The official DG-Net of a run folder (cached); ValueError naming what is wrong."""
    from core.dgnet import load_official

    config, gen, ident = find_official_files(folder)
    key = ("official", file_key(config), file_key(gen), file_key(ident))

    def load() -> DGNet:
        try:
            return load_official(gen, ident, config)
        except ValueError:
            raise
        except Exception as err:  # a damaged file, a yaml syntax error, a file that is not a checkpoint
            raise ValueError(f"the files in '{folder}' could not be read as DG-Net weights "
                             f"({type(err).__name__}: {str(err)[:200]})") from None  # fmt: skip

    return MODELS.get(key, load)


def chosen_model(choice: str) -> DGNet:
    """The model the Model switch names; ModelUnavailable with what to do when there is none."""
    if choice == OFFICIAL:
        folder = MODELS.official_folder
        if folder is None:
            raise ModelUnavailable("No official weights are loaded yet: enter an official DG-Net run folder "
                                   "(config.yaml + checkpoints/) beside 'Model' and click 'Load official "
                                   "weights'.")  # fmt: skip
        try:
            return official_model(folder)
        except ValueError as err:
            raise ModelUnavailable(f"The official weights could not be loaded again: {err}.") from None
    return shipped_model()


def _unavailable(err: ModelUnavailable) -> str:
    """The message for a model that is not there: a toast now, and the text for the tab's note."""
    plain = str(err).replace("`", "").replace("*", "")  # toasts show HTML, not markdown
    gr.Warning(html.escape(plain, quote=False), title="No model")
    return str(err)


def shipped_quality_note(manifest: Path | None = None) -> str | None:
    """A caveat for the registered model when its own evaluation (the manifest entry's ``metrics.bar``,
    the fair swap bar of ``python -m core eval dgnet``) failed a check, or has no bar (an older model);
    None when every check passed, or for a file named by the environment."""
    from core.checkpoints import MANIFEST, load_manifest

    if env_names_file(CHECKPOINT_ENV):
        return None
    try:
        entry = load_manifest(manifest or MANIFEST)[api.DEFAULT_NAME]
        steps = int(entry["steps"])
        bar = entry["metrics"].get("bar")
        failed = [str(c["check"]) for c in bar if not c["passed"]] if bar is not None else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if failed == []:
        return None
    what = ("it was scored before the fair swap bar existed" if failed is None
            else "its swaps miss these checks of the fair bar: " + "; ".join(failed))  # fmt: skip
    return (f"The shipped model trained for {steps:,} iterations on a CPU (the paper trains 100,000) and "
            f"{what}. Compare each swap with the rendered truth beside it; the model card "
            "(checkpoints/dgnet/README.md) has every score.")  # fmt: skip


def describe(model: DGNet, choice: str) -> str:
    cfg = model.config
    what = "official DG-Net" if choice == OFFICIAL else "shipped DG-Net"
    return (f"{what}: {cfg.appearance.backbone}, input {cfg.height}x{cfg.width}, "
            f"{cfg.appearance.num_classes} training identities")  # fmt: skip


def check_official_folder(folder: str | None) -> None:
    """The *Load* button's first step (it updates nothing): load the official run folder into the cache,
    or raise gr.Error with what to do for an empty, missing or wrong folder. A refusal leaves the Model
    switch and the status as they were."""
    official_model_or_refusal(_official_path(folder))


def _official_path(folder: str | None) -> Path:
    if not isinstance(folder, str) or not folder.strip():
        raise gr.Error("Official run folder: no folder was given. Enter the path of an official DG-Net run "
                       "folder (config.yaml + checkpoints/gen_XXXXXXXX.pt + id_XXXXXXXX.pt).",
                       title="Please check the input", print_exception=False)  # fmt: skip
    text = folder.strip()
    if len(text) > 1000 or "\x00" in text:
        raise gr.Error("Official run folder: that is not a folder path. Enter the path of an official DG-Net "
                       "run folder.", title="Please check the input", print_exception=False)  # fmt: skip
    return Path(text).expanduser()


def official_model_or_refusal(path: Path) -> DGNet:
    try:
        return official_model(path)
    except ValueError as err:
        log.info("refused official folder: %s", err)
        raise gr.Error(f"Official run folder: {_md(str(err))}. Point to the folder that holds config.yaml and "
                       "checkpoints/ (e.g. outputs/E0.5new_reid0.5_w30000).", title="Please check the input",
                       print_exception=False) from None  # fmt: skip


def load_official_folder(folder: str | None) -> tuple[str, str]:
    """The *Load* button: load an official run folder and select it -> (status, Model switch value).

    Raises gr.Error with what to do for an empty, missing or wrong folder (the tab runs
    :func:`check_official_folder` first, so that a refusal changes nothing on screen).
    """
    path = _official_path(folder)
    model = official_model_or_refusal(path)
    MODELS.official_folder = path
    report = getattr(model, "load_report", None)
    skipped = "" if report is None or report.clean else " (some keys were skipped; see the server log)"
    return f"Loaded {describe(model, OFFICIAL)} from `{_md(str(path))}`{skipped}.", OFFICIAL


def _md(text: str) -> str:
    return html.escape(text, quote=False)


# ---------------------------------------------------------------------------------------------- inputs


@dataclass
class Picked:
    """One input of an action: an image (3, H, W) in [0, 1], its label, and the example person if synthetic."""

    image: torch.Tensor
    label: str
    person: ExamplePerson | None = None


def _render_size(model: DGNet | None) -> tuple[int, int]:
    """Synthetic inputs are rendered at the re-ID set's size, or at the model's size when that is larger."""
    if model is None or model.config.height <= RENDER_SIZE[0]:
        return RENDER_SIZE
    return (model.config.height, model.config.width)


def _people(labels: list[str], size: tuple[int, int]) -> list[Picked]:
    by_label = {p.label: p for p in example_people()}
    chosen = [by_label[label] for label in labels]
    images = render_people(chosen, size)
    return [Picked(img, p.label, p) for img, p in zip(images, chosen, strict=True)]


def _upload(image: np.ndarray, label: str, what: str, size: tuple[int, int]) -> tuple[Picked, str]:
    """An uploaded (h, w, 3) uint8 image resized to ``size`` (the model's input) and a note saying so."""
    h, w = image.shape[:2]
    pic = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BICUBIC)
    tensor = torch.from_numpy(np.asarray(pic, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
    note = f"{what}: {w} x {h} px, resized to {size[1]} x {size[0]} (the model's input size)"
    if abs(np.log((w / h) / (size[1] / size[0]))) > 0.05:
        note += "; its shape was stretched -- a person photo cropped to a 1:2 box works best"
    return Picked(tensor, label), note + "."


# ---------------------------------------------------------------------------------------------- swap


def swap(model_choice: str, appearance_1: str, appearance_2: str, appearance_3: str, appearance_4: str,
         structure_1: str, structure_2: str, structure_3: str, structure_4: str,
         appearance_upload: np.ndarray | None, structure_upload: np.ndarray | None,
         progress: Callable | None = None) -> tuple[np.ndarray | None, np.ndarray | None, str]:  # fmt: skip
    """The swap grid (rows: appearance, columns: structure), the ground-truth grid for the synthetic
    people (None when only uploads are picked) and a Markdown note (model, timing, upload notes)."""
    step = progress or (lambda *a, **k: None)
    appearance = [x for x in (appearance_1, appearance_2, appearance_3, appearance_4) if x != NONE]
    structure = [x for x in (structure_1, structure_2, structure_3, structure_4) if x != NONE]
    if not appearance and appearance_upload is None:
        raise SWAP_CHECKS[1].fail("no appearance person is picked", "Pick at least one person (or upload an image)")
    if not structure and structure_upload is None:
        raise SWAP_CHECKS[5].fail("no structure person is picked", "Pick at least one person (or upload an image)")
    model, notes = None, []
    try:
        model = chosen_model(model_choice)
    except ModelUnavailable as err:
        notes.append(_unavailable(err))
    size = model_size = _render_size(model)
    if model is not None:
        model_size = (model.config.height, model.config.width)
    step(0.1, desc="rendering the example people")
    rows, cols = _people(appearance, size), _people(structure, size)
    if appearance_upload is not None:
        picked, note = _upload(appearance_upload, "your image", "Your appearance image", model_size)
        rows.append(picked)
        notes.append(note)
    if structure_upload is not None:
        picked, note = _upload(structure_upload, "your image", "Your structure image", model_size)
        cols.append(picked)
        notes.append(note)
    row_labels, col_labels = [r.label for r in rows], [c.label for c in cols]

    grid = None
    if model is not None:
        step(0.4, desc="swapping codes")
        start = time.perf_counter()
        out = api.swap_grid(model, _stack(rows, model_size), _stack(cols, model_size))
        seconds = time.perf_counter() - start
        grid = labelled_grid(out, [r.image for r in rows], [c.image for c in cols], row_labels, col_labels,
                             "DG-Net: the row's clothes on the column's person")  # fmt: skip
        notes.insert(0, f"{describe(model, model_choice)}. {len(rows)} x {len(cols)} swaps in {seconds:.2f} s.")
        caveat = shipped_quality_note() if model_choice != OFFICIAL else None
        if caveat:
            notes.insert(1, caveat)

    truth = None
    syn_rows = [r.person for r in rows if r.person is not None]
    syn_cols = [c.person for c in cols if c.person is not None]
    if syn_rows and syn_cols:
        step(0.7, desc="rendering the ground truth")
        true = truth_grid(syn_rows, syn_cols, size)
        cells = [[true[syn_rows.index(r.person), syn_cols.index(c.person)] if r.person and c.person else None
                  for c in cols] for r in rows]  # fmt: skip
        truth = labelled_grid(cells, [r.image for r in rows], [c.image for c in cols], row_labels, col_labels,
                              "ground truth (rendered): the column's person in the row's clothes")  # fmt: skip
    elif rows and cols:
        notes.append("No ground truth: it exists only for the example people (uploads have none).")
    step(1.0, desc="done")
    return grid, truth, "\n\n".join(notes)


def _stack(picked: list[Picked], size: tuple[int, int]) -> torch.Tensor:
    """[0, 1] (B, 3, H, W) at the model's input ``size`` (resized as core.dgnet.api resizes)."""
    images = [p.image if tuple(p.image.shape[-2:]) == size else
              F.interpolate(p.image[None], size=size, mode="bicubic", align_corners=False, antialias=True)[0]
              for p in picked]  # fmt: skip
    return torch.stack(images).clamp(0, 1)


# ---------------------------------------------------------------------------------------------- interpolation


def interpolate(model_choice: str, first: str, second: str, structure: str, steps: int,
                appearance_upload: np.ndarray | None, structure_upload: np.ndarray | None,
                progress: Callable | None = None) -> tuple[np.ndarray | None, str]:  # fmt: skip
    """A strip: the structure person, appearance A, ``steps`` images as the appearance code moves from A
    to B (``steps`` + 3 tiles in all), appearance B; and a Markdown note."""
    step = progress or (lambda *a, **k: None)
    try:
        model = chosen_model(model_choice)
    except ModelUnavailable as err:
        return None, _unavailable(err)
    size, model_size = _render_size(model), (model.config.height, model.config.width)
    step(0.1, desc="rendering the inputs")
    notes: list[str] = []

    def pick(value: str, check: Choice) -> Picked:
        if value in (YOUR_APPEARANCE, YOUR_STRUCTURE):
            upload = appearance_upload if value == YOUR_APPEARANCE else structure_upload
            if upload is None:
                where = f"Upload it under 1. Swap ('{value.capitalize()}')"
                raise check.fail(f"'{value}' is chosen but none was uploaded", f"{where}, or pick an example person")
            picked, note = _upload(upload, "your image", value.capitalize(), model_size)
            if note not in notes:
                notes.append(note)
            return picked
        return _people([value], size)[0]

    _, first_check, second_check, structure_check, *_ = INTERPOLATION_CHECKS
    a, b, s = pick(first, first_check), pick(second, second_check), pick(structure, structure_check)
    step(0.4, desc="decoding")
    strip = api.interpolate_appearance(model, a.image[None], b.image[None], s.image[None], steps=steps)
    tiles = [s.image, a.image, *strip, b.image]
    labels = [s.label, f"A: {a.label}"]
    labels += [f"t = {t:.2f}" for t in np.linspace(0, 1, steps)]
    labels += [f"B: {b.label}"]
    picture = labelled_strip(tiles, labels, f"{s.label}'s structure as the clothes move from A to B ({steps} steps)",
                             separators=(1, 2, steps + 2))  # fmt: skip
    notes.insert(0, f"{describe(model, model_choice)}.")
    step(1.0, desc="done")
    return picture, "\n\n".join(notes)


# ---------------------------------------------------------------------------------------------- retrieval


@dataclass(frozen=True)
class Hit:
    """One retrieved gallery image: rank (1-based), gallery index, its person and camera, cosine score, and
    whether it is the query's person (None for an upload, whose person is unknown)."""

    rank: int
    index: int
    person: int
    camera: int
    score: float
    right: bool | None


def rank_gallery(model: DGNet, query: torch.Tensor, query_person: int | None, k: int = TOP_K) -> list[Hit]:
    """The top-``k`` of the demo's gallery for one query image (3, H, W) in [0, 1]."""
    gallery = retrieval_gallery()
    indices, scores = api.retrieve(model, query[None], gallery.images, k=k)
    return [
        Hit(r + 1, int(i), int(gallery.persons[i]), int(gallery.cameras[i]), float(s),
            None if query_person is None else bool(gallery.persons[i] == query_person))
        for r, (i, s) in enumerate(zip(indices[0], scores[0], strict=True))
    ]  # fmt: skip


def retrieve(model_choice: str, query: str, query_upload: np.ndarray | None,
             progress: Callable | None = None) -> tuple[np.ndarray, list[tuple[np.ndarray, str]], str]:  # fmt: skip
    """The query picture, the top-10 gallery images (green frame = same person, red = another person, grey
    for an uploaded query) with captions, and a Markdown summary."""
    step = progress or (lambda *a, **k: None)
    model, notes = None, []
    try:
        model = chosen_model(model_choice)
    except ModelUnavailable as err:
        notes.append(_unavailable(err))
    if query == YOUR_QUERY:
        if query_upload is None:  # the gate requires it; kept for direct callers
            raise RETRIEVAL_CHECKS[2].fail("no image was uploaded", "Upload one, or pick an example person")
        size = (model.config.height, model.config.width) if model is not None else RENDER_SIZE
        picked, note = _upload(query_upload, YOUR_QUERY, "Your query image", size)
        notes.append(note)
        person = None
    else:
        picked = _people([query], _render_size(model))[0]
        person = picked.person.person
    query_picture = np.asarray(to_picture(picked.image, 256))
    if model is None:
        return query_picture, [], "\n\n".join(notes)
    step(0.2, desc="rendering the gallery (once)")
    gallery = retrieval_gallery()
    step(0.5, desc="ranking the gallery")
    start = time.perf_counter()
    hits = rank_gallery(model, picked.image, person)
    seconds = time.perf_counter() - start
    results = []
    for h in hits:
        colour = UNKNOWN if h.right is None else RIGHT if h.right else WRONG
        mark = "" if h.right is None else " - right" if h.right else " - wrong"
        results.append((bordered(gallery.images[h.index], colour),
                        f"{h.rank}. person {h.person}, cam {h.camera} ({h.score:.2f}){mark}"))  # fmt: skip
    total = len(gallery.persons)
    summary = f"{describe(model, model_choice)}. Ranked {total} gallery images in {seconds:.2f} s."
    if person is not None:
        relevant = int((gallery.persons == person).sum())
        found = sum(bool(h.right) for h in hits)
        first = next((h.rank for h in hits if h.right), None)
        summary += (f" **{found} of the {relevant}** pictures of {picked.label} (seen by other cameras) are in the "
                    f"top {len(hits)}; " + (f"the first at rank {first}." if first else "none is."))  # fmt: skip
        summary += " Green frame: the same person; red: someone else."
    else:
        summary += " The query's person is unknown, so the results are not marked right or wrong."
    step(1.0, desc="done")
    return query_picture, results, "\n\n".join([summary, *notes])


# ---------------------------------------------------------------------------------------------- the tab

MODEL = Choice(
    "model",
    "Model",
    options=(SHIPPED, OFFICIAL),
    value=SHIPPED,
    info="shipped: trained on our synthetic people; official: NVlabs/DG-Net release weights",
)
APPEARANCE_UPLOAD = Upload("appearance_upload", "Your appearance image (optional, adds a row)", optional=True)
STRUCTURE_UPLOAD = Upload("structure_upload", "Your structure image (optional, adds a column)", optional=True)


def _slot(side: str, k: int, value: str) -> Choice:
    return Choice(f"{side}_{k}", f"{side.capitalize()} {k}", options=(NONE, *PEOPLE), value=value, widget="dropdown")


SWAP_CHECKS = (
    MODEL,
    *(_slot("appearance", k + 1, PEOPLE[k]) for k in range(SLOTS)),
    *(_slot("structure", k + 1, PEOPLE[SLOTS + k]) for k in range(SLOTS)),
    APPEARANCE_UPLOAD,
    STRUCTURE_UPLOAD,
)
INTERPOLATION_CHECKS = (
    MODEL,
    Choice("first", "Appearance A", options=(YOUR_APPEARANCE, *PEOPLE), value=PEOPLE[0], widget="dropdown"),
    Choice("second", "Appearance B", options=(YOUR_APPEARANCE, *PEOPLE), value=PEOPLE[1], widget="dropdown"),
    Choice("structure", "Structure", options=(YOUR_STRUCTURE, *PEOPLE), value=PEOPLE[SLOTS], widget="dropdown"),
    Number("steps", "Steps", lo=3, hi=11, value=7, whole=True),
    APPEARANCE_UPLOAD,
    STRUCTURE_UPLOAD,
)
RETRIEVAL_CHECKS = (
    MODEL,
    Choice("query", "Query", options=(YOUR_QUERY, *PEOPLE), value=PEOPLE[0], widget="dropdown"),
    Upload("query_upload", "Your query image (used when the query is 'your query image')", optional=True,
           only_if=("query", YOUR_QUERY)),
)  # fmt: skip

P = PEOPLE
SWAP_EXAMPLES = [
    # label, appearance 1-4, structure 1-4
    ("4 x 4: four people's clothes on four others", [*P[:4], *P[4:8]]),
    ("the same people on both sides: the diagonal is a reconstruction", [*P[:4], *P[:4]]),
    ("one person's clothes on everyone", [P[2], NONE, NONE, NONE, *P[4:8]]),
    ("everyone's clothes on one person", [*P[4:8], P[1], NONE, NONE, NONE]),
]


def _preview() -> list[tuple[np.ndarray, str]]:
    """(picture, caption) of the example people."""
    people = example_people()
    images = render_people(people, RENDER_SIZE)
    pairs = zip(images, people, strict=True)
    return [(np.asarray(to_picture(img, 192)), p.label) for img, p in pairs]


def build() -> None:
    """Lay out the tab inside the current gr.Blocks context."""
    swap_form, interp_form, retr_form = Form(*SWAP_CHECKS), Form(*INTERPOLATION_CHECKS), Form(*RETRIEVAL_CHECKS)

    gr.Markdown(INTRO)
    how_it_works(HOW_IT_WORKS, [Diagram(how_it_works_diagram(), "DG-Net at a glance", "dg-diagram")])

    with gr.Row(equal_height=False):
        model = swap_form.add("model", elem_id="dg-model")
        with gr.Column():
            folder = gr.Textbox(label="Official run folder", placeholder="/path/to/outputs/E0.5new_reid0.5_w30000",
                                info="holds config.yaml and checkpoints/gen_XXXXXXXX.pt, id_XXXXXXXX.pt",
                                elem_id="dg-folder")  # fmt: skip
            load = gr.Button("Load official weights", elem_id="dg-load")
        model_status = gr.Markdown("", elem_id="dg-model-status")
    for trigger in (load.click, folder.submit):  # check first (no outputs): a refusal leaves the switch as it was
        checked = trigger(check_official_folder, inputs=folder, outputs=None, api_visibility="private",
                          concurrency_id="dgnet", show_progress="hidden")  # fmt: skip
        checked.success(load_official_folder, inputs=folder, outputs=[model_status, model], api_visibility="private",
                        concurrency_id="dgnet")  # fmt: skip
    interp_form.use("model", model)
    retr_form.use("model", model)

    gr.Markdown("### 1. Swap: whose clothes on whom")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            with gr.Row():
                slots_a = [swap_form.add(f"appearance_{k + 1}", elem_id=f"dg-a{k + 1}") for k in range(SLOTS)]
            with gr.Row():
                slots_s = [swap_form.add(f"structure_{k + 1}", elem_id=f"dg-s{k + 1}") for k in range(SLOTS)]
            swap_button = gr.Button("Swap", variant="primary", elem_id="dg-swap")
            examples = click_examples(SWAP_EXAMPLES, slots_a + slots_s, "swaps")
        with gr.Column(scale=2):
            example_gallery(_preview, "the DG-Net example people", "The example people (test people of the re-ID set)",
                            columns=4, height=300, allow_preview=True, elem_id="dg-people")  # fmt: skip
            with gr.Row():
                swap_form.add("appearance_upload", height=160, elem_id="dg-upload-a")
                swap_form.add("structure_upload", height=160, elem_id="dg-upload-s")
    with gr.Row(equal_height=False):
        # the pictures carry their own titles: the component labels would cover them
        grid = picture("DG-Net swap grid", "dg-grid", show_label=False)
        truth = picture("Ground truth (rendered)", "dg-truth", show_label=False)
    swap_note = gr.Markdown(elem_id="dg-swap-note")
    swap_form.wire([swap_button.click, examples.load_input_event], swap, [grid, truth, swap_note],
                   api_name="dgnet_swap", what="swapping appearance and structure", concurrency_id="dgnet")  # fmt: skip

    gr.Markdown("### 2. Interpolate: from one person's clothes to another's")
    interp_form.use("appearance_upload", swap_form.components["appearance_upload"])
    interp_form.use("structure_upload", swap_form.components["structure_upload"])
    with gr.Row():
        interp_form.add_each(
            ("first", "dg-first"), ("second", "dg-second"), ("structure", "dg-structure"), ("steps", "dg-steps")
        )
        interp_button = gr.Button("Interpolate", elem_id="dg-interpolate")
    strip = picture("Appearance interpolation", "dg-strip", show_label=False)
    interp_note = gr.Markdown(elem_id="dg-interp-note")
    interp_form.wire([interp_button.click], interpolate, [strip, interp_note], api_name="dgnet_interpolate",
                     what="interpolating appearance", concurrency_id="dgnet")  # fmt: skip

    gr.Markdown("### 3. Retrieve: find the person in other cameras\nThe gallery: 20 test people, each seen by "
                "3 cameras other than the query's (60 pictures).")  # fmt: skip
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=220):
            retr_form.add("query", elem_id="dg-query")
            retr_form.add("query_upload", height=160, elem_id="dg-query-upload")
            retr_button = gr.Button("Retrieve", elem_id="dg-retrieve")
            query_image = picture("Query", "dg-query-image", height=260)
        with gr.Column(scale=4):
            results = gr.Gallery(label=f"Top {TOP_K} (green: same person, red: someone else)", columns=5,
                                 height=520, format="png", object_fit="contain", elem_id="dg-results")  # fmt: skip
            retr_note = gr.Markdown(elem_id="dg-retrieve-note")
    retr_form.wire([retr_button.click], retrieve, [query_image, results, retr_note], api_name="dgnet_retrieve",
                   what="retrieving the person", concurrency_id="dgnet")  # fmt: skip
