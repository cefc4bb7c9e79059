"""Plain argument checks shared by core's user-facing entry points (ValueError with a sentence)."""

from __future__ import annotations

import math
from typing import Any


def check_range(name: str, value: Any, lo: float, hi: float) -> float:
    """``value`` as a finite float within [lo, hi], else ValueError naming ``name``."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number between {lo:g} and {hi:g}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number between {lo:g} and {hi:g}, got {value!r}") from None
    if not math.isfinite(number) or not lo <= number <= hi:
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}, got {number:g}")
    return number


def check_seed(name: str, value: Any, maximum: int = 10_000_000) -> int:
    """A whole number in [0, maximum] (seeds, counts typed into a box), else ValueError."""
    message = f"{name} must be a whole number between 0 and {maximum}; got {value!r}"
    if isinstance(value, bool):
        raise ValueError(message)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if not math.isfinite(number) or not number.is_integer() or not 0 <= number <= maximum:
        raise ValueError(message)
    return int(number)
