"""One private SQLite file shared by processes: mode 0600, WAL, short serialised transactions.

The safety store (audit log, budgets) and the signal store (signals, watcher leases) both live in
such a file in the state directory: one process writes, others read at the same time. WAL lets
readers and the writer work concurrently; `busy_timeout` makes a second writer wait briefly instead
of failing. Each store passes its own error class and name, so messages say which file is at fault.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000


class SqliteFile:
    """One SQLite connection, usable from worker threads one at a time (a lock serialises them).

    `what` names the file in messages ("safety database"); `error` is raised for every failure.
    `readonly=True` opens an existing file from another process (`missing_hint` says why it may not
    exist yet)."""

    def __init__(
        self,
        path: Path,
        *,
        what: str,
        error: type[Exception],
        readonly: bool = False,
        missing_hint: str = "",
    ) -> None:
        self.path = path
        self.readonly = readonly
        self._what = what
        self._error = error
        self._lock = threading.Lock()
        try:
            if readonly:
                if not path.is_file():
                    raise error(f"no {what} at {path}: {missing_hint}".rstrip(": "))
                self._conn = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
                )
                self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            else:
                self._private_file()
                self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise error(f"cannot switch {path} to WAL mode (got {mode})")
                self._conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise error(f"cannot open the {what} {path}: {exc}") from None
        self._conn.row_factory = sqlite3.Row

    def _private_file(self) -> None:
        """Create the file (and its directory) readable by the owner only; fix looser permissions."""
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # only when new (O_EXCL: no window between a check and the create): closing any
            # descriptor of the file drops every POSIX lock this process holds on it, and so the
            # locks of its SQLite connections already open (another process then thinks it is
            # the last, checkpoints and deletes the WAL). An existing file is not opened here.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
            if not path.is_file():
                raise self._error(
                    f"cannot create the {self._what} {path}: something other than a file is there; "
                    "move it away or choose another state directory"
                )
            if stat.S_IMODE(path.stat().st_mode) != 0o600:
                os.chmod(path, 0o600)
        except OSError as exc:
            raise self._error(f"cannot create the {self._what} {path}: {exc.strerror or exc}") from None

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` with the connection, holding the lock. Keep it short: no I/O but SQLite.

        A busy or broken database raises the store's error: callers fail closed. Integrity errors
        (e.g. the audit log's append-only triggers) pass through unchanged."""
        with self._lock:
            try:
                return work(self._conn)
            except sqlite3.OperationalError as exc:
                raise self._error(
                    f"{self._what} {self.path} is unavailable ({exc}); nothing was changed, retry in a "
                    "few seconds and check the disk if it persists"
                ) from None

    def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one write transaction (BEGIN IMMEDIATE: other writers wait, so a check and
        the write that follows it cannot interleave with another process)."""

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
