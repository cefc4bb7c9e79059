"""The shared bad-input corpus: values and files thrown at every input of every endpoint, by type.

Each entry says whether the gate must accept it (an unusual but valid input, which must work) or
refuse it (with a message naming the field). Kept in one place so a new tab is covered by adding
nothing.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Case:
    kind: str  # a short name for reports
    value: Any
    accept: bool


def number_cases(lo: float, hi: float, whole: bool, optional: bool) -> list[Case]:
    """Values for a number input in [lo, hi] (whole numbers only if ``whole``).

    NaN and the infinities are not JSON, so only a raw HTTP request can send them: see
    test_bad_inputs.test_raw_requests_get_named_messages."""
    mid = (lo + hi) / 2
    fractional = math.floor(mid) + 0.5
    return [
        Case("missing (None)", None, optional),
        Case("text", "abc", False),
        Case("numeric text", "3", False),
        Case("empty text", "", False),
        Case("boolean True", True, False),
        Case("boolean False", False, False),
        Case("huge float", 1e308, False),
        Case("huge negative float", -1e308, False),
        Case("huge integer", 10**30, False),
        Case("below range", lo - 1, False),
        Case("above range", hi + 1, False),
        Case("fraction", fractional, not whole),
        Case("list", [1, 2], False),
        Case("dict", {"value": 1}, False),
        Case("lower bound", int(lo) if whole else lo, True),
        Case("upper bound", int(hi) if whole else hi, True),
    ]


def choice_cases(options: tuple[str, ...], optional: bool) -> list[Case]:
    """Values for a single choice among ``options``."""
    first = options[0]
    # an option in another letter case (options without letters, like "+0°", get a near miss instead)
    cased = next((o for o in options if o.upper() != o.lower()), None)
    if cased is None:
        other = Case("near miss", first + "0", False)
    else:
        other = Case("other case", cased.upper() if cased.upper() != cased else cased.lower(), False)
    return [
        Case("missing (None)", None, optional),
        Case("empty text", "", False),
        Case("unknown choice", "no-such-choice", False),
        other,
        Case("padded", f" {first} ", False),
        Case("number", 5, False),
        Case("boolean", True, False),
        Case("path-like text", "../../etc/passwd", False),
        Case("very long text", "A" * 10_000, False),
        Case("markup", "<img src=x onerror=alert(1)>", False),
        Case("list", [first], False),
        Case("last option", options[-1], True),
    ]


def flag_cases(optional: bool) -> list[Case]:
    return [
        Case("missing (None)", None, optional),
        Case("text yes", "yes", False),
        Case("text true", "true", False),
        Case("number 1", 1, False),
        Case("number 0", 0, False),
        Case("list", [], False),
        Case("True", True, True),
        Case("False", False, True),
    ]


def upload_value_cases(optional: bool) -> list[Case]:
    """Non-file values sent for an image input."""
    return [
        Case("missing (None)", None, optional),
        Case("text", "abc", False),
        Case("path-like text", "../../etc/passwd", False),
        Case("absolute path text", "/etc/passwd", False),
        Case("number", 5, False),
        Case("boolean", True, False),
        Case("list", [1, 2], False),
    ]


def _png_bomb(width: int, height: int) -> bytes:
    """A valid greyscale PNG of width x height zero pixels, compressed to a few hundred KB."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _encode(image: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _colour_image(width: int = 96, height: int = 64) -> Image.Image:
    """A picture with distinct quadrants (red, green, blue, yellow) so orientation and colour show."""
    a = np.zeros((height, width, 3), np.uint8)
    a[: height // 2, : width // 2] = (220, 30, 30)
    a[: height // 2, width // 2 :] = (30, 200, 40)
    a[height // 2 :, : width // 2] = (30, 40, 220)
    a[height // 2 :, width // 2 :] = (230, 220, 40)
    return Image.fromarray(a)


def image_files(folder: Path) -> list[Case]:
    """Files for an image input: Case.value is the file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    pic = _colour_image()
    grey16 = Image.fromarray(np.full((48, 48), 32768, np.uint16))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    frames = [pic, pic.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100)
    png = _encode(pic, "PNG")
    big = Image.fromarray(
        np.broadcast_to(np.linspace(0, 255, 4000, dtype=np.uint8)[None, :, None], (3000, 4000, 3)).copy()
    )
    files: list[tuple[str, str, bytes, bool]] = [
        ("RGB PNG", "rgb.png", png, True),
        ("1x1 PNG", "tiny.png", _encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), True),
        ("16-bit grey PNG", "grey16.png", _encode(grey16, "PNG"), True),
        ("palette GIF", "palette.gif", _encode(pic.convert("P", palette=Image.Palette.ADAPTIVE), "GIF"), True),
        ("animated GIF", "animated.gif", gif.getvalue(), True),
        ("CMYK JPEG", "cmyk.jpg", _encode(pic.convert("CMYK"), "JPEG"), True),
        ("grey+alpha PNG", "la.png", _encode(pic.convert("LA"), "PNG"), True),
        ("RGBA PNG", "rgba.png", _encode(pic.convert("RGBA"), "PNG"), True),
        ("EXIF-rotated JPEG", "exif.jpg", _encode(pic, "JPEG", exif=exif), True),
        ("1-bit BMP", "bilevel.bmp", _encode(pic.convert("1"), "BMP"), True),
        ("32-bit float TIFF", "float.tif", _encode(pic.convert("F"), "TIFF"), True),
        ("WebP", "pic.webp", _encode(pic, "WEBP"), True),
        ("12 MP JPEG", "large.jpg", _encode(big, "JPEG", quality=80), True),
        ("PNG named .jpg", "png_named.jpg", png, True),
        ("text renamed .png", "text.png", b"this is not an image, just text\n" * 4, False),
        ("0-byte file", "empty.png", b"", False),
        ("truncated PNG", "truncated.png", png[: len(png) // 2], False),
        ("truncated JPEG", "truncated.jpg", _encode(pic, "JPEG")[:300], False),
        ("13000x13000 PNG bomb", "bomb.png", _png_bomb(13000, 13000), False),
        ("SVG", "vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', False),
        ("HTML named .jpg", "page.jpg", b"<html><body>hello</body></html>", False),
        ("random bytes", "noise.png", np.random.default_rng(0).bytes(4096), False),
        ("PNG header only", "header.png", png[:33], False),
    ]
    cases = []
    for kind, name, data, accept in files:
        path = folder / name
        path.write_bytes(data)
        cases.append(Case(kind, path, accept))
    return cases
