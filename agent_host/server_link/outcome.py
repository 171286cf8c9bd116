"""What a tool call through the link came to (`ToolOutcome`), and the link's errors.

How the server says things (read from mcp_server/, matched exactly, not guessed):
- A refusal by the safety policy is an error result whose text is
  `Error executing tool <name>: refused by policy: <reason>` (server/context.py `guarded`). The
  server may fence an error that echoes something hostile as `<untrusted-data nonce="…">…`; the
  prefix is then right after the opening marker.
- A change that needs a human and could not be asked is such a refusal whose reason says
  `needs a human's confirmation and this connection cannot ask one` (safety/gate.py).
- A repeated idempotency key answered from the server's record carries `_meta`
  `io.infraguardian/replayed: true` (server/idempotent_calls.py). When the first call's end is
  unknown (the server stopped during it), the replay says `outcome unknown: …`.
"""

from __future__ import annotations

import re
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

IDEMPOTENCY_KEY_META = "io.infraguardian/idempotency-key"
REPLAYED_META = "io.infraguardian/replayed"
NEEDS_CONFIRMATION_TEXT = "needs a human's confirmation and this connection cannot ask one"

_FENCE_OPEN = r'(?:<untrusted-data nonce="[^"]*">(?:\[suspicious[^\]]*\] )?)?'
_REFUSED = re.compile(
    _FENCE_OPEN + r"Error executing tool [A-Za-z0-9_.-]+: refused by policy: (?P<reason>.*)", re.S
)
_UNKNOWN_REPLAY = re.compile(
    _FENCE_OPEN + r"(?:replayed, not run again \(first call with this idempotency key at [^)]*\): )?"
    r"(?:Error executing tool [A-Za-z0-9_.-]+: )?outcome unknown: ",
    re.S,
)


class LinkError(Exception):
    """Something between the agent host and the MCP server went wrong (one line, no secrets)."""


class ServerUnavailable(LinkError):
    """No connection to the MCP server within the wait: nothing was sent, so nothing changed.
    Safe to try again later."""


class ServerAuthError(ServerUnavailable):
    """The server refused the bearer token (HTTP 401): a configuration error, not a passing one."""


class ServerRequestError(LinkError):
    """The server answered a request (not a tool call) with an error, e.g. an unknown resource."""


class ToolOutcome(BaseModel):
    """One tool call as the caller sees it.

    - ok: the server ran the tool and it succeeded.
    - refused: the server's safety policy refused it (nothing was done); `error` has the reason,
      `needs_confirmation` says a human must approve it.
    - replayed: the server answered a repeated idempotency key from its record (nothing ran again).
    - outcome_unknown: the call was sent but its answer was lost (the connection died or it timed
      out while the server was acting). The link never repeats such a call by itself: check the
      target, then decide (a repeat with the same idempotency key is answered from the server's
      record).
    """

    tool: str
    arguments: dict[str, Any]
    ok: bool
    structured: dict[str, Any] | None = None
    text: str = ""
    error: str | None = None
    refused: bool = False
    needs_confirmation: bool = False
    replayed: bool = False
    outcome_unknown: bool = False
    idempotency_key: str | None = None
    duration_ms: int = Field(default=0, ge=0)


def result_text(result: CallToolResult) -> str:
    """The text blocks of a result, joined by newlines."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def outcome_from_result(
    tool: str,
    arguments: dict[str, Any],
    result: CallToolResult,
    *,
    idempotency_key: str | None,
    duration_ms: int,
) -> ToolOutcome:
    """The outcome of a call the server answered."""
    text = result_text(result)
    meta = result.meta or {}
    replayed = meta.get(REPLAYED_META) is True
    refused_match = _REFUSED.match(text) if result.is_error else None
    unknown = bool(result.is_error and replayed and _UNKNOWN_REPLAY.match(text))
    structured = result.structured_content
    if result.is_error and replayed and isinstance(structured, dict):
        unknown = unknown or str(structured.get("outcome", "")).startswith("unknown")
    return ToolOutcome(
        tool=tool,
        arguments=arguments,
        ok=not result.is_error,
        structured=structured,
        text=text,
        error=(refused_match.group("reason") if refused_match else text) if result.is_error else None,
        refused=refused_match is not None,
        needs_confirmation=bool(refused_match and NEEDS_CONFIRMATION_TEXT in refused_match.group("reason")),
        replayed=replayed,
        outcome_unknown=unknown,
        idempotency_key=idempotency_key,
        duration_ms=duration_ms,
    )


def lost_outcome(
    tool: str, arguments: dict[str, Any], why: str, *, idempotency_key: str | None, duration_ms: int
) -> ToolOutcome:
    """The outcome of a changing call whose answer never came: unknown, not repeated."""
    again = (
        f"send it again with the same idempotency key ({idempotency_key}) to get the server's record"
        if idempotency_key
        else "check the target before you decide to send it again"
    )
    return ToolOutcome(
        tool=tool,
        arguments=arguments,
        ok=False,
        error=f"outcome unknown: {why} after {tool} was sent; it was not repeated: {again}",
        outcome_unknown=True,
        idempotency_key=idempotency_key,
        duration_ms=duration_ms,
    )


def needs_approval(
    tool: str, arguments: dict[str, Any], question: str | None, duration_ms: int
) -> ToolOutcome:
    """The outcome of a change the server would make only with a human's yes, which the call did
    not carry: nothing ran. `error` is the server's question (what would change)."""
    return ToolOutcome(
        tool=tool,
        arguments=arguments,
        ok=False,
        error=f"needs a human's approval, nothing was done; the server asks: {question or '(no question text)'}",
        refused=True,
        needs_confirmation=True,
        duration_ms=duration_ms,
    )
