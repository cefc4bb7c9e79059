"""Example people, ground truth and pictures for the DG-Net demo (no UI code here).

* :func:`example_people` -- the re-ID set's TEST people (dataset seed 0, persons ``train_ids + 1`` ..), one
  clean camera view each, drawn the way :func:`core.synth.truth._pair_task` draws a swap pair.
* :func:`render_people` and :func:`truth_grid` -- their pictures and "person j wearing person i's clothes"
  (:func:`core.synth.truth.swap_truth`, rendered in one batch), both cached.
* :func:`retrieval_gallery` -- a small gallery of test people seen by other cameras, with labels.
* :func:`labelled_grid`, :func:`labelled_strip`, :func:`bordered` -- the pictures the demo shows.
* :func:`how_it_works_diagram` -- DG-Net's data flow as a small diagram.

Images are float [0, 1] tensors (3, H, W) or (B, 3, H, W) as everywhere in core; pictures for display
are (H, W, 3) uint8 arrays.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from core.synth.datasets import ReidConfig, camera_specs, identity_seed, reid_nuisance, shared_renderer
from core.synth.identity import Identity, sample_identity
from core.synth.nuisance import Nuisance

__all__ = [
    "DATASET_SEED",
    "EXAMPLE_COUNT",
    "FIRST_TEST_PERSON",
    "RENDER_SIZE",
    "ExamplePerson",
    "RetrievalGallery",
    "bordered",
    "example_people",
    "how_it_works_diagram",
    "labelled_grid",
    "labelled_strip",
    "person_by_label",
    "render_people",
    "retrieval_gallery",
    "to_picture",
    "truth_grid",
]

DATASET_SEED = 0  # the re-ID set the shipped model trains on (python -m core synth reid, default seed)
FIRST_TEST_PERSON = ReidConfig.train_ids + 1  # test people: never seen in training
EXAMPLE_COUNT = 8
RENDER_SIZE = (128, 64)  # the re-ID set's image size
GALLERY_PEOPLE = 20
GALLERY_CAMERAS = 3

_RENDER_LOCK = threading.Lock()  # one renderer per process; the demo's requests render one at a time


@dataclass(frozen=True)
class ExamplePerson:
    """One test person of the re-ID set, seen once by one camera (a clean view: no occluder, no box jitter,
    no low-resolution or motion blur)."""

    person: int  # 1-based person number in the re-ID set
    camera: int  # 1-based camera number
    identity: Identity
    nuisance: Nuisance

    @property
    def label(self) -> str:
        return f"person {self.person}"


def _example_camera_rng(dataset_seed: int, person: int) -> np.random.Generator:
    return np.random.default_rng([dataset_seed, 0xE7, person])


def _example(dataset_seed: int, person: int) -> ExamplePerson:
    specs = camera_specs(ReidConfig(seed=dataset_seed))
    rng = _example_camera_rng(dataset_seed, person)
    # cameras that see people from the front or the side: the clothes show best
    facing = [s.index - 1 for s in specs if np.cos(np.radians(s.azimuth)) > -0.2]
    camera = int(rng.choice(facing))
    n = reid_nuisance(specs[camera], rng, clean=True)
    n = replace(n, low_res=1.0, motion_blur=0.0)  # the inputs of the demo should show the clothes clearly
    return ExamplePerson(person, camera + 1, sample_identity(identity_seed(dataset_seed, person)), n)


@lru_cache(maxsize=4)
def example_people(count: int = EXAMPLE_COUNT, dataset_seed: int = DATASET_SEED) -> tuple[ExamplePerson, ...]:
    """The first ``count`` test people of the re-ID set with seed ``dataset_seed``, one view each."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return tuple(_example(dataset_seed, FIRST_TEST_PERSON + k) for k in range(count))


def person_by_label(label: str, people: Sequence[ExamplePerson] | None = None) -> ExamplePerson:
    """The example person whose :attr:`ExamplePerson.label` is ``label`` (ValueError if none)."""
    for p in people if people is not None else example_people():
        if p.label == label:
            return p
    raise ValueError(f"no example person called {label!r}")


def _render(identities: list[Identity], nuisances: list[Nuisance], size: tuple[int, int]) -> torch.Tensor:
    with _RENDER_LOCK:
        return shared_renderer().render(identities, nuisances, tuple(size)).image.clone()


@lru_cache(maxsize=64)
def _render_cached(people: tuple[ExamplePerson, ...], size: tuple[int, int]) -> torch.Tensor:
    return _render([p.identity for p in people], [p.nuisance for p in people], size)


def render_people(people: Sequence[ExamplePerson], size: tuple[int, int] = RENDER_SIZE) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1]: each example person as their camera saw them (cached)."""
    if not people:
        return torch.zeros(0, 3, *size)
    return _render_cached(tuple(people), (int(size[0]), int(size[1]))).clone()


@lru_cache(maxsize=32)
def _truth_cached(appearance: tuple[ExamplePerson, ...], structure: tuple[ExamplePerson, ...],
                  size: tuple[int, int]) -> torch.Tensor:  # fmt: skip
    # swap_truth(a, s, s.nuisance) for every pair, in one batch: s's body and picture, a's clothes
    ids = [s.identity.with_clothes_of(a.identity) for a in appearance for s in structure]
    nuisances = [s.nuisance for _ in appearance for s in structure]
    return _render(ids, nuisances, size).view(len(appearance), len(structure), 3, *size)


def truth_grid(
    appearance: Sequence[ExamplePerson], structure: Sequence[ExamplePerson], size: tuple[int, int] = RENDER_SIZE
) -> torch.Tensor:
    """(A, S, 3, H, W) in [0, 1]: cell (i, j) is structure person j (body, face, hair, pose, camera,
    background) wearing appearance person i's clothes -- what a perfect DG-Net swap would give."""
    if not appearance or not structure:
        return torch.zeros(len(appearance), len(structure), 3, *size)
    return _truth_cached(tuple(appearance), tuple(structure), (int(size[0]), int(size[1]))).clone()


@dataclass(frozen=True)
class RetrievalGallery:
    """Test people seen by cameras other than their example view: ``images`` (G, 3, H, W) in [0, 1],
    ``persons`` and ``cameras`` (G,) (1-based)."""

    images: torch.Tensor
    persons: np.ndarray
    cameras: np.ndarray


@lru_cache(maxsize=2)
def retrieval_gallery(
    people: int = GALLERY_PEOPLE,
    cameras: int = GALLERY_CAMERAS,
    dataset_seed: int = DATASET_SEED,
    size: tuple[int, int] = RENDER_SIZE,
) -> RetrievalGallery:
    """``people`` test people (the examples first) x ``cameras`` views each, never the example's camera.

    Views are clean re-ID sightings (pose, distance, light, scene and camera colour drawn per picture, no
    occluder or box jitter), rendered once per process.
    """
    specs = camera_specs(ReidConfig(seed=dataset_seed))
    if not 1 <= cameras < len(specs):
        raise ValueError(f"cameras must be within 1..{len(specs) - 1} (one camera is the query's), got {cameras}")
    idents, nuisances, persons, cams = [], [], [], []
    for k in range(people):
        person = FIRST_TEST_PERSON + k
        own = _example(dataset_seed, person).camera - 1
        rng = np.random.default_rng([dataset_seed, 0x6A, person])
        others = [c for c in range(len(specs)) if c != own]
        for c in sorted(int(c) for c in rng.choice(others, cameras, replace=False)):
            idents.append(sample_identity(identity_seed(dataset_seed, person)))
            nuisances.append(reid_nuisance(specs[c], rng, clean=True))
            persons.append(person)
            cams.append(c + 1)
    images = torch.cat([_render(idents[i : i + 20], nuisances[i : i + 20], size) for i in range(0, len(idents), 20)])
    return RetrievalGallery(images, np.asarray(persons), np.asarray(cams))


# ---------------------------------------------------------------------------------------------- pictures

GAP = 4  # px between tiles
HEADER_GAP = 10  # px between the inputs (header row / column) and the outputs
LABEL_H = 18  # caption band under a tile
TITLE_H = 26  # title band on top of a picture
TILE_H = 160  # display height of a tile; the width keeps the image's aspect
BACKGROUND = (255, 255, 255)
EMPTY = (226, 226, 226)
INK = (30, 30, 30)


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def to_picture(image: torch.Tensor | np.ndarray, tile_h: int | None = None) -> Image.Image:
    """(3, H, W) float [0, 1] or (H, W, 3) uint8 -> PIL image, scaled to ``tile_h`` rows (aspect kept)."""
    if isinstance(image, torch.Tensor):
        image = (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    pic = Image.fromarray(np.ascontiguousarray(image))
    if tile_h is not None and pic.height != tile_h:
        w = max(1, round(pic.width * tile_h / pic.height))
        pic = pic.resize((w, tile_h), Image.Resampling.BICUBIC)
    return pic


def _fit_text(draw: ImageDraw.ImageDraw, text: str, width: int, size: int) -> str:
    font = _font(size)
    if draw.textlength(text, font=font) <= width:
        return text
    while len(text) > 1 and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def _caption(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], text: str, size: int = 13,
             fill: tuple[int, int, int] = INK) -> None:  # fmt: skip
    x0, y0, x1, y1 = box
    text = _fit_text(draw, text, x1 - x0 - 2, size)
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, fill=fill, font=_font(size), anchor="mm")


def _title(draw: ImageDraw.ImageDraw, width: int, title: str) -> None:
    """``title`` across the top band: one line if it fits, else two smaller lines split after a colon."""
    if draw.textlength(title, font=_font(15)) <= width - 4 or ": " not in title:
        _caption(draw, (0, 0, width, TITLE_H), title, 15)
        return
    first, second = title.split(": ", 1)
    _caption(draw, (0, 0, width, TITLE_H // 2 + 1), first + ":", 12)
    _caption(draw, (0, TITLE_H // 2 - 1, width, TITLE_H), second, 12)


def _empty_tile(w: int, h: int, text: str) -> Image.Image:
    pic = Image.new("RGB", (w, h), EMPTY)
    draw = ImageDraw.Draw(pic)
    for k, line in enumerate(text.split("\n")):
        _caption(draw, (0, h // 2 - 12 + 16 * k, w, h // 2 + 4 + 16 * k), line, 12, (110, 110, 110))
    return pic


def labelled_grid(
    cells: Sequence[Sequence[torch.Tensor | None]] | torch.Tensor,
    rows: Sequence[torch.Tensor],
    cols: Sequence[torch.Tensor],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    tile_h: int = TILE_H,
    empty_text: str = "no ground\ntruth",
) -> np.ndarray:
    """A picture of ``cells[i][j]`` (3, h, w) with the inputs as a header column (``rows``, labelled) and a
    header row (``cols``, labelled), and ``title`` on top; a None cell is drawn as a grey ``empty_text`` tile."""
    if len(rows) != len(row_labels) or len(cols) != len(col_labels) or len(cells) != len(rows):
        raise ValueError("labelled_grid: rows, columns, labels and cells do not match")
    sample = next((c for row in cells for c in row if c is not None), rows[0] if len(rows) else cols[0])
    tw = max(1, round(sample.shape[-1] * tile_h / sample.shape[-2]))
    cell_w, cell_h = tw + GAP, tile_h + LABEL_H + GAP
    width = GAP + tw + HEADER_GAP + len(cols) * cell_w
    height = TITLE_H + cell_h + HEADER_GAP + len(rows) * (tile_h + GAP) + GAP
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    _title(draw, width, title)
    _caption(draw, (GAP, TITLE_H, GAP + tw, TITLE_H + tile_h // 2), "rows:", 12, (90, 90, 90))
    _caption(draw, (GAP, TITLE_H + 16, GAP + tw, TITLE_H + tile_h // 2 + 16), "appearance", 12, (90, 90, 90))
    _caption(draw, (GAP, TITLE_H + tile_h // 2, GAP + tw, TITLE_H + tile_h), "columns:", 12, (90, 90, 90))
    _caption(draw, (GAP, TITLE_H + tile_h // 2 + 16, GAP + tw, TITLE_H + tile_h + 16), "structure", 12, (90, 90, 90))
    x0 = GAP + tw + HEADER_GAP
    for j, (image, label) in enumerate(zip(cols, col_labels, strict=True)):
        x = x0 + j * cell_w
        canvas.paste(to_picture(image, tile_h).resize((tw, tile_h)), (x, TITLE_H))
        _caption(draw, (x, TITLE_H + tile_h, x + tw, TITLE_H + tile_h + LABEL_H), label)
    y0 = TITLE_H + cell_h + HEADER_GAP
    for i, (image, label) in enumerate(zip(rows, row_labels, strict=True)):
        y = y0 + i * (tile_h + GAP)
        row_pic = to_picture(image, tile_h).resize((tw, tile_h))
        canvas.paste(row_pic, (GAP, y))
        draw.rectangle((GAP, y + tile_h - LABEL_H, GAP + tw - 1, y + tile_h - 1), fill=(255, 255, 255))
        _caption(draw, (GAP, y + tile_h - LABEL_H, GAP + tw, y + tile_h), label)
        for j in range(len(cols)):
            cell = cells[i][j]
            tile = _empty_tile(tw, tile_h, empty_text) if cell is None else to_picture(cell, tile_h)
            tile = tile.resize((tw, tile_h))
            canvas.paste(tile, (x0 + j * cell_w, y))
    return np.asarray(canvas)


def labelled_strip(tiles: Sequence[torch.Tensor], labels: Sequence[str], title: str, tile_h: int = TILE_H,
                   separators: Sequence[int] = ()) -> np.ndarray:  # fmt: skip
    """One row of tiles (3, h, w) with a caption under each and ``title`` on top; a wider gap is left
    before each tile index in ``separators``."""
    if len(tiles) != len(labels) or not tiles:
        raise ValueError("labelled_strip needs one label per tile and at least one tile")
    tw = max(1, round(tiles[0].shape[-1] * tile_h / tiles[0].shape[-2]))
    width = GAP + len(tiles) * (tw + GAP) + len(separators) * (HEADER_GAP - GAP)
    height = TITLE_H + tile_h + LABEL_H + GAP
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    _title(draw, width, title)
    x = GAP
    for k, (image, label) in enumerate(zip(tiles, labels, strict=True)):
        if k in separators:
            x += HEADER_GAP - GAP
        canvas.paste(to_picture(image, tile_h).resize((tw, tile_h)), (x, TITLE_H))
        _caption(draw, (x, TITLE_H + tile_h, x + tw, TITLE_H + tile_h + LABEL_H), label, 12)
        x += tw + GAP
    return np.asarray(canvas)


def bordered(image: torch.Tensor, colour: tuple[int, int, int], tile_h: int = TILE_H, width: int = 6) -> np.ndarray:
    """(3, h, w) -> (H, W, 3) uint8 at ``tile_h`` rows inside a ``width``-px frame of ``colour``."""
    pic = to_picture(image, tile_h)
    canvas = Image.new("RGB", (pic.width + 2 * width, pic.height + 2 * width), colour)
    canvas.paste(pic, (width, width))
    return np.asarray(canvas)


# ---------------------------------------------------------------------------------------------- diagram

_BLUE, _ORANGE, _GREEN, _GREY, _PURPLE = (219, 234, 254), (254, 235, 200), (220, 245, 225), (236, 236, 236), (
    237, 225, 250)  # fmt: skip


def _box(draw: ImageDraw.ImageDraw, xy: tuple[int, int, int, int], text: str, fill: tuple[int, int, int]) -> None:
    draw.rounded_rectangle(xy, radius=8, fill=fill, outline=(90, 90, 90), width=2)
    lines = text.split("\n")
    cx, cy = (xy[0] + xy[2]) / 2, (xy[1] + xy[3]) / 2
    for k, line in enumerate(lines):
        size = 15 if k == 0 else 12
        draw.text((cx, cy + (k - (len(lines) - 1) / 2) * 17), line, fill=INK, font=_font(size), anchor="mm")


def _arrow(draw: ImageDraw.ImageDraw, points: Sequence[tuple[int, int]], colour=(60, 60, 60), dashed=False) -> None:
    pts = [tuple(map(float, p)) for p in points]
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
        if dashed:
            n = max(1, int(np.hypot(x1 - x0, y1 - y0) // 8))
            for k in range(0, n, 2):
                a, b = k / n, min(1.0, (k + 1) / n)
                draw.line((x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b, y0 + (y1 - y0) * b),
                          fill=colour, width=2)  # fmt: skip
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=2)
    (x0, y0), (x1, y1) = pts[-2], pts[-1]
    angle = np.arctan2(y1 - y0, x1 - x0)
    head = [(x1, y1)] + [(x1 - 11 * np.cos(angle + s), y1 - 11 * np.sin(angle + s)) for s in (0.45, -0.45)]
    draw.polygon(head, fill=colour)


@lru_cache(maxsize=1)
def how_it_works_diagram() -> np.ndarray:
    """DG-Net's data flow as a (H, W, 3) uint8 picture: image a -> E_a -> appearance code; image b -> gray ->
    E_s -> structure code; the decoder G with AdaIN -> "b wearing a's clothes"; D and the ID heads."""
    w, h = 1000, 390
    canvas = Image.new("RGB", (w, h), BACKGROUND)
    d = ImageDraw.Draw(canvas)
    # inputs
    _box(d, (20, 40, 130, 110), "image a\nthe clothes", _GREY)
    _box(d, (20, 240, 130, 310), "image b\nthe pose", _GREY)
    _box(d, (165, 240, 255, 310), "gray\n(mean of RGB)", _GREY)
    # encoders and codes
    _box(d, (170, 30, 370, 120), "E_a appearance\nResNet, last stride 1\n4 horizontal part max-pools", _BLUE)
    _box(d, (290, 230, 470, 320), "E_s structure\nconvs, residual blocks,\nASPP", _ORANGE)
    _box(d, (410, 40, 580, 110), "appearance code\n4 parts x C: clothes", _BLUE)
    _box(d, (510, 240, 680, 310), "structure code\nC x H/4 x W/4: pose,\nbody shape, background", _ORANGE)
    _box(d, (620, 40, 760, 110), "MLPs\nAdaIN scales, shifts", _BLUE)
    # decoder, output, critics
    _box(d, (720, 160, 860, 230), "decoder G\nAdaIN residual blocks,\nupsampling", _GREEN)
    _box(d, (890, 160, 990, 230), "b wearing\na's clothes", _GREY)
    _box(d, (760, 300, 990, 370), "D: real or generated?\n(multi-scale LSGAN)", _PURPLE)
    _box(d, (170, 150, 420, 205), "ID heads: primary (KL to teacher)\n+ fine-grained (names the id)", _PURPLE)
    # arrows
    _arrow(d, [(130, 75), (170, 75)])
    _arrow(d, [(370, 75), (410, 75)])
    _arrow(d, [(580, 75), (620, 75)])
    _arrow(d, [(760, 75), (790, 75), (790, 160)])
    _arrow(d, [(130, 275), (165, 275)])
    _arrow(d, [(255, 275), (290, 275)])
    _arrow(d, [(470, 275), (510, 275)])
    _arrow(d, [(680, 275), (790, 275), (790, 230)])
    _arrow(d, [(860, 195), (890, 195)])
    _arrow(d, [(270, 120), (270, 150)])
    _arrow(d, [(940, 230), (940, 300)], dashed=True)
    _arrow(d, [(960, 160), (960, 140), (440, 140), (440, 178), (420, 178)], colour=(120, 80, 160), dashed=True)
    d.text((600, 128), "generated image -> E_a again: ID loss, code reconstruction", fill=(120, 80, 160),
           font=_font(12), anchor="mm")  # fmt: skip
    d.text((w / 2, 15), "DG-Net: clothes from a, everything else from b", fill=INK, font=_font(16), anchor="mm")
    d.text((20, 345), "solid: the swap the demo runs; dashed: used in training only", fill=(90, 90, 90), font=_font(12))
    return np.asarray(canvas)
