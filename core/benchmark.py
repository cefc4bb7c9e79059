"""What every ``python -m core bench ...`` shares: best-of timing and the result table.

A row is {"what": str, "seconds": float, "target": float | None}; targets are the issues' speed
goals on the reference machine (2 CPU cores) and live in benchmarks, never in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

__all__ = ["best_of", "format_rows"]


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` timed calls, after one untimed warm-up call (first calls allocate
    memory and pick kernels)."""
    fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def format_rows(rows: Sequence[dict]) -> str:
    """Rows as a Markdown table, each target marked ok or MISSED."""
    lines = ["| what | seconds | target |", "|---|---|---|"]
    for r in rows:
        if r.get("target") is None:
            target = ""
        else:
            target = f"<= {r['target']:g} s " + ("ok" if r["seconds"] <= r["target"] else "MISSED")
        lines.append(f"| {r['what']} | {r['seconds']:.3f} | {target} |")
    return "\n".join(lines)
