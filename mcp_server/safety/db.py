"""The safety layer's SQLite file: private (0600), WAL mode, short transactions, shareable.

One file in the state directory holds the audit log and the budget events. The MCP server writes it;
the agent host (another process) opens it read-only at the same time. WAL lets readers and the
writer work concurrently, `busy_timeout` makes a second writer wait briefly instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000


class SafetyStoreError(RuntimeError):
    """The safety database cannot be opened or used; the message says what to fix."""


def _private_file(path: Path) -> None:
    """Create `path` (and its directory) readable by the owner only; fix looser permissions."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        if stat.S_IMODE(path.stat().st_mode) != 0o600:
            os.chmod(path, 0o600)
    except OSError as exc:
        raise SafetyStoreError(f"cannot create the safety database {path}: {exc.strerror or exc}") from None


class Database:
    """One SQLite connection, usable from worker threads one at a time (a lock serialises them).

    Open with `readonly=True` from another process to read the audit log and budgets."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._lock = threading.Lock()
        try:
            if readonly:
                if not path.is_file():
                    raise SafetyStoreError(f"no safety database at {path}: has the MCP server run yet?")
                self._conn = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
                )
            else:
                _private_file(path)
                self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise SafetyStoreError(f"cannot switch {path} to WAL mode (got {mode})")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise SafetyStoreError(f"cannot open the safety database {path}: {exc}") from None
        self._conn.row_factory = sqlite3.Row

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` with the connection, holding the lock. Keep it short: no I/O but SQLite.

        A busy or broken database raises SafetyStoreError: callers fail closed (no decision, no
        action). Integrity errors (the audit log's append-only triggers) pass through unchanged."""
        with self._lock:
            try:
                return work(self._conn)
            except sqlite3.OperationalError as exc:
                raise SafetyStoreError(
                    f"safety database {self.path} is unavailable ({exc}); nothing was changed, retry in "
                    "a few seconds and check the disk if it persists"
                ) from None

    def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one write transaction (BEGIN IMMEDIATE: other writers wait, so a check and
        the insert that follows it cannot interleave with another process)."""

        def wrapped(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return self.run(wrapped)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
