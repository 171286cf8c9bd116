"""The SQLite signal store without Docker: leases, the signal history, fencing, pruning."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mcp_server.detectors import Severity, Signal, SignalChange, Target
from mcp_server.watcher import LeaseLost, SignalStoreError, SqliteSignalStore
from mcp_server.watcher.sqlite_store import SCHEMA_VERSION

HOST = "local"
URL = "unix:///var/run/docker.sock"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def signal(
    sid: str = "oom-1", severity: Severity = Severity.critical, at: datetime = T0, **extra: object
) -> Signal:
    return Signal(
        id=sid,
        kind=sid.split("-")[0],
        severity=severity,
        summary=f"{sid} happened",
        target=Target.for_container(URL, "shop-api-1", project="shop", service="api"),
        evidence={"exit_code": 137},
        runbook="oom-killed",
        first_seen=at,
        last_seen=at,
        **extra,  # type: ignore[arg-type]
    )


def change(kind: str, sig: Signal, at: datetime = T0) -> SignalChange:
    return SignalChange(change=kind, signal=sig, at=at)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteSignalStore]:
    opened = SqliteSignalStore.in_state_dir(tmp_path / "state")
    yield opened
    opened.close()


def test_file_is_private_and_versioned(store: SqliteSignalStore) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    version = store._run(lambda c: c.execute("SELECT version FROM schema_version").fetchone()[0])
    assert version == SCHEMA_VERSION


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signals.sqlite3"
    SqliteSignalStore(path).close()
    newer = SqliteSignalStore(path)
    newer._run(lambda c: c.execute("UPDATE schema_version SET version = 99"))
    newer.close()
    with pytest.raises(SignalStoreError, match="schema version 99, newer"):
        SqliteSignalStore(path)


def test_a_version_1_store_drops_its_signals_in_the_old_target_format(tmp_path: Path) -> None:
    path = tmp_path / "signals.sqlite3"
    old = SqliteSignalStore(path)
    old.acquire_lease(HOST, "me", URL, ttl_s=60)
    old.record(HOST, "me", [change("raised", signal())], [])
    old_body = '{"host": "local", "app_name": "shop", "container_name": "shop-api-1"}'
    old._run(
        lambda c: c.execute("UPDATE signals SET body = json_set(body, '$.target', json(?))", (old_body,))
    )
    old._run(lambda c: c.execute("UPDATE schema_version SET version = 1"))
    old.close()
    reopened = SqliteSignalStore(path)
    assert reopened.active_signals(HOST) == [] and reopened.history(HOST, "oom-1") == []
    assert reopened.current_lease(HOST) is not None  # the lease survives: only signals changed shape
    version = reopened._run(lambda c: c.execute("SELECT version FROM schema_version").fetchone()[0])
    reopened.close()
    assert version == SCHEMA_VERSION == 2


def test_lease_is_exclusive_until_it_expires_or_is_released(store: SqliteSignalStore) -> None:
    first = store.acquire_lease(HOST, "1@a/x", URL, ttl_s=10, now=1000)
    assert first.holder == "1@a/x" and first.expires_at == 1010 and first.pid() == 1
    # another watcher sees the live lease of the first, and does not get it
    assert store.acquire_lease(HOST, "2@a/y", URL, ttl_s=10, now=1005).holder == "1@a/x"
    # renewal keeps acquired_at and moves expiry
    renewed = store.acquire_lease(HOST, "1@a/x", URL, ttl_s=10, now=1008)
    assert (renewed.acquired_at, renewed.renewed_at, renewed.expires_at) == (1000, 1008, 1018)
    # not renewed in time (holder killed): the other takes it over
    taken = store.acquire_lease(HOST, "2@a/y", URL, ttl_s=10, now=1018.5)
    assert (taken.holder, taken.acquired_at) == ("2@a/y", 1018.5)
    # the old holder cannot release the new holder's lease; the new holder can
    store.release_lease(HOST, "1@a/x", now=1019)
    assert store.current_lease(HOST) == taken
    store.release_lease(HOST, "2@a/y", now=1019)
    released = store.current_lease(HOST)
    assert released is not None and not released.live(1019) and released.renewed_at == 1019
    assert store.acquire_lease(HOST, "3@b/z", URL, ttl_s=10, now=1019.1).holder == "3@b/z"
    # other hosts have leases of their own
    assert store.acquire_lease("edge", "1@a/x", URL, ttl_s=10, now=1020).holder == "1@a/x"
    assert store.current_lease("nowhere") is None


def test_only_one_of_many_racing_watchers_gets_the_lease(tmp_path: Path) -> None:
    """Separate connections (as separate processes have) race for a free lease: one wins."""
    stores = [SqliteSignalStore.in_state_dir(tmp_path) for _ in range(8)]
    winners: list[str] = []
    barrier = threading.Barrier(len(stores))

    def race(i: int) -> None:
        barrier.wait()
        lease = stores[i].acquire_lease(HOST, f"{i}@h/r", URL, ttl_s=30)
        if lease.holder == f"{i}@h/r":
            winners.append(lease.holder)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert len(winners) == 1


def test_history_of_a_signal_raised_updated_resolved_and_raised_again(store: SqliteSignalStore) -> None:
    store.acquire_lease(HOST, "me", URL, ttl_s=60)
    raised = signal()
    store.record(HOST, "me", [change("raised", raised)], [])
    assert [s.id for s in store.active_signals(HOST)] == ["oom-1"]
    # a silent refresh (new numbers) is visible to readers without a history row
    refreshed = raised.model_copy(
        update={"evidence": {"exit_code": 137, "restarts": 3}, "last_seen": T0 + timedelta(seconds=5)}
    )
    store.record(HOST, "me", [], [refreshed])
    assert store.active_signals(HOST)[0].evidence["restarts"] == 3
    updated = refreshed.model_copy(update={"severity": Severity.warning})
    done = updated.model_copy(
        update={
            "status": "resolved",
            "resolved_at": T0 + timedelta(minutes=30),
            "resolution": "no new occurrence",
        }
    )
    store.record(
        HOST,
        "me",
        [
            change("updated", updated, T0 + timedelta(seconds=9)),
            change("resolved", done, T0 + timedelta(minutes=30)),
        ],
        [],
    )
    assert store.active_signals(HOST) == []
    assert [s.resolution for s in store.resolved_signals(HOST)] == ["no new occurrence"]
    again = signal(at=T0 + timedelta(hours=1))
    store.record(HOST, "me", [change("raised", again, T0 + timedelta(hours=1))], [])
    history = store.history(HOST, "oom-1")
    assert [c.change for c in history] == ["raised", "updated", "resolved", "raised"]
    assert history[2].at == T0 + timedelta(minutes=30)
    assert store.active_signals(HOST)[0].first_seen == T0 + timedelta(hours=1)
    # subscribers page through changes by seq
    seqs = store.changes_since(HOST, 0)
    assert [c.change.change for c in seqs] == ["raised", "updated", "resolved", "raised"]
    assert store.changes_since(HOST, seqs[1].seq)[0].change.change == "resolved"
    assert store.last_seq(HOST) == seqs[-1].seq
    assert store.changes_since("elsewhere", 0) == []


def test_a_raised_for_an_already_active_signal_does_not_raise_it_twice(store: SqliteSignalStore) -> None:
    store.acquire_lease(HOST, "me", URL, ttl_s=60)
    store.record(HOST, "me", [change("raised", signal())], [])
    store.record(HOST, "me", [change("raised", signal(severity=Severity.warning))], [])
    assert [c.change for c in store.history(HOST, "oom-1")] == ["raised", "updated"]
    assert len(store.active_signals(HOST)) == 1


def test_a_watcher_without_the_lease_cannot_write(store: SqliteSignalStore) -> None:
    store.acquire_lease(HOST, "old", URL, ttl_s=1, now=1000)
    store.acquire_lease(HOST, "new", URL, ttl_s=60, now=1002)  # took over after expiry
    with pytest.raises(LeaseLost, match="new does"):
        store.record(HOST, "old", [change("raised", signal())], [])
    assert store.active_signals(HOST) == [] and store.last_seq(HOST) == 0


def test_active_signals_are_most_severe_first(store: SqliteSignalStore) -> None:
    store.acquire_lease(HOST, "me", URL, ttl_s=60)
    store.record(
        HOST,
        "me",
        [
            change("raised", signal("exited-1", Severity.warning, T0)),
            change("raised", signal("oom-2", Severity.critical, T0 + timedelta(seconds=1))),
            change("raised", signal("oom-1", Severity.critical, T0 + timedelta(seconds=2))),
        ],
        [],
    )
    assert [s.id for s in store.active_signals(HOST)] == ["oom-2", "oom-1", "exited-1"]


def test_prune_keeps_the_newest_resolved_and_every_active(store: SqliteSignalStore) -> None:
    store.acquire_lease(HOST, "me", URL, ttl_s=60)
    for i in range(5):
        sig = signal(f"exited-{i}", at=T0 + timedelta(minutes=i))
        done = sig.model_copy(
            update={"status": "resolved", "resolved_at": T0 + timedelta(minutes=i, seconds=30)}
        )
        store.record(HOST, "me", [change("raised", sig), change("resolved", done)], [])
    store.record(HOST, "me", [change("raised", signal("oom-9"))], [])
    assert store.prune(HOST, keep_resolved=2) == 3
    assert [s.id for s in store.resolved_signals(HOST)] == ["exited-4", "exited-3"]
    assert store.history(HOST, "exited-0") == []
    assert [s.id for s in store.active_signals(HOST)] == ["oom-9"]
