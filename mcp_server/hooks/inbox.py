"""The alert inbox: what the webhooks received, stored durably until the watcher turns it into signals.

    inbox = AlertInbox.in_state_dir(state_dir)    # <state_dir>/signals.sqlite3, its own tables
    receipt = inbox.accept("local", batch)        # the HTTP route, in a worker thread; one transaction
    inbox.firing("local")                         # the external_alert detector: what fires now

One row per alert, keyed (host, source, alert key): the row holds the alert's latest state. Any process
may write (an HTTP `serve` on standby answers webhooks too); the lease holder's detector reads.

How a batch is judged, alert by alert (`InboxReceipt` counts the outcomes):
- firing, key unknown or stored resolved → stored firing ("accepted"); a firing whose start is older
  than the stored resolve's end is an earlier occurrence arriving late ("stale", ignored);
- firing, key already firing → "duplicate" (Alertmanager repeats, Uptime Kuma resends): last_seen is
  refreshed, a changed summary / severity / labels replaces the stored one (and bumps seq);
- resolved, key firing → stored resolved ("accepted", resolved_by "sender"), unless its end is older than
  the stored firing's start: the resolve of an earlier occurrence ("stale");
- resolved, key unknown → stored resolved ("accepted"), so a firing of that same occurrence arriving
  after it is recognised as stale; resolved, already resolved → "duplicate".
Times are the alerts' own (started_at, ended_at, else received_at), not the arrival order; with equal
or unknown times the later arrival wins.

Alertmanager only: a batch with a `group_key` and no truncation lists every alert of its group, so firing
rows of that group missing from it are resolved ("implicitly_resolved", resolved_by "absent from its
group"): with `send_resolved: false` this is the only way a resolve is seen. Never with truncation.
Test batches and batches without alerts store nothing; a batch byte-identical to one already stored
(same `payload_digest`: repeats and 5xx retries) is all duplicates.

`seq` is a per-host counter bumped on every stored change, so a reader polls `last_seq` cheaply and
reads `firing` only when it moved.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from mcp_server.hooks.models import ExternalAlert, WebhookBatch
from mcp_server.sqlite_file import SqliteFile

# The watcher's file: the inbox lives beside the signals (one file to back up, one permission to get right).
DEFAULT_FILE_NAME = "signals.sqlite3"
# Digests of stored batches remembered per host to spot byte-identical repeats and retries: the newest
# KEEP_DIGESTS, none older than DIGEST_MAX_AGE_S (Alertmanager repeats every repeat_interval, 4 h by default).
KEEP_DIGESTS = 2000
DIGEST_MAX_AGE_S = 2 * 86_400.0
RESOLVED_BY_SENDER = "sender"
RESOLVED_BY_ABSENCE = "absent from its group"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_inbox (
    host TEXT NOT NULL,
    source TEXT NOT NULL,
    alert_key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    group_key TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    changed_at REAL NOT NULL,
    seq INTEGER NOT NULL,
    resolved_by TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (host, source, alert_key)
);
CREATE INDEX IF NOT EXISTS alert_inbox_by_status ON alert_inbox (host, status, changed_at);
CREATE INDEX IF NOT EXISTS alert_inbox_by_group ON alert_inbox (host, source, group_key, status);
CREATE TABLE IF NOT EXISTS alert_inbox_seq (host TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alert_inbox_digests (
    host TEXT NOT NULL,
    source TEXT NOT NULL,
    digest TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (host, source, digest)
);
CREATE INDEX IF NOT EXISTS alert_inbox_digests_by_age ON alert_inbox_digests (host, at);
"""

Outcome = Literal["accepted", "duplicate", "stale"]


class AlertInboxError(RuntimeError):
    """The inbox file cannot be opened, read or written. One line: which file and what to do."""


@dataclass(frozen=True)
class InboxReceipt:
    """What `accept` did with one batch, per alert."""

    accepted: int = 0  # alerts whose stored state changed (new firing, a resolve)
    duplicates: int = 0  # same state already stored (Alertmanager repeats/retries, Kuma resends)
    stale: int = 0  # older than the stored state (an out-of-order resolve): ignored
    implicitly_resolved: int = 0  # firing alerts of the same Alertmanager group missing from a complete batch

    def summary(self) -> str:
        """One line, e.g. "2 new, 1 duplicate, 0 stale, 0 resolved by absence"."""
        duplicates = "duplicate" if self.duplicates == 1 else "duplicates"
        return (
            f"{self.accepted} new, {self.duplicates} {duplicates}, {self.stale} stale, "
            f"{self.implicitly_resolved} resolved by absence"
        )


class StoredAlert(BaseModel):
    """One alert as the inbox holds it: its latest state and when it was seen."""

    alert: ExternalAlert  # the latest state (status firing/resolved)
    host: str
    group_key: str | None
    first_seen: datetime  # when this key was first stored firing (kept across repeats)
    last_seen: datetime  # last request that mentioned it
    seq: int  # the host's change counter when this row last changed
    resolved_by: str | None  # "sender" | "absent from its group" | None while firing


class AlertInbox:
    """The inbox table(s) in one SQLite file. Safe to use from several threads (one lock) and from
    several processes (write transactions are BEGIN IMMEDIATE; `busy_timeout` makes others wait)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = SqliteFile(self.path, what="alert inbox", error=AlertInboxError)
        self._db.transaction(_create_tables)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> AlertInbox:
        return cls(Path(state_dir) / DEFAULT_FILE_NAME)

    # -- writing ---------------------------------------------------------------------------------
    def accept(self, host: str, batch: WebhookBatch) -> InboxReceipt:
        """Store what `batch` says about the alerts of `host`, in one transaction (blocking: call it in
        a worker thread). Returns what happened to each alert; raises AlertInboxError when the file is
        unavailable (then nothing was stored and the sender should get a 5xx to retry)."""
        if batch.is_test or not batch.alerts:
            return InboxReceipt()
        return self._db.transaction(lambda conn: _Acceptance(conn, host, batch).run())

    def prune(self, host: str, keep_resolved: int = 1000) -> int:
        """Delete all but the newest `keep_resolved` resolved alerts of `host` (and old batch digests);
        returns how many alerts were deleted. Firing alerts are never pruned."""

        def work(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "DELETE FROM alert_inbox WHERE rowid IN (SELECT rowid FROM alert_inbox "
                "WHERE host = ? AND status = 'resolved' ORDER BY changed_at DESC, seq DESC LIMIT -1 OFFSET ?)",
                (host, max(0, keep_resolved)),
            )
            _prune_digests(conn, host)
            return int(cursor.rowcount)

        return self._db.transaction(work)

    # -- reading ---------------------------------------------------------------------------------
    def firing(self, host: str) -> list[StoredAlert]:
        """The alerts of `host` firing now, oldest first."""
        return self._select(
            "SELECT * FROM alert_inbox WHERE host = ? AND status = 'firing' ORDER BY first_seen, seq",
            (host,),
        )

    def last_seq(self, host: str) -> int:
        """The host's change counter: it moves whenever a stored alert changes; 0 when none ever did."""
        row = self._db.run(
            lambda conn: conn.execute("SELECT seq FROM alert_inbox_seq WHERE host = ?", (host,)).fetchone()
        )
        return int(row[0]) if row else 0

    def recent(self, host: str, limit: int = 100) -> list[StoredAlert]:
        """The alerts of `host` most recently mentioned, newest first, whatever their status."""
        return self._select(
            "SELECT * FROM alert_inbox WHERE host = ? ORDER BY last_seen DESC, seq DESC LIMIT ?",
            (host, max(0, limit)),
        )

    def close(self) -> None:
        self._db.close()

    def _select(self, sql: str, params: tuple[object, ...]) -> list[StoredAlert]:
        rows = self._db.run(lambda conn: conn.execute(sql, params).fetchall())
        return [_stored(row) for row in rows]


def _create_tables(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


class _Acceptance:
    """One batch being written inside one transaction."""

    def __init__(self, conn: sqlite3.Connection, host: str, batch: WebhookBatch) -> None:
        self.conn = conn
        self.host = host
        self.batch = batch
        self.counts: dict[str, int] = {"accepted": 0, "duplicate": 0, "stale": 0}
        row = conn.execute("SELECT seq FROM alert_inbox_seq WHERE host = ?", (host,)).fetchone()
        self.seq = int(row[0]) if row else 0
        self.start_seq = self.seq

    def run(self) -> InboxReceipt:
        batch = self.batch
        if self._digest_seen():
            # a repeat or retry of bytes already stored: nothing new, but they were mentioned again
            for alert in batch.alerts:
                self.conn.execute(
                    "UPDATE alert_inbox SET last_seen = MAX(last_seen, ?) "
                    "WHERE host = ? AND source = ? AND alert_key = ?",
                    (alert.received_at.timestamp(), self.host, alert.source, alert.key),
                )
            return InboxReceipt(duplicates=len(batch.alerts))
        for alert in batch.alerts:
            self.counts[self._one(alert)] += 1
        absent = self._resolve_absent()
        if self.seq != self.start_seq:
            self.conn.execute(
                "INSERT INTO alert_inbox_seq (host, seq) VALUES (?, ?) "
                "ON CONFLICT (host) DO UPDATE SET seq = excluded.seq",
                (self.host, self.seq),
            )
        now = time.time()
        self.conn.execute(
            "INSERT OR REPLACE INTO alert_inbox_digests (host, source, digest, at) VALUES (?, ?, ?, ?)",
            (self.host, batch.source, batch.payload_digest, now),
        )
        self.conn.execute(
            "DELETE FROM alert_inbox_digests WHERE host = ? AND at < ?", (self.host, now - DIGEST_MAX_AGE_S)
        )
        return InboxReceipt(
            accepted=self.counts["accepted"],
            duplicates=self.counts["duplicate"],
            stale=self.counts["stale"],
            implicitly_resolved=absent,
        )

    def _digest_seen(self) -> bool:
        found = self.conn.execute(
            "SELECT 1 FROM alert_inbox_digests WHERE host = ? AND source = ? AND digest = ?",
            (self.host, self.batch.source, self.batch.payload_digest),
        ).fetchone()
        return found is not None

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _one(self, alert: ExternalAlert) -> Outcome:
        row = self.conn.execute(
            "SELECT * FROM alert_inbox WHERE host = ? AND source = ? AND alert_key = ?",
            (self.host, alert.source, alert.key),
        ).fetchone()
        stored = _stored(row) if row is not None else None
        at = alert.received_at.timestamp()
        if stored is None:
            self._insert(alert, resolved_by=RESOLVED_BY_SENDER if alert.status == "resolved" else None)
            return "accepted"
        old = stored.alert
        if alert.status == "firing":
            if old.status == "firing":
                return self._repeat(stored, alert)
            if _before(alert.started_at, _ended(old)):
                return "stale"  # an earlier occurrence's firing, arriving after its resolve
            self._write(alert, first_seen=at, resolved_by=None)
            return "accepted"
        if old.status == "resolved":
            self._touch(alert, at)
            return "duplicate"
        if _before(_ended(alert), old.started_at):
            return "stale"  # the resolve of an earlier occurrence, arriving after the new firing
        self._write(alert, first_seen=stored.first_seen.timestamp(), resolved_by=RESOLVED_BY_SENDER)
        return "accepted"

    def _repeat(self, stored: StoredAlert, alert: ExternalAlert) -> Outcome:
        """The same firing again; a changed description is stored and bumps seq. A resend (Uptime Kuma
        repeating a DOWN) keeps the outage's first start; otherwise a later start is a new occurrence
        whose resolve was missed (Alertmanager keeps startsAt across repeats), so a late resolve of
        the earlier one is then recognised as stale."""
        old = stored.alert
        known = [t for t in (old.started_at, alert.started_at) if t is not None]
        start = min(known) if alert.resend and known else max(known, default=None)
        merged = alert.model_copy(update={"started_at": start})
        if _meaning(merged) != _meaning(old) or stored.group_key != self.batch.group_key:
            self._write(merged, first_seen=stored.first_seen.timestamp(), resolved_by=None)
        else:
            self._touch(alert, alert.received_at.timestamp())
        return "duplicate"

    def _insert(self, alert: ExternalAlert, *, resolved_by: str | None) -> None:
        at = alert.received_at.timestamp()
        self.conn.execute(
            "INSERT INTO alert_inbox (host, source, alert_key, status, group_key, first_seen, last_seen, "
            "changed_at, seq, resolved_by, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.host,
                alert.source,
                alert.key,
                alert.status,
                self.batch.group_key,
                at,
                at,
                _change_time(alert),
                self._next_seq(),
                resolved_by,
                alert.model_dump_json(),
            ),
        )

    def _write(self, alert: ExternalAlert, *, first_seen: float, resolved_by: str | None) -> None:
        self.conn.execute(
            "UPDATE alert_inbox SET status = ?, group_key = ?, first_seen = ?, last_seen = MAX(last_seen, ?), "
            "changed_at = ?, seq = ?, resolved_by = ?, body = ? WHERE host = ? AND source = ? AND alert_key = ?",
            (
                alert.status,
                self.batch.group_key,
                first_seen,
                alert.received_at.timestamp(),
                _change_time(alert),
                self._next_seq(),
                resolved_by,
                alert.model_dump_json(),
                self.host,
                alert.source,
                alert.key,
            ),
        )

    def _touch(self, alert: ExternalAlert, at: float) -> None:
        self.conn.execute(
            "UPDATE alert_inbox SET last_seen = MAX(last_seen, ?) WHERE host = ? AND source = ? AND alert_key = ?",
            (at, self.host, alert.source, alert.key),
        )

    def _resolve_absent(self) -> int:
        """Alertmanager lists every alert of its group in a request without truncation: firing rows of
        that group it left out have resolved (the only resolve `send_resolved: false` ever shows)."""
        batch = self.batch
        if batch.source != "alertmanager" or not batch.group_key or batch.truncated_alerts:
            return 0
        listed = {a.key for a in batch.alerts}
        at = max(a.received_at for a in batch.alerts)
        rows = self.conn.execute(
            "SELECT * FROM alert_inbox WHERE host = ? AND source = ? AND group_key = ? AND status = 'firing'",
            (self.host, batch.source, batch.group_key),
        ).fetchall()
        resolved = 0
        for row in rows:
            stored = _stored(row)
            if stored.alert.key in listed:
                continue
            ended = stored.alert.model_copy(update={"status": "resolved", "ended_at": at, "received_at": at})
            self._write(ended, first_seen=stored.first_seen.timestamp(), resolved_by=RESOLVED_BY_ABSENCE)
            resolved += 1
        return resolved


def _stored(row: sqlite3.Row) -> StoredAlert:
    return StoredAlert(
        alert=ExternalAlert.model_validate_json(row["body"]),
        host=row["host"],
        group_key=row["group_key"],
        first_seen=datetime.fromtimestamp(float(row["first_seen"]), UTC),
        last_seen=datetime.fromtimestamp(float(row["last_seen"]), UTC),
        seq=int(row["seq"]),
        resolved_by=row["resolved_by"],
    )


def _ended(alert: ExternalAlert) -> datetime:
    """When a resolved alert ended by its own account (its end time, else when it was received)."""
    return alert.ended_at or alert.received_at


def _change_time(alert: ExternalAlert) -> float:
    return (_ended(alert) if alert.status == "resolved" else alert.received_at).timestamp()


def _before(earlier: datetime | None, later: datetime | None) -> bool:
    """True only when both times are known and `earlier` is strictly before `later` (unknown or equal
    times: the later arrival wins)."""
    return earlier is not None and later is not None and earlier < later


def _meaning(alert: ExternalAlert) -> tuple[object, ...]:
    """What a reader of the alert cares about; a repeat that changes none of it changes nothing."""
    return (
        alert.severity,
        alert.summary,
        alert.name,
        alert.url,
        alert.started_at,
        tuple(sorted(alert.labels.items())),
        tuple(sorted(alert.target_hints.items())),
    )


def _prune_digests(conn: sqlite3.Connection, host: str) -> None:
    conn.execute(
        "DELETE FROM alert_inbox_digests WHERE rowid IN (SELECT rowid FROM alert_inbox_digests "
        "WHERE host = ? ORDER BY at DESC LIMIT -1 OFFSET ?)",
        (host, KEEP_DIGESTS),
    )
