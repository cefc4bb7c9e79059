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


# values that are not a file, refused by every file input
_NOT_A_FILE = (
    Case("text", "abc", False),
    Case("path-like text", "../../etc/passwd", False),
    Case("absolute path text", "/etc/passwd", False),
    Case("number", 5, False),
    Case("boolean", True, False),
)


def upload_value_cases(optional: bool) -> list[Case]:
    """Non-file values sent for an image input."""
    return [
        Case("missing (None)", None, optional),
        *_NOT_A_FILE,
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


def files_value_cases(optional: bool) -> list[Case]:
    """Non-file values sent for a files input (a clip or its frames)."""
    return [
        Case("missing (None)", None, optional),
        Case("empty list", [], optional),
        *_NOT_A_FILE,
        Case("list of numbers", [1, 2], False),
    ]


def _walker_frames(frames: int = 24, height: int = 120, width: int = 80, colour: bool = True) -> list[np.ndarray]:
    """A person-like figure walking in place on black: a torso and head, and two legs and arms that swing."""
    out = []
    yy, xx = np.mgrid[0:height, 0:width]
    for t in range(frames):
        swing = np.sin(2 * np.pi * t / 12)
        body = np.zeros((height, width), bool)
        body |= (xx - width / 2) ** 2 / 9**2 + (yy - 45) ** 2 / 22**2 <= 1  # torso
        body |= (xx - width / 2) ** 2 + (yy - 16) ** 2 <= 8**2  # head
        for side in (-1, 1):
            foot = width / 2 + side * swing * 14
            for k in range(40):
                y, x = 64 + k, width / 2 + (foot - width / 2) * k / 40
                body |= (xx - x) ** 2 + (yy - y) ** 2 <= 4**2
            hand = width / 2 + side * swing * 10
            for k in range(24):
                y, x = 30 + k, width / 2 + side * 9 + (hand - width / 2) * k / 24
                body |= (xx - x) ** 2 + (yy - y) ** 2 <= 3**2
        pic = np.zeros((height, width, 3), np.uint8)
        pic[body] = (200, 60, 40) if colour else (255, 255, 255)
        pic[body & (yy > 64)] = (40, 60, 160) if colour else (255, 255, 255)
        out.append(pic)
    return out


def clip_files(folder: Path) -> list[Case]:
    """Files for a walk input (a clip, its frames or an OpenGait pickle): Case.value is a list of paths."""
    import pickle

    folder.mkdir(parents=True, exist_ok=True)
    walk = _walker_frames()
    gif = _encode(Image.fromarray(walk[0]), "GIF", save_all=True,
                  append_images=[Image.fromarray(f) for f in walk[1:]], duration=80)  # fmt: skip
    cases: list[Case] = []

    def file(kind: str, name: str, data: bytes, accept: bool) -> None:
        (folder / name).write_bytes(data)
        cases.append(Case(kind, [folder / name], accept))  # a files input takes a list, even of one

    file("walk GIF (person on black)", "walk.gif", gif, True)
    frames = []
    for t, frame in enumerate(_walker_frames(12, colour=False)):
        frames.append(folder / f"sil_{t:02d}.png")
        frames[-1].write_bytes(_encode(Image.fromarray(frame[..., 0]), "PNG"))
    cases.append(Case("12 silhouette PNG frames", frames, True))
    sils = np.stack([f[..., 0] for f in _walker_frames(12, 64, 64, colour=False)])
    file("OpenGait pickle uint8 (T, 64, 64)", "walk.pkl", pickle.dumps(sils, protocol=4), True)
    file("one picture", "one.png", _encode(Image.fromarray(walk[0]), "PNG"), False)
    file("2-frame GIF", "two.gif", _encode(Image.fromarray(walk[0]), "GIF", save_all=True,
                                           append_images=[Image.fromarray(walk[1])]), False)  # fmt: skip
    black = [Image.new("RGB", (80, 120)) for _ in range(6)]
    file("GIF without a person", "black.gif", _encode(black[0], "GIF", save_all=True, append_images=black[1:]), False)
    file("text renamed .gif", "text.gif", b"this is not a clip, just text\n" * 4, False)
    file("truncated GIF", "truncated.gif", gif[: len(gif) // 3], False)
    file("random bytes .mp4", "noise.mp4", np.random.default_rng(0).bytes(4096), False)
    file("pickle of a float array", "float.pkl", pickle.dumps(sils.astype(np.float32)), False)
    file("pickle of a dict", "dict.pkl", pickle.dumps({"frames": 3}), False)
    file("pickle that runs code", "evil.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.", False)
    mixed = [folder / "size_a.png", folder / "size_b.png", folder / "size_c.png"]
    for k, path in enumerate(mixed):
        path.write_bytes(_encode(Image.fromarray(walk[k][: 100 + 10 * k]), "PNG"))
    cases.append(Case("frames of different sizes", mixed, False))
    file("zip without pictures", "empty.zip", _zip({"readme.txt": b"no frames here"}), False)
    file("zip of frames", "frames.zip", _zip({f"f{t:02d}.png": _encode(Image.fromarray(f), "PNG")
                                               for t, f in enumerate(walk[:10])}), True)  # fmt: skip
    return cases


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()
