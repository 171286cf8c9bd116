"""Per-target budgets with exponential backoff, and the global rate limit on changes.

Every allowed change is stored as an event (time, bucket, target). A new change is checked against
the events, inside one write transaction, and stored when allowed, so two callers (threads or
processes) can never both take the last slot. The events survive restarts and are readable by the
agent host.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from mcp_server.safety.clock import human_duration, utc_iso
from mcp_server.safety.db import Database
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
    verdict: Verdict
    reason: str  # one line, empty when allowed
    retry_at: float | None = None
    status: BudgetStatus | None = None


@dataclass(frozen=True)
class ChangeRequest:
    """One change to check and, when allowed and `consume`, to count."""

    target_key: str
    target_label: str  # for people: "compose service api of project shop"
    action: str
    client: str
    decision_id: str
    bucket: str | None
    rule: BudgetRule | None
    consume: bool = True


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
        """Check the global rate and the target's budget and backoff; count the change when allowed."""

        def work(conn: sqlite3.Connection) -> BudgetVerdict:
            conn.execute("DELETE FROM budget_events WHERE ts < ?", (now - RETENTION_S,))
            count, oldest = conn.execute(
                "SELECT COUNT(*), MIN(ts) FROM budget_events WHERE ts > ?", (now - RATE_WINDOW_S,)
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
            if change.consume:
                conn.execute(
                    "INSERT INTO budget_events (ts, at, bucket, target_key, action, client, decision_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        now,
                        utc_iso(now),
                        change.bucket,
                        change.target_key,
                        change.action,
                        change.client,
                        change.decision_id,
                    ),
                )
            return BudgetVerdict("allowed", "", None, status)

        return self.db.transaction(work)

    def status(self, bucket: str, target_key: str, rule: BudgetRule, *, now: float) -> BudgetStatus:
        """Budget use of one target (read-only; works on a read-only database too)."""
        return self.db.run(lambda conn: _status(conn, bucket, target_key, rule, now))

    def recent(self, *, since: float, limit: int = 100) -> list[dict[str, object]]:
        """Counted changes since `since` (epoch s), newest first: what the agent host shows."""
        rows = self.db.run(
            lambda conn: conn.execute(
                "SELECT at, bucket, target_key, action, client, decision_id FROM budget_events "
                "WHERE ts >= ? ORDER BY ts DESC, id DESC LIMIT ?",
                (since, max(1, min(limit, 1000))),
            ).fetchall()
        )
        return [dict(row) for row in rows]


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
