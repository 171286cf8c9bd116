"""Helpers every tool uses: its Services, who the client is, errors a model can act on, redaction,
and the safety gate with human confirmation for destructive actions (confirmation.py asks)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar, cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from mcp_server.compose_graph import ComposeError
from mcp_server.docker_ops.host import DockerOpsError
from mcp_server.dokploy import DokployError
from mcp_server.redaction import redact
from mcp_server.safety import ActionRequest, Decision, GuardedCall, SafetyStoreError, Target
from mcp_server.safety.gate import ConfirmAnswer
from mcp_server.server.annotations import declares
from mcp_server.server.confirmation import ask_human
from mcp_server.server.services import DokployUnavailable, Services

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("infraguardian.server")


def services(ctx: Context) -> Services:
    return cast(Services, ctx.request_context.lifespan_context)


def client_name(ctx: Context) -> str:
    """The MCP client's self-declared name (for the audit log), or 'unknown'."""
    with contextlib.suppress(Exception):
        params = ctx.session.client_params
        if params is not None and params.client_info is not None:
            return str(params.client_info.name)[:200]
    return "unknown"


def safe(model: M) -> M:
    """The same model with every secret masked (values under secret keys, credentials in text)."""
    return type(model).model_validate(redact(model.model_dump(mode="json")))


def fail(message: str) -> ToolError:
    """A ToolError whose text a model can act on (one line, redacted)."""
    return ToolError(" ".join(str(redact(message)).split())[:1500])


@contextlib.contextmanager
def tool_errors() -> Any:
    """Turn our error hierarchies into ToolErrors; anything else stays generic (and is logged)."""
    try:
        yield
    except ToolError:
        raise
    except (DokployError, DockerOpsError, ComposeError, DokployUnavailable, SafetyStoreError) as exc:
        raise fail(str(exc)) from None


@contextlib.asynccontextmanager
async def guarded(
    ctx: Context,
    *,
    tool: str,
    action: str,
    target: Target | None,
    dry_run: bool = False,
    details: dict[str, Any] | None = None,
    affected: list[Target] | None = None,
    confirm_message: str | None = None,
) -> AsyncIterator[GuardedCall]:
    """authorize → the block → audit row. Refusals become a ToolError with the gate's reason.
    An action that needs a human's confirmation asks through `confirm_message` (else the gate's
    reason) before the block runs: see confirmation.py. On protocol 2026-07-28 the first call
    ends here with the question (AwaitingConfirmation, returned by the tool as its result)."""
    if not declares(tool, action):  # its annotations would not say what it does
        raise fail(f"{tool} asked for {action}, which it does not declare in server/annotations.py")
    svc = services(ctx)
    request = ActionRequest(
        client=client_name(ctx),
        tool=tool,
        action=action,
        target=target,
        affected=affected or [],
        dry_run=dry_run,
        details=details or {},
    )

    async def confirm(decision: Decision) -> ConfirmAnswer:
        return await ask_human(ctx, decision.request, confirm_message or decision.reason)

    with tool_errors():
        async with svc.safety.guard(request, confirm=confirm) as call:
            if not call.allowed:
                raise fail(f"refused by policy: {call.decision.reason}")
            yield call


async def audit_read(ctx: Context, tool: str, target: Target | None, details: dict[str, Any]) -> None:
    """Reads are audited too (who looked at what), without a budget."""
    async with guarded(ctx, tool=tool, action="read", target=target, details=details) as call:
        call.summary = "read"
