"""What the watcher keeps in the state store: the signals of each Docker host with their history,
and the lease that says which watcher process runs the detectors of that host.

`SignalStore` is the interface; `SqliteSignalStore` (sqlite_store.py) implements it on a file in
the state directory. A PostgreSQL store for several agents sharing one database can implement the
same methods later. Every method is blocking and short: call it from a worker thread in async code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mcp_server.detectors.base import Signal, SignalChange


class SignalStoreError(RuntimeError):
    """The signal store cannot be opened or used; the message says what to fix."""


class LeaseLost(SignalStoreError):
    """This watcher no longer holds the lease of its host: another watcher took over."""


@dataclass(frozen=True)
class Lease:
    """Who runs the detectors of one Docker host, since when, last renewed when, and until when
    (epoch seconds). A released lease keeps its row, expired at the time it was given up."""

    host: str
    holder: str
    docker_url: str
    acquired_at: float
    renewed_at: float
    expires_at: float

    def live(self, now: float) -> bool:
        return self.expires_at > now

    def pid(self) -> int | None:
        """The process id in a holder id shaped `pid@hostname/random` (None for other shapes)."""
        head = self.holder.split("@", 1)[0]
        return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class StoredChange:
    """One row of a host's signal history; `seq` grows with every change written."""

    seq: int
    change: SignalChange


class SignalStore(Protocol):
    """Signals and leases of Docker hosts. `host` is the host key (the configured host name)."""

    # -- lease -----------------------------------------------------------------------------------
    def acquire_lease(
        self, host: str, holder: str, docker_url: str, ttl_s: float, *, now: float | None = None
    ) -> Lease:
        """Take the lease when it is free, expired or already ours (then it is renewed), in one
        atomic step. Returns the lease as it is afterwards: ours, or the live lease of another."""
        ...

    def release_lease(self, host: str, holder: str, *, now: float | None = None) -> None:
        """Give the lease up (only when `holder` holds it), so a standby can take over at once.
        The row stays, expired now: its renewed_at tells the next holder until when events were seen."""
        ...

    def current_lease(self, host: str) -> Lease | None:
        """The lease of `host` (live, expired or released), or None when no watcher ever held it."""
        ...

    # -- writing (the lease holder only) ---------------------------------------------------------
    def record(
        self, host: str, holder: str, changes: Sequence[SignalChange], refreshed: Sequence[Signal]
    ) -> None:
        """Write raised/updated/resolved changes (in order) and silent refreshes of active signals
        (newer summary, evidence, last_seen) in one transaction. Raises LeaseLost when `holder`
        does not hold the lease of `host` (nothing is written)."""
        ...

    def prune(self, host: str, keep_resolved: int) -> int:
        """Forget the oldest resolved signals beyond `keep_resolved` and their history rows.
        Returns how many signals were forgotten."""
        ...

    # -- reading ---------------------------------------------------------------------------------
    def active_signals(self, host: str) -> list[Signal]:
        """Active signals, most severe first, then oldest first."""
        ...

    def resolved_signals(self, host: str, limit: int = 200) -> list[Signal]:
        """Resolved signals, newest first."""
        ...

    def history(self, host: str, signal_id: str) -> list[SignalChange]:
        """Every raised/updated/resolved change of one signal id, oldest first."""
        ...

    def changes_since(self, host: str, after_seq: int, limit: int = 500) -> list[StoredChange]:
        """Changes written after `after_seq`, oldest first (for subscribers that poll)."""
        ...

    def last_seq(self, host: str) -> int:
        """The seq of the newest change of `host` (0 when there is none)."""
        ...

    def close(self) -> None: ...
