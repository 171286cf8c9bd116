"""The canary search: a canary in any file we wrote (SQLite included), in a log our processes wrote
to stderr (a child process inheriting it too), or in what the model was sent, is found and named
without being repeated; the lab's own progress lines still reach the terminal."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent_host.lab.leaks import captured_stderr, find_canaries

CANARY = "ig-canary-7f3a9c2e51d4"


def test_a_canary_in_a_sqlite_file_a_log_or_the_model_requests_is_found(tmp_path: Path) -> None:
    state = tmp_path / "agent"
    state.mkdir()
    db = sqlite3.connect(state / "incidents.sqlite3")
    db.execute("CREATE TABLE t (record TEXT)")
    db.execute("INSERT INTO t VALUES (?)", (f'{{"env": "DB_URL=postgres://a:{CANARY}@db"}}',))
    db.commit()
    db.close()
    (tmp_path / "clean.log").write_text("nothing here\n")
    found = find_canaries([CANARY, "ig-canary-not-planted"], [state, tmp_path / "clean.log"],
                          {"requests sent to the model": f"... {CANARY} ..."})  # fmt: skip
    assert found == ["canary #1 in agent/incidents.sqlite3", "canary #1 in requests sent to the model"]
    assert all(CANARY not in line for line in found)
    assert find_canaries([], [state]) == []


def test_stderr_of_a_child_is_captured_while_progress_stays_on_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "stderr.log"
    with captured_stderr(log):
        subprocess.run(
            [sys.executable, "-c", f"import sys; sys.stderr.write('leak {CANARY}\\n')"], check=True
        )
        print("[scenario] progress line", file=sys.stderr)
    print("after", file=sys.stderr)
    assert f"leak {CANARY}" in log.read_text()
    assert "progress line" not in log.read_text()
    err = capfd.readouterr().err
    assert "[scenario] progress line" in err and "after" in err and CANARY not in err
    assert find_canaries([CANARY], [log]) == ["canary #1 in stderr.log"]


def test_the_server_snapshot_store_is_not_an_output_but_must_be_private(tmp_path: Path) -> None:
    store = tmp_path / "server" / "snapshots.sqlite3"
    store.parent.mkdir()
    store.write_text(f"POSTGRES_PASSWORD={CANARY}")
    store.chmod(0o600)
    (tmp_path / "server" / "snapshots.sqlite3-wal").write_text(CANARY)
    (tmp_path / "server" / "snapshots.sqlite3-wal").chmod(0o600)
    assert find_canaries([CANARY], [tmp_path / "server"]) == []
    store.chmod(0o644)
    assert find_canaries([CANARY], [tmp_path / "server"]) == [
        "snapshots.sqlite3 holds configuration but is readable by others (644)"
    ]
