"""The standard-library reader of the engine's socket (`UnixSocketReader`), on the real engine.

`status` reads unix:// engines with it instead of docker-py, so it must answer exactly what
docker-py answers for the same calls, raise the same errors, and leave `status`'s output as it
was. Everything created here carries the labels `ig.test=status-reader`, `ig.run=<run id>` and a
name starting with `ig-status-reader-`, and is removed at the end of the module.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from mcp_server.docker_ops import engine_reader
from mcp_server.docker_ops.engine_reader import DockerPyReads, EngineNotFound, UnixSocketReader
from mcp_server.docker_ops.host import DockerApiError, DockerHost, DockerTimeout, DockerUnavailable
from mcp_server.docker_ops.inventory import build_inventory, collect_raw_listed
from mcp_server.status import render

pytestmark = pytest.mark.docker

SOCKET = "/var/run/docker.sock"
IMAGE = "ig/busybox:test"
RUN_ID = secrets.token_hex(4)
LABELS = {"ig.test": "status-reader", "ig.run": RUN_ID}
PROJECT = f"ig-status-reader-{RUN_ID}"
SERVICE = f"ig-status-reader-svc-{RUN_ID}"


def _wait_for(predicate: Any, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def _task_running(client: docker.DockerClient) -> bool:
    tasks = client.api.tasks(filters={"service": SERVICE, "desired-state": "running"})
    return any((t.get("Status") or {}).get("State") == "running" for t in tasks)


class Objects:
    """What the module created: a compose-labelled running and exited container, a swarm service,
    and the Unix time just before the first of them was made (for the events)."""

    def __init__(self, client: docker.DockerClient, started_at: float) -> None:
        self.client = client
        self.started_at = started_at
        self.running: Any = None
        self.exited: Any = None
        self.service: Any = None
        self.volume: Any = None


@pytest.fixture(scope="module")
def objects() -> Iterator[Objects]:
    client = docker.DockerClient(base_url=f"unix://{SOCKET}")
    made = Objects(client, time.time() - 1)

    def compose_labels(service: str) -> dict[str, str]:
        return {**LABELS, "com.docker.compose.project": PROJECT, "com.docker.compose.service": service}

    try:
        common: dict[str, Any] = {"detach": True, "network_mode": "none"}
        made.running = client.containers.run(
            IMAGE,
            ["sleep", "3600"],
            name=f"{PROJECT}-web-1",
            labels=compose_labels("web"),
            init=True,
            **common,
        )
        made.exited = client.containers.run(
            IMAGE,
            ["sh", "-c", "echo to-out; echo to-err >&2; exit 3"],
            name=f"{PROJECT}-job-1",
            labels=compose_labels("job"),
            **common,
        )
        assert made.exited.wait(timeout=60)["StatusCode"] == 3
        made.service = client.services.create(
            IMAGE,
            command=["sleep", "3600"],
            name=SERVICE,
            labels=LABELS,
            container_labels=LABELS,
            stop_grace_period=1_000_000_000,
        )
        _wait_for(lambda: _task_running(client), f"a running task of {SERVICE}")
        made.volume = client.volumes.create(name=f"{PROJECT}-data", labels=LABELS)
        yield made
    finally:
        if made.service is not None:
            made.service.remove()
        if made.volume is not None:
            with contextlib.suppress(docker.errors.NotFound):
                made.volume.remove(force=True)
        for box in client.containers.list(all=True, filters={"label": f"ig.run={RUN_ID}"}):
            with contextlib.suppress(docker.errors.NotFound):
                box.remove(force=True)
        client.close()


@pytest.fixture
def both(objects: Objects) -> Iterator[tuple[UnixSocketReader, DockerPyReads]]:
    """The light reader and docker-py's API client behind the same interface, on one engine."""
    light = UnixSocketReader(SOCKET)
    yield light, DockerPyReads(objects.client.api)
    light.close()


def _ours(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """This module's compose-labelled containers among list entries (not the service's task)."""
    return {
        e["Id"]: e for e in entries if (e.get("Labels") or {}).get("com.docker.compose.project") == PROJECT
    }


def test_container_list_and_inspect_equal_docker_py(
    objects: Objects, both: tuple[UnixSocketReader, DockerPyReads]
) -> None:
    light, sdk = both
    listed, expected = _ours(light.containers(all=True)), _ours(sdk.containers(all=True))
    assert set(listed) == {objects.running.id, objects.exited.id} == set(expected)
    for cid, entry in listed.items():
        # "Status" says how long ago ("Up 5 seconds"): the two calls may fall in different seconds
        assert {**entry, "Status": None} == {**expected[cid], "Status": None}
        assert entry["Status"].split(" ")[:2] == expected[cid]["Status"].split(" ")[:2]
    assert objects.exited.id not in _ours(light.containers(all=False))
    for cid in (objects.running.id, objects.exited.id):
        assert light.inspect_container(cid) == sdk.inspect_container(cid)
    assert light.inspect_container(objects.exited.id)["State"]["ExitCode"] == 3


def test_info_services_and_tasks_equal_docker_py(
    objects: Objects, both: tuple[UnixSocketReader, DockerPyReads]
) -> None:
    light, sdk = both
    info, expected_info = light.info(), sdk.info()
    assert info.keys() == expected_info.keys()
    for key in ("ID", "Name", "ServerVersion", "DockerRootDir", "CgroupVersion"):
        assert info[key] == expected_info[key], key
    for key in ("NodeID", "LocalNodeState", "ControlAvailable"):
        assert info["Swarm"][key] == expected_info["Swarm"][key], key
    services = {s["ID"]: s for s in light.services()}
    expected_services = {s["ID"]: s for s in sdk.services()}
    assert services[objects.service.id] == expected_services[objects.service.id]
    tasks = [t for t in light.tasks() if t["ServiceID"] == objects.service.id]
    expected_tasks = [t for t in sdk.tasks() if t["ServiceID"] == objects.service.id]
    assert tasks and sorted(tasks, key=lambda t: t["ID"]) == sorted(expected_tasks, key=lambda t: t["ID"])


def test_past_events_equal_docker_py(objects: Objects, both: tuple[UnixSocketReader, DockerPyReads]) -> None:
    light, sdk = both
    until = time.time()
    window: dict[str, Any] = {"since": objects.started_at, "until": until}
    filters = {"type": "container", "container": objects.exited.id}
    events = light.events(**window, filters=filters)
    assert events == sdk.events(**window, filters=filters)
    assert {"create", "start", "die"} <= {e["Action"] for e in events}
    assert next(e for e in events if e["Action"] == "die")["Actor"]["Attributes"]["exitCode"] == "3"
    # several filters at once, encoded as docker-py encodes them
    both_filters = {"type": "container", "label": [f"ig.run={RUN_ID}", "com.docker.compose.service=web"]}
    web = light.events(**window, filters=both_filters)
    assert web == sdk.events(**window, filters=both_filters)
    assert web and {e["id"] for e in web} == {objects.running.id}


def test_a_missing_container_is_the_same_error_from_both(
    both: tuple[UnixSocketReader, DockerPyReads],
) -> None:
    light, sdk = both
    name = f"ig-status-reader-missing-{RUN_ID}"
    errors = []
    for reads in (light, sdk):
        with pytest.raises(EngineNotFound) as caught:
            reads.inspect_container(name)
        errors.append((caught.value.status_code, caught.value.explanation))
    assert errors[0] == errors[1] and errors[0][0] == 404 and name in errors[0][1]


@pytest.mark.anyio
async def test_host_read_uses_the_socket_and_translates_errors(objects: Objects) -> None:
    async with DockerHost(f"unix://{SOCKET}") as host:
        entries = await host.read(lambda reads: reads.containers(all=True), what="list")
        assert objects.exited.id in _ours(entries)
        with pytest.raises(DockerApiError) as caught:
            await host.read(lambda reads: reads.inspect_container("ig-status-reader-none"), what="look up x")
        assert caught.value.status == 404
        assert str(caught.value).startswith(
            f"look up x: engine at unix://{SOCKET} answered 404: No such container"
        )


def test_filtered_list_volumes_and_logs_equal_docker_py(
    objects: Objects, both: tuple[UnixSocketReader, DockerPyReads]
) -> None:
    """What the detectors read (lists with filters, volumes, logs) is docker-py's answer too."""
    light, sdk = both
    exited_only = {"label": [f"ig.run={RUN_ID}"], "status": "exited"}
    listed = light.containers(all=True, filters=exited_only)
    assert [e["Id"] for e in listed] == [objects.exited.id]
    assert [e["Id"] for e in sdk.containers(all=True, filters=exited_only)] == [objects.exited.id]
    ours = {"label": [f"ig.run={RUN_ID}"]}
    volumes = light.volumes(filters=ours)
    assert [v["Name"] for v in volumes["Volumes"]] == [objects.volume.name]
    assert volumes == sdk.volumes(filters=ours)
    params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": 0, "tail": "all"}
    logs = b"".join(light.container_logs(objects.exited.id, params))
    assert logs == b"".join(sdk.container_logs(objects.exited.id, params))
    assert b"to-out\n" in logs and b"to-err\n" in logs
    with pytest.raises(EngineNotFound):
        light.container_logs(f"ig-status-reader-none-{RUN_ID}", params)


def test_reads_run_side_by_side_on_kept_alive_connections(
    objects: Objects, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read in progress (a log being streamed) does not hold up another read: each takes its
    own connection, and both are kept for later calls; one left unread is closed, not reused."""
    connects: list[str] = []
    original = engine_reader._UnixConnection.connect

    def counting(self: engine_reader._UnixConnection) -> None:
        connects.append(self.socket_path)
        original(self)

    monkeypatch.setattr(engine_reader._UnixConnection, "connect", counting)
    reader = UnixSocketReader(SOCKET)
    params = {"stdout": 1, "stderr": 1, "follow": 0, "tail": "all"}
    try:
        streaming = reader.container_logs(objects.exited.id, params)
        assert reader.inspect_container(objects.running.id)["Id"] == objects.running.id
        assert len(connects) == 2 and len(reader._idle) == 1
        assert b"to-out" in b"".join(streaming)
        assert len(reader._idle) == 2
        for _ in range(3):
            reader.info()
        assert len(connects) == 2
        abandoned = reader.container_logs(objects.exited.id, params)
        abandoned.close()  # never read: its answer is still on that connection
        assert len(reader._idle) == 1
    finally:
        reader.close()
    assert reader._idle == []


def test_one_kept_alive_connection_reopened_when_the_engine_closed_it(
    objects: Objects, monkeypatch: pytest.MonkeyPatch
) -> None:
    connects: list[str] = []
    original = engine_reader._UnixConnection.connect

    def counting(self: engine_reader._UnixConnection) -> None:
        connects.append(self.socket_path)
        original(self)

    monkeypatch.setattr(engine_reader._UnixConnection, "connect", counting)
    reader = UnixSocketReader(SOCKET)
    try:
        for _ in range(5):
            assert objects.running.id in _ours(reader.containers())
        assert len(connects) == 1
        assert len(reader._idle) == 1
        kept = reader._idle[0]
        assert kept.sock is not None
        kept.sock.shutdown(socket.SHUT_RDWR)  # as if the engine had dropped the idle connection
        assert reader.inspect_container(objects.running.id)["Id"] == objects.running.id
        assert len(connects) == 2
    finally:
        reader.close()


def _lines_of(text: str, app_name: str) -> list[str]:
    """The group line of `app_name` in `status`'s text and its indented lines."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if f" {app_name}  (" in line)
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    return lines[start:end]


@pytest.mark.anyio
async def test_status_text_is_what_docker_py_reads_give(objects: Objects) -> None:
    """The inventory `status` shows (read through the light reader) is line for line what the same
    grouping and rendering give from docker-py's answers."""
    async with DockerHost(f"unix://{SOCKET}") as host:
        light_raw = await host.read(collect_raw_listed, what="collect inventory")
    sdk_raw = collect_raw_listed(DockerPyReads(objects.client.api))
    light_text = render(build_inventory(host.base_url, light_raw), None, [])
    sdk_text = render(build_inventory(host.base_url, sdk_raw), None, [])
    for app_name in (PROJECT, SERVICE):
        assert _lines_of(light_text, app_name) == _lines_of(sdk_text, app_name)
    project = _lines_of(light_text, PROJECT)
    assert project[0].startswith("compose") and "(1/2 running)" in project[0]
    assert any(f"{PROJECT}-job-1: exited (exit 3)" in line for line in project)
    assert "swarm service" not in "\n".join(project)
    assert "1/1 running" in _lines_of(light_text, SERVICE)[0]
    assert light_raw.swarm_active and light_raw.notes == sdk_raw.notes


def test_status_command_prints_what_docker_py_reads_give(objects: Objects, tmp_path: Path) -> None:
    sdk_raw = collect_raw_listed(DockerPyReads(objects.client.api))
    sdk_text = render(build_inventory(f"unix://{SOCKET}", sdk_raw), None, [])
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "INFRAGUARDIAN_STATE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "mcp_server", "status", "--no-signals"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    for app_name in (PROJECT, SERVICE):
        assert _lines_of(out.stdout, app_name) == _lines_of(sdk_text, app_name)
    assert out.stdout.startswith(f"Docker engine unix://{SOCKET} (swarm active)")


@pytest.mark.anyio
async def test_an_engine_that_is_not_there_or_silent_is_one_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sock"
    async with DockerHost(f"unix://{missing}") as host:
        with pytest.raises(DockerUnavailable) as gone:
            await host.read(lambda reads: reads.info(), what="docker info")
    message = str(gone.value)
    assert message.startswith(f"Docker engine at unix://{missing} is not reachable (")
    assert str(missing) in message and "Check that dockerd runs" in message and "\n" not in message

    # a socket file nobody listens on any more: refused
    refused = tmp_path / "refused.sock"
    with socket.socket(socket.AF_UNIX) as closed:
        closed.bind(str(refused))
    async with DockerHost(f"unix://{refused}") as host:
        with pytest.raises(DockerUnavailable, match="Connection refused"):
            await host.read(lambda reads: reads.containers(), what="list")

    # a listener that accepts but never answers: a timeout, not a hang
    silent = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(silent))
        listener.listen(4)
        async with DockerHost(f"unix://{silent}", timeout=1.0) as host:
            with pytest.raises(DockerTimeout) as slow:
                await host.read(lambda reads: reads.containers(), what="list containers")
    assert str(slow.value).startswith(
        f"list containers: Docker engine at unix://{silent} did not answer in time"
    )
