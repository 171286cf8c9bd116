"""The typed result of parsing a monitoring tool's webhook: `ExternalAlert`s grouped in a `WebhookBatch`.

Both parsers (`alertmanager.parse_alertmanager`, `uptime_kuma.parse_uptime_kuma`) return a
`WebhookBatch`; everything downstream (signals, incidents, the audit log) reads only these models, never
the tools' raw payloads. Bad input raises `WebhookPayloadError` (a `ValueError`): one line saying what
was wrong and what is expected, never the body itself.

Shared helpers for the parsers live here too: the body size cap, bounded text, time parsing.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# A webhook body larger than this is refused before it is decoded. Alertmanager's request for 2 alerts is
# about 1.4 kB and Uptime Kuma's about 2.3 kB (its GET URL about 2.9 kB), so 1 MiB leaves room for a
# flood of a few hundred alerts in one Alertmanager group while a runaway sender cannot exhaust memory.
MAX_BODY_BYTES = 1024 * 1024
# Longest summary kept on an alert (annotations or Uptime Kuma's msg can be whole stack traces).
MAX_SUMMARY_CHARS = 500
# Longest label / hint value kept; longer ones are cut with a trailing "…".
MAX_LABEL_CHARS = 512

AlertSource = Literal["alertmanager", "uptime-kuma"]
AlertStatus = Literal["firing", "resolved"]
Severity = Literal["info", "warning", "critical"]


class WebhookPayloadError(ValueError):
    """A webhook request that cannot be read as the tool's payload. The message is one line, safe to
    return as a 4xx body and to write to the audit log: it names what was wrong and what is expected,
    and never echoes the body."""


class ExternalAlert(BaseModel):
    """One alert from an outside monitoring tool, in the same shape whatever tool sent it.

    - `key`: stable identity of the alert across requests (Alertmanager's `fingerprint`; Uptime Kuma's
      `monitor:<id>`, or `name:<monitor name>|<url>` when the request carries no monitor id). A firing and
      its later resolved request have the same key, and so do byte-identical repeats.
    - `status`: "firing" (something is wrong now) or "resolved" (it is fine again).
    - `target_hints`: what may tell which service this is about (`compose_service`, `container`,
      `instance`, `job`, a configured label, the monitor's URL host …). Only hints: mapping them to a
      Dokploy service is done later, by whoever consumes the alert.
    - `resend`: True when the tool itself says this is a re-notification of a state it already reported
      (Uptime Kuma's "resend if down" beats). Alertmanager repeats carry no such mark, so always False there.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: AlertSource
    key: str = Field(min_length=1)
    status: AlertStatus
    name: str
    summary: str = Field(max_length=MAX_SUMMARY_CHARS)
    severity: Severity
    labels: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    received_at: AwareDatetime
    target_hints: dict[str, str] = Field(default_factory=dict)
    resend: bool = False


class WebhookBatch(BaseModel):
    """Everything one webhook request said.

    - `alerts`: zero or more alerts. Zero is normal for Uptime Kuma's "Test" button, PENDING and
      MAINTENANCE beats; `notes` then says why.
    - `group_key`: Alertmanager's `groupKey` (alerts of one group arrive together; use it to group a flood
      into one incident). For Uptime Kuma the alert key, since each request is about one monitor.
    - `truncated_alerts`: how many alerts Alertmanager left out (`max_alerts`); 0 otherwise.
    - `raw_status`: the tool's own overall word: Alertmanager's top `status` ("firing"/"resolved", computed
      from the possibly truncated list!) or Uptime Kuma's "down"/"up"/"pending"/"maintenance"/"test".
    - `payload_digest`: sha256 of the exact bytes received (body, or query for GET). Alertmanager's repeats
      and retries are byte-identical, so equal digests mean "nothing new".
    - `notes`: plain sentences about anything the consumer should know (test message, truncation …).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: AlertSource
    alerts: tuple[ExternalAlert, ...] = ()
    group_key: str | None = None
    truncated_alerts: int = Field(default=0, ge=0)
    raw_status: str
    receiver: str | None = None
    is_test: bool = False
    payload_digest: str
    notes: tuple[str, ...] = ()


def check_body_size(body: bytes, what: str) -> None:
    """Refuse a body over `MAX_BODY_BYTES` before anything decodes it."""
    if len(body) > MAX_BODY_BYTES:
        raise WebhookPayloadError(
            f"{what} body is {len(body)} bytes, over the {MAX_BODY_BYTES}-byte limit; "
            "send fewer alerts per request (Alertmanager: max_alerts)"
        )


def decode_utf8(data: bytes, what: str, expected: str) -> str:
    """`data` as text; `expected` ends the error message (what the sender should send instead)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookPayloadError(f"{what} is not UTF-8 (bad byte at {exc.start}); {expected}") from None


def decode_json(data: bytes, what: str, expected: str) -> Any:
    """The JSON value in `data`; the error names the position, never the content."""
    try:
        return json.loads(decode_utf8(data, what, expected))
    except json.JSONDecodeError as exc:
        raise WebhookPayloadError(
            f"{what} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); {expected}"
        ) from None


def digest(data: bytes) -> str:
    """sha256 hex of the exact bytes received."""
    return hashlib.sha256(data).hexdigest()


def bounded(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with "…" marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def content_type_base(content_type: str) -> str:
    """The media type without parameters, lower case: "multipart/form-data; boundary=x" → "multipart/form-data"."""
    return content_type.split(";", 1)[0].strip().lower()


# RFC 3339 as Go writes it: fraction digits trimmed of trailing zeros (".01"), up to 9 digits, "Z" or ±hh:mm.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def parse_rfc3339(value: str, field: str) -> datetime | None:
    """A tz-aware datetime from an RFC 3339 string; Go's zero time (year 1, "0001-01-01T00:00:00Z",
    Alertmanager's endsAt of a firing alert) gives None."""
    if not _RFC3339.match(value):
        raise WebhookPayloadError(
            f"{field} is not an RFC 3339 time like 2026-12-03T06:37:04.01Z (got {bounded(value, 40)!r})"
        )
    fraction = re.search(r"\.(\d+)", value)
    if fraction and len(fraction.group(1)) > 6:  # Go may send nanoseconds; Python keeps microseconds
        value = value.replace(fraction.group(0), "." + fraction.group(1)[:6], 1)
    parsed = datetime.fromisoformat(value)
    return None if parsed.year == 1 else parsed


# Uptime Kuma's heartbeat time: "2026-12-03 06:44:06.339", UTC, no zone marker.
_KUMA_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$")


def parse_kuma_time(value: object, field: str) -> datetime | None:
    """A UTC datetime from Uptime Kuma's "YYYY-MM-DD HH:mm:ss.SSS" (UTC without a zone marker); None
    when absent or empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _KUMA_TIME.match(value):
        raise WebhookPayloadError(
            f"{field} is not a time like '2026-12-03 06:44:06.339' (got {bounded(str(value), 40)!r})"
        )
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)
