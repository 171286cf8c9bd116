"""The real things, end to end: Debian's Prometheus scrapes a metric from a container on the real
engine, a rule fires, Debian's Alertmanager posts it to `POST /hooks/alertmanager` of a real
`infraguardian-mcp serve` (bearer auth, as Alertmanager sends it), and the watcher of that server
raises an `external_alert` signal on the container's compose service. When the metric drops, the
rule stops firing, Alertmanager sends the resolve, and the signal resolves.

Prometheus and Alertmanager are started by the test with their own configs in a temporary
directory (.ci/setup installs them); their intervals are seconds so the whole run takes ~20 s."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import docker
import httpx
import pytest
import yaml

from mcp_server.detectors.base import Signal
from mcp_server.watcher.sqlite_store import SqliteSignalStore
from tests.detectors.helpers import free_port
from tests.mcp_server.act_fixtures import BUSYBOX

T = TypeVar("T")
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
# busybox's httpd serves /www; the metric file is rewritten by `docker exec` to change the value
METRIC_SERVER = "mkdir -p /www && echo 'queue_waiting 45' > /www/metrics && exec httpd -f -p 8080 -h /www"


def wait_until(what: str, check: Callable[[], T], timeout_s: float) -> T:
    """Poll `check()` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@contextlib.contextmanager
def child(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def metric_container() -> Iterator[tuple[docker.models.containers.Container, int, str]]:
    engine = docker.from_env()
    project = f"promtest-{secrets.token_hex(4)}"
    port = free_port()
    container = engine.containers.run(
        BUSYBOX,
        ["sh", "-c", METRIC_SERVER],
        name=f"{project}-worker-1",
        detach=True,
        labels={
            "com.docker.compose.project": project,
            "com.docker.compose.service": "worker",
            "ig.promtest": project,
        },
        ports={"8080/tcp": ("127.0.0.1", port)},
    )
    try:
        wait_until(
            "the metric container to serve /metrics",
            lambda: _get(f"http://127.0.0.1:{port}/metrics") is not None,
            30,
        )
        yield container, port, project
    finally:
        container.remove(force=True)
        engine.close()


def _get(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


def _signals(state: Path) -> list[Signal]:
    store = SqliteSignalStore.in_state_dir(state)
    try:
        return store.active_signals("local") + store.resolved_signals("local")
    finally:
        store.close()


def test_a_prometheus_rule_reaches_us_through_alertmanager_and_resolves(
    tmp_path: Path, metric_container: tuple[docker.models.containers.Container, int, str]
) -> None:
    container, metric_port, project = metric_container
    token = "hook-" + secrets.token_urlsafe(24)
    mcp_port, prom_port, am_port = free_port(), free_port(), free_port()
    state = tmp_path / "server-state"
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "queue",
                        "rules": [
                            {
                                "alert": "QueueStuck",
                                "expr": "queue_waiting > 10",
                                "for": "0s",
                                "labels": {"severity": "critical"},
                                "annotations": {"summary": "queue_waiting is {{ $value }}"},
                            }
                        ],
                    }
                ]
            }
        )
    )
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "rule_files": [str(tmp_path / "rules.yml")],
                "scrape_configs": [
                    {
                        "job_name": "worker",
                        "static_configs": [
                            {
                                "targets": [f"127.0.0.1:{metric_port}"],
                                # how owners tell Alertmanager which service a metric is about
                                "labels": {"compose_service": "worker", "compose_project": project},
                            }
                        ],
                    }
                ],
            }
        )
    )
    (tmp_path / "alertmanager.yml").write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "infraguardian",
                    "group_by": ["alertname"],
                    "group_wait": "1s",
                    "group_interval": "2s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "infraguardian",
                        "webhook_configs": [
                            {
                                "url": f"http://127.0.0.1:{mcp_port}/hooks/alertmanager",
                                "send_resolved": True,
                                "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                            }
                        ],
                    }
                ],
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRAGUARDIAN_")}
    env.update(
        INFRAGUARDIAN_STATE_DIR=str(state),
        INFRAGUARDIAN_MCP_TOKEN=token,
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=f'{{"ig.promtest": "{project}"}}',
    )
    serve = [sys.executable, "-m", "mcp_server", "serve", "--transport", "streamable-http"]
    serve += ["--port", str(mcp_port), "--log-level", "info"]
    alertmanager = [
        ALERTMANAGER,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",  # no HA cluster: it would wait 10 s for gossip to settle
    ]
    prometheus = [
        PROMETHEUS,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    with (
        child(serve, tmp_path / "serve.log", env) as server,
        child(alertmanager, tmp_path / "alertmanager.log"),
        child(prometheus, tmp_path / "prometheus.log"),
    ):
        try:
            firing = wait_until(
                "an external_alert signal on the worker service",
                lambda: [
                    s
                    for s in _signals(state)
                    if s.kind == "external_alert" and s.status == "active" and s.target.service == "worker"
                ],
                60,
            )
            (signal,) = firing
            assert signal.target.project == project and signal.severity == "critical"
            (alert,) = signal.evidence["alerts"]
            assert alert["source"] == "alertmanager" and alert["name"] == "QueueStuck"
            assert "queue_waiting is 45" in alert["summary"]
            # the queue drains: the rule stops firing, Alertmanager sends the resolve
            container.exec_run(["sh", "-c", "echo 'queue_waiting 0' > /www/metrics"])
            wait_until(
                "the signal to resolve",
                lambda: [s for s in _signals(state) if s.id == signal.id and s.status == "resolved"],
                60,
            )
            assert server.poll() is None
        finally:
            print((tmp_path / "serve.log").read_text(errors="replace")[-3000:])
            print((tmp_path / "alertmanager.log").read_text(errors="replace")[-2000:])
