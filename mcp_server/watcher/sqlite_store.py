"""The signal store on SQLite: `<state_dir>/signals.sqlite3`, private (0600), WAL mode.

One watcher process writes (the lease holder); every MCP session reads at the same time. WAL lets
readers and the writer work concurrently; `busy_timeout` makes a second writer (a standby renewing
its view of the lease) wait briefly instead of failing. The lease is taken inside BEGIN IMMEDIATE,
so two watchers checking "is it free?" cannot both win.

Schema (version 2; version 1 stored the detectors' old Target, so its signals are dropped on open —
the watcher raises what still holds again):
    watcher_leases  one row per host: holder, docker_url, acquired_at, renewed_at, expires_at (epoch s);
                    a released lease stays as a row that expired at release time
    signals         one row per occurrence of a signal: raised … resolved; `body` is the Signal JSON
    signal_changes  the history: raised / updated / resolved with the Signal as it was then
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from mcp_server.detectors.base import Signal, SignalChange
from mcp_server.sqlite_file import SqliteFile

from .store import Lease, LeaseLost, SignalStoreError, StoredChange

T = TypeVar("T")

SCHEMA_VERSION = 2
DEFAULT_FILE_NAME = "signals.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS watcher_leases (
    host TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    docker_url TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    renewed_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signals (
    occurrence INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    signal_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'resolved')),
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    resolved_at REAL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS signals_one_active ON signals (host, signal_id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS signals_resolved ON signals (host, status, resolved_at);
CREATE TABLE IF NOT EXISTS signal_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    signal_id TEXT NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('raised', 'updated', 'resolved')),
    at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signal_changes_by_host ON signal_changes (host, seq);
CREATE INDEX IF NOT EXISTS signal_changes_by_signal ON signal_changes (host, signal_id, seq);
"""


class SqliteSignalStore:
    """The SignalStore on one SQLite file. One connection, used by one thread at a time (a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SqliteFile(path, what="signal store", error=SignalStoreError)
        self._transaction(self._migrate)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> SqliteSignalStore:
        return cls(Path(state_dir) / DEFAULT_FILE_NAME)

    # -- plumbing --------------------------------------------------------------------------------
    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return self._db.run(work)

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one write transaction (BEGIN IMMEDIATE: other writers wait for it)."""
        return self._db.transaction(work)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif int(row[0]) == 1:  # targets in the old detector format: not readable as today's Target
            conn.execute("DELETE FROM signal_changes")
            conn.execute("DELETE FROM signals")
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        elif int(row[0]) > SCHEMA_VERSION:
            raise SignalStoreError(
                f"signal store {self.path} has schema version {row[0]}, newer than this InfraGuardian "
                f"understands ({SCHEMA_VERSION}); upgrade InfraGuardian or use another state directory"
            )

    # -- lease -----------------------------------------------------------------------------------
    def acquire_lease(
        self, host: str, holder: str, docker_url: str, ttl_s: float, *, now: float | None = None
    ) -> Lease:
        at = time.time() if now is None else now

        def work(conn: sqlite3.Connection) -> Lease:
            current = _lease(conn.execute("SELECT * FROM watcher_leases WHERE host = ?", (host,)).fetchone())
            if current is not None and current.holder != holder and current.live(at):
                return current
            acquired = current.acquired_at if current is not None and current.holder == holder else at
            conn.execute(
                "INSERT INTO watcher_leases (host, holder, docker_url, acquired_at, renewed_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (host) DO UPDATE SET holder = excluded.holder, "
                "docker_url = excluded.docker_url, acquired_at = excluded.acquired_at, "
                "renewed_at = excluded.renewed_at, expires_at = excluded.expires_at",
                (host, holder, docker_url, acquired, at, at + ttl_s),
            )
            return Lease(host, holder, docker_url, acquired, at, at + ttl_s)

        return self._transaction(work)

    def release_lease(self, host: str, holder: str, *, now: float | None = None) -> None:
        at = time.time() if now is None else now
        self._transaction(
            lambda conn: conn.execute(
                "UPDATE watcher_leases SET renewed_at = ?, expires_at = ? WHERE host = ? AND holder = ?",
                (at, at, host, holder),
            )
        )

    def current_lease(self, host: str) -> Lease | None:
        return _lease(
            self._run(
                lambda conn: conn.execute("SELECT * FROM watcher_leases WHERE host = ?", (host,)).fetchone()
            )
        )

    # -- writing ---------------------------------------------------------------------------------
    def record(
        self, host: str, holder: str, changes: Sequence[SignalChange], refreshed: Sequence[Signal]
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT holder FROM watcher_leases WHERE host = ?", (host,)).fetchone()
            if row is None or row["holder"] != holder:
                raise LeaseLost(
                    f"watcher {holder} no longer holds the lease of host {host!r}; "
                    f"{row['holder'] if row else 'nobody'} does"
                )
            for change in changes:
                _write_change(conn, host, change)
            for signal in refreshed:
                conn.execute(
                    "UPDATE signals SET last_seen = ?, body = ? "
                    "WHERE host = ? AND signal_id = ? AND status = 'active'",
                    (signal.last_seen.timestamp(), signal.model_dump_json(), host, signal.id),
                )

        self._transaction(work)

    def prune(self, host: str, keep_resolved: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT occurrence FROM signals WHERE host = ? AND status = 'resolved' "
                    "ORDER BY resolved_at DESC, occurrence DESC LIMIT -1 OFFSET ?",
                    (host, keep_resolved),
                )
            ]
            for occurrence in old:
                conn.execute("DELETE FROM signal_changes WHERE occurrence = ?", (occurrence,))
                conn.execute("DELETE FROM signals WHERE occurrence = ?", (occurrence,))
            return len(old)

        return self._transaction(work)

    # -- reading ---------------------------------------------------------------------------------
    def active_signals(self, host: str) -> list[Signal]:
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT body FROM signals WHERE host = ? AND status = 'active'", (host,)
            ).fetchall()
        )
        signals = [Signal.model_validate_json(r["body"]) for r in rows]
        return sorted(signals, key=lambda s: (-s.severity.rank, s.first_seen, s.id))

    def resolved_signals(self, host: str, limit: int = 200) -> list[Signal]:
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT body FROM signals WHERE host = ? AND status = 'resolved' "
                "ORDER BY resolved_at DESC, occurrence DESC LIMIT ?",
                (host, limit),
            ).fetchall()
        )
        return [Signal.model_validate_json(r["body"]) for r in rows]

    def history(self, host: str, signal_id: str) -> list[SignalChange]:
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT change, at, body FROM signal_changes WHERE host = ? AND signal_id = ? ORDER BY seq",
                (host, signal_id),
            ).fetchall()
        )
        return [_change(r) for r in rows]

    def changes_since(self, host: str, after_seq: int, limit: int = 500) -> list[StoredChange]:
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT seq, change, at, body FROM signal_changes WHERE host = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (host, after_seq, limit),
            ).fetchall()
        )
        return [StoredChange(seq=int(r["seq"]), change=_change(r)) for r in rows]

    def last_seq(self, host: str) -> int:
        row = self._run(
            lambda conn: conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM signal_changes WHERE host = ?", (host,)
            ).fetchone()
        )
        return int(row[0])

    def close(self) -> None:
        self._db.close()


def _lease(row: sqlite3.Row | None) -> Lease | None:
    if row is None:
        return None
    return Lease(
        host=row["host"],
        holder=row["holder"],
        docker_url=row["docker_url"],
        acquired_at=float(row["acquired_at"]),
        renewed_at=float(row["renewed_at"]),
        expires_at=float(row["expires_at"]),
    )


def _change(row: sqlite3.Row) -> SignalChange:
    return SignalChange(
        change=row["change"],
        signal=Signal.model_validate_json(row["body"]),
        at=datetime.fromtimestamp(float(row["at"]), UTC),
    )


def _write_change(conn: sqlite3.Connection, host: str, change: SignalChange) -> None:
    """Apply one change to the signals table and append it to the history."""
    signal = change.signal
    body = signal.model_dump_json()
    found = conn.execute(
        "SELECT occurrence FROM signals WHERE host = ? AND signal_id = ? AND status = 'active'",
        (host, signal.id),
    ).fetchone()
    if change.change == "raised" and found is None:
        cursor = conn.execute(
            "INSERT INTO signals (host, signal_id, kind, status, first_seen, last_seen, body) "
            "VALUES (?, ?, ?, 'active', ?, ?, ?)",
            (host, signal.id, signal.kind, signal.first_seen.timestamp(), signal.last_seen.timestamp(), body),
        )
        occurrence = int(cursor.lastrowid or 0)
        kind = "raised"
    elif found is None:
        return  # an update or resolution of a signal this store never saw active: nothing to change
    else:
        # a "raised" for a signal already active here (the previous holder's) continues that row,
        # so an occurrence has exactly one "raised" in its history
        occurrence = int(found["occurrence"])
        kind = "updated" if change.change == "raised" else change.change
        resolved = change.change == "resolved"
        conn.execute(
            "UPDATE signals SET status = ?, last_seen = ?, resolved_at = ?, body = ? WHERE occurrence = ?",
            (
                "resolved" if resolved else "active",
                signal.last_seen.timestamp(),
                signal.resolved_at.timestamp() if resolved and signal.resolved_at else None,
                body,
                occurrence,
            ),
        )
    conn.execute(
        "INSERT INTO signal_changes (host, occurrence, signal_id, change, at, body) VALUES (?, ?, ?, ?, ?, ?)",
        (host, occurrence, signal.id, kind, change.at.timestamp(), body),
    )
