"""Answering a request a person saw on a page or in a message: the answer counts only for the plan
that was shown. Used by the dashboard (the form carries the plan hash it displayed); Telegram binds
its buttons the same way through a nonce of the same hash (telegram/approvals.py)."""

from __future__ import annotations

from agent_host.incidents.store import IncidentStore

from .book import ApprovalBook, ApprovalError, ApprovalRequest, plan_hash

PLAN_CHANGED = "the plan changed since it was shown; nothing changed — reload and look at the new plan"


async def plan_changed(store: IncidentStore, request: ApprovalRequest) -> bool:
    """True when the incident now waits on another plan than the one this request showed."""
    if request.status != "pending":
        return False  # answered or expired: the book's own message says so
    incident = await store.get(request.incident_id)
    if incident is None or incident.status != "awaiting_approval" or not incident.plan:
        return False
    return plan_hash(incident.plan) != request.plan_hash


async def answer_shown_plan(
    book: ApprovalBook,
    store: IncidentStore,
    request_id: str,
    *,
    approve: bool,
    by: str,
    shown_plan_hash: str,
    note: str | None = None,
) -> ApprovalRequest:
    """Approve or deny `request_id` if the plan shown (`shown_plan_hash`) is still the one asked
    about; `ApprovalError` (nothing changed) otherwise, or when the book refuses the answer."""
    request = await book.get(request_id)
    if request is None:
        raise ApprovalError(f"no approval request {request_id!r}; it may have been answered elsewhere")
    if request.status == "pending" and (
        shown_plan_hash != request.plan_hash or await plan_changed(store, request)
    ):
        raise ApprovalError(PLAN_CHANGED)
    return await book.answer(request_id, approve, by=by, note=note)
