"""Answering the server's confirmation question, for changes a human approved in the agent host.

Some changes (stop a compose, prune, exec …) need a human's yes. On protocol 2026-07-28 the
server asks inside the tool call's result (an elicitation form with one `confirm` field, see
mcp_server/server/confirmation.py) and runs the change only when the same call comes back with
the answer. The link declares elicitation and answers the question itself:
- `call_tool(..., confirmed=True)`: a human approved this exact call (the agent's approvals):
  the answer is yes and the server runs it;
- otherwise the link does not answer; nothing ran, and the outcome says `refused` and
  `needs_confirmation`, with the server's question (what would change) as its error.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult, ErrorData

NOT_APPROVED = -32050  # our code for "no human approved this": it never leaves this process
CONFIRM_FIELD = "confirm"  # the one field of the server's form (mcp_server/server/confirmation.py)


@dataclass
class CallConfirmation:
    """One tool call's approval, and the question the server asked during it (if any)."""

    confirmed: bool
    question: str | None = None


current_confirmation: contextvars.ContextVar[CallConfirmation | None] = contextvars.ContextVar(
    "infraguardian_link_confirmation", default=None
)


async def answer_confirmation(
    context: ClientRequestContext, params: ElicitRequestParams
) -> ElicitResult | ErrorData:
    """The link's elicitation callback: yes for an approved call's confirmation form, else no answer."""
    call = current_confirmation.get()
    question = str(getattr(params, "message", ""))
    schema: Any = getattr(params, "requested_schema", None) or {}
    fields = schema.get("properties", {}) if isinstance(schema, dict) else {}
    if call is None:
        return ErrorData(
            code=NOT_APPROVED, message="the agent host answers questions only inside a tool call"
        )
    call.question = question
    if call.confirmed and set(fields) == {CONFIRM_FIELD}:
        return ElicitResult(action="accept", content={CONFIRM_FIELD: True})
    return ErrorData(code=NOT_APPROVED, message="no human approved this change in the agent host")
