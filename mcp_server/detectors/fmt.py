"""Numbers as short human text for signal summaries (`28.0 MiB`, `~4 min`)."""

from __future__ import annotations


def human_bytes(value: float) -> str:
    """1536 → `1.5 KiB`. Binary units, like `docker stats`."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - the loop always returns


def human_duration(seconds: float) -> str:
    """90 → `~2 min`; 5400 → `~1.5 h`; 3 → `~3 s`."""
    seconds = max(float(seconds), 0.0)
    if seconds < 10:
        return f"~{seconds:.1f} s"
    if seconds < 90:
        return f"~{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"~{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"~{seconds / 3600:.1f} h"
    return f"~{seconds / 86400:.1f} days"


def window_text(seconds: float) -> str:
    """600 → `10 min` (for "in the last …")."""
    return human_duration(seconds).removeprefix("~")
