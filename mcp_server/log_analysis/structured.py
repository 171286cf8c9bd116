"""Structured log lines: JSON objects (pino, zap, structlog, logstash, Serilog, Traefik) and logfmt.

`parse_structured(line)` returns a `StructuredRecord` with the level, the human message, the
time text, an embedded stack trace (as text with newlines) and, for access logs, the HTTP
request and status. Unknown shapes give None, and the line is then treated as plain text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .patterns import Severity, path_template, severity_of_level_name

_LEVEL_KEYS = ("level", "lvl", "severity", "levelname", "log.level", "@l", "loglevel", "Level")
_MESSAGE_KEYS = ("msg", "message", "@m", "@mt", "event", "Message", "log", "text")
_TIME_KEYS = ("time", "ts", "timestamp", "@timestamp", "@t", "t", "datetime", "asctime", "StartUTC")
_ERROR_KEYS = ("error", "err", "exception", "exc_info", "@x", "error.message", "stack_trace", "stacktrace")
_STACK_KEYS = ("stack", "stack_trace", "stacktrace", "exc_info", "exception", "@x", "error.stack", "trace")

_LOGFMT_RE = re.compile(r"(\w[\w.]*)=(\"(?:[^\"\\]|\\.)*\"|\S*)")


@dataclass
class StructuredRecord:
    """What a structured line says, in plain fields."""

    has_level: bool
    severity: Severity | None
    message: str
    time: str | float | None = None
    stack: str | None = None
    http: tuple[str, str, int] | None = None


def _get(record: dict[str, Any], key: str) -> Any:
    """`record[key]`, also following a dotted key into nested objects ("log.level")."""
    if key in record:
        return record[key]
    if "." in key:
        node: Any = record
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node
    return None


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = _get(record, key)
        if value not in (None, ""):
            return value
    return None


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = _first(value, ("message", "msg", "error", "type"))
        if inner is not None:
            kind = value.get("type") or value.get("name")
            return f"{kind}: {inner}" if isinstance(kind, str) and kind != inner else _text_of(inner)
    if isinstance(value, list):
        return " ".join(_text_of(item) for item in value[:5])
    return json.dumps(value, default=str)[:500]


def _stack_of(record: dict[str, Any]) -> str | None:
    for key in _STACK_KEYS:
        value = _get(record, key)
        if isinstance(value, str) and "\n" in value:
            return value
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            joined = "".join(value) if value[0].endswith("\n") else "\n".join(value)
            if "\n" in joined.strip():
                return joined
    for key in ("err", "error", "exception"):
        nested = record.get(key)
        if isinstance(nested, dict):
            stack = nested.get("stack") or nested.get("stacktrace") or nested.get("stack_trace")
            if isinstance(stack, str) and "\n" in stack:
                return stack
    return None


def _http_of(record: dict[str, Any]) -> tuple[str, str, int] | None:
    # Traefik JSON access log; also common "status"/"method"/"path" shapes.
    status = _first(record, ("DownstreamStatus", "OriginStatus", "status", "status_code", "http.status_code"))
    method = _first(record, ("RequestMethod", "method", "http.method", "request.method"))
    path = _first(record, ("RequestPath", "path", "uri", "url", "http.path", "request.uri"))
    if isinstance(status, int | str) and str(status).isdigit() and isinstance(method, str) and path:
        code = int(status)
        if 100 <= code <= 599:
            return method, path_template(str(path)), code
    return None


def parse_json_line(line: str) -> StructuredRecord | None:
    """A JSON log object, or None if `line` is not one."""
    stripped = line.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        record = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    has_level, severity = severity_of_level_name(_first(record, _LEVEL_KEYS))
    message_value = _first(record, _MESSAGE_KEYS)
    message = _text_of(message_value) if message_value is not None else ""
    error_value = _first(record, _ERROR_KEYS)
    if error_value is not None:
        error_text = _text_of(error_value).split("\n", 1)[0]
        if error_text and error_text not in message:
            message = f"{message}: {error_text}" if message else error_text
    if not message:
        message = stripped[:500]
    time_value = _first(record, _TIME_KEYS)
    time = (
        time_value if isinstance(time_value, str | int | float) and not isinstance(time_value, bool) else None
    )
    return StructuredRecord(
        has_level=has_level,
        severity=severity,
        message=message.replace("\n", " ").strip(),
        time=time,
        stack=_stack_of(record),
        http=_http_of(record),
    )


def parse_logfmt_line(line: str) -> StructuredRecord | None:
    """A logfmt line with a level (`time=... level=error msg="..." err="..."`), or None."""
    if "level=" not in line and "lvl=" not in line:
        return None
    fields = {key: value.strip('"') for key, value in _LOGFMT_RE.findall(line)}
    level = fields.get("level") or fields.get("lvl")
    if level is None or not ({"msg", "message"} & fields.keys()):
        return None
    has_level, severity = severity_of_level_name(level)
    message = fields.get("msg") or fields.get("message") or ""
    error = fields.get("error") or fields.get("err")
    if error and error not in message:
        message = f"{message}: {error}" if message else error
    return StructuredRecord(
        has_level=has_level,
        severity=severity,
        message=message.replace("\\n", " ").replace('\\"', '"'),
        time=fields.get("time") or fields.get("ts"),
    )


def parse_structured(line: str) -> StructuredRecord | None:
    """JSON or logfmt record for `line`, or None for plain text."""
    if line[:1] == "{" or line.lstrip()[:1] == "{":
        return parse_json_line(line)
    if "=" in line:
        return parse_logfmt_line(line)
    return None
