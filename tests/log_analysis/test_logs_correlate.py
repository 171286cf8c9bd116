"""Errors of several services on one timeline: order, first failing service, clusters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mcp_server.log_analysis.correlate import correlate_services, render_correlation


def _at(second: int) -> str:
    return f"2026-11-25T09:{second // 60:02d}:{second % 60:02d}.000000000Z"


def _lines(rows: list[tuple[int, str]]) -> str:
    return "".join(f"{_at(second)} {text}\n" for second, text in rows)


DB = _lines(
    [
        (0, "2026-11-25 09:00:00.000 UTC [1] LOG:  database system is ready to accept connections"),
        (
            30,
            '2026-11-25 09:00:30.000 UTC [1] FATAL:  could not write to file "pg_wal/xlogtemp.1": No space left on device',
        ),
        (30, "2026-11-25 09:00:30.000 UTC [1] LOG:  database system is shut down"),
    ]
)
API = [
    f"{_at(5)} INFO:     Application startup complete.",
    f'{_at(31)} ERROR:    db pool: connection to server at "db" (172.18.0.2), port 5432 failed: Connection refused',
    f'{_at(32)} ERROR:    db pool: connection to server at "db" (172.18.0.2), port 5432 failed: Connection refused',
    f'{_at(33)} ERROR:    db pool: connection to server at "db" (172.18.0.2), port 5432 failed: Connection refused',
]
WEB = _lines(
    [
        (10, '172.18.0.1 - - [25/Nov/2026:09:00:10 +0000] "GET /api/items HTTP/1.1" 200 512 "-" "curl"'),
        (32, '172.18.0.1 - - [25/Nov/2026:09:00:32 +0000] "GET /api/items HTTP/1.1" 502 157 "-" "curl"'),
    ]
).encode()
WORKER = _lines([(2, "ERROR worker: job 17 failed: invalid payload"), (3, "INFO worker: idle")])


def test_timeline_is_ordered_and_first_failure_found() -> None:
    result = correlate_services({"api": API, "web": WEB, "db": DB, "worker": WORKER}, window_seconds=5)
    times = [entry.time for entry in result.timeline]
    assert times == sorted(times)
    # Same second: services keep the order they were given in (api before web).
    assert [(e.service, e.count) for e in result.timeline] == [
        ("worker", 1),
        ("db", 1),
        ("api", 2),
        ("web", 1),
        ("api", 1),
    ]
    assert result.first_failing_service == "worker"
    assert result.first_error is not None and result.first_error.time == datetime(
        2026, 11, 25, 9, 0, 2, tzinfo=UTC
    )
    assert result.errors_per_service == {"api": 3, "web": 1, "db": 1, "worker": 1}
    assert result.timeline[2].last_time == datetime(2026, 11, 25, 9, 0, 32, tzinfo=UTC)


def test_cluster_names_the_service_that_failed_first() -> None:
    result = correlate_services({"api": API, "web": WEB, "db": DB, "worker": WORKER}, window_seconds=5)
    assert len(result.clusters) == 1  # the worker error at 09:00:02 is alone
    cluster = result.clusters[0]
    assert cluster.first_service == "db"
    assert cluster.services == ["db", "api", "web"]
    assert cluster.start == datetime(2026, 11, 25, 9, 0, 30, tzinfo=UTC)
    assert cluster.end == datetime(2026, 11, 25, 9, 0, 32, tzinfo=UTC)
    assert "No space left on device" in cluster.first_events[0].text
    assert cluster.event_count == 5
    text = render_correlation(result)
    assert "db -> api -> web" in text
    assert "first failing service: worker" in text


def test_a_service_that_errs_all_the_time_does_not_chain_clusters() -> None:
    noisy = [f"{_at(s)} ERROR noisy: heartbeat to 10.0.0.9 timed out" for s in range(0, 120, 2)]
    db = _lines([(60, "2026-11-25 09:01:00.000 UTC [1] PANIC:  could not locate a valid checkpoint record")])
    api = _lines([(61, "ERROR api: connection refused to db:5432")])
    result = correlate_services({"noisy": noisy, "db": db, "api": api}, window_seconds=5)
    assert [(c.first_service, c.services) for c in result.clusters] == [("db", ["db", "api"])]
    assert result.first_failing_service == "noisy"


def test_untimed_errors_are_counted_not_placed() -> None:
    result = correlate_services({"plain": "ERROR something broke\nERROR again\n", "db": DB}, window_seconds=2)
    assert result.untimed_errors == {"plain": 2}
    assert [e.service for e in result.timeline] == ["db"]
    assert result.notes


def test_long_timelines_are_bounded() -> None:
    rows = [
        f"{_at(s % 3600)} ERROR svc{s % 7}: failure kind {s % 50} " + "x " * (s % 13) for s in range(3000)
    ]
    result = correlate_services({"a": rows[:1500], "b": rows[1500:]}, max_timeline=50)
    assert len(result.timeline) == 50
    assert result.omitted_timeline_entries > 0
    assert len(render_correlation(result).splitlines()) < 120


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_seconds"):
        correlate_services({"a": "x"}, window_seconds=0)
