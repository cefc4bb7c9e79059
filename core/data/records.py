"""The one sample record every reader returns, whatever the dataset layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """One image or sequence file and its labels.

    identity: person id (-1 = junk, 0 = distractor in Market-1501).
    camera: re-ID camera number (1-based), or -1.
    view: gait view or face yaw in degrees, or None.
    condition: gait condition ("nm-01", ...) or face illumination ("l0", ...), or "".
    frame: frame number from the file name, or -1.
    annotation: body and camera (:class:`core.data.annotations.Annotation`) for synthetic images
        read with annotations, else None.
    """

    path: Path
    identity: int
    camera: int = -1
    view: float | None = None
    condition: str = ""
    frame: int = -1
    annotation: object | None = None
