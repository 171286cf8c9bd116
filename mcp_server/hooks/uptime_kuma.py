"""Parse Uptime Kuma's "Webhook" notification, in every form it sends, into a `WebhookBatch`.

`parse_uptime_kuma(method, query, body, content_type)` takes the request as received. One request is
about one monitor, so the batch holds at most one `ExternalAlert`: DOWN (heartbeat status 0) → firing,
UP (1) → resolved, keyed `monitor:<id>` (or `name:<name>|<url>` when the request has no monitor id).

What the recordings of Uptime Kuma 2.5.3 (`shared/monitors/uptime-kuma/`) taught, and how it is handled:
- Four body forms for the same `{"heartbeat", "monitor", "msg"}` object:
  - JSON preset: `application/json`, compact, raw UTF-8 (emoji unescaped), no trailing newline;
  - form-data preset: lowercase `content-type: multipart/form-data`, chunked (no Content-Length), one part
    `name="data"` whose value is the same JSON text;
  - custom body: the owner's Liquid template rendered as text and sent as
    `application/x-www-form-urlencoded` even though it is usually JSON. Read as JSON; the standard keys,
    or the keys of the template in `config/notifications.json` (`heartbeatStatus`, `name`,
    `hostnameOrURL`, `Body`, `heartbeatTime`, `monitorType`, optionally `monitorID`), are understood.
    A truly urlencoded custom body with `msg`/`heartbeat`/`monitor` fields is read like GET;
  - GET: no body; query `msg`, `heartbeat`, `monitor` (the last two JSON strings, left out when null);
    spaces as `+`, a real `+` as `%2B`. Unknown parameters (e.g. `token`) are ignored.
- The Test button sends `msg = "<notification name> Testing"` with heartbeat and monitor null (the custom
  template renders `heartbeatStatus: null`): a batch with no alert, `is_test=True`, not an error.
- heartbeat `status` 0 DOWN, 1 UP, 2 PENDING, 3 MAINTENANCE. Only DOWN/UP were recorded; Uptime Kuma
  notifies PENDING or MAINTENANCE only on a monitor's first beat, and PENDING turns into DOWN once its
  retries are used up, so both give no alert, only a note.
- Resend ("resend if down every N beats"): the same DOWN again with `important: false` → `resend=True`.
- A timeout is a plain DOWN whose msg is "timeout of 2000ms exceeded" (2.5.3 has no "slow" notification);
  the label `kuma_reason` says timeout / connection_refused / keyword / http_status / other.
- heartbeat `time` is UTC "YYYY-MM-DD HH:mm:ss.SSS" without a zone; `ping` is absent (not null) on some
  DOWNs; `lastDownTime` exists only on UP (it becomes `started_at`).
- A port monitor's `url` is the UI placeholder "https://": its `hostname` and `port` are used instead.
- Notifications are sent one after another, each waiting for the previous answer, and never retried:
  the HTTP route must answer fast and cannot count on a second chance.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from python_multipart import parse_form
from python_multipart.exceptions import FormParserError

from mcp_server.hooks.models import (
    MAX_BODY_BYTES,
    MAX_LABEL_CHARS,
    MAX_SUMMARY_CHARS,
    ExternalAlert,
    WebhookBatch,
    WebhookPayloadError,
    bounded,
    check_body_size,
    content_type_base,
    decode_json,
    decode_utf8,
    digest,
    now_utc,
    parse_kuma_time,
)

_STATUS_WORDS = {0: "down", 1: "up", 2: "pending", 3: "maintenance"}
_EXPECTED = "Uptime Kuma's webhook sends JSON {heartbeat, monitor, msg}, form-data field 'data', a custom body, or GET ?msg=&heartbeat=&monitor="
# Why a monitor went DOWN, from the heartbeat msg texts Uptime Kuma writes (English, server side).
_REASONS = (
    ("timeout", re.compile(r"timeout of \d+ms exceeded|timed? ?out", re.I)),
    ("connection_refused", re.compile(r"ECONNREFUSED|Connection failed|ECONNRESET|EHOSTUNREACH", re.I)),
    ("keyword", re.compile(r"keyword is not in|keyword .* found", re.I)),
    ("http_status", re.compile(r"^\d{3} - |status code \d{3}", re.I)),
)


def parse_uptime_kuma(
    method: str,
    query: str,
    body: bytes,
    content_type: str,
    *,
    received_at: datetime | None = None,
) -> WebhookBatch:
    """The alert (if any) of one Uptime Kuma webhook request; `query` is the raw query string (with or
    without the leading "?"). Raises `WebhookPayloadError` when the request is none of the forms above."""
    received = received_at or now_utc()
    verb = method.upper()
    query = query.removeprefix("?")
    if verb == "GET":
        if len(query) > MAX_BODY_BYTES:
            raise WebhookPayloadError(f"query string is over {MAX_BODY_BYTES} bytes; {_EXPECTED}")
        fields = _form_fields(query, "GET query")
        if "msg" not in fields:
            raise WebhookPayloadError(f"GET request has no msg parameter; {_EXPECTED}")
        return _standard(fields, received, digest(query.encode()))
    if verb != "POST":
        raise WebhookPayloadError(
            f"method {bounded(verb, 10)} is not used by Uptime Kuma; it sends POST or GET"
        )
    check_body_size(body, "Uptime Kuma")
    base = content_type_base(content_type)
    if base == "multipart/form-data":
        data = _multipart_data_field(body, content_type)
        return _standard(_json_object(data, "form-data field 'data'"), received, digest(body))
    if base in ("application/json", "") or base.endswith("+json"):
        return _standard(_json_object(body, "body"), received, digest(body))
    if base == "application/x-www-form-urlencoded" or base.startswith("text/"):
        return _custom(body, received)
    raise WebhookPayloadError(f"Content-Type {bounded(base, 60)!r} is not one Uptime Kuma sends; {_EXPECTED}")


def _custom(body: bytes, received: datetime) -> WebhookBatch:
    """The custom body: the rendered template, usually JSON despite its urlencoded Content-Type."""
    text = decode_utf8(body, "custom body", _EXPECTED)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        fields = _form_fields(text, "custom body")
        if "msg" in fields or "heartbeat" in fields:
            return _standard(fields, received, digest(body))
        raise WebhookPayloadError(
            "custom body is neither JSON nor form fields msg/heartbeat/monitor; use the JSON body preset "
            "or a custom template that renders JSON"
        ) from None
    if not isinstance(payload, dict):
        raise WebhookPayloadError(
            f"custom body is a JSON {type(payload).__name__}; a JSON object is expected"
        )
    if {"heartbeat", "monitor", "msg"} & payload.keys():
        return _standard(payload, received, digest(body))
    if "heartbeatStatus" in payload:
        return _templated(payload, received, digest(body))
    raise WebhookPayloadError(
        "custom body JSON has neither heartbeat/monitor/msg nor heartbeatStatus/name/hostnameOrURL; "
        "render those keys (see the Uptime Kuma setup in the docs) or use the JSON body preset"
    )


def _standard(payload: dict[str, Any], received: datetime, payload_digest: str) -> WebhookBatch:
    """The {heartbeat, monitor, msg} object (GET gives heartbeat and monitor as JSON strings)."""
    msg = payload.get("msg")
    if not isinstance(msg, str):
        raise WebhookPayloadError(f"msg is missing or not a string; {_EXPECTED}")
    heartbeat = _object_or_none(payload.get("heartbeat"), "heartbeat")
    monitor = _object_or_none(payload.get("monitor"), "monitor")
    if heartbeat is None:
        return _no_heartbeat(msg, monitor, payload_digest)
    status = _status(heartbeat.get("status"), "heartbeat.status")
    monitor = monitor or {}
    monitor_id = monitor.get("id", heartbeat.get("monitorID"))
    name = _text(monitor.get("name"), "monitor.name") or _name_from_msg(msg) or "unnamed monitor"
    url, hints = _monitor_location(monitor)
    labels = _tag_labels(monitor.get("tags"), hints)
    monitor_type = _text(monitor.get("type"), "monitor.type")
    if monitor_type:
        labels["monitor_type"] = monitor_type
    heartbeat_msg = _text(heartbeat.get("msg"), "heartbeat.msg")
    return _batch_for_status(
        status=status,
        key=_key(monitor_id, name, url),
        name=name,
        summary=msg,
        reason_text=heartbeat_msg,
        url=url,
        labels=labels,
        hints={"monitor_name": name, **hints},
        time=parse_kuma_time(heartbeat.get("time"), "heartbeat.time"),
        last_down=parse_kuma_time(heartbeat.get("lastDownTime"), "heartbeat.lastDownTime"),
        resend=heartbeat.get("important") is False,
        received=received,
        payload_digest=payload_digest,
    )


def _templated(payload: dict[str, Any], received: datetime, payload_digest: str) -> WebhookBatch:
    """The recorded custom template's keys: heartbeatStatus, name, hostnameOrURL, Body, heartbeatTime,
    monitorType, and monitorID if the owner added it (it gives the same key as the JSON preset)."""
    msg = _text(payload.get("Body", payload.get("msg")), "Body")
    status = payload.get("heartbeatStatus")
    if status is None:
        return _no_heartbeat(msg, None, payload_digest)
    status = _status(status, "heartbeatStatus")
    name = _text(payload.get("name"), "name") or _name_from_msg(msg) or "unnamed monitor"
    url = _text(payload.get("hostnameOrURL"), "hostnameOrURL") or None
    hints = {"monitor_name": name, **_url_hints(url)}
    labels = {"monitor_type": t} if (t := _text(payload.get("monitorType"), "monitorType")) else {}
    return _batch_for_status(
        status=status,
        key=_key(payload.get("monitorID"), name, url),
        name=name,
        summary=msg,
        reason_text=msg,
        url=url,
        labels=labels,
        hints=hints,
        time=parse_kuma_time(payload.get("heartbeatTime"), "heartbeatTime"),
        last_down=None,
        resend=False,  # the template does not carry `important`
        received=received,
        payload_digest=payload_digest,
    )


def _batch_for_status(
    *,
    status: int,
    key: str,
    name: str,
    summary: str,
    reason_text: str,
    url: str | None,
    labels: dict[str, str],
    hints: dict[str, str],
    time: datetime | None,
    last_down: datetime | None,
    resend: bool,
    received: datetime,
    payload_digest: str,
) -> WebhookBatch:
    word = _STATUS_WORDS[status]
    if status in (2, 3):
        note = (
            f"monitor {name!r} is PENDING (Uptime Kuma is retrying; it sends DOWN when retries run out)"
            if status == 2
            else f"monitor {name!r} is in MAINTENANCE (its owner paused alerting on purpose)"
        )
        return WebhookBatch(
            source="uptime-kuma",
            group_key=key,
            raw_status=word,
            payload_digest=payload_digest,
            notes=(note + "; nothing raised",),
        )
    down = status == 0
    if down:
        labels["kuma_reason"] = next((r for r, pattern in _REASONS if pattern.search(reason_text)), "other")
    alert = ExternalAlert(
        source="uptime-kuma",
        key=key,
        status="firing" if down else "resolved",
        name=bounded(name, MAX_LABEL_CHARS),
        summary=bounded(summary, MAX_SUMMARY_CHARS),
        severity="critical" if down else "info",
        labels=labels,
        url=url,
        started_at=time if down else last_down,
        ended_at=None if down else time,
        received_at=received,
        target_hints={k: bounded(v, MAX_LABEL_CHARS) for k, v in hints.items() if v},
        resend=resend and down,
    )
    notes = ("a resend: Uptime Kuma reports the same DOWN again",) if alert.resend else ()
    return WebhookBatch(
        source="uptime-kuma",
        alerts=(alert,),
        group_key=key,
        raw_status=word,
        payload_digest=payload_digest,
        notes=notes,
    )


def _no_heartbeat(msg: str, monitor: dict[str, Any] | None, payload_digest: str) -> WebhookBatch:
    """A message without a heartbeat: the Test button ("<notification> Testing"), or a notice about a
    monitor that is not a state change. Not an error; nothing to raise."""
    is_test = msg.rstrip().endswith("Testing")
    about = f" about monitor {monitor.get('name')!r}" if monitor else ""
    note = (
        "Uptime Kuma test notification (heartbeat null); nothing to raise"
        if is_test
        else f"Uptime Kuma message{about} without a heartbeat: {bounded(msg, 200)!r}; nothing to raise"
    )
    return WebhookBatch(
        source="uptime-kuma",
        raw_status="test" if is_test else "message",
        is_test=is_test,
        payload_digest=payload_digest,
        notes=(note,),
    )


def _monitor_location(monitor: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    """The monitor's URL and hints: its http(s) URL when it has a host, else hostname[:port] (port
    monitors keep the UI placeholder "https://" as url), plus a docker monitor's container."""
    url: str | None = _text(monitor.get("url"), "monitor.url")
    hints = _url_hints(url)
    if not hints.get("host"):
        url = None
        hostname = _text(monitor.get("hostname"), "monitor.hostname")
        port = monitor.get("port")
        if hostname:
            port_text = str(port) if isinstance(port, int) and not isinstance(port, bool) else ""
            url = f"{hostname}:{port_text}" if port_text else hostname
            hints = {"host": hostname, **({"port": port_text} if port_text else {})}
    container = _text(monitor.get("docker_container"), "monitor.docker_container")
    if container:
        hints["container"] = container
    return url, ({"url": url, **hints} if url else hints)


def _url_hints(url: str | None) -> dict[str, str]:
    """host and port of an http(s) URL or of "host:port"; {} for the placeholder "https://"."""
    if not url:
        return {}
    try:
        parts = urlsplit(url if "://" in url else f"//{url}")
        host, port = parts.hostname, parts.port
    except ValueError:  # a malformed port ("host:abc"): keep the URL, give no host hint
        return {"url": url}
    if not host:
        return {}
    return {"url": url, "host": host, **({"port": str(port)} if port else {})}


def _tag_labels(tags: object, hints: dict[str, str]) -> dict[str, str]:
    """Uptime Kuma tags [{name, value, ...}] as labels; a tag named compose_service / container / service
    is also a target hint (owners can tag monitors with the service they watch)."""
    labels: dict[str, str] = {}
    if not isinstance(tags, list):
        return labels
    for tag in tags:
        if isinstance(tag, dict) and isinstance(tag.get("name"), str) and tag["name"]:
            value = tag.get("value")
            labels[bounded(tag["name"], 100)] = bounded(
                value if isinstance(value, str) else "", MAX_LABEL_CHARS
            )
    for hint in ("compose_service", "container", "service"):
        if labels.get(hint):
            hints[hint] = labels[hint]
    return labels


def _status(value: object, what: str) -> int:
    """A heartbeat status: exactly the integer 0, 1, 2 or 3 (not "0", not true, not 0.0)."""
    if type(value) is not int or value not in _STATUS_WORDS:
        raise WebhookPayloadError(
            f"{what} is {bounded(repr(value), 20)}; expected 0 (down), 1 (up), 2 (pending) or 3 (maintenance)"
        )
    return value


def _key(monitor_id: object, name: str, url: str | None) -> str:
    if isinstance(monitor_id, int) and not isinstance(monitor_id, bool):
        return f"monitor:{monitor_id}"
    return f"name:{name}|{url or ''}"


def _name_from_msg(msg: str) -> str:
    """ "[kuma-http] [🔴 Down] ..." → "kuma-http"."""
    found = re.match(r"^\[([^\]]+)\] \[", msg)
    return found.group(1) if found else ""


def _multipart_data_field(body: bytes, content_type: str) -> bytes:
    fields: dict[bytes, bytes] = {}

    def on_field(field: Any) -> None:
        if field.field_name is not None:
            fields[field.field_name] = field.value or b""

    try:
        parse_form(
            {"Content-Type": content_type.encode("latin-1")}, io.BytesIO(body), on_field, lambda _file: None
        )
    except (FormParserError, UnicodeEncodeError) as exc:
        raise WebhookPayloadError(
            f"form-data body cannot be parsed ({bounded(str(exc), 80)}); {_EXPECTED}"
        ) from None
    if b"data" not in fields:
        raise WebhookPayloadError(f"form-data body has no field 'data'; {_EXPECTED}")
    return fields[b"data"]


def _form_fields(text: str, what: str) -> dict[str, Any]:
    """msg / heartbeat / monitor from a query or urlencoded text; heartbeat and monitor are JSON strings."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=100)
    except ValueError:  # more than 100 fields: no Uptime Kuma request has more than 4
        raise WebhookPayloadError(f"{what} has over 100 parameters; {_EXPECTED}") from None
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name not in ("msg", "heartbeat", "monitor"):
            continue  # e.g. token=..., which hooks.auth reads
        if name in fields:
            raise WebhookPayloadError(
                f"{what} has parameter {name!r} more than once; Uptime Kuma sends it once"
            )
        fields[name] = (
            value if name == "msg" else decode_json(value.encode(), f"{what} parameter {name!r}", _EXPECTED)
        )
    return fields


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    payload = decode_json(data, what, _EXPECTED)
    if not isinstance(payload, dict):
        raise WebhookPayloadError(f"{what} is a JSON {type(payload).__name__}, not an object; {_EXPECTED}")
    return payload


def _object_or_none(value: object, what: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise WebhookPayloadError(f"{what} is a {type(value).__name__}; expected an object or null")


def _text(value: object, what: str) -> str:
    """A string field that may be null or absent ("" then); anything else is refused."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WebhookPayloadError(f"{what} is a {type(value).__name__}; expected a string or null")
    return value
