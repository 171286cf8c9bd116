"""A signal joins to its audit rows and budget: the detector's target for a container has the key
`restart_service` writes to the audit log for that container, and the workload its budget counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker
import pytest

from mcp_server.detectors import DetectorEngine, DetectorSettings, ManualClock
from mcp_server.docker_ops.events import parse_event
from mcp_server.docker_ops.host import DockerHost
from mcp_server.settings import Settings
from mcp_server.targets import Target
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine


@pytest.fixture(scope="module")
def shop(api: fx.StandInAPI) -> str:
    return api.deployed_compose("join")[1]


async def test_an_oom_signal_finds_the_restart_in_the_audit_log_by_its_target_key(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = make_settings(act_standin, safety={"budgets": {"restart": fx.NO_BACKOFF}})
    name = f"{shop}-api-1"
    container = engine.containers.get(name)
    # the OOM event as the engine sends it, with the real container's id and labels
    raw = {
        "Type": "container",
        "Action": "oom",
        "Actor": {"ID": container.id, "Attributes": {**container.labels, "name": name, "image": "x"}},
        "timeNano": time.time_ns(),
    }
    host = DockerHost(settings.docker_host, name=settings.docker_host_name)
    detectors = DetectorEngine(host, DetectorSettings(enabled=["oom"]), clock=ManualClock())
    await detectors.handle_event(parse_event(raw))
    [signal] = detectors.active_signals()
    assert signal.kind == "oom" and signal.target.container_name == name

    async with act_client(settings) as client:
        done = await call(client, "restart_service", {"app_name": shop, "container": name})
        await call(client, "restart_service", {"app_name": shop, "service": "api", "dry_run": True})
        rows = await audit_rows(client)
    assert done["ok"]

    [restart] = [r for r in rows if r["target_key"] == signal.target.key()]
    assert (restart["tool"], restart["result"], restart["dry_run"]) == ("restart_service", "ok", False)
    assert Target.model_validate(restart["target"]).budget_key() == signal.target.budget_key()
    # the same service restarted by service name: its audit row is the signal's workload
    workload = signal.target.workload()
    assert workload is not None and workload.key() == f"compose_service:{host.name}/{shop}/api"
    [by_service] = [r for r in rows if r["target_key"] == workload.key()]
    assert by_service["dry_run"] is True
