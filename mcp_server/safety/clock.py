"""Time for the safety layer: an injectable wall clock (tests pass a fake one, nobody sleeps).

Wall-clock seconds, not a monotonic clock, because budgets are stored and must mean the same thing
after a restart and in another process (the agent host).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Returns the current time as Unix epoch seconds (like `time.time`)."""

system_clock: Clock = time.time


def utc_iso(epoch_s: float) -> str:
    """`2026-01-02T03:04:05.678Z`: fixed width, so ISO strings sort and compare as text."""
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_datetime(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


def to_epoch(moment: datetime) -> float:
    """Naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def human_duration(seconds: float) -> str:
    """`45 s`, `12 min`, `2 h 5 min`: for reasons a person or a small model reads."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
