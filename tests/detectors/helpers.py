"""Shared helpers of the detector tests.

Logic tests drive a `logic_engine` on a host that never answers, with a `ManualClock` at `T0`, and
feed it events from `make_event`. Everything the fault tests create on the shared engine carries the labels `ig.test=detectors` and
`ig.run=<random id of this session>` and a name starting with `ig-det-`; the engines under test only
watch objects with these labels, and teardown removes exactly those objects.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
from datetime import UTC, datetime
from typing import Any

import anyio
import docker
import docker.errors

from mcp_server.detectors import DetectorEngine, DetectorSettings, ManualClock, Severity, Signal, Target
from mcp_server.detectors.base import fingerprint
from mcp_server.docker_ops.events import ContainerEvent
from mcp_server.docker_ops.host import DockerHost
from mcp_server.docker_ops.models import COMPOSE_PROJECT, COMPOSE_SERVICE

from ..conftest import CAPTURES

TEST_IMAGE = "ig/busybox:test"
RUN_ID = secrets.token_hex(4)
LABELS = {"ig.test": "detectors", "ig.run": RUN_ID}
LABEL_FILTER = [f"{k}={v}" for k, v in LABELS.items()]
MiB = 1024 * 1024
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def unique(prefix: str) -> str:
    return f"ig-det-{prefix}-{RUN_ID}-{secrets.token_hex(2)}"


def fast_settings(**overrides: Any) -> DetectorSettings:
    """Settings for the fault tests: only our labelled objects, short windows and intervals."""
    base: dict[str, Any] = {
        "include_labels": LABELS,
        "stats_interval_s": 0.5,
        "state_poll_interval_s": 2.0,
        "unhealthy_poll_interval_s": 1.0,
        "log_lines_in_evidence": 5,
    }
    base.update(overrides)
    return DetectorSettings(**base)


def run_container(client: docker.DockerClient, name: str, command: Any, **kwargs: Any) -> Any:
    """Start a detached labelled busybox container (blocking; call it in a worker thread)."""
    labels = {**LABELS, **kwargs.pop("labels", {})}
    return client.containers.run(
        TEST_IMAGE, command, name=name, labels=labels, detach=True, network_mode="none", **kwargs
    )


async def start(client: docker.DockerClient, name: str, command: Any, **kwargs: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: run_container(client, name, command, **kwargs))


async def wait_resolved(engine: DetectorEngine, signal_id: str, timeout_s: float) -> Signal:
    """The resolved copy of a signal, waiting until the engine resolves it."""
    async with engine.subscribe() as changes:
        for done in engine.resolved_signals():
            if done.id == signal_id:
                return done
        with anyio.fail_after(timeout_s):
            async for change in changes:
                if change.change == "resolved" and change.signal.id == signal_id:
                    return change.signal
    raise AssertionError("subscription ended")


def cleanup_labelled(client: docker.DockerClient) -> None:
    """Remove this session's containers, volumes and networks (label filter)."""
    for container in client.containers.list(all=True, filters={"label": LABEL_FILTER}):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for volume in client.volumes.list(filters={"label": LABEL_FILTER}):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
    for network in client.networks.list(filters={"label": LABEL_FILTER}):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_event(
    action: str,
    at: datetime,
    *,
    container_id: str = "c0ffee",
    name: str = "shop-web-1",
    project: str | None = "shop",
    service: str | None = "web",
    exit_code: int | None = None,
    signal: str | None = None,
    health: str | None = None,
) -> ContainerEvent:
    """A container event as the engine would send it (for window logic without Docker)."""
    attributes = {"name": name, "image": TEST_IMAGE}
    if project:
        attributes[COMPOSE_PROJECT] = project
    if service:
        attributes[COMPOSE_SERVICE] = service
    if exit_code is not None:
        attributes["exitCode"] = str(exit_code)
    if signal is not None:
        attributes["signal"] = signal
    stamp = at.astimezone(UTC)
    return ContainerEvent(
        action=action,
        health_status=health,
        container_id=container_id,
        container_name=name,
        image=TEST_IMAGE,
        exit_code=exit_code,
        signal=signal,
        compose_project=project,
        compose_service=service,
        time=stamp,
        time_nano=int(stamp.timestamp() * 1e9),
        attributes=attributes,
    )


def make_signal(
    clock: ManualClock, target: Target, severity: Severity = Severity.warning, **kw: object
) -> Signal:
    """A `test` signal for `target` seen now (for book and engine logic)."""
    now = clock.now()
    return Signal(
        id=fingerprint("test", target),
        kind="test",
        severity=severity,
        summary=str(kw.pop("summary", "something is wrong")),
        target=target,
        runbook="unhealthy",
        first_seen=now,
        last_seen=now,
        **kw,  # type: ignore[arg-type]
    )


def logic_engine(offline_host: DockerHost, clock: ManualClock, **settings: object) -> DetectorEngine:
    """An engine that is never started: tests call `handle_event` / `poll` on it themselves."""
    return DetectorEngine(offline_host, DetectorSettings(**settings), clock=clock)  # type: ignore[arg-type]


def dokploy_capture(name: str) -> Any:
    """The response body of a capture from a real Dokploy (`shared/dokploy/captures/<name>.json`)."""
    return json.loads((CAPTURES / f"{name}.json").read_text())["response"]["body"]
