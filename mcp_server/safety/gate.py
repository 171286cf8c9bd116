"""The safety gate: every tool asks `authorize` first and reports with `record` afterwards.

    decision = await safety.authorize(ActionRequest(client=..., tool="restart_service", action="restart",
                                                    target=Target(kind="compose_service", ...)))
    if not decision.allowed:
        await safety.record(decision, result="refused")
        return decision.reason
    ... act ...
    await safety.record(decision, result="ok", summary="restarted api", duration_s=1.2)

or, never forgetting the audit row (also on exceptions and refusals):

    async with safety.guard(request) as call:
        if not call.allowed:
            return call.decision.reason
        ... act ...
        call.summary = "restarted api"
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import anyio
import anyio.to_thread

from mcp_server.redaction import redact_text
from mcp_server.safety.actions import (
    DISRUPTION_BUCKET,
    ActionSpec,
    get_action,
)
from mcp_server.safety.audit import AuditEntry, AuditLog, AuditRecord, ResultStatus, note_audit_row
from mcp_server.safety.budgets import BudgetStatus, BudgetStore, BudgetVerdict, ChangeRequest, budget_usage
from mcp_server.safety.clock import Clock, human_duration, system_clock, to_datetime
from mcp_server.safety.db import Database
from mcp_server.safety.disruption import disrupted_workloads
from mcp_server.safety.idempotency import IdempotencyStore, current_claim
from mcp_server.safety.models import ActionRequest, BudgetUsage, Decision
from mcp_server.safety.modes import Mode
from mcp_server.safety.policy import Refusal, check_policy
from mcp_server.safety.revert import RevertCheck, read_revert
from mcp_server.safety.settings import SafetySettings
from mcp_server.safety.targets import Target

T = TypeVar("T")
# What a `confirm` callback reports: a human said yes, a human said no, or nobody could be asked.
ConfirmAnswer = Literal["confirmed", "declined", "cannot_ask"]
Confirm = Callable[[Decision], Awaitable[ConfirmAnswer]]


class AwaitingConfirmation(Exception):
    """Raised by a `confirm` callback that has sent its question and gets the answer on a later
    call (MCP 2026-07-28: the server answers with an input-required result, the client retries).
    `authorize` audits the question (code `awaiting_confirmation`) and lets it propagate: nothing
    changed, nothing counted. `reply` is what the caller hands the client instead of a result."""

    def __init__(self, reply: Any) -> None:
        super().__init__("waiting for a human to confirm")
        self.reply = reply


@dataclass
class GuardedCall:
    """Handed out by `Safety.guard`. Set `summary` (and `result` to override ok/dry_run) before the
    block ends; the audit row is written when it ends."""

    decision: Decision
    summary: str = ""
    result: ResultStatus | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


@dataclass(frozen=True)
class RunOutcome(Generic[T]):
    decision: Decision
    value: T | None  # None when refused


class Safety:
    """The policy gate with its audit log and budget store (one SQLite file in `state_dir`)."""

    def __init__(self, settings: SafetySettings, state_dir: Path, *, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self.db = Database(Path(state_dir) / settings.db_filename)
        self.audit = AuditLog(
            self.db,
            summary_max_chars=settings.audit_summary_max_chars,
            arguments_max_chars=settings.audit_arguments_max_chars,
        )
        self.budgets = BudgetStore(self.db)
        self.idempotency = IdempotencyStore(self.db, ttl_s=settings.idempotency_key_ttl_s)

    @property
    def mode(self) -> Mode:
        return self.settings.mode

    def close(self) -> None:
        self.db.close()

    # -- decisions -------------------------------------------------------------------------------

    async def authorize(self, request: ActionRequest, *, confirm: Confirm | None = None) -> Decision:
        """Decide on `request`. An allowed real change is counted in its budget at once (even if the
        action then fails: repeated failures are exactly what budgets stop). Dry runs are checked
        the same way but never counted.

        `confirm`: asks a human about a real change whose action needs confirmation
        (`ActionSpec.needs_confirmation`), with the provisional decision, before anything is
        counted. Such a change is allowed only when it answers "confirmed": "declined" refuses
        with `declined`; "cannot_ask", any other answer, or no callback at all refuses with
        `needs_confirmation` (escalate). It may raise `AwaitingConfirmation`. Dry runs are not asked."""
        spec = get_action(request.action)
        refusal = check_policy(request, spec, self.settings)
        if refusal or spec is None:
            return self._refused(request, spec, refusal or Refusal("unknown_action", "unknown action"))
        if not spec.mutating:
            return self._decision(request, spec, True, "allowed", f"allowed: {spec.name} (read)")
        if spec.name == "revert_memory" and request.target is not None:
            undo = await self.revert_check(request.target, request.details)
            if undo.refusal is not None:
                return self._refused(request, spec, undo.refusal)
        if spec.needs_confirmation and not request.dry_run:
            provisional = await self._check_budgets(request, spec, consume=False)
            if not provisional.allowed:
                return provisional
            answer = await self._ask_human(request, spec, provisional, confirm)
            if answer != "confirmed":
                return self._refused(request, spec, _unconfirmed(request, spec, answer))
        return await self._check_budgets(request, spec, consume=not request.dry_run)

    async def _ask_human(
        self, request: ActionRequest, spec: ActionSpec, provisional: Decision, confirm: Confirm | None
    ) -> ConfirmAnswer:
        """The human's answer; a question sent for a later call is audited once, then re-raised."""
        if confirm is None:
            return "cannot_ask"
        try:
            return await confirm(provisional)
        except AwaitingConfirmation:
            what = request.target.describe() if request.target else "the target"
            waiting = Refusal(
                "awaiting_confirmation",
                f"asked a human to confirm {spec.name} of {what}; nothing changed or counted yet, "
                "the client's retry with the answer decides",
            )
            await self.record(self._refused(request, spec, waiting), "refused")
            raise

    async def _check_budgets(self, request: ActionRequest, spec: ActionSpec, *, consume: bool) -> Decision:
        target = request.target
        if target is None:  # check_policy refuses this already; kept for type narrowing
            return self._refused(request, spec, Refusal("invalid", f"{spec.name} needs a target"))
        rule = self.settings.budgets.get(spec.budget) if spec.budget else None
        if rule is not None and not spec.backoff:  # an undo counts, but never waits (actions.py)
            rule = rule.model_copy(update={"backoff_initial_s": 0.0})
        decision_id = uuid.uuid4().hex
        claim = current_claim.get() if consume else None
        change = ChangeRequest(
            target_key=target.budget_key(),
            target_label=target.describe(),
            action=spec.name,
            client=request.client,
            decision_id=decision_id,
            bucket=spec.budget if rule else None,
            rule=rule,
            consume=consume,
            disrupted=disrupted_workloads(request, spec),
            disruption_rule=self.settings.budgets.get(DISRUPTION_BUCKET),
            also_when_counted=claim.authorized_in(decision_id) if claim else None,
        )
        now = self.clock()
        check = functools.partial(
            self.budgets.check_and_consume,
            change,
            now=now,
            max_per_minute=self.settings.max_mutations_per_minute,
        )
        verdict: BudgetVerdict = await anyio.to_thread.run_sync(check)
        counted = consume and verdict.verdict == "allowed"
        # an action without a bucket of its own (stop) reports its busiest service's disruptions
        usage = budget_usage(verdict.status or verdict.disruption, counted=counted, now=now)
        if verdict.verdict != "allowed":
            refusal = Refusal(verdict.verdict, verdict.reason, escalate=verdict.verdict == "budget_exhausted")
            return self._refused(
                request, spec, refusal, retry_at=verdict.retry_at, budget=usage, id_=decision_id
            )
        return self._decision(
            request,
            spec,
            True,
            "allowed",
            self._allowed_reason(request, spec, usage, verdict, counted=counted),
            budget=usage,
            id_=decision_id,
        )

    def _allowed_reason(
        self,
        request: ActionRequest,
        spec: ActionSpec,
        usage: BudgetUsage | None,
        verdict: BudgetVerdict,
        *,
        counted: bool,
    ) -> str:
        target = request.target.describe() if request.target else "-"
        parts = [f"allowed: {spec.name} of {target} in {self.mode.value} mode"]
        if usage and usage.bucket != DISRUPTION_BUCKET:
            window = human_duration(usage.window_s)
            parts.append(f"{usage.bucket} budget {usage.used} of {usage.limit} used in {window}")
        if verdict.disruption is not None:
            busiest = verdict.disruption
            used = busiest.used + (1 if counted else 0)
            parts.append(
                f"disruptions of {verdict.disruption_label} {used} of {busiest.limit} in "
                f"{human_duration(busiest.window_s)} (every restart, stop, start, deploy or rollback "
                "counts, whichever tool)"
            )
        if spec.needs_confirmation:
            parts.append("a human confirms it first")
        if request.dry_run:
            parts.append("dry run: nothing changed and nothing counted; the real call would pass now")
        return "; ".join(parts)

    def _refused(
        self,
        request: ActionRequest,
        spec: ActionSpec | None,
        refusal: Refusal,
        *,
        retry_at: float | None = None,
        budget: BudgetUsage | None = None,
        id_: str | None = None,
    ) -> Decision:
        return self._decision(
            request,
            spec,
            False,
            refusal.code,
            f"refused: {refusal.reason}",
            escalate=refusal.escalate,
            retry_at=retry_at,
            budget=budget,
            id_=id_,
        )

    def _decision(
        self,
        request: ActionRequest,
        spec: ActionSpec | None,
        allowed: bool,
        code: Any,
        reason: str,
        *,
        escalate: bool = False,
        retry_at: float | None = None,
        budget: BudgetUsage | None = None,
        id_: str | None = None,
    ) -> Decision:
        return Decision(
            id=id_ or uuid.uuid4().hex,
            request=request,
            allowed=allowed,
            code=code,
            reason=" ".join(reason.split()),  # always one line
            mode=self.mode,
            mutating=bool(spec and spec.mutating),
            needs_confirmation=bool(spec and spec.needs_confirmation),
            escalate=escalate,
            retry_after=to_datetime(retry_at) if retry_at is not None else None,
            decided_at=to_datetime(self.clock()),
            budget=budget,
        )

    # -- audit -------------------------------------------------------------------------------------

    async def record(
        self,
        decision: Decision,
        result: ResultStatus,
        summary: str = "",
        duration_s: float | None = None,
    ) -> int:
        """Append the audit row of one tool call (exactly once per decision; a second call raises).
        A refused decision is always recorded as `refused`, whatever `result` says."""
        request = decision.request
        if not decision.allowed:
            result = "refused"
        record = AuditRecord(
            ts=self.clock(),
            client=request.client,
            tool=request.tool,
            action=request.action,
            target_key=request.target.key() if request.target else "",
            target=request.target.model_dump(exclude_defaults=True, exclude={"app_name"})
            if request.target
            else None,
            arguments=request.details,
            allowed=decision.allowed,
            code=decision.code,
            reason=decision.reason,
            result=result,
            summary=summary,
            duration_s=duration_s,
            dry_run=request.dry_run,
            mode=decision.mode.value,
            decision_id=decision.id,
        )
        note_audit_row(decision.id)
        claim = current_claim.get()
        acted = decision.allowed and decision.mutating and not request.dry_run
        also = claim.acted_in(result, redact_text(summary)) if claim and acted else None
        return await anyio.to_thread.run_sync(functools.partial(self.audit.append, record, also=also))

    @asynccontextmanager
    async def guard(
        self, request: ActionRequest, *, confirm: Confirm | None = None
    ) -> AsyncIterator[GuardedCall]:
        """authorize → your block → audit row, always: on success (ok / dry_run), on refusal, and on
        exceptions and cancellation (error, with the exception's redacted first line)."""
        started = time.monotonic()
        decision = await self.authorize(request, confirm=confirm)
        call = GuardedCall(decision)
        try:
            yield call
        except BaseException as exc:
            summary = call.summary or _error_line(exc)
            with anyio.CancelScope(shield=True):
                await self.record(decision, "error", summary, time.monotonic() - started)
            raise
        default: ResultStatus = "dry_run" if request.dry_run else "ok"
        await self.record(decision, call.result or default, call.summary, time.monotonic() - started)

    async def run(
        self,
        request: ActionRequest,
        operation: Callable[[], Awaitable[T]],
        *,
        summarize: Callable[[T], str] | None = None,
        confirm: Confirm | None = None,
    ) -> RunOutcome[T]:
        """authorize → `await operation()` when allowed → audit. Exceptions are recorded and re-raised."""
        async with self.guard(request, confirm=confirm) as call:
            if not call.allowed:
                return RunOutcome(call.decision, None)
            value = await operation()
            call.summary = summarize(value) if summarize else ""
            return RunOutcome(call.decision, value)

    # -- reading state (audit resource, agent host) ------------------------------------------------

    async def audit_entries(self, **filters: Any) -> list[AuditEntry]:
        """`AuditLog.query` off the event loop (filters: limit, tool, action, target, client, since,
        allowed, result)."""
        return await anyio.to_thread.run_sync(functools.partial(self.audit.query, **filters))

    async def revert_check(self, target: Target, details: dict[str, Any]) -> RevertCheck:
        """Whether lowering `target` as `details` say (policy.MemoryChange) undoes this server's
        own last raise of it, by the audit log (revert.py); the gate checks it for revert_memory."""
        check = functools.partial(
            read_revert,
            self.audit,
            target,
            details,
            now=self.clock(),
            window_s=self.settings.memory_revert_window_s,
        )
        return await anyio.to_thread.run_sync(check)

    async def budget_status(self, target: Target, action: str) -> BudgetStatus | None:
        """Budget use of `target` for `action`'s bucket, or None when the action has no budget."""
        spec = get_action(action)
        rule = self.settings.budgets.get(spec.budget) if spec and spec.budget else None
        if spec is None or spec.budget is None or rule is None:
            return None
        status = functools.partial(
            self.budgets.status, spec.budget, target.budget_key(), rule, now=self.clock()
        )
        return await anyio.to_thread.run_sync(status)


def _unconfirmed(request: ActionRequest, spec: ActionSpec, answer: ConfirmAnswer) -> Refusal:
    """Why a change that needs confirmation does not run without a human's yes, and how to get one."""
    what = request.target.describe() if request.target else "the target"
    if answer == "declined":
        reason = (
            f"a human declined {spec.name} of {what}. Do not retry it; report what you found "
            "and wait for new instructions"
        )
        return Refusal("declined", reason)
    reason = (
        f"{spec.name} of {what} needs a human's confirmation and this connection cannot ask one. "
        "To get it approved: run the same call from a client that can ask a human (MCP elicitation, "
        "e.g. the MCP Inspector or Claude Desktop), through the InfraGuardian agent host's approvals, "
        "or have a human do it by hand (the Docker or Dokploy UI). Do not retry it from here; report "
        "what you found and escalate"
    )
    return Refusal("needs_confirmation", reason, escalate=True)


def _error_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
