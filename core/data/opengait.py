"""OpenGait silhouette trees (``root/<id>/<condition>/<view>/<view>.pkl``) and their partition json.

Frames are uint8 [T, H, W]. OpenGait's pretreatment stores 64x64 (person 64 rows tall, centred on
the column where half the mass lies); its loader cuts 10 px per side, giving 64x44.
:func:`load_sequence` returns that 64x44 cut by default (``cut=False`` gives what is stored).
The rules followed here are listed, with their upstream sources, in docs/formats.md section 4.

Ids are folder-name strings in OpenGait ("001" and "1" are different people). ``Sample.identity``
is an int, so :func:`read_opengait` maps an all-digit name to ``int(name)`` and gives any other
name (or a second name with the same number) a stable number above the largest one; the string is
:func:`opengait_id` of the sample, and :func:`opengait_ids` lists them.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from core.data.records import Sample

CASIA_B_CONDITIONS = tuple([f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"])
CASIA_B_VIEWS = tuple(range(0, 181, 18))
_CASIA_B_CONDITION = re.compile(r"(nm|bg|cl)-\d\d")


def _cubic_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices (dst, 4) int64 and weights (dst, 4) float32 of a cubic resize along one axis.

    Pixel-centre mapping x = (d + 0.5) * src / dst - 0.5 and Keys' kernel with a = -0.75, as
    cv2.INTER_CUBIC. Indices are clamped to the image, which is cv2's replicated border.
    """
    x = (np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5
    base = np.floor(x)
    t = x - base
    # distances from x to the taps base-1 .. base+2; the weights are evaluated in float64 and then
    # rounded to float32: the pip builds of cv2 resize uint8 through Intel IPP, whose weights agree
    # with these to ~1e-7, while cv2's own float32 formula (used without IPP) differs by up to 1e-6
    dist = np.abs(t[:, None] - np.arange(-1, 3)[None, :])
    a = -0.75
    near = ((a + 2) * dist - (a + 3)) * dist * dist + 1
    far = ((a * dist - 5 * a) * dist + 8 * a) * dist - 4 * a
    weights = np.where(dist <= 1, near, np.where(dist < 2, far, 0.0)).astype(np.float32)
    index = np.clip(base.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :], 0, src - 1)
    return index, weights


def resize_cubic(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic resize of a uint8 (H, W) image to uint8 (height, width), as ``cv2.resize(img,
    (width, height), interpolation=cv2.INTER_CUBIC)`` computes it, without OpenCV.

    Each row to the new width first, then each column to the new height, both passes accumulating
    in float32; the result is rounded to nearest (ties to even) and saturated to 0..255, as cv2 does
    for uint8. An unchanged size returns a copy (cv2 copies too).
    Against cv2 4.10 and 5.0 (pip wheels, which resize through Intel IPP) about 9 frames in 10 are
    identical; the others differ by 1 in a few pixels (~1 in 10^4) whose exact value is x.5 or within
    ~1e-3 of it, where the side IPP rounds to depends on its own float arithmetic. Sources under 4
    pixels on a side take cv2's fixed-point path instead (not reproduced). docs/formats.md section 4.
    """
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W) image, got {img.dtype} {img.shape}")
    if width < 1 or height < 1:
        raise ValueError(f"target size must be at least 1x1, got {width}x{height}")
    if img.shape == (height, width):
        return img.copy()
    src = img.astype(np.float32)
    xi, xw = _cubic_taps(img.shape[1], width)
    yi, yw = _cubic_taps(img.shape[0], height)
    # accumulate tap by tap in float32, in this order: that is what matches cv2's rounding best
    rows = np.zeros((img.shape[0], width), np.float32)
    for k in range(4):
        rows += src[:, xi[:, k]] * xw[None, :, k]
    out = np.zeros((height, width), np.float32)
    for k in range(4):
        out += rows[yi[:, k]] * yw[:, k : k + 1]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _as_grey(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool / 0-1 / 0-255 mask -> uint8 (H, W) with the person at 255, as a silhouette PNG reads."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected one (H, W) mask, got shape {mask.shape}")
    if mask.dtype == bool:
        return mask.astype(np.uint8) * 255
    if mask.size and mask.max() <= 1:  # a 0..1 mask (bool-like ints or soft floats)
        return np.rint(np.clip(mask, 0, 1) * 255.0).astype(np.uint8)
    return np.rint(np.clip(mask, 0, 255)).astype(np.uint8)


def normalise_silhouette(mask: np.ndarray, height: int = 64) -> np.ndarray | None:
    """OpenGait's pretreatment (``datasets/pretreatment.py``, ``imgs2pickle``) of one frame:
    (H, W) bool / 0-1 / uint8 0-255 mask -> uint8 (height, height // 2 * 2), or None where
    OpenGait drops the frame.

    Steps, as upstream: drop the frame if its 0..255 pixel sum is <= 10000; keep the rows from the
    first to the last non-zero one (all columns: they are not cropped); resize with cubic
    interpolation to ``height`` rows and ``int(height * (W / rows))`` columns (floor, in that float
    order); centre on the first column where the cumulative column sum is > half the total; drop the
    frame if that column is 0 (upstream tests ``if not x_center``); cut ``[x - h/2, x + h/2)``, after
    padding h/2 zero columns on both sides if the window touches or leaves an edge.
    Raises ValueError where OpenGait's cv2.resize would fail (a width of 0: rows > height * W).
    """
    img = _as_grey(mask)
    if int(img.sum(dtype=np.int64)) <= 10000:  # about 39 white pixels: OpenGait logs "no data"
        return None
    rows = np.flatnonzero(img.any(1))
    img = img[rows[0] : rows[-1] + 1]
    width = int(height * (img.shape[1] / img.shape[0]))  # upstream's order: ratio first, then scale
    if width < 1:
        raise ValueError(f"a {img.shape[0]}-row person in a {img.shape[1]}-wide frame resizes to width 0")
    img = resize_cubic(img, width, height)
    cols = img.sum(0, dtype=np.int64)
    total = int(cols.sum())
    # "> half": the median column. Integers (2 * csum > total) give the same answer as upstream's float half
    above = np.flatnonzero(2 * np.cumsum(cols) > total)
    if above.size == 0 or above[0] == 0:  # upstream: no centre, or centre 0 -> "has no center", dropped
        return None
    centre, half = int(above[0]), height // 2
    left, right = centre - half, centre + half
    if left <= 0 or right >= img.shape[1]:  # upstream pads even when the window would just fit
        img = np.pad(img, ((0, 0), (half, half)))
        left, right = left + half, right + half
    return np.ascontiguousarray(img[:, left:right])


def cut_silhouette(frames: np.ndarray) -> np.ndarray:
    """Cut int(W // 64) * 10 columns off each side, as OpenGait's BaseSilCuttingTransform does:
    [T, 64, 64] -> [T, 64, 44]. Narrower frames (W < 64) pass through unchanged, as in OpenGait since
    2023-11 (its versions from 2023-02 to 2023-11 sliced [0:-0] and returned width 0; docs/formats.md)."""
    side = frames.shape[-1] // 64 * 10
    return frames if side == 0 else frames[..., side:-side]


def load_sequence(path: str | Path, cut: bool = True) -> np.ndarray:
    """uint8 [T, H, W] silhouettes from one pkl: with ``cut`` as OpenGait's default transform sees them
    (stored 64x64 -> 64x44, see :func:`cut_silhouette`), else as stored."""
    with open(path, "rb") as fh:
        frames = np.asarray(pickle.load(fh))
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: expected uint8 [T, H, W] silhouettes, got {frames.dtype} {frames.shape}")
    return cut_silhouette(frames) if cut else frames


def save_sequence(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(np.ascontiguousarray(frames, dtype=np.uint8), fh, protocol=4)
    tmp.replace(path)


def opengait_ids(root: str | Path) -> list[str]:
    """The id folder names under ``root``, sorted: the strings OpenGait compares with the partition."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def opengait_id(sample: Sample) -> str:
    """The OpenGait id string of a sample from :func:`read_opengait` (its ``<id>`` folder name)."""
    return Path(sample.path).parts[-4]


def _identity_numbers(ids: list[str]) -> dict[str, int]:
    """id string -> Sample.identity: int(name) for all-digit names, else (non-digit names, and the
    later of two names with the same number, e.g. "1" after "001") numbers above the largest one,
    in sorted order; stable for a given tree whatever the partition."""
    numbers: dict[str, int] = {}
    for name in ids:
        if name.isascii() and name.isdigit() and int(name) not in numbers.values():
            numbers[name] = int(name)
    nxt = max(numbers.values(), default=0) + 1
    for name in ids:
        if name not in numbers:
            numbers[name], nxt = nxt, nxt + 1
    return numbers


def _load_partition(partition: str | Path | Mapping) -> tuple[dict | None, str | None]:
    """(partition dict, None) or (None, the problem that makes OpenGait fail on it)."""
    try:
        part = partition if isinstance(partition, Mapping) else json.loads(Path(partition).read_text())
    except (OSError, ValueError) as err:
        return None, f"partition {partition}: cannot be read as json ({err})"
    for key in ("TRAIN_SET", "TEST_SET"):
        if not isinstance(part, Mapping) or not isinstance(part.get(key), list):
            return None, f"partition {partition}: no {key} list"
    return dict(part), None


def _tree_problems(root: Path, partition: str | Path | Mapping | None) -> list[tuple[bool, str]]:
    """(fatal, message) for each problem, in walk order. Fatal = OpenGait's loader raises on it (or our
    load_sequence does); the others are silent there but almost surely unintended."""
    problems: list[tuple[bool, str]] = []
    if not root.is_dir():
        return [(True, f"{root} is not a folder")]
    names = sorted(p.name for p in root.iterdir())  # OpenGait lists files too (os.listdir)
    if partition is not None:
        part, err = _load_partition(partition)
        if err:
            return [(True, err)]
        wanted = []
        for key in ("TRAIN_SET", "TEST_SET"):
            for label in part[key]:
                if not isinstance(label, str):  # `label in os.listdir(root)` is never true for 1 or None
                    problems.append((False, f"{key} entry {label!r} is not a string; OpenGait drops it"))
                elif label not in names:
                    problems.append((False, f"{key} id {label!r} has no folder under {root}; OpenGait drops it"))
                elif label not in wanted:
                    wanted.append(label)
        names = wanted
    for ident in names:
        id_dir = root / ident
        if not id_dir.is_dir():
            if partition is not None:  # only a listed id is walked; os.listdir() of a file raises
                problems.append((True, f"{ident} is a file, not an id folder"))
            continue
        if not any(id_dir.iterdir()):
            problems.append((False, f"{ident}/ is empty"))
        for cond_dir in sorted(id_dir.iterdir()):
            rel_c = f"{ident}/{cond_dir.name}"
            if not cond_dir.is_dir():
                problems.append((True, f"{rel_c} is a file where condition folders belong"))
                continue
            casia = _CASIA_B_CONDITION.fullmatch(cond_dir.name) is not None
            for view_dir in sorted(cond_dir.iterdir()):
                problems += _view_problems(view_dir, f"{rel_c}/{view_dir.name}", casia)
    return problems


def _view_problems(view_dir: Path, rel: str, casia: bool) -> list[tuple[bool, str]]:
    """Problems of one <id>/<condition>/<view> folder (see :func:`check_opengait_tree`)."""
    if not view_dir.is_dir():
        return [(True, f"{rel} is a file where view folders belong")]
    problems: list[tuple[bool, str]] = []
    if casia and not re.fullmatch(r"\d{3}", view_dir.name):
        problems.append((False, f"{rel}: CASIA-B view folders are 3 digits (000..180), not {view_dir.name!r}"))
    lengths = {}
    for entry in sorted(view_dir.iterdir()):
        if entry.suffix != ".pkl" or not entry.is_file():
            problems.append((True, f"{rel}/{entry.name}: not a .pkl file; OpenGait's loader raises on it"))
            continue
        try:
            with open(entry, "rb") as fh:
                data = pickle.load(fh)
        except Exception as err:  # any unpickling failure (truncated, foreign class, ...) is the problem
            problems.append((True, f"{rel}/{entry.name}: cannot be unpickled ({type(err).__name__})"))
            continue
        if not isinstance(data, np.ndarray) or data.ndim != 3 or data.dtype != np.uint8:
            shape = getattr(data, "shape", None)
            what = f"{data.dtype} {shape}" if isinstance(data, np.ndarray) else type(data).__name__
            problems.append((True, f"{rel}/{entry.name}: expected a uint8 [T, H, W] ndarray, got {what}"))
        lengths[entry.name] = len(data) if hasattr(data, "__len__") else -1
        if lengths[entry.name] == 0:
            problems.append((True, f"{rel}/{entry.name}: no frames; OpenGait needs at least one"))
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        problems.append((True, f"{rel}: pkls of different lengths ({listing}); OpenGait needs them equal"))
    return problems


def check_opengait_tree(root: str | Path, partition: str | Path | Mapping | None = None) -> list[str]:
    """The problems OpenGait's loader (``opengait/data/dataset.py``) would hit on this tree; [] when fine.

    Reads every pkl of the ids in use (all ids, or the partition's TRAIN_SET + TEST_SET). Reported:
    non-.pkl entries in a view folder, pkls of different lengths in one folder, empty arrays, data
    that is not a uint8 [T, H, W] ndarray or cannot be unpickled, files where folders belong, a
    partition that is unreadable or lacks its lists, partition entries that are not strings or have
    no folder (OpenGait drops those silently), and view folders that are not 3 digits under CASIA-B
    condition names (nm-01, bg-02, ...).
    """
    return [msg for _, msg in _tree_problems(Path(root), partition)]


def read_opengait(
    root: str | Path, partition: str | Path | Mapping | None = None, check: bool = True
) -> dict[str, list[Sample]]:
    """Sequences of an OpenGait tree, split by a partition json ({"TRAIN_SET": [...], "TEST_SET": [...]}).

    Without a partition every sequence is in "all". As OpenGait, ids are matched as exact strings
    (partition "1" does not select folder "001") and listed ids without a folder are dropped.
    ``Sample.path`` is the sequence's first pkl; ``Sample.identity`` is described in the module
    docstring, the id string is :func:`opengait_id`. With ``check`` (reads every pkl in use) a
    ValueError names the first problem of :func:`check_opengait_tree` that makes OpenGait's loader
    (or :func:`load_sequence`) fail.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of <id>/<condition>/<view>/*.pkl")
    numbers = _identity_numbers(opengait_ids(root))
    samples = []
    for view_dir in sorted(root.glob("*/*/*")):
        pkls = sorted(view_dir.glob("*.pkl"))
        if not pkls:
            continue
        ident, cond, view = view_dir.parts[-3:]
        view_deg = float(view) if re.fullmatch(r"\d+(\.\d+)?", view) else None
        samples.append(Sample(path=pkls[0], identity=numbers[ident], view=view_deg, condition=cond))
    if not samples:
        hint = f"; did you mean {root / 'sil'}?" if (root / "sil").is_dir() else ""
        raise FileNotFoundError(f"no <id>/<condition>/<view>/*.pkl sequences under {root}{hint}")
    if check:
        fatal = [msg for bad, msg in _tree_problems(root, partition) if bad]
        if fatal:
            more = f" (and {len(fatal) - 1} more; see check_opengait_tree)" if len(fatal) > 1 else ""
            raise ValueError(f"OpenGait's loader would fail on {root}: {fatal[0]}{more}")
    if partition is None:
        return {"all": samples}
    part, err = _load_partition(partition)
    if err:
        raise ValueError(err)
    train, test = ({x for x in part[key] if isinstance(x, str)} for key in ("TRAIN_SET", "TEST_SET"))
    return {
        "train": [s for s in samples if opengait_id(s) in train],
        "test": [s for s in samples if opengait_id(s) in test],
    }
