"""Saving what the engine finds: the `SignalJournal` interface (the watcher's signal store
implements it) and the buffer of what is not saved yet.

Changes (raised / updated / resolved) are saved in order. Active signals that were seen again
without a change ("silent refreshes": new numbers in the summary and evidence, a later last_seen)
are saved as their newest copy, so readers in other processes see current evidence too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import anyio

from .base import Signal, SignalChange

log = logging.getLogger(__name__)


class SignalJournal(Protocol):
    """Where the engine saves what it finds (the watcher's signal store)."""

    async def record(self, changes: Sequence[SignalChange], refreshed: Sequence[Signal]) -> None:
        """Save changes in order, then the newest copy of active signals that refreshed silently.
        Raise on failure: the engine keeps the batch and tries again after the next detector call."""
        ...


class UnsavedSignals:
    """What the engine found since the last save, handed to the journal by `save()`."""

    def __init__(self, journal: SignalJournal) -> None:
        self.journal = journal
        self._changes: list[SignalChange] = []
        self._refreshed: dict[str, Signal] = {}
        self._lock = anyio.Lock()

    def changed(self, changes: Sequence[SignalChange]) -> None:
        for change in changes:
            # a change carries the newest copy: an older silent refresh must not overwrite it
            self._refreshed.pop(change.signal.id, None)
        self._changes += changes

    def refreshed(self, signal: Signal) -> None:
        self._refreshed[signal.id] = signal

    async def save(self) -> None:
        """Hand everything unsaved to the journal; on failure keep it for the next save."""
        async with self._lock:
            changes, self._changes = self._changes, []
            refreshed, self._refreshed = self._refreshed, {}
            if not changes and not refreshed:
                return
            try:
                await self.journal.record(changes, list(refreshed.values()))
            except Exception as exc:  # the store may be busy for a moment: retry with the next save
                self._changes[:0] = changes
                self._refreshed = {**refreshed, **self._refreshed}
                log.warning("could not save %d signal changes (will retry): %s", len(changes), exc)
