"""The idempotency key store: claims, repeats, take-over, expiry, and the writes that ride in the
budget and audit transactions (so a key is never `authorized` without its budget spent)."""

from __future__ import annotations

import sqlite3

import pytest

from mcp_server.safety import Safety
from mcp_server.safety.idempotency import (
    Claim,
    IdempotencyKeyLost,
    IdempotencyStore,
    arguments_hash,
    current_claim,
)
from tests.safety.conftest import FakeClock, MakeSafety, request

pytestmark = pytest.mark.anyio

ARGS = arguments_hash("restart_service", {"app_name": "shop", "service": "api"})


def claim(store: IdempotencyStore, key: str, claim_id: str, now: float, digest: str = ARGS) -> str:
    lookup = store.claim(
        key,
        tool="restart_service",
        arguments_hash=digest,
        client="agent",
        claim_id=claim_id,
        now=now,
        is_running=lambda c: c == "running-here",
    )
    return lookup.kind


def budget_events(gate: Safety) -> int:
    return int(gate.db.run(lambda conn: conn.execute("SELECT COUNT(*) FROM budget_events").fetchone()[0]))


def test_arguments_hash_is_canonical() -> None:
    assert arguments_hash("t", {"a": 1, "b": [2]}) == arguments_hash("t", {"b": [2], "a": 1})
    assert arguments_hash("t", {"a": 1}) != arguments_hash("u", {"a": 1})
    assert arguments_hash("t", {"a": 1}) != arguments_hash("t", {"a": "1"})


async def test_a_change_marks_its_key_in_the_budget_and_audit_transactions(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    assert claim(gate.idempotency, "inc-1:s1", "c1", clock()) == "claimed"
    token = current_claim.set(Claim("inc-1:s1", "c1"))
    try:
        async with gate.guard(request("restart")) as call:
            record = gate.idempotency.get("inc-1:s1")
            assert record is not None and record.state == "authorized"
            assert record.decision_id == call.decision.id
            call.summary = "restarted api, token=hunter2"
    finally:
        current_claim.reset(token)
    acted = gate.idempotency.get("inc-1:s1")
    assert acted is not None and (acted.state, acted.audit_result) == ("acted", "ok")
    assert acted.audit_summary is not None and "hunter2" not in acted.audit_summary
    assert gate.idempotency.finish(Claim("inc-1:s1", "c1"), {"content": []}, is_error=False, now=clock())
    assert claim(gate.idempotency, "inc-1:s1", "c2", clock()) == "finished"


async def test_a_key_taken_over_refuses_the_change_and_spends_no_budget(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    claim(gate.idempotency, "k", "slow", clock())
    assert claim(gate.idempotency, "k", "other-process", clock()) == "took_over"  # "slow" is not running
    token = current_claim.set(Claim("k", "slow"))
    try:
        with pytest.raises(IdempotencyKeyLost, match="taken over by another call"):
            await gate.authorize(request("restart"))
    finally:
        current_claim.reset(token)
    assert budget_events(gate) == 0


async def test_dry_runs_and_refusals_leave_the_key_started_and_it_is_released(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety(mode="read-only")
    claim(gate.idempotency, "k", "c1", clock())
    token = current_claim.set(Claim("k", "c1"))
    try:
        refused = await gate.authorize(request("restart"))
    finally:
        current_claim.reset(token)
    assert not refused.allowed
    record = gate.idempotency.get("k")
    assert record is not None and record.state == "started"
    assert not gate.idempotency.finish(Claim("k", "c1"), {"isError": True}, is_error=True, now=clock())
    assert gate.idempotency.get("k") is None


def test_repeats_are_told_apart(make_safety: MakeSafety, clock: FakeClock) -> None:
    store = make_safety().idempotency
    other_args = arguments_hash("restart_service", {"app_name": "shop", "service": "db"})
    assert claim(store, "k", "running-here", clock()) == "claimed"
    assert claim(store, "k", "c2", clock(), other_args) == "conflict"
    assert claim(store, "k", "c2", clock()) == "running"
    store.db.transaction(lambda conn: conn.execute("UPDATE idempotency_keys SET claim_id = 'dead'"))
    store.db.transaction(lambda conn: conn.execute("UPDATE idempotency_keys SET state = 'authorized'"))
    assert claim(store, "k", "c3", clock()) == "unknown"
    store.db.transaction(lambda conn: conn.execute("UPDATE idempotency_keys SET state = 'acted'"))
    assert claim(store, "k", "c4", clock()) == "unknown"


def test_keys_expire_after_their_ttl(make_safety: MakeSafety, clock: FakeClock) -> None:
    store = make_safety(idempotency_key_ttl_s=3600).idempotency
    claim(store, "k", "c1", clock())
    store.db.transaction(lambda conn: conn.execute("UPDATE idempotency_keys SET state = 'authorized'"))
    store.finish(Claim("k", "c1"), {"content": []}, is_error=False, now=clock())
    clock.advance(3599)
    assert claim(store, "k", "c2", clock()) == "finished"
    clock.advance(1)
    assert claim(store, "k", "c3", clock()) == "claimed"  # pruned, then claimed anew


def test_the_default_ttl_is_seven_days(make_safety: MakeSafety) -> None:
    assert make_safety().idempotency.ttl_s == 7 * 86400


def test_states_are_checked_by_the_database(make_safety: MakeSafety, clock: FakeClock) -> None:
    store = make_safety().idempotency
    claim(store, "k", "c1", clock())
    with pytest.raises(sqlite3.IntegrityError):
        store.db.transaction(lambda conn: conn.execute("UPDATE idempotency_keys SET state = 'done'"))
