"""What the loop needs from the outside world, as small interfaces: the MCP server (tools), and
the approvals channel. The real ones are `server_link.ServerLink` and `approvals.ApprovalBook`;
the loop never imports Docker or Dokploy code — every change goes through the server's policy."""

from __future__ import annotations

from typing import Any, Protocol


class ToolAnswer(Protocol):
    """The parts of a tool call's outcome the loop reads."""

    ok: bool
    structured: dict[str, Any] | None
    text: str
    error: str | None
    refused: bool
    needs_confirmation: bool
    replayed: bool
    outcome_unknown: bool


class ToolCaller(Protocol):
    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        timeout_s: float | None = None,
        confirmed: bool = False,
    ) -> ToolAnswer: ...
