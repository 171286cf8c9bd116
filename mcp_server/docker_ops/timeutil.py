"""Time values as the Docker Engine writes and reads them.

The engine writes RFC 3339 times with nanoseconds (`2026-11-25T09:09:24.747604297Z`) and uses
`0001-01-01T00:00:00Z` for "never". It reads `since`/`until` as UNIX seconds with an optional
nanosecond fraction (`"1732528164.747604297"`). The docker SDK rounds datetimes to whole seconds,
which would replay or skip events at a reconnect, so we build these strings ourselves.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:\d{2})$"
)
_DURATION = re.compile(r"^(?P<num>\d+(?:\.\d+)?)(?P<unit>s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_AGE = timedelta(days=366)
"""Longer look-backs are refused: no log or event window needs more, and bigger numbers overflow."""
_MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last time a datetime can hold
_AGE_EXAMPLE = "send an age like '30s', '15m', '2h' or '7d'"

TimeInput = datetime | int | float | str
"""A point in time given by a caller: a datetime, UNIX seconds, an ISO time, or an age like `15m`."""


def parse_docker_time(value: str | None) -> datetime | None:
    """Parse an engine timestamp into an aware UTC datetime; `None` for empty or "never" (year 1)."""
    if not value or value.startswith("0001-01-01"):
        return None
    match = _RFC3339.match(value.strip())
    if match is None:
        return None
    frac = (match.group("frac") or "")[:6].ljust(6, "0")
    tz = match.group("tz").replace("Z", "+00:00")
    return datetime.fromisoformat(f"{match.group('base')}.{frac}{tz}").astimezone(UTC)


def docker_time_to_ns(value: str) -> int | None:
    """Nanoseconds since the epoch for an engine timestamp, keeping all nine fraction digits."""
    match = _RFC3339.match(value.strip())
    if match is None or value.startswith("0001-01-01"):
        return None
    whole = datetime.fromisoformat(match.group("base") + match.group("tz").replace("Z", "+00:00"))
    frac = (match.group("frac") or "")[:9].ljust(9, "0")
    return int(whole.timestamp()) * 1_000_000_000 + int(frac)


def ns_to_datetime(ns: int) -> datetime:
    """Aware UTC datetime (microsecond precision) for nanoseconds since the epoch."""
    # timedelta arithmetic is exact; float seconds would lose microseconds for current dates
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1_000)


def ns_to_api(ns: int) -> str:
    """Nanoseconds since the epoch as the engine's `since`/`until` string (`seconds.nanoseconds`)."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def parse_age(text: str, what: str = "since") -> timedelta | None:
    """An age like `30s`, `15m`, `2h`, `7d` (decimals allowed) as a timedelta; None when `text` is
    not written as an age at all. Raises ValueError, naming `what`, for an age over 366 days."""
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    unit = match.group("unit")
    number = match.group("num")
    # Compare before converting: 99999999999999h overflows timedelta (and float('1e400') is inf).
    limit = MAX_AGE.total_seconds() / _UNIT_SECONDS[unit]
    if len(number) > 12 or float(number) > limit:
        raise ValueError(
            f"{what} {text.strip()[:40]!r} is more than {MAX_AGE.days} days back; {_AGE_EXAMPLE} "
            f"(at most {MAX_AGE.days}d)"
        )
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit])


def to_api_time(value: TimeInput, *, now: datetime | None = None, what: str = "time") -> str:
    """Turn a caller's time (datetime, UNIX seconds, ISO string, or age like `15m`/`2h`/`1d`) into
    the engine's `since`/`until` string. Raises ValueError, naming `what`, with an example when it
    can't (unreadable, before 1970, or an age over 366 days)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        if aware < datetime(1970, 1, 1, tzinfo=UTC):
            raise ValueError(f"{what} {aware.isoformat()} is before 1970; {_AGE_EXAMPLE} or a later ISO time")
        micros = (aware - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        return ns_to_api(micros * 1_000)
    if isinstance(value, int | float):
        if not 0 <= value <= _MAX_UNIX_SECONDS:  # also refuses nan and inf
            raise ValueError(
                f"{what} {value} is not a UNIX time between 1970 and 9999; {_AGE_EXAMPLE}, UNIX seconds, "
                "or an ISO time like '2026-01-31T12:00:00Z'"
            )
        return ns_to_api(round(value * 1_000_000) * 1_000)
    text = value.strip()
    age = parse_age(text, what)
    if age is not None:
        return to_api_time((now or datetime.now(UTC)) - age, what=what)
    if re.fullmatch(r"\d{1,20}(\.\d{1,9})?", text):
        return to_api_time(float(text), what=what)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"can't read {what} {text[:40]!r}: use an age like '15m', '2h', '1d', UNIX seconds, "
            "or an ISO time like '2026-01-31T12:00:00Z'"
        ) from None
    return to_api_time(parsed, what=what)
