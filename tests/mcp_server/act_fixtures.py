"""Fixtures and helpers for the action-tool tests (test_act_*.py).

One Dokploy stand-in per test module (deploying a compose costs seconds, so modules share one),
composes created through its API with `ig/busybox:test` and the label `ig.test=act-tools`, an
in-process MCP client per test (fresh state dir: fresh budgets and audit log), and Docker helpers
to check on the engine what really happened. Everything created is removed at teardown.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

import docker
import docker.errors
import httpx
import pytest
import yaml
from docker.models.containers import Container
from mcp import Client, types
from mcp.client.session import ClientRequestContext

from mcp_server.server import build_server
from mcp_server.settings import Settings
from standins.dokploy.server import StandIn

LABELS = {"ig.test": "act-tools"}
BUSYBOX = "ig/busybox:test"
PREFIX = "act-tools"
NO_BACKOFF = {"max_actions": 3, "window_s": 1800}  # budgets without waits, for tests that act twice


def compose_yaml(
    *,
    db_mem: str | None = "32m",
    command: str = "sleep 3600",
    comment: bool = True,
    deploy_form: bool = False,
) -> str:
    """Two services: db (memory limit) and api (depends on db, no limit)."""
    db: dict[str, Any] = {"image": BUSYBOX, "command": ["sh", "-c", command], "init": True, "labels": LABELS}
    if db_mem and deploy_form:
        db["deploy"] = {"resources": {"limits": {"memory": db_mem}}}
    elif db_mem:
        db["mem_limit"] = db_mem
    api = {
        "image": BUSYBOX,
        "command": ["sh", "-c", command],
        "init": True,
        "labels": LABELS,
        "depends_on": ["db"],
        "environment": {"DATABASE_URL": "postgres://app:hunter2@db:5432/app"},
    }
    text = yaml.safe_dump({"services": {"db": db, "api": api}}, sort_keys=False)
    return ("# act-tools test stack: keep this comment\n" + text) if comment else text


class StandInAPI:
    """The stand-in's HTTP API, synchronous (module fixtures cannot be async here)."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.http = httpx.Client(base_url=standin.url, headers=standin.headers, timeout=120)
        self._env: str | None = None

    def close(self) -> None:
        self.http.close()

    def get(self, op: str, **params: Any) -> Any:
        response = self.http.get(f"/api/{op}", params=params)
        response.raise_for_status()
        return response.json() if response.content else None

    def post(self, op: str, body: dict[str, Any]) -> Any:
        response = self.http.post(f"/api/{op}", json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def environment(self) -> str:
        if self._env is None:
            self._env = self.post("project.create", {"name": f"{PREFIX}-project"})["environment"][
                "environmentId"
            ]
        return self._env

    def create_compose(self, name: str, text: str, env: str | None = None) -> tuple[str, str]:
        """(composeId, appName) of a new raw compose (not deployed)."""
        body = {
            "name": name,
            "appName": f"{PREFIX}-{name}",
            "environmentId": self.environment(),
            "sourceType": "raw",
            "composeType": "docker-compose",
            "composeFile": text,
        }
        row = self.post("compose.create", body)
        if env is not None:
            self.post("compose.update", {"composeId": row["composeId"], "env": env})
        return row["composeId"], row["appName"]

    def deploy_compose(self, compose_id: str) -> None:
        self.post("compose.deploy", {"composeId": compose_id})
        self.standin.wait_idle()
        [newest, *_] = self.get("deployment.allByCompose", composeId=compose_id)
        assert newest["status"] == "done", newest

    def deployed_compose(self, name: str, text: str | None = None, env: str | None = None) -> tuple[str, str]:
        compose_id, app_name = self.create_compose(name, text or compose_yaml(), env)
        self.deploy_compose(compose_id)
        return compose_id, app_name

    def compose(self, compose_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get("compose.one", composeId=compose_id)
        return result

    def create_application(self, name: str, memory: str | None = None, start: bool = False) -> dict[str, Any]:
        """A docker-source application running ig/busybox:test (started with application.reload)."""
        app: dict[str, Any] = self.post(
            "application.create",
            {"name": name, "appName": f"{PREFIX}-{name}", "environmentId": self.environment()},
        )
        self.post(
            "application.saveDockerProvider",
            {
                "applicationId": app["applicationId"],
                "dockerImage": BUSYBOX,
                "username": None,
                "password": None,
                "registryUrl": None,
            },
        )
        update = {"applicationId": app["applicationId"], "command": "sleep 3600", "memoryLimit": memory}
        self.post("application.update", update)
        if start:
            self.post(
                "application.reload", {"applicationId": app["applicationId"], "appName": app["appName"]}
            )
        return app


@pytest.fixture(scope="module")
def act_standin() -> Iterator[StandIn]:
    """A Dokploy stand-in for the whole module; fails the module if it saw a request real Dokploy
    would reject."""
    standin = StandIn(service_labels=LABELS)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
        standin.teardown()
    problems = standin.problems()
    if problems:
        pytest.fail("Dokploy stand-in: " + "\n  ".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def api(act_standin: StandIn) -> Iterator[StandInAPI]:
    client = StandInAPI(act_standin)
    yield client
    client.close()


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def make_container(engine: docker.DockerClient) -> Iterator[Callable[..., Container]]:
    """Create labelled busybox containers (running unless stopped=True); removed at teardown."""
    made: list[Container] = []

    def make(
        name: str | None = None,
        *,
        stopped: bool = False,
        command: str = "sleep 3600",
        labels: dict[str, str] | None = None,
    ) -> Container:
        kwargs: dict[str, Any] = {
            "name": name or f"{PREFIX}-{secrets.token_hex(4)}",
            "labels": {**LABELS, **(labels or {})},
            "init": True,
        }
        if stopped:
            container = engine.containers.create(BUSYBOX, ["sh", "-c", command], **kwargs)
        else:
            container = engine.containers.run(BUSYBOX, ["sh", "-c", command], detach=True, **kwargs)
        made.append(container)
        return container

    yield make
    for container in made:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def protected_name(engine: docker.DockerClient) -> str:
    """`dokploy-traefik` when no such container exists on the shared engine, else a unique name
    the protection rules treat the same (starts with dokploy, contains traefik)."""
    try:
        engine.containers.get("dokploy-traefik")
    except docker.errors.NotFound:
        return "dokploy-traefik"
    return f"dokploy-traefik-{PREFIX}-{secrets.token_hex(3)}"


def started_at(engine: docker.DockerClient, name: str) -> str:
    return str(engine.containers.get(name).attrs["State"]["StartedAt"])


def state(engine: docker.DockerClient, name: str) -> str:
    return str(engine.containers.get(name).attrs["State"]["Status"])


def memory_of(engine: docker.DockerClient, name: str) -> int:
    return int(engine.containers.get(name).attrs["HostConfig"]["Memory"])


@contextlib.asynccontextmanager
async def act_client(
    settings: Settings,
    *,
    human: Literal["accept", "decline"] | None = None,
    asked: list[str] | None = None,
) -> AsyncIterator[Client]:
    """An in-process MCP client. With `human`, it answers confirmation requests (elicitation, on
    the legacy 2025-11-25 session: one question mid-call) that way and records their messages in
    `asked`. Without `human` it speaks 2026-07-28 and declares no elicitation, so the server
    refuses what needs a human's confirmation (test_confirmation.py covers both protocols)."""
    server = build_server(settings, run_detectors=False)
    if human is None:
        async with Client(server, raise_exceptions=True) as client:
            yield client
        return

    async def answer(_: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        if asked is not None:
            asked.append(params.message)
        if human == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")

    async with Client(server, elicitation_callback=answer, mode="legacy") as client:
        yield client


async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must succeed; its structured result."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Client, tool: str, args: dict[str, Any]) -> str:
    """Call a tool that must fail; its error text."""
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


async def audit_rows(client: Client) -> list[dict[str, Any]]:
    """The audit log through the MCP resource, oldest first."""
    resource = await client.read_resource("infraguardian://audit")
    content = resource.contents[0]
    assert isinstance(content, types.TextResourceContents)
    rows: list[dict[str, Any]] = json.loads(content.text)
    return sorted(rows, key=lambda r: r["id"])
