"""Argument types shared by the tools and prompts: bounds and patterns in the input schema.

The schema shows the model what a valid value looks like, and the SDK refuses anything else
before a tool runs, with an error that names the argument, says what is wrong and what to send
(a 10 KB id, a CR/LF in a host name, a shell line in a service name never reach Docker or
Dokploy). Use them with a description:

    app_name: Annotated[AppName, Field(description="Dokploy appName")]
    service: Annotated[ServiceName | None, Field(description="...")] = None
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError


def _problem(exc: ValidationError, value: Any) -> str:
    """What is wrong with the value, in words (pydantic's own text would quote the regex)."""
    kind = exc.errors()[0]["type"]
    if kind == "string_too_long":
        return f"is {len(value):,} characters long, too long"
    if kind == "string_too_short":
        return "is empty"
    if kind == "string_pattern_mismatch":
        return "has characters or a form this argument does not allow"
    return f"must be text, not {type(value).__name__}"


def send(hint: str) -> WrapValidator:
    """Replace pydantic's error for the constraints before it by one readable sentence: what is
    wrong, then `hint` (what to send instead). The schema keeps the constraints."""

    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            raise PydanticCustomError(
                "invalid_argument", "{problem}; {hint}", {"problem": _problem(exc, value), "hint": hint}
            ) from None

    return WrapValidator(check)


# Dokploy's own rule for appName (application.create: 1-63 of these characters); compose
# projects and swarm services not made by Dokploy can be longer, so the length is looser.
NAME_PATTERN = r"^[\w.-]+$"

AppName = Annotated[
    str,
    Field(max_length=128, pattern=NAME_PATTERN),
    send("send a Dokploy appName: 1-128 letters, digits, '.', '_' or '-', e.g. 'shop-a1b2c3'"),
]
"""A Dokploy appName = compose project / swarm service name."""

ServiceName = Annotated[
    str,
    Field(max_length=128, pattern=NAME_PATTERN),
    send("send a compose service name: 1-128 letters, digits, '.', '_' or '-', e.g. 'web'"),
]
"""A compose service name (Compose allows letters, digits, `.`, `_`, `-`)."""

ContainerName = Annotated[
    str,
    Field(max_length=255, pattern=r"^/?[\w.-]+$"),
    send("send a container name or id as Docker shows it, e.g. 'shop-web-1'"),
]
"""A container name or id as Docker prints it."""

DokployId = Annotated[
    str,
    Field(max_length=64, pattern=r"^[\w-]+$"),
    send("send the id exactly as Dokploy returned it: 1-64 letters, digits, '_' or '-'"),
]
"""A Dokploy id (deploymentId, composeId …)."""

HostName = Annotated[
    str,
    Field(max_length=253, pattern=r"^[\w.-]+$"),
    send("send a bare host name such as shop.example.com: no scheme, port, path, spaces or line breaks"),
]
"""A bare DNS name or IPv4 address (an international name as xn--…)."""

UrlPath = Annotated[
    str,
    Field(max_length=2048, pattern=r"^/\S*$"),
    send("send a path starting with '/', e.g. '/health' (percent-encode spaces and non-ASCII)"),
]
"""An HTTP path: printable ASCII after the leading `/`."""


def _port_in_range(value: str) -> str:
    if not 0 < int(value.rpartition(":")[2]) <= 65535:
        raise PydanticCustomError(
            "invalid_argument",
            "port {port} is not a TCP port; send address:port with a port from 1 to 65535",
            {"port": value.rpartition(":")[2]},
        )
    return value


ConnectTo = Annotated[
    str,
    Field(max_length=300, pattern=r"^[\w.:\[\]-]+:\d{1,5}$"),
    send("send address:port, e.g. '10.0.0.5:443'"),
    AfterValidator(_port_in_range),
]
"""`ip:port` or `host:port` to connect to instead of DNS."""

TimeText = Annotated[
    str,
    Field(max_length=40, pattern=r"^[\w:.+ -]+$"),
    send("send an age like '15m', '2h' or '7d', UNIX seconds, or an ISO time like '2026-01-31T12:00:00Z'"),
]
"""A point in time (read by docker_ops.timeutil.to_api_time, which bounds it)."""

SizeText = Annotated[str, Field(min_length=1, max_length=32), send("send a size like '512m' or '2g'")]
"""A size (read by docker_ops.actions.parse_size, which bounds it)."""

LabelFilter = Annotated[
    str,
    Field(max_length=256, pattern=r"^([^\s=][^\x00-\x1f]*)?$"),
    send("send one label on one line: its name, or name and value as in 'com.example.tier=cache'"),
]
"""A Docker label filter, `key` or `key=value`; empty for none."""

OneLine = Annotated[
    str,
    Field(min_length=1, max_length=1000, pattern=r"^[^\x00-\x1f]*$"),
    send("send one line of at most 1000 characters, without control characters"),
]
"""Free text on one line, e.g. a diagnostic command."""

OperationName = Annotated[
    str,
    Field(max_length=100, pattern=r"^\w+\.\w+$"),
    send("send a Dokploy operation as router.procedure, e.g. 'compose.one'"),
]
"""A Dokploy operation name."""

ShortText = Annotated[
    str,
    Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f]*$"),
    send("send at most 500 characters of plain text"),
]
"""A short description (prompt arguments); line breaks allowed."""
