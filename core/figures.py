"""Drawing helpers every demo and model card shares (no UI code): labelled grids and strips of image
tiles, framed tiles, and the boxes and arrows of the "how it works" diagrams."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

# ---------------------------------------------------------------------------------------------- pictures

GAP = 4  # px between tiles
HEADER_GAP = 10  # px between the inputs (header row / column) and the outputs
LABEL_H = 18  # caption band under a tile
TITLE_H = 26  # title band on top of a picture
TILE_H = 160  # display height of a tile; the width keeps the image's aspect
BACKGROUND = (255, 255, 255)
EMPTY = (226, 226, 226)
INK = (30, 30, 30)


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans at ``size`` px, found the way matplotlib finds it (it ships the file): Pillow's own
    default face has no Greek, so ω and Σ drew as empty boxes."""
    try:
        from matplotlib import font_manager

        path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"), fallback_to_default=True)
        return ImageFont.truetype(path, size)
    except (ImportError, OSError, ValueError):
        pass
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
    face = font(size)
    if draw.textlength(text, font=face) <= width:
        return text
    while len(text) > 1 and draw.textlength(text + "...", font=face) > width:
        text = text[:-1]
    return text + "..."


def _caption(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], text: str, size: int = 13,
             fill: tuple[int, int, int] = INK) -> None:  # fmt: skip
    x0, y0, x1, y1 = box
    text = _fit_text(draw, text, x1 - x0 - 2, size)
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, fill=fill, font=font(size), anchor="mm")


def _title(draw: ImageDraw.ImageDraw, width: int, title: str) -> None:
    """``title`` across the top band: one line if it fits, else two smaller lines split after a colon."""
    if draw.textlength(title, font=font(15)) <= width - 4 or ": " not in title:
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

BLUE, ORANGE, GREEN, GREY, PURPLE = (219, 234, 254), (254, 235, 200), (220, 245, 225), (236, 236, 236), (
    237, 225, 250)  # fmt: skip


COLOURS = {"grey": GREY, "blue": BLUE, "orange": ORANGE, "green": GREEN, "purple": PURPLE, "ink": INK}


def _colour(word: str) -> tuple[int, int, int]:
    """A colour name of :data:`COLOURS` or ``R,G,B``."""
    return COLOURS[word] if word in COLOURS else tuple(int(v) for v in word.split(","))  # type: ignore[return-value]


def diagram(width: int, height: int, spec: str) -> np.ndarray:
    """A "how it works" diagram, (H, W, 3) uint8, drawn from a table, one element a line, in drawing order:

    - ``box X0 Y0 X1 Y1 COLOUR TEXT``: a rounded box; `` | `` in TEXT breaks the line (first line larger);
    - ``arrow [dashed] [COLOUR] X,Y X,Y ...``: a polyline ending in an arrow head;
    - ``text X Y SIZE ANCHOR COLOUR TEXT``: a caption (ANCHOR as Pillow's, ``-`` for its default);
    - ``+ TEXT``: continues the text above (for captions longer than a line); ``#`` starts a comment.

    COLOUR is a name of :data:`COLOURS` or ``R,G,B``.
    """
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    d = ImageDraw.Draw(canvas)
    rows: list[list[str]] = []
    for line in spec.strip().splitlines():
        line = line.strip()
        if line.startswith("+ "):
            rows[-1][-1] += line[2:]
        elif line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            fields = {"box": 5, "text": 5, "arrow": 0}[word]
            parts = rest.split(None, fields) if fields else rest.split()
            rows.append([word, *parts])
    for word, *args in rows:
        if word == "box":
            box(d, tuple(int(v) for v in args[:4]), args[5].replace(" | ", "\n"), _colour(args[4]))
        elif word == "arrow":
            dashed = "dashed" in args
            named = [a for a in args if a != "dashed" and (a in COLOURS or a.count(",") == 2)]
            points = [tuple(int(v) for v in a.split(",")) for a in args if a != "dashed" and a not in named]
            arrow(d, points, *([_colour(named[0])] if named else []), dashed=dashed)
        else:
            x, y, size, anchor, colour, text = args
            d.text((float(x), float(y)), text, fill=_colour(colour), font=font(int(size)),
                   anchor=None if anchor == "-" else anchor)  # fmt: skip
    return np.asarray(canvas)


def box(draw: ImageDraw.ImageDraw, xy: tuple[int, int, int, int], text: str, fill: tuple[int, int, int]) -> None:
    draw.rounded_rectangle(xy, radius=8, fill=fill, outline=(90, 90, 90), width=2)
    lines = text.split("\n")
    cx, cy = (xy[0] + xy[2]) / 2, (xy[1] + xy[3]) / 2
    for k, line in enumerate(lines):
        size = 15 if k == 0 else 12
        draw.text((cx, cy + (k - (len(lines) - 1) / 2) * 17), line, fill=INK, font=font(size), anchor="mm")


def arrow(draw: ImageDraw.ImageDraw, points: Sequence[tuple[int, int]], colour=(60, 60, 60), dashed=False) -> None:
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
