"""Asking a human to confirm a destructive action, in whichever way the client's protocol allows.

- Protocol 2026-07-28 and later: the tool call ends with an input-required result carrying the
  question (an elicitation form with one yes/no field) and a request state; the client asks its
  human and calls the same tool again with the answer. That retry plans again, finds the answer
  and runs the action once. The SDK's `mcp.Client.call_tool` does the retry by itself when it
  has an `elicitation_callback`.
- Older protocols (2025-11-25 and before): a standalone elicitation request in the middle of the
  call (`ctx.elicit`).
- A client without the elicitation capability, or a transport that cannot carry the question:
  nobody can be asked, and the gate refuses with `needs_confirmation`.

An answer counts only for the call it was asked about. The SDK seals the request state (encrypted,
bound to this server, the tool name and the exact arguments, expiring after 10 minutes); inside it
a digest of the tool, action, target and affected objects ties the answer to what was planned, and
a one-time id is spent when the answer is used, so replaying the retry asks again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field, ValidationError

from mcp_server.safety import ActionRequest
from mcp_server.safety.gate import AwaitingConfirmation, ConfirmAnswer

log = logging.getLogger("infraguardian.server")

QUESTION_KEY = "infraguardian_confirm"  # the key of our question in input_requests / input_responses
INPUT_REQUIRED_SINCE = "2026-07-28"  # first protocol whose tools/call carries questions in its result
_STATE_VERSION = 1
_SPENT_KEEP_S = 24 * 3600.0  # far beyond the sealed state's 10-minute life


class Confirmation(BaseModel):
    """The form a human fills in: one yes/no field."""

    confirm: bool = Field(description="Proceed with this action?")


class _Question(BaseModel):
    """What the request state remembers between the question and its answer."""

    v: int
    call: str  # digest of the call the question is about (see _call_digest)
    id: str  # one-time id, spent when the answer is used


# Ids of questions whose answer was used (id → time.monotonic() of use). The sealed state is only
# valid in this process (the SDK's default key lives in memory), so memory is the right place.
_spent: dict[str, float] = {}


async def ask_human(ctx: Context, request: ActionRequest, message: str) -> ConfirmAnswer:
    """Ask the client's human to confirm `request`, shown `message`.

    Returns "confirmed" or "declined", "cannot_ask" when this connection has no way to ask, or
    raises AwaitingConfirmation carrying the input-required result to send (2026-07-28 clients)."""
    if not can_elicit(ctx):
        log.info("%s: the client declared no form elicitation; nobody can confirm", request.tool)
        return "cannot_ask"
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, INPUT_REQUIRED_SINCE):
        return _answer_from_retry(ctx, request, message)
    return await _elicit(ctx, request, message)


def can_elicit(ctx: Context) -> bool:
    """The client declared form elicitation (a bare `elicitation: {}` counts as form, as in the SDK)."""
    try:
        caps = ctx.client_capabilities
    except ValueError:  # no request (a direct call without a client): nobody to ask
        return False
    elicitation = caps.elicitation if caps is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


async def _elicit(ctx: Context, request: ActionRequest, message: str) -> ConfirmAnswer:
    """Protocols before 2026-07-28: a standalone elicitation request, answered within this call."""
    try:
        result = await ctx.elicit(message, Confirmation)
    except NoBackChannelError:
        log.warning(
            "%s: this transport cannot send the elicitation request; nobody can confirm", request.tool
        )
        return "cannot_ask"
    except (MCPError, ValueError) as exc:  # the client failed the request or answered malformed
        log.warning("%s: the confirmation request failed (%s); nobody confirmed", request.tool, exc)
        return "cannot_ask"
    return "confirmed" if result.action == "accept" and result.data.confirm else "declined"


def _answer_from_retry(ctx: Context, request: ActionRequest, message: str) -> ConfirmAnswer:
    """2026-07-28: the answer if this call is the retry of our question about this exact call,
    else raise AwaitingConfirmation with a new question."""
    call = _call_digest(ctx, request)
    asked = _asked_question(ctx.request_state)
    answer = (ctx.input_responses or {}).get(QUESTION_KEY)
    if asked is not None and answer is not None:
        if asked.call != call:
            log.info("%s: the answer was for a different call; asking again", request.tool)
        elif not _spend(asked.id):
            log.warning("%s: an answer that was already used came back; asking again", request.tool)
        else:
            return _read_answer(request, answer)
    question = ElicitRequest(
        params=ElicitRequestFormParams(
            message=message, requested_schema=render_elicitation_schema(Confirmation)
        )
    )
    state = _Question(v=_STATE_VERSION, call=call, id=secrets.token_urlsafe(16))
    raise AwaitingConfirmation(
        InputRequiredResult(input_requests={QUESTION_KEY: question}, request_state=state.model_dump_json())
    )


def _read_answer(request: ActionRequest, answer: Any) -> ConfirmAnswer:
    if not isinstance(answer, ElicitResult):
        log.warning("%s: the reply to the confirmation is not an elicitation result", request.tool)
        return "cannot_ask"
    if answer.action != "accept":
        return "declined"
    try:
        return "confirmed" if Confirmation.model_validate(answer.content or {}).confirm else "declined"
    except ValidationError:
        log.warning("%s: the confirmation was accepted with a malformed form", request.tool)
        return "cannot_ask"


def _asked_question(request_state: str | None) -> _Question | None:
    """Our question from the (already unsealed and verified) request state, or None."""
    if not request_state:
        return None
    try:
        asked = _Question.model_validate_json(request_state)
    except ValidationError:
        return None
    return asked if asked.v == _STATE_VERSION else None


def _call_digest(ctx: Context, request: ActionRequest) -> str:
    """Identity of the call a question is about: the tool and its arguments as the client sent
    them, and what the server resolved them to (action, target, affected objects). Figures in the
    message (sizes, memory in use) are left out: they are measured again when the action runs."""
    params = ctx.request_context.params or {}
    identity = {
        "tool": request.tool,
        "name": params.get("name"),
        "arguments": params.get("arguments") or {},
        "action": request.action,
        "target": request.target.key() if request.target else "",
        "affected": sorted(t.key() for t in request.affected),
    }
    text = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _spend(question_id: str) -> bool:
    """Mark the answer to `question_id` used; False when it was used before. No await in here,
    so two concurrent retries of one answer cannot both pass."""
    now = time.monotonic()
    for old in [q for q, at in _spent.items() if now - at > _SPENT_KEEP_S]:
        del _spent[old]
    if question_id in _spent:
        return False
    _spent[question_id] = now
    return True


def returns_questions(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A tool function that returns its pending question (the input-required result) as its
    result instead of raising it; the SDK passes such a result through to the client."""

    @functools.wraps(fn)
    async def tool(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except AwaitingConfirmation as pending:
            return pending.reply

    return tool


def ask_through_results(mcp: MCPServer) -> None:
    """Let every registered tool ask its confirmation question the 2026-07-28 way. Call it once,
    after all tools are registered (build_server does), so no tool can forget it. Sync tools
    are skipped: they cannot reach the async gate."""
    for registered in mcp._tool_manager.list_tools():
        if registered.is_async:
            registered.fn = returns_questions(registered.fn)
