"""Bytes on the wire as Ollama (Go, gin) writes them: compact JSON, RFC 3339 nano timestamps, error bodies.

Error texts are copied from Ollama's `server/routes.go` and `api/types.go`; JSON syntax errors are
rendered the way Go's `encoding/json` words them, because clients show them to people.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
# sched.go ErrMaxQueue: what Ollama answers (503) when its request queue is full
BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"
THINK_LEVELS = ("high", "medium", "low", "max")


class WireError(Exception):
    """A request Ollama answers with `{"error": message}` and `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def dumps(value: Any) -> str:
    """Go's `json.Marshal`: compact, UTF-8, with <, > and & escaped as \\u003c, \\u003e, \\u0026."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # these characters only occur inside JSON strings, so a plain replace is exact
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def json_response(body: Any, status: int = 200) -> Response:
    """gin's `c.JSON`: the body and `application/json; charset=utf-8`."""
    return Response(dumps(body), status_code=status, media_type=None, headers={"content-type": JSON_TYPE})


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def created_at(now_ns: int | None = None) -> str:
    """Go's `time.Time` in UTC as JSON: RFC 3339 with nanoseconds, trailing zeros dropped."""
    ns = time.time_ns() if now_ns is None else now_ns
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{frac:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


def _quote_char(char: str) -> str:
    """Go's `quoteChar` in encoding/json error messages."""
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return repr(char) if not char.isprintable() else f"'{char}'"


def go_json_error(text: str, *, decoder: bool) -> str | None:
    """Why Go's encoding/json rejects `text` (None when it parses).

    `decoder=True` words it like `json.NewDecoder(...).Decode` (request bodies: "unexpected EOF",
    trailing data ignored), `False` like `json.Unmarshal` (tool-call arguments).
    """
    try:
        if decoder:
            json.JSONDecoder().raw_decode(text.lstrip())
        else:
            json.loads(text)
        return None
    except json.JSONDecodeError as exc:
        doc, pos, msg = exc.doc, exc.pos, exc.msg
    if pos >= len(doc) or (msg.startswith("Unterminated string") and decoder):
        return "unexpected EOF" if decoder else "unexpected end of JSON input"
    if msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    char = _quote_char(doc[pos])
    if msg.startswith("Extra data"):
        return f"invalid character {char} after top-level value"
    if msg.startswith("Expecting property name"):
        return f"invalid character {char} looking for beginning of object key string"
    if msg.startswith("Expecting ':'"):
        return f"invalid character {char} after object key"
    if msg.startswith("Expecting ',' delimiter"):
        inside = "object key:value pair" if _innermost_open(doc, pos) == "{" else "array element"
        return f"invalid character {char} after {inside}"
    return f"invalid character {char} looking for beginning of value"


def _innermost_open(doc: str, pos: int) -> str:
    """The bracket ('{' or '[') that is open at `pos` (strings skipped)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in doc[:pos]:
        if in_string:
            escaped = not escaped and char == "\\"
            in_string = escaped or char != '"'
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else "{"


def _json_kind(value: Any) -> str:
    """The JSON type name Go uses in "cannot unmarshal X into ..."."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def parse_body(raw: bytes, go_type: str) -> dict[str, Any]:
    """The request's JSON object, or WireError(400) with gin's message ("missing request body"...)."""
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise WireError(400, "missing request body")
    problem = go_json_error(text, decoder=True)
    if problem is not None:
        raise WireError(400, problem)
    value, _ = json.JSONDecoder().raw_decode(text.lstrip())
    if value is None:
        return {}  # Go decodes `null` into a zero struct
    if not isinstance(value, dict):
        raise WireError(
            400, f"json: cannot unmarshal {_json_kind(value)} into Go value of type api.{go_type}"
        )
    return value


def expect_type(body: dict[str, Any], key: str, kinds: tuple[str, ...], where: str, go_type: str) -> None:
    """WireError(400) worded like Go when `body[key]` has the wrong JSON type (null is always fine)."""
    if key in body and body[key] is not None and _json_kind(body[key]) not in kinds:
        raise WireError(
            400,
            f"json: cannot unmarshal {_json_kind(body[key])} into Go struct field {where}.{key} of type {go_type}",
        )


def parse_think(value: Any) -> bool | str | None:
    """`think` as Ollama's ThinkValue accepts it: a bool or "high" | "medium" | "low" | "max"."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value not in THINK_LEVELS:
            raise WireError(
                400,
                f'invalid think value: "{value}" (must be "high", "medium", "low", "max", true, or false)',
            )
        return value
    raise WireError(400, 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)')


@dataclass
class ChatRequest:
    """The parts of a `POST /api/chat` body the stand-in acts on."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = True
    tools: list[dict[str, Any]] = field(default_factory=list)
    think: bool | str | None = None
    format: Any = None  # "json", a JSON schema (dict), or anything else the client sent
    options: dict[str, Any] = field(default_factory=dict)
    keep_alive: Any = None

    @property
    def num_ctx(self) -> int | None:
        value = self.options.get("num_ctx")
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    def format_problem(self) -> WireError | None:
        """Ollama's answer to a `format` that is neither "json" nor a schema object (found when generating)."""
        if self.format is None or self.format == "json" or isinstance(self.format, dict):
            return None
        quoted = json.dumps(dumps(self.format))  # Go's %q of the raw JSON
        return WireError(500, f'invalid format: {quoted}; expected "json" or a valid JSON Schema object')

    @property
    def tool_names(self) -> list[str]:
        return [str((tool.get("function") or {}).get("name", "")) for tool in self.tools]


def parse_chat(body: dict[str, Any]) -> ChatRequest:
    """Check the body like Go's decoder would (types, `think`), then give the request's parts."""
    expect_type(body, "model", ("string",), "ChatRequest", "string")
    expect_type(body, "messages", ("array",), "ChatRequest", "[]api.Message")
    expect_type(body, "stream", ("bool",), "ChatRequest", "bool")
    expect_type(body, "tools", ("array",), "ChatRequest", "api.Tools")
    expect_type(body, "options", ("object",), "ChatRequest", "map[string]interface {}")
    messages = body.get("messages") or []
    for message in messages:
        if not isinstance(message, dict):
            raise WireError(
                400,
                f"json: cannot unmarshal {_json_kind(message)} into Go struct field ChatRequest.messages of type api.Message",
            )
        for key in ("role", "content", "thinking", "tool_name"):
            expect_type(message, key, ("string",), "Message.messages", "string")
    fmt = body.get("format")
    return ChatRequest(
        model=str(body.get("model") or ""),
        messages=[dict(m) for m in messages],
        stream=body.get("stream") is not False,
        tools=[t for t in body.get("tools") or [] if isinstance(t, dict)],
        think=parse_think(body.get("think")),
        format=None if fmt in (None, "") else fmt,
        options=dict(body.get("options") or {}),
        keep_alive=body.get("keep_alive"),
    )
