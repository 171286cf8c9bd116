"""InfraGuardian deployed on the Dokploy it guards, as a Dokploy user deploys it: deploy/docker-compose.yml
pasted as a raw compose into the Dokploy stand-in, its variables in the Environment tab, deployed on
the real engine with images built from this working tree (tests/deploy/images.py: local stand-ins for
the public base images, since there is no registry here).

Then, as the owner would check it: every service healthy; the dashboard and its API answer behind the
token; another stack, crashing, gets an incident; InfraGuardian refuses to touch its own services; and
a restart of the agent loses no incident and duplicates none (its state is in PostgreSQL).

The test process reaches the containers by their addresses on the stack's own network (no published
port: the real compose publishes none). The deployed MCP server watches only containers labelled with
this run's scope (INFRAGUARDIAN_WATCH_LABELS), so nothing else on the shared engine is touched.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import docker
import httpx
import psycopg
import pytest
import yaml
from pydantic import SecretStr

from agent_host.server_link import ServerLink
from agent_host.server_link.settings import LinkSettings
from standins.dokploy.server import StandIn

from .images import AppImages, build_app_images
from .stack import DokployUser, Project, bridge_gateway, wait_for

pytestmark = pytest.mark.timeout(1800)  # a cold run builds the images (the agent's wheels: minutes)

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"
SELF_SERVICES = {"mcp", "agent", "postgres"}
SCOPE_LABEL = "ig.deploy.scope"
HEALTHY_TIMEOUT_S = 300  # the agent imports LangGraph, Chroma and its embeddings on a shared 2-core box
INCIDENT_TIMEOUT_S = 180


@dataclass
class SelfStack:
    project: Project
    token: str
    postgres_password: str
    scope: dict[str, str]
    user: DokployUser

    def dashboard(self, path: str, *, bearer: str | None = None, anonymous: bool = False) -> httpx.Response:
        """GET `path` on the agent's dashboard with the stack's token (or `bearer`, or none)."""
        headers = {} if anonymous else {"Authorization": f"Bearer {bearer or self.token}"}
        url = f"http://{self.project.address('agent')}:8766{path}"
        return httpx.get(url, headers=headers, timeout=30)

    def incidents_of(self, app_name: str) -> list[dict[str, Any]]:
        response = self.dashboard("/api/incidents")
        assert response.status_code == 200, response.text[:300]
        return [
            i
            for i in response.json()
            if f"/{app_name}/" in str(i["target"]) or str(i["target"]).endswith(f"/{app_name}")
        ]


@pytest.fixture(scope="module")
def images() -> AppImages:
    return build_app_images()


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="module")
def standin(engine: docker.DockerClient) -> Iterator[StandIn]:
    """Dokploy on this host, where the deployed containers reach it: the bridge gateway address,
    which their `host.docker.internal` names (as they would reach real Dokploy's port 3000)."""
    server = StandIn(host=bridge_gateway(engine), service_labels={"ig.test": "self-deploy"})
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.teardown()
    problems = server.problems()
    if problems:
        pytest.fail("Dokploy stand-in: " + "\n  ".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def stack(images: AppImages, standin: StandIn, engine: docker.DockerClient) -> Iterator[SelfStack]:
    """deploy/docker-compose.yml deployed through the stand-in, exactly as written."""
    user = DokployUser(standin, "igdeploy-infraguardian")
    token = secrets.token_urlsafe(32)
    postgres_password = secrets.token_hex(16)
    scope = {SCOPE_LABEL: secrets.token_hex(6)}
    env = {
        "INFRAGUARDIAN_IMAGE": images.server,
        "INFRAGUARDIAN_AGENT_IMAGE": images.agent,
        "POSTGRES_IMAGE": images.postgres,
        "DOKPLOY_URL": f"http://host.docker.internal:{standin.port}",
        "DOKPLOY_API_KEY": standin.api_key,
        "INFRAGUARDIAN_TOKEN": token,
        "POSTGRES_PASSWORD": postgres_password,
        "DOCKER_SOCKET_GID": str(os.stat("/var/run/docker.sock").st_gid),
        "DASHBOARD_DOMAIN": f"guardian-{scope[SCOPE_LABEL]}.test",
        "DASHBOARD_SECURE_COOKIE": "false",
        "DOKPLOY_BASE_DIR": str(standin.base_dir),
        "INFRAGUARDIAN_WATCH_LABELS": json.dumps(scope),
    }
    compose_id, app_name = user.compose("igdeploy-self", COMPOSE_FILE.read_text(encoding="utf-8"), env)
    try:
        user.deploy(compose_id)
        yield SelfStack(Project(engine, app_name), token, postgres_password, scope, user)
    finally:
        user.close()


@pytest.fixture(scope="module")
def watched(stack: SelfStack) -> tuple[str, dict[str, Any]]:
    """Another stack, deployed through Dokploy, whose service exits for good; (its appName, the
    incident the agent opened for it)."""
    stack.project.wait_healthy(SELF_SERVICES, HEALTHY_TIMEOUT_S)
    service = {
        "image": "ig/busybox:test",
        "command": ["sh", "-c", "echo 'fatal: environment variable DATABASE_URL is not set'; exit 1"],
        "restart": "no",
        "labels": stack.scope,
    }
    text = yaml.safe_dump({"services": {"api": service}}, sort_keys=False)
    compose_id, app_name = stack.user.compose("igdeploy-watched", text, {})
    stack.user.deploy(compose_id)
    [incident] = wait_for(
        f"an incident for {app_name} in the dashboard's /api/incidents",
        lambda: stack.incidents_of(app_name),
        INCIDENT_TIMEOUT_S,
    )
    return app_name, incident


def test_every_service_comes_up_healthy_non_root_and_marked_as_itself(stack: SelfStack) -> None:
    stack.project.wait_healthy(SELF_SERVICES, HEALTHY_TIMEOUT_S)
    containers = stack.project.containers()
    assert set(containers) == SELF_SERVICES, "chroma is behind its profile: not started unless asked"
    for service, container in containers.items():
        assert container.labels.get("io.infraguardian.self") == "true", service
    for service in ("mcp", "agent"):
        uid = containers[service].exec_run(["id", "-u"]).output.decode().strip()
        assert uid == "10001", f"{service} runs as uid {uid}, not the image's user ig"

    mcp = httpx.get(f"http://{stack.project.address('mcp')}:8765/healthz", timeout=30)
    assert (mcp.status_code, mcp.json()) == (200, {"status": "ok"})
    # anything on the stack's network can reach the server; only the token lets it in
    refused = httpx.post(f"http://{stack.project.address('mcp')}:8765/mcp", json={}, timeout=30)
    assert refused.status_code == 401, refused.text[:200]
    health = stack.dashboard("/healthz", anonymous=True)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert stack.dashboard("/api/status", anonymous=True).status_code == 401
    assert stack.dashboard("/api/status", bearer="not-the-token-" + "x" * 20).status_code == 401
    status = stack.dashboard("/api/status")
    assert status.status_code == 200, status.text[:300]
    assert "mcp:8765" in json.dumps(status.json()), "the agent talks to the stack's own MCP server"


def test_it_opens_an_incident_for_a_crashing_stack_it_watches(
    stack: SelfStack, watched: tuple[str, dict[str, Any]]
) -> None:
    app_name, incident = watched
    assert incident["kind"], incident
    # kept in the stack's PostgreSQL (not in a container's file system)
    dsn = f"postgresql://infraguardian:{stack.postgres_password}@{stack.project.address('postgres')}:5432/infraguardian"
    with psycopg.connect(dsn, connect_timeout=10) as db:
        row = db.execute("SELECT target_key FROM incidents WHERE id = %s", (incident["id"],)).fetchone()
    assert row is not None and app_name in row[0]
    detail = stack.dashboard(f"/api/incidents/{incident['id']}")
    assert detail.status_code == 200 and app_name in detail.text


def test_it_refuses_to_restart_or_stop_its_own_services(stack: SelfStack) -> None:
    project = stack.project
    project.wait_healthy(SELF_SERVICES, HEALTHY_TIMEOUT_S)
    started = {s: c.attrs["State"]["StartedAt"] for s, c in project.containers().items()}
    link_settings = LinkSettings(
        server_url=f"http://{project.address('mcp')}:8765/mcp", server_token=SecretStr(stack.token)
    )

    async def ask() -> tuple[Any, list[Any]]:
        async with ServerLink(link_settings, client_name="self-deploy-test") as link:
            # the server reaches Dokploy from its container (DOKPLOY_URL): it reads this deployment
            history = await link.call_tool("deployment_history", {"app_name": project.app_name})
            refusals = [
                await link.call_tool("restart_service", {"app_name": project.app_name, "service": "agent"}),
                await link.call_tool(
                    "restart_service", {"app_name": project.app_name, "service": "postgres"}
                ),
                await link.call_tool("stop_compose", {"app_name": project.app_name, "dry_run": True}),
            ]
            return history, refusals

    history, refusals = anyio.run(ask)
    assert history.ok, history.error
    assert [d["status"] for d in (history.structured or {}).get("deployments", [])] == ["done"], history.text[
        :500
    ]
    for outcome in refusals:
        assert outcome.refused, (outcome.tool, outcome.arguments, outcome.error or outcome.text[:300])
        assert "InfraGuardian itself" in (outcome.error or ""), outcome.error
    after = {s: c.attrs["State"]["StartedAt"] for s, c in project.containers().items()}
    assert after == started, "none of its own containers was restarted"


def test_a_restart_of_the_agent_keeps_its_incidents_without_duplicates(
    stack: SelfStack, watched: tuple[str, dict[str, Any]]
) -> None:
    app_name, incident = watched
    before = stack.incidents_of(app_name)
    agent = stack.project.container("agent")
    started_before = agent.attrs["State"]["StartedAt"]
    agent.restart(timeout=20)
    agent.reload()
    assert agent.attrs["State"]["StartedAt"] != started_before
    stack.project.wait_healthy({"agent"}, HEALTHY_TIMEOUT_S)
    # the agent reads the server's signals again (the crashed service is still down): give it the
    # time to open a duplicate if it would (poll 2 s + evidence wait 10 s, twice over)
    settle_until = time.monotonic() + 30

    def settled() -> bool:
        assert len(stack.incidents_of(app_name)) == len(before), stack.incidents_of(app_name)
        return time.monotonic() >= settle_until

    wait_for("the agent to settle after its restart", settled, 60, poll_s=3)
    after = {i["id"]: i for i in stack.incidents_of(app_name)}
    assert incident["id"] in after, f"incident {incident['id']} is gone after the restart: {list(after)}"
    assert [i["id"] for i in before] == list(after)


def test_a_failing_service_marked_as_itself_is_escalated_never_touched(stack: SelfStack) -> None:
    """A service carrying io.infraguardian.self=true (as every service of this stack does) that falls
    over in a way the runbooks would fix by restarting it: the detectors report it marked as itself,
    the agent opens an incident and escalates it without trying a fix (the server would refuse one:
    test_it_refuses_to_restart_or_stop_its_own_services), and nothing changed."""
    stack.project.wait_healthy(SELF_SERVICES, HEALTHY_TIMEOUT_S)
    service = {
        "image": "ig/busybox:test",
        "command": ["sh", "-c", "echo 'error: connection refused by the upstream'; exit 1"],
        "restart": "no",
        "labels": {**stack.scope, "io.infraguardian.self": "true"},
    }
    text = yaml.safe_dump({"services": {"worker": service}}, sort_keys=False)
    compose_id, app_name = stack.user.compose("igdeploy-selfmarked", text, {})
    stack.user.deploy(compose_id)
    container = Project(stack.project.engine, app_name).container("worker")
    started = container.attrs["State"]["StartedAt"]

    [incident] = wait_for(
        f"the agent to close its incident on {app_name}",
        lambda: [
            i for i in stack.incidents_of(app_name) if i["status"] in ("escalated", "resolved", "failed")
        ],
        INCIDENT_TIMEOUT_S,
    )
    detail = stack.dashboard(f"/api/incidents/{incident['id']}").json()
    assert detail["status"] == "escalated", (detail["status"], detail["outcome"])
    # the signal's target carried the mark, so the agent never planned a fix on itself
    assert detail["target"].get("infraguardian_self") is True, detail["target"]
    assert detail["actions"] == [] and detail["plan"] == [], detail["actions"]
    assert any("InfraGuardian's own container" in r for r in detail["decision"]["escalation"]), detail[
        "decision"
    ]
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started and container.attrs["State"]["Status"] == "exited"
