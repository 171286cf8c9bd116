"""The list of active signals: de-duplicated by fingerprint, resolved when their condition clears,
and broadcast to subscribers as `SignalChange`s."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .base import Clock, Signal, SignalChange, SignalChangeKind

log = logging.getLogger(__name__)


class SignalBook:
    """Active signals by id plus the most recently resolved ones."""

    def __init__(self, clock: Clock, *, resolved_keep: int = 200) -> None:
        self.clock = clock
        self._active: dict[str, Signal] = {}
        self._resolved: deque[Signal] = deque(maxlen=resolved_keep)
        self._subscribers: list[MemoryObjectSendStream[SignalChange]] = []
        self.dropped_changes = 0

    # -- reading ---------------------------------------------------------------------------------
    def active(self) -> list[Signal]:
        """Active signals, most severe first, then oldest first."""
        return sorted(self._active.values(), key=lambda s: (-s.severity.rank, s.first_seen, s.id))

    def get(self, signal_id: str) -> Signal | None:
        return self._active.get(signal_id)

    def resolved(self) -> list[Signal]:
        """Recently resolved signals, newest first."""
        return list(reversed(self._resolved))

    # -- changing --------------------------------------------------------------------------------
    def restore(self, signals: list[Signal]) -> None:
        """Start from signals a previous watcher left active (read from the signal store), so they
        keep their first_seen and are not raised a second time. Nothing is published."""
        for signal in signals:
            if signal.status == "active":
                self._active[signal.id] = signal

    def upsert(self, signal: Signal) -> SignalChange | None:
        """Record a firing signal. A known id keeps its first_seen and takes the new summary and
        evidence; only a change of severity or runbook is published as "updated" (summaries carry
        live numbers and would otherwise publish on every poll)."""
        now = self.clock.now()
        existing = self._active.get(signal.id)
        if existing is None:
            stored = signal.model_copy(update={"first_seen": now, "last_seen": now, "status": "active"})
            self._active[signal.id] = stored
            return self._publish("raised", stored)
        stored = signal.model_copy(update={"first_seen": existing.first_seen, "last_seen": now})
        self._active[signal.id] = stored
        if (stored.severity, stored.runbook) != (existing.severity, existing.runbook):
            return self._publish("updated", stored)
        return None

    def resolve(self, signal_id: str, reason: str) -> SignalChange | None:
        signal = self._active.pop(signal_id, None)
        if signal is None:
            return None
        done = signal.model_copy(
            update={"status": "resolved", "resolved_at": self.clock.now(), "resolution": reason}
        )
        self._resolved.append(done)
        return self._publish("resolved", done)

    def resolve_missing(self, kind: str, still_firing: set[str], reason: str) -> list[SignalChange]:
        """Resolve every active signal of `kind` whose id is not in `still_firing`."""
        gone = [s.id for s in self._active.values() if s.kind == kind and s.id not in still_firing]
        return [c for sid in gone if (c := self.resolve(sid, reason)) is not None]

    def expire(self) -> list[SignalChange]:
        """Resolve signals whose auto_resolve_after_s passed without a new occurrence."""
        now = self.clock.now()
        changes = []
        for signal in list(self._active.values()):
            hold = signal.auto_resolve_after_s
            if hold is not None and (now - signal.last_seen).total_seconds() >= hold:
                change = self.resolve(signal.id, f"no new occurrence for {hold:.0f} s")
                if change:
                    changes.append(change)
        return changes

    # -- subscribers -----------------------------------------------------------------------------
    def _publish(self, kind: SignalChangeKind, signal: Signal) -> SignalChange:
        change = SignalChange(change=kind, signal=signal, at=self.clock.now())
        for stream in list(self._subscribers):
            try:
                stream.send_nowait(change)
            except anyio.WouldBlock:
                # a slow subscriber loses changes rather than stalling detection; it can re-read
                # the active list at any time
                self.dropped_changes += 1
                log.warning("signal subscriber is not keeping up; dropped a %s change", kind)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.remove(stream)
        return change

    @asynccontextmanager
    async def subscribe(self, buffer: int = 256) -> AsyncIterator[MemoryObjectReceiveStream[SignalChange]]:
        """A stream of changes from now on; leaving the block unsubscribes."""
        send, receive = anyio.create_memory_object_stream[SignalChange](buffer)
        self._subscribers.append(send)
        try:
            yield receive
        finally:
            if send in self._subscribers:
                self._subscribers.remove(send)
            send.close()
            receive.close()
