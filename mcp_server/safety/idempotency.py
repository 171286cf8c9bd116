"""Idempotency keys: a change sent twice with the same key is done once.

An agent that is killed in the middle of an incident resumes it and sends its calls again. Each
changing call carries a key (the agent uses incident + step, e.g. `inc-42:step-3`); the server
keeps, per key, the tool, a hash of the arguments, and what happened, in the safety database:

- `started`: the call claimed the key (before anything else).
- `authorized`: the policy allowed the change; written in the same transaction that spends its
  budget, so "budget spent" and "key in use" are never apart.
- `acted`: the action ended; written in the same transaction as its audit row (ok or error).
- `finished`: the exact answer the client got (already redacted) is stored.

A repeat of a key is answered from this record and never acts again:
- finished: the recorded answer, marked `replayed` (a recorded failure is replayed too: to try
  again, the agent sends a new key);
- other arguments or another tool: refused, nothing done;
- still running in this process: the repeat waits for the first call, then gets its answer;
- authorized or acted but never finished (the server was killed during the action): the outcome is
  unknown, the repeat says so and the agent must check the target before it retries with a new key;
- only started (the server stopped before the policy allowed anything): nothing was changed, so the
  repeat takes the key over and runs.
A call refused by the policy, or failing before the policy allowed it, changed nothing and keeps no
record: the same key may be sent again. Keys expire `ttl_s` after their first call (default 7 days).

Reading from `mcp_server/server/idempotent_calls.py` (the MCP side: `_meta` key, answers) and the
gate (budgets.py and audit.py run the `authorized` / `acted` writes inside their transactions).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from mcp_server.safety.clock import utc_iso
from mcp_server.safety.db import Database, SafetyStoreError

KEY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
KEY_RULE = "1-128 characters of letters, digits and . _ : - (e.g. inc-42:step-3)"

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    arguments_hash TEXT NOT NULL,
    client TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'authorized', 'acted', 'finished')),
    started_ts REAL NOT NULL,
    started_at TEXT NOT NULL,
    expires_ts REAL NOT NULL,
    decision_id TEXT,
    audit_result TEXT,
    audit_summary TEXT,
    result TEXT,
    is_error INTEGER,
    finished_ts REAL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_ts);
"""

LookupKind = Literal["claimed", "took_over", "finished", "conflict", "running", "unknown"]


class IdempotencyKeyLost(SafetyStoreError):
    """The key this call held was taken over by another server process (which found it unused):
    the change is refused so it cannot happen twice."""


@dataclass(frozen=True)
class KeyRecord:
    """One stored key, as a repeat sees it."""

    key: str
    tool: str
    arguments_hash: str
    claim_id: str
    state: str
    started_at: str
    decision_id: str | None
    audit_result: str | None
    audit_summary: str | None
    result: dict[str, Any] | None
    is_error: bool


@dataclass(frozen=True)
class Lookup:
    """What `claim` found: `claimed`/`took_over` (this call runs), or the record a repeat answers
    from (`finished`, `conflict`, `running` in this process, `unknown` outcome)."""

    kind: LookupKind
    record: KeyRecord | None = None


@dataclass(frozen=True)
class Claim:
    """The key a running call holds. The gate reads it from `current_claim` to tie the budget
    spend and the audit row to the key, in their own transactions."""

    key: str
    claim_id: str

    def authorized_in(self, decision_id: str) -> Callable[[sqlite3.Connection], None]:
        """The write that marks the key `authorized`, for the budget transaction. Raises
        `IdempotencyKeyLost` (rolling the budget spend back) when another process took the key."""

        def write(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE idempotency_keys SET state = 'authorized', decision_id = COALESCE(decision_id, ?) "
                "WHERE key = ? AND claim_id = ? AND state != 'finished'",
                (decision_id, self.key, self.claim_id),
            )
            if cursor.rowcount != 1:
                raise IdempotencyKeyLost(
                    f"idempotency key {self.key} was taken over by another call while this one waited; "
                    "nothing was changed. Send the same key again to get that call's result"
                )

        return write

    def acted_in(self, result: str, summary: str) -> Callable[[sqlite3.Connection], None]:
        """The write that marks the key `acted` with the audit row's result, for its transaction."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE idempotency_keys SET state = 'acted', audit_result = ?, audit_summary = ? "
                "WHERE key = ? AND claim_id = ? AND state = 'authorized'",
                (result, summary[:500], self.key, self.claim_id),
            )

        return write


# Set by the MCP layer for the duration of one call that carries a key.
current_claim: contextvars.ContextVar[Claim | None] = contextvars.ContextVar(
    "infraguardian_idempotency_claim", default=None
)


def arguments_hash(tool: str, arguments: Any) -> str:
    """sha256 of the tool name and its arguments as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps([tool, arguments], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    """The keys in the safety database. Methods are synchronous and short (run them in a thread)."""

    def __init__(self, db: Database, *, ttl_s: float) -> None:
        self.db = db
        self.ttl_s = ttl_s
        if not db.readonly:
            db.run(lambda conn: conn.executescript(SCHEMA))

    def claim(
        self,
        key: str,
        *,
        tool: str,
        arguments_hash: str,
        client: str,
        claim_id: str,
        now: float,
        is_running: Callable[[str], bool],
    ) -> Lookup:
        """Claim `key` for a new call, or say why not. Expired keys are pruned first.
        `is_running(claim_id)`: whether a call of this process still holds that claim."""

        def work(conn: sqlite3.Connection) -> Lookup:
            conn.execute("DELETE FROM idempotency_keys WHERE expires_ts <= ?", (now,))
            row = conn.execute("SELECT * FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO idempotency_keys (key, tool, arguments_hash, client, claim_id, state, "
                    "started_ts, started_at, expires_ts) VALUES (?, ?, ?, ?, ?, 'started', ?, ?, ?)",
                    (key, tool, arguments_hash, client[:200], claim_id, now, utc_iso(now), now + self.ttl_s),
                )
                return Lookup("claimed")
            record = _record(row)
            if (record.tool, record.arguments_hash) != (tool, arguments_hash):
                return Lookup("conflict", record)
            if record.state == "finished":
                return Lookup("finished", record)
            if is_running(record.claim_id):
                return Lookup("running", record)
            if record.state == "started":  # its server stopped before the policy allowed anything
                conn.execute(
                    "UPDATE idempotency_keys SET claim_id = ?, client = ?, started_ts = ?, started_at = ? "
                    "WHERE key = ?",
                    (claim_id, client[:200], now, utc_iso(now), key),
                )
                return Lookup("took_over", record)
            return Lookup("unknown", record)

        return self.db.transaction(work)

    def finish(self, claim: Claim, result: dict[str, Any], *, is_error: bool, now: float) -> bool:
        """Store the answer of a call that got past the policy (True), or release the key of one
        that did not (False: nothing changed, the key may be used again)."""

        def work(conn: sqlite3.Connection) -> bool:
            stored = conn.execute(
                "UPDATE idempotency_keys SET state = 'finished', result = ?, is_error = ?, finished_ts = ? "
                "WHERE key = ? AND claim_id = ? AND state IN ('authorized', 'acted')",
                (json.dumps(result, ensure_ascii=False), int(is_error), now, claim.key, claim.claim_id),
            ).rowcount
            if not stored:
                _release(conn, claim)
            return bool(stored)

        return self.db.transaction(work)

    def release(self, claim: Claim) -> None:
        """Give the key back when the call never got past the policy (refused, failed early, asked a
        human and waits for the client's retry)."""
        self.db.transaction(lambda conn: _release(conn, claim))

    def get(self, key: str) -> KeyRecord | None:
        row = self.db.run(
            lambda conn: conn.execute("SELECT * FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
        )
        return _record(row) if row is not None else None


def _release(conn: sqlite3.Connection, claim: Claim) -> None:
    conn.execute(
        "DELETE FROM idempotency_keys WHERE key = ? AND claim_id = ? AND state = 'started'",
        (claim.key, claim.claim_id),
    )


def _record(row: sqlite3.Row) -> KeyRecord:
    return KeyRecord(
        key=row["key"],
        tool=row["tool"],
        arguments_hash=row["arguments_hash"],
        claim_id=row["claim_id"],
        state=row["state"],
        started_at=row["started_at"],
        decision_id=row["decision_id"],
        audit_result=row["audit_result"],
        audit_summary=row["audit_summary"],
        result=json.loads(row["result"]) if row["result"] else None,
        is_error=bool(row["is_error"]),
    )
