"""The engine's side of the watcher, without Docker: what it hands its journal (the signal store),
retrying after a failed save, and how a taken-over engine treats replayed events of restored
signals. Events are fed by hand to an engine whose Docker host never answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from mcp_server.detectors import DetectorEngine, DetectorSettings, ManualClock, Severity, Signal, SignalChange
from mcp_server.docker_ops.host import DockerHost
from tests.detectors.helpers import make_event

pytestmark = [pytest.mark.anyio]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class RecordingJournal:
    """Keeps every batch; fails the first `fail` saves as a busy store would."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.batches: list[tuple[list[str], list[str]]] = []

    async def record(self, changes: Sequence[SignalChange], refreshed: Sequence[Signal]) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("database is locked")
        self.batches.append(([f"{c.change}:{c.signal.severity}" for c in changes], [s.id for s in refreshed]))


def offline_engine(clock: ManualClock, journal: RecordingJournal | None = None) -> DetectorEngine:
    host = DockerHost("unix:///nonexistent/ig-watcher-test.sock", name="offline", timeout=2)
    return DetectorEngine(host, DetectorSettings(enabled=["oom"]), clock=clock, journal=journal)


async def oom_then_die(engine: DetectorEngine, at: datetime) -> list[SignalChange]:
    changes = await engine.handle_event(make_event("oom", at))
    return changes + await engine.handle_event(make_event("die", at + timedelta(seconds=0.1), exit_code=137))


async def test_changes_reach_the_journal_in_order_and_a_failed_save_is_retried() -> None:
    clock = ManualClock(T0 + timedelta(seconds=1))
    journal = RecordingJournal(fail=1)
    engine = offline_engine(clock, journal)
    await engine.handle_event(make_event("oom", T0))  # the save fails: kept for the next one
    assert journal.batches == []
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=0.1), exit_code=137))
    assert journal.batches == [(["raised:warning", "updated:critical"], [])]
    # the same OOM seen again by the poll path: no change, a silent refresh of the stored copy
    clock.advance(5)
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=0.1), exit_code=137))
    assert journal.batches[-1] == ([], [engine.active_signals()[0].id])


async def test_a_taken_over_engine_ignores_replayed_events_of_restored_signals() -> None:
    first = offline_engine(ManualClock(T0 + timedelta(seconds=1)))
    await oom_then_die(first, T0)
    [stored] = first.active_signals()
    assert stored.severity == Severity.critical

    clock = ManualClock(T0 + timedelta(seconds=30))
    heir = offline_engine(clock)
    heir.restore([stored], seen_until=T0)
    # the event look-back replays the OOM and the die the first engine already judged
    assert await oom_then_die(heir, T0) == []
    [kept] = heir.active_signals()
    assert (kept.severity, kept.first_seen) == (Severity.critical, stored.first_seen)
    # a new OOM of the same container after the takeover follows the usual rules again
    changes = await heir.handle_event(make_event("oom", T0 + timedelta(seconds=20)))
    assert [(c.change, c.signal.severity) for c in changes] == [("updated", Severity.warning)]
