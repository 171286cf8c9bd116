"""Find and parse the time of a log line.

Sources, in order: the `docker logs --timestamps` prefix, then a timestamp near the start of the
message in one of the common formats (ISO 8601 / RFC 3339, Python logging "2026-11-25 09:00:00,123",
nginx error "2026/11/25 09:00:00", access log "25/Nov/2026:09:00:00 +0000", Redis
"25 Nov 2026 09:00:00.123", JSON epoch seconds or milliseconds). Times without a zone are taken
as UTC, so every result is timezone-aware and comparable.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from .lines import LogLines

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_ISO_RE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?\s?(Z|UTC|GMT|[+-]\d\d:?\d\d)?"
)
_SLASH_RE = re.compile(r"(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)")
_CLF_RE = re.compile(r"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})")
_REDIS_RE = re.compile(r"(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?")
_EPOCH_RE = re.compile(r"\"(?:ts|time|timestamp|@t)\"\s*:\s*(\d{10}(?:\.\d+)?|\d{13})\b")


def _zone(text: str | None) -> timezone:
    if not text or text in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def _micro(fraction: str | None) -> int:
    return int((fraction or "0")[:6].ljust(6, "0"))


def parse_time(text: str) -> datetime | None:
    """The first recognised timestamp in `text`, as an aware datetime, or None."""
    try:
        match = _ISO_RE.search(text)
        if match:
            y, mo, d, h, mi, s, frac, zone = match.groups()
            return datetime(
                int(y), int(mo), int(d), int(h), int(mi), int(s), _micro(frac), tzinfo=_zone(zone)
            )
        match = _CLF_RE.search(text)
        if match and match.group(2) in _MONTHS:
            d, mon, y, h, mi, s, zone = match.groups()
            return datetime(int(y), _MONTHS[mon], int(d), int(h), int(mi), int(s), tzinfo=_zone(zone))
        match = _SLASH_RE.search(text)
        if match:
            y, mo, d, h, mi, s = match.groups()
            return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
        match = _REDIS_RE.search(text)
        if match and match.group(2) in _MONTHS:
            d, mon, y, h, mi, s, frac = match.groups()
            return datetime(int(y), _MONTHS[mon], int(d), int(h), int(mi), int(s), _micro(frac), tzinfo=UTC)
        match = _EPOCH_RE.search(text)
        if match:
            value = float(match.group(1))
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    except (ValueError, OverflowError, OSError):
        # A digit pattern that is not a real date (month 13, day 40): treat as no time.
        return None
    return None


def time_of_line(log: LogLines, index: int) -> datetime | None:
    """Time of line `index`: its Docker timestamp, else a timestamp in its first 200 characters."""
    stamp = log.stamp(index)
    if stamp is not None:
        parsed = parse_time(stamp)
        if parsed is not None:
            return parsed
    return parse_time(log.messages[index][:200])


def time_near_line(log: LogLines, index: int, look_back: int = 30) -> datetime | None:
    """Time of line `index`, or of the closest earlier line that has one (stack frames have none)."""
    for i in range(index, max(-1, index - look_back - 1), -1):
        found = time_of_line(log, i)
        if found is not None:
            return found
    return None


class LineTimes:
    """Cached line times of one log; knows quickly when a log has no times at all."""

    def __init__(self, log: LogLines) -> None:
        self._log = log
        self._cache: dict[int, datetime | None] = {}
        count = len(log.messages)
        step = max(1, count // 200)
        # A log without Docker stamps and without times in a sample of its lines has none.
        self.has_times = log.stamps is not None or any(
            time_of_line(log, i) is not None for i in range(0, count, step)
        )

    def at(self, index: int) -> datetime | None:
        """Time of line `index` (see `time_of_line`)."""
        if not self.has_times:
            return None
        if index not in self._cache:
            self._cache[index] = time_of_line(self._log, index)
        return self._cache[index]

    def near(self, index: int, look_back: int = 30) -> datetime | None:
        """Time of line `index` or of the closest earlier line with one (see `time_near_line`)."""
        if not self.has_times:
            return None
        for i in range(index, max(-1, index - look_back - 1), -1):
            found = self.at(i)
            if found is not None:
                return found
        return None


def format_time(value: datetime | None) -> str:
    """Compact UTC text for a digest ("2026-11-25T09:00:01.250Z"), or "-"."""
    if value is None:
        return "-"
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text + "Z"
