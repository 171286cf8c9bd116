"""Which containers the hung detector checks, and reading a json-file log incrementally (no Docker)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mcp_server.detectors.log_files import (
    HUNG_LABEL,
    LogFileCursor,
    hung_opt_in,
    looks_like_worker,
    read_new_lines,
    readable_log_path,
)
from mcp_server.docker_ops.models import COMPOSE_SERVICE


def test_worker_names_images_commands_and_services() -> None:
    assert looks_like_worker("shop-worker-1", "shop:latest", "node server.js", {})
    assert looks_like_worker("shop-bg-1", "python:3.12", "celery -A shop worker", {})
    assert looks_like_worker("jobs-1", "ruby:3", "bundle exec sidekiq", {})
    assert looks_like_worker("x", "x", "rq worker high", {})
    assert looks_like_worker("x", "registry.example.com/acme/order-consumer:2", "", {})
    assert looks_like_worker("shop-1", "shop", "", {COMPOSE_SERVICE: "queue"})
    assert not looks_like_worker("shop-web-1", "nginx:1.27", "nginx -g daemon off;", {})
    assert not looks_like_worker("postgres-1", "postgres:16", "postgres", {COMPOSE_SERVICE: "db"})
    assert not looks_like_worker("rqlite-1", "rqlite/rqlite", "rqlited", {})  # `rq` must be a whole word


def test_opt_in_label_scope_and_opt_out() -> None:
    assert hung_opt_in({HUNG_LABEL: "10m"}, "opted_in", worker_like=False).after_s == 600.0
    assert hung_opt_in({HUNG_LABEL: "90"}, "opted_in", worker_like=False).after_s == 90.0
    on = hung_opt_in({HUNG_LABEL: "true"}, "opted_in", worker_like=False)
    assert on.checked and on.after_s is None  # checked against the learned norm
    assert not hung_opt_in({HUNG_LABEL: "off"}, "all", worker_like=True).checked
    assert hung_opt_in({}, "workers", worker_like=True).checked
    assert not hung_opt_in({}, "workers", worker_like=False).checked
    assert not hung_opt_in({}, "opted_in", worker_like=True).checked
    assert hung_opt_in({}, "all", worker_like=False).checked
    bad = hung_opt_in({HUNG_LABEL: "soon"}, "workers", worker_like=False)
    assert bad.checked and bad.after_s is None and "not an age" in bad.reason


def _entry(text: str, second: int) -> bytes:
    line = {"log": f"{text}\n", "stream": "stdout", "time": f"2026-03-01T12:00:{second:02d}.123456789Z"}
    return (json.dumps(line) + "\n").encode()


def test_reads_only_new_complete_lines_and_follows_rotation(tmp_path: Path) -> None:
    path = tmp_path / "abc-json.log"
    path.write_bytes(_entry("one", 1) + _entry("two", 2) + b'{"log":"thr')  # the last line is half written
    cursor = LogFileCursor(str(path))
    read = read_new_lines(cursor)
    assert read is not None
    lines, clipped = read
    assert [line.text for line in lines] == ["one", "two"] and not clipped
    assert lines[1].timestamp.second == 2
    assert read_new_lines(cursor) == ([], False)  # nothing complete was added
    with path.open("ab") as handle:
        handle.write(b'ee\\n","stream":"stdout","time":"2026-03-01T12:00:03Z"}\n')
    assert [line.text for line in read_new_lines(cursor)[0]] == ["three"]  # type: ignore[index]
    os.rename(path, tmp_path / "abc-json.log.1")  # json-file rotation: a new file under the old name
    path.write_bytes(_entry("four", 4))
    assert [line.text for line in read_new_lines(cursor)[0]] == ["four"]  # type: ignore[index]


def test_a_large_append_keeps_the_newest_lines_within_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "big-json.log"
    path.write_bytes(b"".join(_entry(f"line {i}", i % 60) for i in range(2000)))
    read = read_new_lines(LogFileCursor(str(path)), cap=4096)
    assert read is not None
    lines, clipped = read
    assert clipped and lines[-1].text == "line 1999" and 10 < len(lines) < 60


def test_unreadable_or_other_driver_logs_are_not_used(tmp_path: Path) -> None:
    assert readable_log_path(None) is None
    assert readable_log_path(str(tmp_path / "missing-json.log")) is None
    local = tmp_path / "container.log"  # the `local` driver's file is not json lines
    local.write_bytes(b"x")
    assert readable_log_path(str(local)) is None
    assert read_new_lines(LogFileCursor(str(tmp_path / "gone-json.log"))) is None
