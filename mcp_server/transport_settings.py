"""Setting types for the HTTP transports' Host and Origin allow-lists.

In the environment a list is one string, comma- or space-separated
(`INFRAGUARDIAN_MCP_ALLOWED_HOSTS=mcp.example.com,10.0.0.5:8765`); in the YAML file it is a list.
Each entry is checked here so a mistake (a URL where a host name belongs) stops start-up with one
line instead of silently refusing every request with 421.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode

_HOST = r"(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::(?:\d{1,5}|\*))?"
_HOST_RE = re.compile(rf"^{_HOST}$")
_ORIGIN_RE = re.compile(rf"^https?://{_HOST}$")
_SEPARATORS = re.compile(r"[,\s]+")


def _split(value: Any) -> Any:
    """Split 'a,b c' into ['a', 'b', 'c']; a list has each item split the same way (CLI values)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        return value
    return [part for item in items for part in _SEPARATORS.split(str(item)) if part]


def _is_bare_ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _host_names(values: list[str]) -> list[str]:
    names = []
    for raw in values:
        name = raw.lower()
        if _is_bare_ipv6(name):  # the Host header carries it in brackets
            name = f"[{ipaddress.IPv6Address(name)}]"
        if not _HOST_RE.match(name):
            raise ValueError(
                f"{raw!r:.80} is not a host name; give a name or address with an optional :port, "
                "e.g. mcp.example.com or 10.0.0.5:8765 (no scheme, no path)"
            )
        names.append(name)
    return names


def _origins(values: list[str]) -> list[str]:
    origins = []
    for raw in values:
        origin = raw.lower().rstrip("/")
        if not _ORIGIN_RE.match(origin):
            raise ValueError(
                f"{raw!r:.80} is not an origin; give scheme://host[:port], e.g. https://app.example.com"
            )
        origins.append(origin)
    return origins


HostNames = Annotated[list[str], NoDecode, BeforeValidator(_split), AfterValidator(_host_names)]
Origins = Annotated[list[str], NoDecode, BeforeValidator(_split), AfterValidator(_origins)]
