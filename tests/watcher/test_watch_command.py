"""`infraguardian-mcp watch` as real processes: two watchers on one host and one state directory.
The first holds the lease and raises the signal once; killed with SIGKILL (no chance to give the
lease up), the second takes over when the lease expires and raises nothing again; SIGTERM stops
it cleanly and frees the lease."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import anyio
import docker
import pytest
from click.testing import CliRunner

from mcp_server.cli import main
from mcp_server.watcher import Lease, SignalReader, SqliteSignalStore
from tests.detectors.helpers import LABELS, start, unique

REPO = Path(__file__).resolve().parents[2]
HOST = "local"  # the default INFRAGUARDIAN_DOCKER_HOST_NAME
LEASE_TTL_S = 3.0


def watch_env(state_dir: Path) -> dict[str, str]:
    detectors = {"include_labels": LABELS, "enabled": ["oom", "exited"], "state_poll_interval_s": 1.0}
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(state_dir.parent),
        "INFRAGUARDIAN_STATE_DIR": str(state_dir),
        "INFRAGUARDIAN_DETECTORS": json.dumps(detectors),
    }
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    return env


@pytest.fixture
def watchers(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    started: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def launch(label: str) -> subprocess.Popen[bytes]:
        errlog = (tmp_path / f"{label}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_server", "watch", "--lease-ttl-s", str(LEASE_TTL_S)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errlog,
            env=watch_env(tmp_path / "state"),
            cwd=REPO,
        )
        started.append((proc, errlog))
        return proc

    yield launch
    for proc, errlog in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        errlog.close()


async def lease_of(store: SqliteSignalStore, pid: int, timeout_s: float) -> Lease:
    with anyio.fail_after(timeout_s):
        while True:
            lease = store.current_lease(HOST)
            if lease is not None and lease.pid() == pid:
                return lease
            await anyio.sleep(0.1)


def test_watch_is_a_listed_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and "watch" in result.output
    result = CliRunner().invoke(main, ["watch", "--help"])
    assert result.exit_code == 0 and "--lease-ttl-s" in result.output


@pytest.mark.docker
@pytest.mark.anyio
async def test_two_watch_processes_fire_once_and_the_survivor_takes_over(
    tmp_path: Path, watchers: Callable[[str], subprocess.Popen[bytes]], docker_client: docker.DockerClient
) -> None:
    first = watchers("first")
    store = SqliteSignalStore.in_state_dir(tmp_path / "state")
    reader = SignalReader(store, HOST)
    try:
        await lease_of(store, first.pid, 30)
        second = watchers("second")
        with anyio.fail_after(30):
            while b"standing by" not in (tmp_path / "second.log").read_bytes():  # noqa: ASYNC110
                await anyio.sleep(0.1)

        name = unique("watch")
        await start(docker_client, name, ["sh", "-c", "exit 5"])
        with anyio.fail_after(30):
            while not (mine := [s for s in reader.active_signals() if s.target.container_name == name]):  # noqa: ASYNC110
                await anyio.sleep(0.2)
        await anyio.sleep(2)  # the standby would have had time to fire too
        assert [c.change for c in reader.history(mine[0].id)] == ["raised"]

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        taken = await lease_of(store, second.pid, LEASE_TTL_S + 10)
        assert taken.holder != f"{first.pid}"
        await anyio.sleep(3)  # the new holder replays the die event and polls the exited container
        assert [c.change for c in reader.history(mine[0].id)] == ["raised"]
        [kept] = [s for s in reader.active_signals() if s.id == mine[0].id]
        assert kept.first_seen == mine[0].first_seen

        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
        released = store.current_lease(HOST)  # given up on the way out
        assert released is not None and released.pid() == second.pid and not released.live(time.time())
        log = (tmp_path / "second.log").read_text()
        assert "watching host local" in log and "Traceback" not in log
    finally:
        store.close()
