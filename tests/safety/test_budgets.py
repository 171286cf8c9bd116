"""Per-target budgets with exponential backoff, the global rate limit, persistence across restarts."""

from __future__ import annotations

import json
import sqlite3
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from mcp_server.safety import BudgetRule, Safety, SafetyReader, SafetySettings, SafetyStoreError, Target
from mcp_server.safety.clock import utc_iso
from tests.safety.conftest import FakeClock, MakeSafety, request, service

pytestmark = pytest.mark.anyio


def test_backoff_schedule() -> None:
    rule = BudgetRule(max_actions=5, window_s=1800, backoff_initial_s=30, backoff_factor=2, backoff_max_s=100)
    assert [rule.backoff_after(n) for n in range(5)] == [0, 30, 60, 100, 100]


async def test_restart_budget_backoff_and_escalation(make_safety: MakeSafety, clock: FakeClock) -> None:
    gate = make_safety()
    first = await gate.authorize(request("restart"))
    assert first.allowed and first.budget and first.budget.used == 1 and first.budget.limit == 3
    assert "restart budget 1 of 3 used in 30 min" in first.reason

    clock.advance(10)  # too soon: the first wait is 30 s
    early = await gate.authorize(request("restart"))
    assert early.code == "backoff" and not early.escalate
    assert (
        early.retry_after is not None and early.retry_after.timestamp() == first.decided_at.timestamp() + 30
    )
    assert "wait until" in early.reason and "(in 20 s)" in early.reason and "read its logs" in early.reason

    clock.advance(20)  # exactly 30 s after the first
    second = await gate.authorize(request("restart"))
    assert second.allowed and second.budget and second.budget.used == 2

    clock.advance(59)  # the second wait is 60 s
    assert (await gate.authorize(request("restart"))).code == "backoff"
    clock.advance(1)
    third = await gate.authorize(request("restart"))
    assert third.allowed and third.budget and third.budget.used == 3

    clock.advance(600)  # backoff long over, but 3 restarts in 30 min is the budget
    spent = await gate.authorize(request("restart"))
    assert spent.code == "budget_exhausted" and spent.escalate
    resets = first.decided_at.timestamp() + 1800
    assert spent.retry_after is not None and spent.retry_after.timestamp() == resets
    assert utc_iso(resets) in spent.reason and "escalate to a human" in spent.reason
    assert "Do not retry" in spent.reason and "\n" not in spent.reason

    # start shares the restart bucket; other targets are untouched; a redeploy of the same service
    # has its own bucket but disrupts the service again (tests/safety/test_budgets_effects.py)
    assert (await gate.authorize(request("start"))).code == "budget_exhausted"
    assert (await gate.authorize(request("restart", service("worker")))).allowed
    assert (await gate.authorize(request("redeploy", service("worker")))).allowed
    assert (await gate.authorize(request("redeploy"))).code == "budget_exhausted"

    clock.now = resets + 1  # the first restart left the window
    assert (await gate.authorize(request("restart"))).allowed


async def test_dry_runs_are_checked_but_never_counted(make_safety: MakeSafety) -> None:
    gate = make_safety()
    for _ in range(5):
        dry = await gate.authorize(request("restart", dry_run=True))
        assert dry.allowed and "dry run" in dry.reason and dry.budget is not None and dry.budget.used == 0
    assert (await gate.authorize(request("restart"))).allowed
    blocked = await gate.authorize(request("restart", dry_run=True))
    assert blocked.code == "backoff"  # a dry run tells the truth about the real call


async def test_container_of_a_service_shares_its_budget(make_safety: MakeSafety, clock: FakeClock) -> None:
    gate = make_safety()
    assert (await gate.authorize(request("restart", service("api")))).allowed
    clock.advance(5)
    by_container = Target(
        kind="container",
        name="shop-a1b2c3-api-1",
        labels={"com.docker.compose.project": "shop-a1b2c3", "com.docker.compose.service": "api"},
    )
    assert (await gate.authorize(request("restart", by_container))).code == "backoff"


async def test_global_rate_limit(make_safety: MakeSafety, clock: FakeClock) -> None:
    gate = make_safety(max_mutations_per_minute=4)
    for i in range(4):
        assert (await gate.authorize(request("restart", service(f"svc{i}")))).allowed
        clock.advance(1)
    limited = await gate.authorize(request("restart", service("svc9")))
    assert limited.code == "rate_limited" and "limit 4/min" in limited.reason
    assert limited.retry_after is not None and limited.retry_after.timestamp() == clock.now - 4 + 60
    assert (await gate.authorize(request("read", service("svc9")))).allowed  # reads are never limited
    clock.advance(57)
    assert (await gate.authorize(request("restart", service("svc9")))).allowed


async def test_configured_budgets(make_safety: MakeSafety, clock: FakeClock) -> None:
    gate = make_safety(budgets={"restart": {"max_actions": 1, "window_s": 60}})
    assert gate.settings.budgets["deploy"].max_actions == 3  # other buckets keep their defaults
    assert (await gate.authorize(request("restart"))).allowed
    assert (await gate.authorize(request("restart"))).code == "budget_exhausted"
    clock.advance(61)
    assert (await gate.authorize(request("restart"))).allowed
    with pytest.raises(ValueError, match="unknown budget bucket 'restarts'"):
        SafetySettings.model_validate({"budgets": {"restarts": {"max_actions": 1, "window_s": 60}}})


async def test_budgets_survive_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    first = Safety(SafetySettings(), tmp_path, clock=clock)
    for _ in range(3):
        assert (await first.authorize(request("restart"))).allowed
        clock.advance(300)
    first.close()
    second = Safety(SafetySettings(), tmp_path, clock=clock)  # a new process, same state dir
    try:
        assert (await second.authorize(request("restart"))).code == "budget_exhausted"
        status = await second.budget_status(service(), "restart")
        assert status is not None and status.used == 3 and status.exhausted
    finally:
        second.close()


async def test_two_gates_on_one_database_cannot_both_take_the_last_slot(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = SafetySettings(budgets={"restart": BudgetRule(max_actions=1, window_s=600)})
    gates = [Safety(settings, tmp_path, clock=clock) for _ in range(2)]
    try:
        decisions = [await gate.authorize(request("restart")) for gate in gates]
        assert [d.allowed for d in decisions] == [True, False]
        assert decisions[1].code == "budget_exhausted"
    finally:
        for gate in gates:
            gate.close()


READER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from mcp_server.safety import SafetyReader, SafetySettings, Target
    reader = SafetyReader(SafetySettings(), Path(sys.argv[1]), clock=lambda: float(sys.argv[2]))
    api = Target(kind="compose_service", project="shop-a1b2c3", service="api")
    status = reader.budget_status(api, "restart")
    print(json.dumps({"used": status.used, "recent": len(reader.recent_changes()),
                      "audit": [r.tool for r in reader.audit_entries(limit=10)]}))
    """
)


async def test_another_process_reads_budgets_and_audit(make_safety: MakeSafety, clock: FakeClock) -> None:
    gate = make_safety()
    for _ in range(2):
        decision = await gate.authorize(request("restart"))
        await gate.record(decision, "ok", "restarted")
        clock.advance(120)
    # the writer keeps its connection open (WAL): the reader must still see committed rows
    done = await anyio.run_process(
        [sys.executable, "-c", READER, str(gate.db.path.parent), str(clock.now)], check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == {"used": 2, "recent": 2, "audit": ["restart_tool", "restart_tool"]}


async def test_a_locked_database_fails_closed(
    make_safety: MakeSafety, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mcp_server.sqlite_file.BUSY_TIMEOUT_MS", 50)
    gate = make_safety()
    other = sqlite3.connect(gate.db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock (e.g. a stuck process)
    try:
        with pytest.raises(SafetyStoreError, match="nothing was changed, retry in a few seconds"):
            await gate.authorize(request("restart"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (await gate.authorize(request("restart"))).allowed  # and works again once it is free


async def test_reader_in_process(make_safety: MakeSafety, clock: FakeClock) -> None:
    gate = make_safety()
    decision = await gate.authorize(request("redeploy"))
    await gate.record(decision, "ok", "redeployed")
    reader = SafetyReader(gate.settings, gate.db.path.parent, clock=clock)
    try:
        status = reader.budget_status(service(), "redeploy")
        assert status is not None and (status.used, status.limit) == (1, 3)
        assert status.next_allowed_at == clock.now + 120  # the deploy bucket waits 2 min first
        assert reader.budget_status(service(), "stop") is None  # stop has no per-target budget
        [change] = reader.recent_changes()
        assert change["action"] == "redeploy" and change["decision_id"] == decision.id
        [entry] = reader.audit_entries(tool="redeploy_tool")
        assert entry.summary == "redeployed"
        with pytest.raises(SafetyStoreError, match="readonly database"):
            reader.db.run(lambda conn: conn.execute("DELETE FROM budget_events"))
    finally:
        reader.close()


async def test_budget_overview_shows_each_target_use(make_safety: MakeSafety, clock: FakeClock) -> None:
    from mcp_server.safety.budgets import budget_overview

    gate = make_safety()
    for _ in range(3):
        decision = await gate.authorize(request("restart"))
        assert decision.allowed
        await gate.record(decision, "ok", "restarted")
        clock.now += 3600  # past any backoff
    overview = budget_overview(gate.budgets, gate.settings.budgets, now=clock.now - 3600 + 1)
    restart = next(t for t in overview["targets"] if t["bucket"] == "restart")
    assert overview["rules"]["restart"]["max_actions"] == restart["limit"]
    assert restart["used"] >= 1 and restart["target"] == service().budget_key()
    assert len(overview["recent_changes"]) >= 3
    later = budget_overview(gate.budgets, gate.settings.budgets, now=clock.now + 10 * 86400)
    assert later["targets"] == [] and later["recent_changes"] == []  # nothing in the last 24 h


def test_human_durations() -> None:
    from mcp_server.safety.clock import human_duration

    assert [human_duration(s) for s in (-3, 45, 600, 7200 + 300)] == ["0 s", "45 s", "10 min", "2 h 5 min"]
