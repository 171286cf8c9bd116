"""Idempotency keys on the MCP side: a changing tool call sent twice with the same key acts once.

The key travels in the request's `_meta`, not in the tool's arguments (so it costs a model no
schema tokens; the agent host sets it, a model never has to):

    {"method": "tools/call", "params": {"name": "restart_service", "arguments": {...},
     "_meta": {"io.infraguardian/idempotency-key": "inc-42:step-3"}}}

With the SDK's client: `await client.call_tool(name, args, meta={IDEMPOTENCY_KEY_META: key})`.
A key is 1-128 characters of letters, digits and `. _ : -`. Read-only tools and dry runs ignore it.

What a repeat of the same key gets (see mcp_server/safety/idempotency.py for how it is stored):
- the first call finished: its recorded answer, not run again, with `"replayed": true` in the
  structured content (an error answer's text starts with "replayed"), and `_meta`
  `io.infraguardian/replayed: true`. A recorded failure (Dokploy or Docker error) is replayed as
  it was: to try again, send a new key;
- other arguments or another tool with the same key: refused, nothing done;
- the first call still running in this server: the repeat waits for it and gets its answer;
- the server stopped during the first call (killed mid-action): an error whose structured
  content says `outcome: "unknown: …"` — nothing is done again; check the target before you
  retry with a new key.
A call refused by the policy, or failing before the policy allowed it, changed nothing and keeps no
record: the same key may be sent again later.
"""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import anyio.to_thread

from mcp_server.safety import Safety, SafetyStoreError
from mcp_server.safety.audit import AuditRecord, ResultStatus
from mcp_server.safety.idempotency import (
    KEY_RE,
    KEY_RULE,
    Claim,
    KeyRecord,
    Lookup,
    arguments_hash,
    current_claim,
)

IDEMPOTENCY_KEY_META = "io.infraguardian/idempotency-key"
REPLAYED_META = "io.infraguardian/replayed"
UNKNOWN_OUTCOME = "unknown: the server stopped during this action; check the target before retrying"
RUNNING_WAIT_S = 600.0  # a repeat waits this long for the first call of its key in this process

# The calls of this process that hold a key (claim id → set when the call ends). Process-wide:
# several lifespans (SSE connections) share one safety database.
_RUNNING: dict[str, anyio.Event] = {}


class IdempotentCall:
    """One tool call's key handling. `answer` is set when the call must not run (replay, conflict,
    unknown outcome, bad key): return it as the tool's result. Otherwise run the call and hand its
    final (cleaned) result to `finish`."""

    def __init__(self, answer: dict[str, Any] | None = None) -> None:
        self.answer = answer
        self.result: dict[str, Any] | None = None

    def finish(self, result: Any) -> None:
        """The answer the client gets; stored for repeats when the call got past the policy."""
        if isinstance(result, dict) and result.get("resultType") != "input_required":
            self.result = result


@contextlib.asynccontextmanager
async def idempotent_call(
    ctx: Any,
    *,
    tool: str,
    arguments: Any,
    mutating: bool,
    client: str,
    envelope: dict[str, Any],
) -> AsyncIterator[IdempotentCall]:
    """Claim the request's idempotency key for the block (a no-op without one, for reads and dry
    runs). `envelope`: what every result of this protocol version carries (`resultType`)."""
    safety = getattr(getattr(ctx, "lifespan_context", None), "safety", None)
    meta = getattr(ctx, "meta", None)
    key = meta.get(IDEMPOTENCY_KEY_META) if isinstance(meta, Mapping) else None
    dry_run = isinstance(arguments, Mapping) and arguments.get("dry_run") is True
    if key is None or not mutating or dry_run or not isinstance(safety, Safety):
        yield IdempotentCall()
        return
    answers = _Answers(safety, tool, arguments, client, envelope)
    if not isinstance(key, str) or not KEY_RE.match(key):
        message = f"the idempotency key in _meta {IDEMPOTENCY_KEY_META} must be {KEY_RULE}; nothing was done"
        yield IdempotentCall(await answers.error("", message, code="invalid", result="refused"))
        return
    digest = arguments_hash(tool, arguments if arguments is not None else {})
    claim = Claim(key, uuid.uuid4().hex)
    lookup = await _claim(safety, claim, tool, digest, client)
    if isinstance(lookup, str):
        yield IdempotentCall(await answers.error(key, lookup, code="invalid", result="error"))
        return
    if lookup.kind not in ("claimed", "took_over"):
        yield IdempotentCall(await answers.repeat(key, lookup))
        return
    call = IdempotentCall()
    token = current_claim.set(claim)
    try:
        yield call
    except BaseException as exc:
        call.result = call.result or _interrupted(exc, envelope)
        raise
    finally:
        current_claim.reset(token)
        with anyio.CancelScope(shield=True):
            await _finish(safety, claim, call.result)


async def _claim(safety: Safety, claim: Claim, tool: str, digest: str, client: str) -> Lookup | str:
    """Claim the key, waiting for a call of this process that holds it; or the error text."""
    deadline = anyio.current_time() + RUNNING_WAIT_S
    while True:
        _RUNNING[claim.claim_id] = anyio.Event()  # before the claim: a concurrent repeat must see it
        claim_it = functools.partial(
            safety.idempotency.claim,
            claim.key,
            tool=tool,
            arguments_hash=digest,
            client=client,
            claim_id=claim.claim_id,
            now=safety.clock(),
            is_running=_RUNNING.__contains__,
        )
        try:
            lookup = await anyio.to_thread.run_sync(claim_it)
        except SafetyStoreError as exc:
            _RUNNING.pop(claim.claim_id).set()
            return str(exc)
        if lookup.kind in ("claimed", "took_over"):
            return lookup
        _RUNNING.pop(claim.claim_id).set()
        first = _RUNNING.get(lookup.record.claim_id) if lookup.record else None
        if lookup.kind != "running" or first is None:
            return lookup
        with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
            await first.wait()
        if anyio.current_time() >= deadline:
            return lookup


async def _finish(safety: Safety, claim: Claim, result: dict[str, Any] | None) -> None:
    try:
        if result is None:
            await anyio.to_thread.run_sync(safety.idempotency.release, claim)
        else:
            store = functools.partial(
                safety.idempotency.finish,
                claim,
                result,
                is_error=bool(result.get("isError")),
                now=safety.clock(),
            )
            await anyio.to_thread.run_sync(store)
    finally:
        event = _RUNNING.pop(claim.claim_id, None)
        if event is not None:
            event.set()


def _interrupted(exc: BaseException, envelope: dict[str, Any]) -> dict[str, Any]:
    """What a repeat gets when the call ended by an exception after the policy allowed it (the
    client went away, the call was cancelled): nobody knows how far the action got."""
    text = (
        f"outcome unknown: the call was interrupted ({type(exc).__name__}) while acting; check the "
        "target before retrying with a new idempotency key"
    )
    return {**envelope, "content": [{"type": "text", "text": text}], "isError": True}


class _Answers:
    """The answers a repeat gets instead of a run, each with its audit row."""

    def __init__(
        self, safety: Safety, tool: str, arguments: Any, client: str, envelope: dict[str, Any]
    ) -> None:
        self.safety, self.tool, self.arguments, self.client = safety, tool, arguments, client
        self.envelope = envelope

    async def repeat(self, key: str, lookup: Lookup) -> dict[str, Any]:
        record = lookup.record
        assert record is not None
        first = f"first call at {record.started_at}"
        if lookup.kind == "conflict":
            message = (
                f"idempotency key {key} was already used ({first}) for {record.tool} with other "
                "arguments; nothing was done. Send a new key for a new action, or the same tool and "
                "arguments to get the recorded result"
            )
            return await self.error(key, message, code="invalid", result="refused")
        if lookup.kind == "running":
            message = (
                f"a call with idempotency key {key} is still running ({first}); nothing was done twice. "
                "Send the same key again later to get its result"
            )
            return await self.error(key, message, code="running", result="refused")
        if lookup.kind == "finished" and record.result is not None:
            answer = _replayed(record, self.envelope)
            failed = record.is_error or record.audit_result == "error"  # as the first call's row
            await self._audit(key, "replayed", "error" if failed else "ok", f"replayed ({first})")
            return answer
        return await self._unknown(key, record, first)

    async def _unknown(self, key: str, record: KeyRecord, first: str) -> dict[str, Any]:
        ended = (
            f"; its audit row says {record.audit_result}: {record.audit_summary}"
            if record.audit_result
            else ""
        )
        text = (
            f"outcome unknown: the server stopped during this action (idempotency key {key}, {first}, "
            f"decision {record.decision_id}{ended}). Nothing was done again: check the target before "
            "retrying with a new key"
        )
        structured = {
            "replayed": True,
            "idempotency_key": key,
            "outcome": UNKNOWN_OUTCOME,
            "first_call_at": record.started_at,
            "decision_id": record.decision_id,
            "audit_result": record.audit_result,
        }
        await self._audit(key, "outcome_unknown", "error", text)
        return {
            **self.envelope,
            "content": [{"type": "text", "text": text}],
            "structuredContent": structured,
            "isError": True,
            "_meta": {REPLAYED_META: True},
        }

    async def error(self, key: str, message: str, *, code: str, result: ResultStatus) -> dict[str, Any]:
        await self._audit(key, code, result, message)
        return {**self.envelope, "content": [{"type": "text", "text": message}], "isError": True}

    async def _audit(self, key: str, code: str, result: ResultStatus, message: str) -> None:
        arguments = dict(self.arguments) if isinstance(self.arguments, Mapping) else {}
        record = AuditRecord(
            ts=self.safety.clock(),
            client=self.client,
            tool=self.tool or "(none)",
            action="replay",
            target_key="",
            target=None,
            arguments={**arguments, "_idempotency_key": key},
            allowed=result != "refused",
            code=code,
            reason=message[:1000],
            result=result,
            summary="answered from the idempotency key's record; nothing was done",
            duration_s=0.0,
            dry_run=False,
            mode=self.safety.mode.value,
            decision_id=uuid.uuid4().hex,
        )
        await anyio.to_thread.run_sync(self.safety.audit.append, record)


def _replayed(record: KeyRecord, envelope: dict[str, Any]) -> dict[str, Any]:
    """The recorded answer, marked as a replay, in this connection's envelope."""
    assert record.result is not None
    old = {k: v for k, v in record.result.items() if k not in ("resultType", "_meta")}
    meta = {REPLAYED_META: True, "io.infraguardian/first-call-at": record.started_at}
    structured = old.get("structuredContent")
    if isinstance(structured, dict):
        marked = {**structured, "replayed": True}
        text = json.dumps(marked, indent=2, ensure_ascii=False)
        return {
            **old,
            **envelope,
            "structuredContent": marked,
            "content": [{"type": "text", "text": text}],
            "_meta": meta,
        }
    blocks = []
    prefix = f"replayed, not run again (first call with this idempotency key at {record.started_at}): "
    for block in old.get("content") or []:
        if isinstance(block, dict) and block.get("type") == "text" and prefix:
            block = {**block, "text": prefix + str(block.get("text", ""))}
            prefix = ""
        blocks.append(block)
    return {**old, **envelope, "content": blocks, "_meta": meta}
