"""The input gate: every value and upload of every tab passes through here before core sees it.

A tab declares its inputs as checks (:class:`Number`, :class:`Choice`, :class:`Flag`, :class:`Upload`),
creates their components where its layout wants them with :meth:`Form.add`, and wires its button with
:meth:`Form.wire`. The gate then

- decodes uploads itself (Gradio's own preprocessing is switched off for gated events), refusing
  images over a pixel limit before any pixel is decoded, handling every PIL mode (16-bit, palette,
  CMYK, alpha, EXIF rotation) and downscaling on load, so one request's memory stays bounded;
- checks numbers for type, NaN/inf and range, seeds for being whole numbers, choices against their
  list;
- turns every failure into a ``gr.Error`` that names the field and says what to do, logged as one
  line; a real fault is logged with its traceback and still reaches the user as a sentence;
- checks before it runs: the button first runs the checks alone (no outputs), and only if they pass
  the action runs, so a refused request leaves the last good result on screen.

The same wrapped action is the named API endpoint, with one named parameter per check and the
optional ones marked optional.
"""

from __future__ import annotations

import html
import inspect
import logging
import math
import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from numbers import Real
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger("disentangle.app")

MAX_PIXELS = 40_000_000  # a 40 MP photo; a 13000 x 13000 "PNG bomb" (169 MP) is refused from its header
MAX_SIDE = 1024  # uploads are downscaled on load to this long side: bounded memory per request
FROM_PYTHON = "from Python: gradio_client.handle_file(path)"
IMAGE_HINT = "Upload a PNG, JPEG, WebP, GIF, BMP or TIFF image"


class InputError(ValueError):
    """A refused input; its message names the field and says what to do."""


def _show(value: Any, limit: int = 40) -> str:
    """A short, HTML-safe description of a raw value for an error message."""
    if isinstance(value, str):
        text = repr(value if len(value) <= limit else value[:limit] + "...")
    elif isinstance(value, float) and not math.isfinite(value):
        text = str(value)
    else:
        text = repr(value)
        text = text if len(text) <= limit else text[:limit] + "..."
    return _escape(text)


@dataclass(frozen=True)
class Check:
    """One input of an action.

    name: the API parameter name (a Python identifier); label: what the UI shows, and the first
    words of every error about this input; optional: None is allowed (and passed on as None).
    """

    name: str
    label: str
    optional: bool = False
    # (other check's name, value): used, and then required, only when that input has that value
    only_if: tuple[str, Any] | None = None

    def parse(self, raw: Any) -> Any:
        """The checked value, or InputError."""
        raise NotImplementedError

    def component(self, **kwargs: Any) -> gr.components.Component:
        """The Gradio component for this input (kwargs go to the component)."""
        raise NotImplementedError

    def fail(self, problem: str, todo: str) -> InputError:
        return InputError(f"{self.label}: {problem}. {todo}.")

    def _absent(self, raw: Any) -> bool:
        """True for None where None is allowed; InputError for None where it is not."""
        if raw is not None:
            return False
        if self.optional:
            return True
        raise self.fail("no value was given", "Fill it in (or click an example)")


@dataclass(frozen=True)
class Number(Check):
    """A finite number in [lo, hi]; ``whole`` for seeds and counts. ``widget``: "slider" or "number"."""

    lo: float = 0.0
    hi: float = 1.0
    value: float | None = None
    step: float | None = None
    whole: bool = False
    widget: str = "slider"
    info: str | None = None

    def parse(self, raw: Any) -> float | int | None:
        if self._absent(raw):
            return None
        span = f"between {self.lo:g} and {self.hi:g}"
        kind = "a whole number" if self.whole else "a number"
        if isinstance(raw, bool) or not isinstance(raw, Real):
            raise self.fail(f"expected {kind}, got {_show(raw)}", f"Enter {kind} {span}")
        value = float(raw)
        if not math.isfinite(value):
            raise self.fail(f"{_show(value)} is not a usable value", f"Enter {kind} {span}")
        if self.whole and not value.is_integer():
            raise self.fail(
                f"{value:g} is not a whole number", f"Enter a whole number {span}, e.g. {math.floor(value)}"
            )
        if not self.lo <= value <= self.hi:
            raise self.fail(f"{value:g} is out of range", f"Enter {kind} {span}")
        return int(value) if self.whole else value

    def component(self, **kwargs: Any) -> gr.components.Component:
        value = self.value if self.value is not None else self.lo
        common = dict(label=self.label, value=value, info=self.info, **kwargs)
        step = self.step if self.step is not None else (1 if self.whole else None)
        if self.widget == "slider":
            return gr.Slider(self.lo, self.hi, step=step, **common)
        # precision=None: Gradio must not round 3.7 to 4 behind the user's back; the gate refuses it
        return gr.Number(minimum=self.lo, maximum=self.hi, step=step or 1, precision=None, **common)


@dataclass(frozen=True)
class Choice(Check):
    """One of ``options`` (exact text). ``widget``: "radio" or "dropdown"."""

    options: tuple[str, ...] = ()
    value: str | None = None
    widget: str = "radio"
    info: str | None = None

    def parse(self, raw: Any) -> str | None:
        if self._absent(raw):
            return None
        if not isinstance(raw, str) or raw not in self.options:
            raise self.fail(f"{_show(raw)} is not one of the choices", "Choose one of: " + ", ".join(self.options))
        return raw

    def component(self, **kwargs: Any) -> gr.components.Component:
        value = self.value if self.value is not None else self.options[0]
        cls = gr.Radio if self.widget == "radio" else gr.Dropdown
        return cls(list(self.options), value=value, label=self.label, info=self.info, **kwargs)


@dataclass(frozen=True)
class Flag(Check):
    """True or False (not 1, "yes" or None)."""

    value: bool = False
    info: str | None = None

    def parse(self, raw: Any) -> bool | None:
        if self._absent(raw):
            return None
        if not isinstance(raw, bool):
            raise self.fail(f"expected true or false, got {_show(raw)}", "Tick or untick the box")
        return raw

    def component(self, **kwargs: Any) -> gr.components.Component:
        return gr.Checkbox(value=self.value, label=self.label, info=self.info, **kwargs)


@dataclass(frozen=True)
class Upload(Check):
    """An uploaded image -> (H, W, 3) uint8 RGB, long side at most ``max_side``.

    Pixels are counted from the file's header before anything is decoded.
    """

    max_pixels: int = MAX_PIXELS
    max_side: int = MAX_SIDE
    min_side: int = 1
    cache: _DecodeCache = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.cache is None:
            object.__setattr__(self, "cache", _DecodeCache())

    def parse(self, raw: Any) -> np.ndarray | None:
        if raw is None:
            if self.optional:
                return None
            raise self.fail("no image was uploaded", IMAGE_HINT)
        path = _upload_path(raw)
        if path is None:
            raise self.fail(f"expected an uploaded image file, got {_show(raw)}", IMAGE_HINT)
        return self.cache.get(path, lambda: decode_image(path, self))

    def component(self, **kwargs: Any) -> gr.components.Component:
        # filepath: Gradio hands over the path and decodes nothing (the gate decodes, with limits)
        return gr.Image(label=self.label, type="filepath", sources=["upload", "clipboard"], **kwargs)


FILES_HINT = "Upload a clip (GIF or MP4), its frames (PNG/JPEG, select them all, or a .zip) or an OpenGait .pkl"
MAX_FILES = 400
MAX_BYTES = 200_000_000  # 200 MB in all: a few seconds of video or a few hundred frames


@dataclass(frozen=True)
class Files(Check):
    """Uploaded files (one clip, or many frames) -> ``decode(paths)``, the decoded content.

    The gate checks what it can without reading content (a list of uploads, their number, that they
    exist and are not empty, their total size); ``decode`` reads them and raises ValueError with a
    sentence for content problems (no person, too few frames, a damaged file), which the gate reports
    under this input's label. The last few decodes are cached, so the check step and the action
    decode an upload once.
    """

    decode: Callable[[list[Path]], Any] | None = None
    hint: str = FILES_HINT
    file_types: tuple[str, ...] = ()
    max_files: int = MAX_FILES
    max_bytes: int = MAX_BYTES
    cache: _DecodeCache = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.cache is None:
            object.__setattr__(self, "cache", _DecodeCache())

    def paths(self, raw: Any) -> list[Path] | None:
        """The uploads' local paths (checked), or None when nothing was sent and that is allowed."""
        if raw is None or (isinstance(raw, list) and not raw):
            if self.optional:
                return None
            raise self.fail("nothing was uploaded", self.hint)
        items = raw if isinstance(raw, list) else [raw]
        paths = [_upload_path(item) for item in items]
        if any(p is None for p in paths):
            raise self.fail(f"expected uploaded files, got {_show(raw)}", self.hint)
        if len(paths) > self.max_files:
            raise self.fail(f"{len(paths)} files were uploaded, over the limit of {self.max_files}",
                            "Upload fewer frames, or the clip itself")  # fmt: skip
        total = 0
        for path in paths:
            if not path.is_file():
                raise self.fail(f"{_escape(path.name)} is gone or is not a file (uploads expire after a while)",
                                "Upload it again")  # fmt: skip
            size = path.stat().st_size
            if size == 0:
                raise self.fail(f"{_escape(path.name)} is empty (0 bytes)", self.hint)
            total += size
        if total > self.max_bytes:
            raise self.fail(f"the upload is {total / 1e6:.0f} MB, over the limit of {self.max_bytes / 1e6:.0f} MB",
                            "Upload a shorter clip or fewer frames")  # fmt: skip
        return paths

    def parse(self, raw: Any) -> Any:
        paths = self.paths(raw)
        if paths is None or self.decode is None:
            return paths

        def decode() -> Any:
            try:
                return self.decode(paths)
            except ValueError as err:
                raise self.fail(_escape(str(err)), self.hint) from None

        return self.cache.get_many(paths, decode)

    def component(self, **kwargs: Any) -> gr.components.Component:
        types = list(self.file_types) or None
        return gr.File(label=self.label, file_count="multiple", file_types=types, type="filepath", **kwargs)


def _upload_path(raw: Any) -> Path | None:
    """The local path of an upload: a Gradio FileData dict (what a gated event receives) or a path."""
    if isinstance(raw, dict):
        raw = raw.get("path")
    if isinstance(raw, (str, Path)) and str(raw):
        return Path(raw)
    return None


class _DecodeCache:
    """The last few decoded uploads, so the check step and the action decode an upload once."""

    def __init__(self, size: int = 4) -> None:
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, path: Path, decode: Callable[[], np.ndarray]) -> np.ndarray:
        return self.get_many([path], decode)

    def get_many(self, paths: Sequence[Path], decode: Callable[[], Any]) -> Any:
        try:
            key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
        except OSError:
            return decode()  # decode() reports the missing file
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        image = decode()
        with self._lock:
            self._items[key] = image
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return image


_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


def decode_image(path: str | Path, check: Upload | None = None) -> np.ndarray:
    """Decode an image file safely -> (H, W, 3) uint8 RGB, downscaled to ``check.max_side``.

    Raises InputError (naming ``check.label``) for files that are missing, empty, not images, over
    the pixel limit or damaged.
    """
    check = check or Upload("image", "Image")
    path = Path(path)
    if not path.is_file():
        raise check.fail("the uploaded file is gone (uploads expire after a while)", "Upload it again")
    if path.stat().st_size == 0:
        raise check.fail("the file is empty (0 bytes)", IMAGE_HINT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own pixel limit is lower
        try:
            image = Image.open(path)
        except Image.DecompressionBombError:
            raise check.fail("the image has far too many pixels", "Resize it to at most 1024 px a side") from None
        except (UnidentifiedImageError, *_DAMAGED):
            raise check.fail("the file is not an image that can be read", IMAGE_HINT) from None
        with image:
            w, h = image.size
            if w * h > check.max_pixels:
                raise check.fail(
                    f"the image is {w} x {h} pixels ({w * h / 1e6:.0f} MP), over the limit of "
                    f"{check.max_pixels / 1e6:.0f} MP",
                    f"Resize it (e.g. to {check.max_side} px on the long side) and upload it again",
                )
            if min(w, h) < check.min_side:
                raise check.fail(f"the image is only {w} x {h} pixels", f"Use at least {check.min_side} px a side")
            try:
                rgb = _to_rgb(image, check.max_side)
            except (*_DAMAGED, Image.DecompressionBombError):
                raise check.fail("the file is damaged or incomplete", "Save the image again and re-upload it") from None
    return rgb


def _to_rgb(image: Image.Image, max_side: int) -> np.ndarray:
    """Any PIL mode -> (H, W, 3) uint8 RGB, EXIF-upright, transparency on white, downscaled."""
    image.seek(0)  # an animation's first frame
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))  # decode JPEGs at a reduced scale: less memory
    image.load()
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block: keep the image as stored
        pass
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        image = _high_depth_to_l(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
        flat = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(flat, image)
    image = image.convert("RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image, dtype=np.uint8).copy()


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey (PNG, TIFF) -> 8-bit grey by their real range, not by clipping to 255."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        lo, hi = (0.0, 1.0) if values.min() >= 0 and values.max() <= 1 else (values.min(), values.max())
    else:
        lo, hi = 0.0, 65535.0 if values.max() <= 65535 else float(values.max())
    scaled = (values - lo) / max(hi - lo, 1e-12)
    return Image.fromarray((np.clip(scaled, 0, 1) * 255).round().astype(np.uint8), mode="L")


class Form:
    """The checked inputs of one action, their components, and the events that run it.

    Args:
        *checks: the inputs in the order the action takes them.
    """

    def __init__(self, *checks: Check) -> None:
        names = [c.name for c in checks]
        if len(set(names)) != len(names) or not all(n.isidentifier() for n in names):
            raise ValueError(f"check names must be distinct identifiers: {names}")
        self.checks = list(checks)
        self.components: dict[str, gr.components.Component] = {}

    def add(self, name: str, **kwargs: Any) -> gr.components.Component:
        """Create the component of check ``name`` here in the layout."""
        check = self._check(name)
        self.components[name] = comp = check.component(**kwargs)
        return comp

    def add_each(self, *fields: tuple[str, str]) -> list[gr.components.Component]:
        """:meth:`add` for each (name, elem_id), in order."""
        return [self.add(name, elem_id=elem_id) for name, elem_id in fields]

    def use(self, name: str, component: gr.components.Component) -> gr.components.Component:
        """Use a component made elsewhere (shared with another form) for check ``name``."""
        self._check(name)
        self.components[name] = component
        return component

    def _check(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check named {name!r}")

    @property
    def inputs(self) -> list[gr.components.Component]:
        missing = [c.name for c in self.checks if c.name not in self.components]
        if missing:
            raise ValueError(f"components not created for: {missing}")
        return [self.components[c.name] for c in self.checks]

    def parse(self, *raw: Any) -> list[Any]:
        """All checked values, or one InputError listing every refused field."""
        if len(raw) != len(self.checks):
            raise InputError(f"expected {len(self.checks)} inputs, got {len(raw)}")
        values, problems = [], []
        by_name = dict(zip((c.name for c in self.checks), raw, strict=True))
        for check, value in zip(self.checks, raw, strict=True):
            if check.only_if is not None:
                if by_name.get(check.only_if[0]) != check.only_if[1]:
                    values.append(None)  # unused with the other inputs as they are: a broken upload must not block
                    continue
                check = replace(check, optional=False)  # used: then it is required
            try:
                values.append(check.parse(value))
            except InputError as err:
                problems.append(str(err))
        if problems:
            raise InputError(problems[0] if len(problems) == 1 else "Please fix: " + " ".join(problems))
        return values

    def action(self, fn: Callable[..., Any], what: str) -> Callable[..., Any]:
        """``fn`` behind the gate: checked values in, user-facing errors out, faults logged.

        The wrapper's signature names one parameter per check (the API's parameter names) and
        adds Gradio's progress tracker when ``fn`` takes ``progress`` and the request (its session) when
        ``fn`` takes ``request``.
        """
        wants_progress = "progress" in inspect.signature(fn).parameters
        wants_request = "request" in inspect.signature(fn).parameters

        def call(values: list[Any], progress: gr.Progress | None, request: gr.Request | None = None) -> Any:
            extra: dict[str, Any] = {"progress": progress} if wants_progress else {}
            return fn(*values, **extra, **({"request": request} if wants_request else {}))

        def guarded(body: Callable[[], Any]) -> Any:
            try:
                return body()
            except InputError as err:
                raise _refuse(what, str(err)) from None
            except ValueError as err:  # core's own checks: plain sentences meant for the user
                raise _refuse(what, _escape(str(err))) from None
            except gr.Error:
                raise
            except Exception:
                ref = uuid.uuid4().hex[:8]
                log.exception("fault in %s (ref %s)", what, ref)
                raise gr.Error(
                    f"Something went wrong while {what} (ref {ref}; it is in the server log). Your inputs are "
                    "kept: try again, or change an input.",
                    print_exception=False,
                ) from None

        if inspect.isgeneratorfunction(fn):  # streamed results (progress, loss curves): same guard per item

            def run(*raw: Any, progress: gr.Progress | None = None) -> Any:
                raw, request = _split_request(raw, len(self.checks), wants_request)
                values = self._parse_or_refuse(raw, what)
                items = guarded(lambda: call(values, progress, request))
                done = object()
                while (item := guarded(lambda: next(items, done))) is not done:
                    yield item

        else:

            def run(*raw: Any, progress: gr.Progress | None = None) -> Any:
                raw, request = _split_request(raw, len(self.checks), wants_request)
                values = self._parse_or_refuse(raw, what)
                return guarded(lambda: call(values, progress, request))

        params = [
            inspect.Parameter(c.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None if c.optional else
                              inspect.Parameter.empty)
            for c in self.checks
        ]  # fmt: skip
        if wants_request:  # Gradio passes the request (its session: a Stop button's target) as the last
            # positional value when a positional parameter's type hint is gr.Request
            params.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                            annotation=gr.Request))  # fmt: skip
            run.__annotations__ = {"request": gr.Request}
        if wants_progress:
            params.append(inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=gr.Progress()))
        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__name__ = getattr(fn, "__name__", "action")
        run.gate_form = self  # type: ignore[attr-defined]  # lets the bad-input suite know what each input takes
        return run

    def _parse_or_refuse(self, raw: Sequence[Any], what: str) -> list[Any]:
        try:
            return self.parse(*raw)
        except InputError as err:
            raise _refuse(what, str(err)) from None

    def checker(self, what: str) -> Callable[..., None]:
        """The check step: the checks alone, no outputs (a refusal changes nothing on screen)."""

        def check_inputs(*raw: Any) -> None:
            self._parse_or_refuse(raw, what)

        return check_inputs

    def wire(
        self,
        triggers: Sequence[Any],
        fn: Callable[..., Any],
        outputs: Sequence[gr.components.Component] | gr.components.Component,
        api_name: str,
        what: str,
        **kwargs: Any,
    ) -> list[Any]:
        """Run ``fn`` when a trigger fires: check step, then the action (the API endpoint ``api_name``).

        triggers: bound event methods (``button.click``) or dependencies to chain on (``.then``).
        Returns the action's event per trigger, to chain more steps on (``.success``).
        """
        action = self.action(fn, what)
        check = self.checker(what)
        events = []
        for i, trigger in enumerate(triggers):
            start = trigger.then if isinstance(trigger, gr.events.Dependency) else trigger
            checked = start(check, inputs=self.inputs, outputs=None, preprocess=False, concurrency_limit=None,
                            show_progress="hidden", api_visibility="private")  # fmt: skip
            events.append(checked.success(
                action, inputs=self.inputs, outputs=outputs, preprocess=False,
                api_name=api_name if i == 0 else None, api_visibility="public" if i == 0 else "private", **kwargs,
            ))  # fmt: skip
        return events


def show_model3d(events: Sequence[Any], path: gr.State, viewer: gr.Model3D) -> None:
    """Put the GLB at ``path`` into ``viewer`` in a step of its own after each successful action: in
    Gradio 6 a Model3D filled by a generator together with other outputs stays blank (no canvas)."""
    for event in events:
        event.success(_same, inputs=path, outputs=viewer, show_progress="hidden", api_visibility="private")


def _same(value: Any) -> Any:
    return value


def _split_request(raw: Sequence[Any], values: int, wants_request: bool) -> tuple[Sequence[Any], gr.Request | None]:
    """(the form's ``values`` values, the request) from an action's positional values: the request comes last."""
    if wants_request and len(raw) == values + 1:
        return raw[:-1], raw[-1]
    return raw, None


def _refuse(what: str, message: str) -> gr.Error:
    log.info("refused input while %s: %s", what, message.replace("\n", " "))
    return gr.Error(message, title="Please check the input", print_exception=False)


class StudioBlocks(gr.Blocks):
    """gr.Blocks whose failures before an action runs reach the user as a sentence.

    Gated events skip Gradio's per-component preprocessing, but Gradio still parses uploads (file
    records, upload-folder checks) and counts the inputs first; a client that sends a number for an
    image, a path it never uploaded, or too few values would otherwise get a bare "Error".
    """

    async def preprocess_data(self, block_fn, inputs, *args, **kwargs):  # type: ignore[override]
        try:
            return await super().preprocess_data(block_fn, inputs, *args, **kwargs)
        except gr.Error:
            raise
        except Exception as err:
            raise _refuse(
                f"reading a request for {block_fn.name}", _describe_request_error(block_fn, inputs, err)
            ) from None


def _escape(text: str) -> str:
    return html.escape(text, quote=False)  # Gradio shows messages as HTML; quotes stay readable


def _describe_request_error(block_fn: Any, inputs: list[Any], err: Exception) -> str:
    labels = [getattr(b, "label", None) or type(b).__name__ for b in block_fn.inputs]
    if len(inputs) < len(labels):
        return (
            f"The request sent {len(inputs)} values but this action takes {len(labels)}: "
            f"{_escape(', '.join(labels))}. Send one value for each (see the API page)."
        )
    for label, block, value in zip(labels, block_fn.inputs, inputs, strict=False):
        if getattr(block, "data_model", None) is None or value is None:
            continue
        if not isinstance(value, dict):
            return f"{_escape(label)}: expected an uploaded file, got {_show(value)}. {IMAGE_HINT} ({FROM_PYTHON})."
        if "InvalidPath" in type(err).__name__ or "upload" in str(err).lower():
            return f"{_escape(label)}: that file was not uploaded to this app. Upload it first ({FROM_PYTHON})."
    return f"The request could not be read ({_escape(type(err).__name__)}). Send the inputs the API page lists."
