"""Inventory on the real engine: a Compose v2 project (like Dokploy's `docker compose -p <appName>`),
an application-style swarm service `<appName>` and a stack service `<appName>_<svc>`."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from mcp_server.docker_ops.compose_binary import compose_command
from mcp_server.docker_ops.containers import container_details
from mcp_server.docker_ops.host import DockerHost
from mcp_server.docker_ops.inventory import inventory
from mcp_server.docker_ops.models import refs_from_overview

from .dockerops_helpers import LABELS, RUN_ID, TEST_IMAGE, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

PROJECT = f"ig-dockerops-{RUN_ID}"
APP = f"ig-dockerops-app-{RUN_ID}"
STACK = f"ig-dockerops-stack-{RUN_ID}"


def _labels_yaml(indent: int) -> str:
    return textwrap.indent("\n".join(f'{k}: "{v}"' for k, v in LABELS.items()), " " * indent)


COMPOSE_FILE = f"""
services:
  web:
    image: {TEST_IMAGE}
    command: ["sleep", "3600"]
    init: true
    network_mode: none
    healthcheck:
      test: ["CMD-SHELL", "echo probe-ok"]
      interval: 1s
      timeout: 2s
      retries: 3
    labels:
{_labels_yaml(6)}
  worker:
    image: {TEST_IMAGE}
    command: ["sleep", "3600"]
    init: true
    network_mode: none
    labels:
{_labels_yaml(6)}
"""


@pytest.fixture(scope="module")
def compose_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("compose")
    (workdir / "docker-compose.yml").write_text(COMPOSE_FILE)
    base = [*compose_command(), "-p", PROJECT, "-f", str(workdir / "docker-compose.yml")]
    up = subprocess.run([*base, "up", "-d", "--wait", "--wait-timeout", "60"], capture_output=True, text=True)
    try:
        assert up.returncode == 0, f"compose up failed: {up.stderr}"
        yield PROJECT
    finally:
        down = subprocess.run(
            [*base, "down", "-v", "-t", "0", "--remove-orphans"], capture_output=True, text=True
        )
        assert down.returncode == 0, f"compose down failed: {down.stderr}"


def _service_running(client: docker.DockerClient, name: str) -> bool:
    tasks = client.api.tasks(filters={"service": name, "desired-state": "running"})
    return any((t.get("Status") or {}).get("State") == "running" for t in tasks)


@pytest.fixture(scope="module")
def swarm_services(docker_client: docker.DockerClient) -> Iterator[tuple[str, str]]:
    created: list[Any] = []
    try:
        created.append(
            docker_client.services.create(
                TEST_IMAGE,
                command=["sleep", "3600"],
                name=APP,
                labels=LABELS,
                container_labels=LABELS,
                mode=docker.types.ServiceMode("replicated", replicas=1),
                stop_grace_period=1_000_000_000,
            )
        )
        stack_labels = {**LABELS, "com.docker.stack.namespace": STACK}
        created.append(
            docker_client.services.create(
                TEST_IMAGE,
                command=["sleep", "3600"],
                name=f"{STACK}_web",
                labels=stack_labels,
                container_labels=stack_labels,
                stop_grace_period=1_000_000_000,
            )
        )
        for name in (APP, f"{STACK}_web"):
            wait_for(
                lambda n=name: _service_running(docker_client, n), timeout=60, what=f"service {name} running"
            )
        yield APP, STACK
    finally:
        for service in created:
            service.remove()


async def test_compose_project_grouped_by_service_with_labels(host: DockerHost, compose_project: str) -> None:
    refs = refs_from_overview(
        [
            {
                "appName": compose_project,
                "type": "compose",
                "id": "cmp-1",
                "name": "Shop",
                "projectName": "Demo",
                "environmentName": "production",
            },
            {"appName": f"ig-dockerops-missing-{RUN_ID}", "type": "postgres", "id": "pg-1", "name": "Gone"},
        ]
    )
    inv = await inventory(host, refs)
    group = next(g for g in inv.groups if g.app_name == compose_project)
    assert group.kind == "compose"
    assert [s.name for s in group.services] == ["web", "worker"]
    assert group.containers_total == 2 and group.containers_running == 2
    assert group.dokploy is not None
    assert (group.dokploy.id, group.dokploy.project, group.dokploy.environment) == (
        "cmp-1",
        "Demo",
        "production",
    )
    web = group.services[0].containers[0]
    assert web.name == f"{compose_project}-web-1"
    assert web.health_status == "healthy"
    assert [r.app_name for r in inv.dokploy_refs_without_objects] == [f"ig-dockerops-missing-{RUN_ID}"]
    assert all(c.name != web.name for c in inv.unmanaged)

    details = await container_details(host, web.name)
    assert details.compose_project == compose_project and details.compose_service == "web"
    assert details.health is not None and details.health.status == "healthy"
    assert details.health.probes and "probe-ok" in details.health.probes[-1].output
    assert details.health.probes[-1].exit_code == 0


async def test_inventory_without_dokploy_refs(host: DockerHost, compose_project: str) -> None:
    inv = await inventory(host)
    group = next(g for g in inv.groups if g.app_name == compose_project)
    assert group.dokploy is None
    assert inv.dokploy_refs_without_objects == []
    assert inv.swarm_active


async def test_swarm_application_and_stack_services(
    host: DockerHost, swarm_services: tuple[str, str]
) -> None:
    app, stack = swarm_services
    inv = await inventory(
        host, refs_from_overview([{"appName": app, "type": "application", "id": "app-1", "name": "A"}])
    )
    app_group = next(g for g in inv.groups if g.app_name == app)
    assert app_group.kind == "swarm_service"
    assert app_group.dokploy is not None and app_group.dokploy.type == "application"
    [service] = app_group.services
    assert service.name == app
    assert service.swarm_service is not None
    assert service.swarm_service.mode == "replicated" and service.swarm_service.replicas_desired == 1
    assert service.swarm_service.tasks_running == 1
    running_task = next(t for t in service.swarm_service.tasks if t.state == "running")
    assert running_task.slot == 1 and running_task.container_id
    assert [c.id for c in service.containers if c.status == "running"] == [running_task.container_id]
    assert service.containers[0].name.startswith(f"{app}.1.")

    stack_group = next(g for g in inv.groups if g.app_name == stack)
    assert stack_group.kind == "stack"
    assert [s.name for s in stack_group.services] == ["web"]
    assert stack_group.services[0].swarm_service is not None
    assert stack_group.services[0].swarm_service.name == f"{stack}_web"
    assert stack_group.containers_running == 1
