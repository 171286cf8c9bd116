"""Per-target budgets with exponential backoff, per-service disruption budgets, and the global
rate limit on changes.

Every allowed change is stored as events (time, bucket, target): one in its action's bucket (keyed
by the target), and, when it restarts, stops, starts, recreates or removes containers, one in the
`disruption` bucket per affected service (keyed by the service, the same whichever tool or Dokploy
call acted). So a service whose restart budget is spent cannot be stopped and started again by
another tool. A new change is checked against the events, inside one write transaction, and stored
when allowed, so two callers (threads or processes) can never both take the last slot. The events
survive restarts and are readable by the agent host.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from mcp_server.safety.actions import DISRUPTION_BUCKET
from mcp_server.safety.clock import human_duration, to_datetime, utc_iso
from mcp_server.safety.db import Database
from mcp_server.safety.models import BudgetUsage
from mcp_server.safety.settings import BudgetRule

RATE_WINDOW_S = 60.0
# events older than this are deleted (budget windows are at most 7 days)
RETENTION_S = 8 * 86400.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS budget_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    at TEXT NOT NULL,
    bucket TEXT,
    target_key TEXT NOT NULL,
    action TEXT NOT NULL,
    client TEXT NOT NULL,
    decision_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS budget_events_target ON budget_events (bucket, target_key, ts);
CREATE INDEX IF NOT EXISTS budget_events_ts ON budget_events (ts);
CREATE INDEX IF NOT EXISTS budget_events_decision ON budget_events (decision_id);
"""

Verdict = Literal["allowed", "budget_exhausted", "backoff", "rate_limited"]


@dataclass(frozen=True)
class BudgetStatus:
    """How much of a target's budget is used, as the policy sees it at `now`."""

    bucket: str
    target_key: str
    used: int
    limit: int
    window_s: float
    resets_at: float | None  # when the oldest counted action leaves the window
    next_allowed_at: float | None  # earliest time the next action passes budget and backoff
    last_at: float | None  # time of the latest counted action

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit


@dataclass(frozen=True)
class BudgetVerdict:
    """The answer for one change. `status` is the budget the verdict is about: the action's own
    bucket, or on a disruption refusal the named service's disruption budget. `disruption` is the
    most used disruption budget among the affected services (before this change is counted)."""

    verdict: Verdict
    reason: str  # one line, empty when allowed
    retry_at: float | None = None
    status: BudgetStatus | None = None
    disruption: BudgetStatus | None = None
    disruption_label: str = ""


@dataclass(frozen=True)
class Workload:
    """A service whose containers a change restarts, stops, recreates or removes."""

    key: str  # as budgets store it: "compose_service:local/shop/api", "swarm_service:local/app"
    label: str  # for people: "compose service api of project shop on host local"


@dataclass(frozen=True)
class ChangeRequest:
    """One change to check and, when allowed and `consume`, to count. `disrupted` lists the
    services it disrupts; each is checked against, and counted in, `disruption_rule`."""

    target_key: str
    target_label: str  # for people: "compose service api of project shop"
    action: str
    client: str
    decision_id: str
    bucket: str | None
    rule: BudgetRule | None
    consume: bool = True
    disrupted: tuple[Workload, ...] = ()
    disruption_rule: BudgetRule | None = None
    # run in the same transaction when the change is counted (marks its idempotency key)
    also_when_counted: Callable[[sqlite3.Connection], None] | None = None


def _status(conn: sqlite3.Connection, bucket: str, key: str, rule: BudgetRule, now: float) -> BudgetStatus:
    rows = conn.execute(
        "SELECT ts FROM budget_events WHERE bucket = ? AND target_key = ? AND ts > ? ORDER BY ts",
        (bucket, key, now - rule.window_s),
    ).fetchall()
    times = [float(r[0]) for r in rows]
    resets_at = times[0] + rule.window_s if times else None
    next_at: float | None = None
    if times:
        next_at = times[-1] + rule.backoff_after(len(times))
        if len(times) >= rule.max_actions:
            # the budget frees when enough old actions leave the window
            next_at = max(next_at, times[len(times) - rule.max_actions] + rule.window_s)
    last_at = times[-1] if times else None
    return BudgetStatus(bucket, key, len(times), rule.max_actions, rule.window_s, resets_at, next_at, last_at)


class BudgetStore:
    """Budget and rate-limit state in the safety database. Methods are synchronous and short; the
    gate calls them from a worker thread."""

    def __init__(self, db: Database) -> None:
        self.db = db
        if not db.readonly:
            db.run(lambda conn: conn.executescript(SCHEMA))

    def check_and_consume(self, change: ChangeRequest, *, now: float, max_per_minute: int) -> BudgetVerdict:
        """Check the global rate, the target's budget and backoff, and the disruption budget of
        every service the change disrupts; count the change in all of them when allowed."""

        def work(conn: sqlite3.Connection) -> BudgetVerdict:
            conn.execute("DELETE FROM budget_events WHERE ts < ?", (now - RETENTION_S,))
            # one change writes one event per bucket it counts in: count changes, not events
            count, oldest = conn.execute(
                "SELECT COUNT(DISTINCT decision_id), MIN(ts) FROM budget_events WHERE ts > ?",
                (now - RATE_WINDOW_S,),
            ).fetchone()
            if count >= max_per_minute:
                retry = float(oldest) + RATE_WINDOW_S
                return BudgetVerdict(
                    "rate_limited",
                    f"{count} changes in the last minute across all targets (limit {max_per_minute}/min); "
                    f"retry after {utc_iso(retry)} (in {human_duration(retry - now)})",
                    retry,
                )
            status = None
            if change.bucket and change.rule:
                status = _status(conn, change.bucket, change.target_key, change.rule, now)
                verdict = _judge(status, change, now)
                if verdict:
                    return verdict
            disruptions = _disruption_statuses(conn, change, now)
            refusal = _judge_disruptions(disruptions, change, now)
            if refusal:
                return refusal
            if change.consume:
                _insert(conn, change, now, change.bucket, change.target_key)
                for workload, _ in disruptions:
                    _insert(conn, change, now, DISRUPTION_BUCKET, workload.key)
                if change.also_when_counted is not None:
                    change.also_when_counted(conn)
            busiest = max(disruptions, key=lambda pair: pair[1].used, default=None)
            return BudgetVerdict(
                "allowed",
                "",
                None,
                status,
                disruption=busiest[1] if busiest else None,
                disruption_label=busiest[0].label if busiest else "",
            )

        return self.db.transaction(work)

    def status(self, bucket: str, target_key: str, rule: BudgetRule, *, now: float) -> BudgetStatus:
        """Budget use of one target (read-only; works on a read-only database too)."""
        return self.db.run(lambda conn: _status(conn, bucket, target_key, rule, now))

    def recent(self, *, since: float, limit: int = 100) -> list[dict[str, object]]:
        """Counted changes since `since` (epoch s), newest first: what the agent host shows. One
        row per change; `disrupted` lists the services it counted against (their keys)."""
        rows = self.db.run(
            lambda conn: conn.execute(
                "SELECT e.at, e.bucket, e.target_key, e.action, e.client, e.decision_id, "
                "(SELECT json_group_array(d.target_key) FROM budget_events d "
                " WHERE d.decision_id = e.decision_id AND d.bucket = ?) AS disrupted "
                "FROM budget_events e WHERE e.ts >= ? AND e.bucket IS NOT ? "
                "ORDER BY e.ts DESC, e.id DESC LIMIT ?",
                (DISRUPTION_BUCKET, since, DISRUPTION_BUCKET, max(1, min(limit, 1000))),
            ).fetchall()
        )
        return [{**dict(row), "disrupted": json.loads(row["disrupted"])} for row in rows]


def budget_overview(
    store: BudgetStore, rules: dict[str, BudgetRule], *, now: float, since_s: float = 86400
) -> dict[str, Any]:
    """The budgets as a person reads them: each bucket's rule, and the use of every target that had
    a counted change in the last `since_s` seconds (used/limit, spent or not, when the next change is
    allowed). Read-only; what the dashboard and `infraguardian://budgets` show."""
    recent = store.recent(since=now - since_s, limit=1000)
    seen = sorted({(str(r["bucket"]), str(r["target_key"])) for r in recent if r.get("bucket") in rules})
    targets = []
    for bucket, key in seen:
        status = store.status(bucket, key, rules[bucket], now=now)
        targets.append(
            {
                "bucket": bucket,
                "target": key,
                "used": status.used,
                "limit": status.limit,
                "exhausted": status.exhausted,
                "next_allowed_in_s": max(0.0, status.next_allowed_at - now)
                if status.next_allowed_at
                else 0.0,
            }
        )
    return {
        "rules": {name: rule.model_dump() for name, rule in sorted(rules.items())},
        "targets": targets,
        "recent_changes": recent[:50],
    }


def _insert(
    conn: sqlite3.Connection, change: ChangeRequest, now: float, bucket: str | None, key: str
) -> None:
    conn.execute(
        "INSERT INTO budget_events (ts, at, bucket, target_key, action, client, decision_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now, utc_iso(now), bucket, key, change.action, change.client, change.decision_id),
    )


def _disruption_statuses(
    conn: sqlite3.Connection, change: ChangeRequest, now: float
) -> list[tuple[Workload, BudgetStatus]]:
    """Each disrupted service (once) with its disruption budget use at `now`."""
    rule = change.disruption_rule
    if rule is None:
        return []
    unique = {w.key: w for w in change.disrupted}
    return [(w, _status(conn, DISRUPTION_BUCKET, w.key, rule, now)) for w in unique.values()]


def _judge_disruptions(
    disruptions: list[tuple[Workload, BudgetStatus]], change: ChangeRequest, now: float
) -> BudgetVerdict | None:
    """The refusal when any disrupted service's budget is spent or still backing off, naming the
    service that frees last (the change cannot pass before then), else None."""
    rule = change.disruption_rule
    blocked = [
        (w, s)
        for w, s in disruptions
        if s.exhausted or (s.next_allowed_at is not None and now < s.next_allowed_at)
    ]
    if rule is None or not blocked:
        return None
    workload, status = max(blocked, key=lambda pair: pair[1].next_allowed_at or now)
    retry = status.next_allowed_at or now
    others = [w.label for w, _ in blocked if w is not workload]
    also = f" (also blocked: {'; '.join(others[:5])})" if others else ""
    counted = (
        "restarts, starts, stops, kills, deploys and rollbacks all count, whichever tool or Dokploy "
        "call did them"
    )
    if status.exhausted:
        reason = (
            f"{workload.label} was already disrupted {status.used} times in the last "
            f"{human_duration(rule.window_s)} ({counted}; limit {status.limit}), so {change.action} "
            f"is refused until its disruption budget frees at {utc_iso(retry)} (in "
            f"{human_duration(retry - now)}){also}. Do not retry: this keeps failing, escalate to a "
            "human to find the root cause"
        )
        return BudgetVerdict("budget_exhausted", reason, retry, status)
    reason = (
        f"{workload.label} was disrupted {human_duration(now - (status.last_at or now))} ago ({counted}); "
        f"wait until {utc_iso(retry)} (in {human_duration(retry - now)}) before the next "
        f"{change.action}{also}, and read its logs meanwhile to see why the last one did not help"
    )
    return BudgetVerdict("backoff", reason, retry, status)


def _judge(status: BudgetStatus, change: ChangeRequest, now: float) -> BudgetVerdict | None:
    rule = change.rule
    assert rule is not None
    if status.exhausted:
        retry = status.next_allowed_at or now
        return BudgetVerdict(
            "budget_exhausted",
            f"{change.action} budget for {change.target_label} is used up ({status.used} "
            f"{change.bucket} actions in the last {human_duration(rule.window_s)}, limit {status.limit}); "
            f"it frees at {utc_iso(retry)} (in {human_duration(retry - now)}). Do not retry: this keeps "
            "failing, escalate to a human to find the root cause",
            retry,
            status,
        )
    if status.next_allowed_at is not None and now < status.next_allowed_at:
        retry = status.next_allowed_at
        return BudgetVerdict(
            "backoff",
            f"{change.target_label} had a {change.bucket} action "
            f"{human_duration(now - (status.last_at or now))} ago; wait until {utc_iso(retry)} "
            f"(in {human_duration(retry - now)}) before the next one "
            "and read its logs meanwhile to see why the last one did not help",
            retry,
            status,
        )
    return None


def budget_usage(status: BudgetStatus | None, *, counted: bool, now: float) -> BudgetUsage | None:
    """What the decision shows of a bucket: uses including this one when it counts, and when the
    window resets."""
    if status is None:
        return None
    used = status.used + (1 if counted else 0)
    resets = (
        status.resets_at if status.resets_at is not None else (now + status.window_s if counted else None)
    )
    return BudgetUsage(
        bucket=status.bucket,
        used=used,
        limit=status.limit,
        window_s=status.window_s,
        resets_at=to_datetime(resets) if resets is not None else None,
    )
