"""What every MCP session reads: the signals of its Docker host, from the signal store.

Sessions never run detectors themselves; whichever watcher holds the host's lease writes, and every
session (stdio, SSE, streamable HTTP, in this process or another) reads the same rows. New changes
are found by polling the store, so a session learns of them within `poll_s` wherever they came from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import anyio

from mcp_server.detectors import Signal, SignalChange

from .store import SignalStore, SignalStoreError

log = logging.getLogger("infraguardian.watcher")


class SignalReader:
    """Signals of one host as the store has them. Reads are short SQLite queries (blocking)."""

    def __init__(self, store: SignalStore, host: str) -> None:
        self.store = store
        self.host = host

    def active_signals(self) -> list[Signal]:
        """Signals active now, most severe first."""
        return self.store.active_signals(self.host)

    def resolved_signals(self, limit: int = 200) -> list[Signal]:
        """Resolved signals, newest first."""
        return self.store.resolved_signals(self.host, limit)

    def history(self, signal_id: str) -> list[SignalChange]:
        """Every raised/updated/resolved change of one signal, oldest first."""
        return self.store.history(self.host, signal_id)

    def running(self) -> bool:
        """True while some watcher holds a live lease on this host (detectors are running)."""
        lease = self.store.current_lease(self.host)
        return lease is not None and lease.live(time.time())

    async def changes(self, poll_s: float = 1.0) -> AsyncIterator[SignalChange]:
        """Changes written from now on, found by polling the store every `poll_s` seconds."""
        seq = await anyio.to_thread.run_sync(self.store.last_seq, self.host)
        while True:
            try:
                rows = await anyio.to_thread.run_sync(self.store.changes_since, self.host, seq)
            except SignalStoreError as exc:
                log.warning("cannot read signal changes (retrying): %s", exc)
                rows = []
            for row in rows:
                seq = row.seq
                yield row.change
            if not rows:
                await anyio.sleep(poll_s)
