"""Staging a lab run on the real engine: a scenario's stack deployed through the Dokploy stand-in
(as a Dokploy compose, with Dokploy's names and labels), watched until it is up, its fault injected,
its final state checked, and the server's audit log read back. Shared by the agent runs (harness.py)
and the baselines (baselines.py)."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import docker
import httpx
import yaml

from standins.dokploy.compose_files import load_compose
from standins.dokploy.server import StandIn

from .loader import Scenario
from .spec import StackExpectation

LAB_LABEL = (
    "ig.lab"  # every container of a run carries ig.lab=<scenario>-<token>; the server watches only those
)
Progress = Callable[[str, str], None]  # (scenario, what is happening)
INJECT_TIMEOUT_S = 120  # longer than any injector's own waits, which say what they waited for


def scoped_compose(compose_text: str, scope: dict[str, str]) -> str:
    """The scenario's compose with the run's label on every service and named volume (the server
    watches only those: its disk detector filters volumes by the same labels)."""
    compose = load_compose(compose_text)  # as Compose reads it (YAML 1.2: `22:22` stays text)
    for service in compose["services"].values():
        labels = service.get("labels") or {}
        if isinstance(labels, list):
            labels = dict(item.split("=", 1) for item in labels)
        service["labels"] = {**labels, **scope}
    for name, volume in (compose.get("volumes") or {}).items():
        volume = volume or {}
        if not volume.get("external"):
            labels = volume.get("labels") or {}
            if isinstance(labels, list):
                labels = dict(item.split("=", 1) for item in labels)
            compose["volumes"][name] = {**volume, "labels": {**labels, **scope}}
    return yaml.safe_dump(compose, sort_keys=False)


@dataclass(frozen=True)
class DeployedStack:
    app_name: str  # Dokploy's appName: the compose project's name on the engine
    compose_id: str


class Dokploy:
    """The few Dokploy API calls a run needs: a project, a raw compose, its deployment."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.http = httpx.AsyncClient(base_url=standin.url, headers=standin.headers, timeout=120)

    async def post(self, op: str, body: dict[str, Any]) -> Any:
        response = await self.http.post(f"/api/{op}", json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    async def deploy(self, name: str, compose_text: str) -> str:
        """Deploy `compose_text` as a Dokploy compose named `lab-<name>`; its appName."""
        return (await self.deploy_stack(name, compose_text)).app_name

    async def deploy_stack(self, name: str, compose_text: str) -> DeployedStack:
        """Deploy `compose_text` as a Dokploy compose named `lab-<name>` in its own project."""
        project = await self.post("project.create", {"name": f"lab-{name}"})
        env_id = project["environment"]["environmentId"]
        body = {"name": name, "appName": f"lab-{name}", "environmentId": env_id,
                "sourceType": "raw", "composeType": "docker-compose", "composeFile": compose_text}  # fmt: skip
        row = await self.post("compose.create", body)
        await self.post("compose.deploy", {"composeId": row["composeId"]})
        await anyio.to_thread.run_sync(self.standin.wait_idle)
        response = await self.http.get("/api/deployment.allByCompose", params={"composeId": row["composeId"]})
        response.raise_for_status()
        newest = response.json()[0]
        if newest["status"] != "done":
            raise RuntimeError(
                f"the deployment of {name} ended {newest['status']}: {newest.get('errorMessage')}"
            )
        return DeployedStack(app_name=str(row["appName"]), compose_id=str(row["composeId"]))


def stack_containers(engine: docker.DockerClient, app_name: str) -> dict[str, Any]:
    """service name → container of the compose project `app_name` (all states)."""
    found = engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={app_name}"})
    return {c.labels.get("com.docker.compose.service", c.name): c for c in found}


def is_up(container: Any) -> bool:
    state = container.attrs["State"]
    health = (state.get("Health") or {}).get("Status")
    # Docker keeps Running true while a restart policy waits to restart (Restarting): not up
    return bool(state.get("Running")) and not state.get("Restarting") and health in (None, "healthy")


async def wait_up(engine: docker.DockerClient, app_name: str, timeout_s: float) -> dict[str, Any]:
    """Until every container of the stack runs (and is healthy when it has a health check)."""
    with anyio.fail_after(timeout_s):
        while True:
            containers = await anyio.to_thread.run_sync(stack_containers, engine, app_name)
            if containers and all(is_up(c) for c in containers.values()):
                return containers
            await anyio.sleep(0.5)


def env_name(text: str) -> str:
    return text.upper().replace("-", "_")


async def inject(
    scenario: Scenario,
    app_name: str,
    containers: dict[str, Any],
    extra_env: dict[str, str] | None = None,
    *,
    fault: Path | None = None,
) -> None:
    """Run the scenario's fault injector with the stack's names in its environment (and
    `extra_env`: the Dokploy stand-in's URL and key, the compose id, the extra stacks' names)."""
    env = dict(os.environ)
    env.update(
        LAB_SCENARIO=scenario.name, LAB_APP_NAME=app_name, LAB_PROJECT=app_name,
        LAB_CONTAINERS=json.dumps({s: c.name for s, c in containers.items()}),
    )  # fmt: skip
    for service, container in containers.items():
        env[f"LAB_CONTAINER_{env_name(service)}"] = container.name
    env.update(extra_env or {})
    script = fault or scenario.fault  # another script of the folder: the owner's step
    command = ["sh", str(script)] if script.suffix == ".sh" else [sys.executable, str(script)]
    try:
        with anyio.fail_after(INJECT_TIMEOUT_S):
            done = await anyio.run_process(command, env=env, cwd=scenario.folder, check=False)
    except TimeoutError:
        raise RuntimeError(f"{script} did not finish within {INJECT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise RuntimeError(
            f"{script} exited {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}"
        )


async def final_state(
    engine: docker.DockerClient, app_name: str, seconds: float, no_new_oom: bool
) -> tuple[bool, str]:
    """Whether every service stays up for `seconds` without a restart (and without an OOM kill)."""
    containers = await anyio.to_thread.run_sync(stack_containers, engine, app_name)
    restarts = {s: c.attrs["RestartCount"] for s, c in containers.items()}
    # State.OOMKilled stays true after the restart that followed an OOM kill: only a new exit counts
    exits = {s: c.attrs["State"].get("FinishedAt") for s, c in containers.items()}
    end = anyio.current_time() + seconds
    while True:
        for service, container in containers.items():
            await anyio.to_thread.run_sync(container.reload)
            if not is_up(container):
                return False, f"{service} is {container.status}"
            if container.attrs["RestartCount"] != restarts[service]:
                return False, f"{service} restarted again"
            state = container.attrs["State"]
            if no_new_oom and state.get("OOMKilled") and state.get("FinishedAt") != exits[service]:
                return False, f"{service} was OOM-killed again"
        if anyio.current_time() >= end:
            return True, f"every service up for {seconds:g} s"
        await anyio.sleep(1)


def audit_rows(server_state: Path) -> list[dict[str, Any]]:
    """Every row of the server's audit log (its safety.sqlite3 in its state dir)."""
    path = server_state / "safety.sqlite3"
    if not path.is_file():
        return []
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM audit_log ORDER BY id")]
    finally:
        conn.close()


def server_env(standin: StandIn, state: Path, scope: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DOKPLOY_URL=standin.url, DOKPLOY_API_KEY=standin.api_key, INFRAGUARDIAN_STATE_DIR=str(state),
        INFRAGUARDIAN_DOKPLOY_OPENAPI_FILE=str(standin.world.config.openapi_path),
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=json.dumps(scope), **extra,
    )  # fmt: skip
    return env


@dataclass
class Stack:
    """One deployed stack of a run and what is expected of it."""

    name: str  # "main" or the extra stack's name
    app_name: str
    compose_id: str
    expect: StackExpectation
    containers: dict[str, Any] = field(default_factory=dict)


async def deploy_stacks(dokploy: Dokploy, scenario: Scenario, scope: dict[str, str]) -> list[Stack]:
    """The scenario's stack and its extra stacks, each deployed as its own Dokploy project with the
    run's `scope` label (the agent runs and the baselines deploy the same way)."""
    name, spec, token = scenario.name, scenario.spec, secrets.token_hex(3)
    deployed = await dokploy.deploy_stack(f"{name}-{token}", scoped_compose(scenario.compose_text, scope))
    stacks = [Stack("main", deployed.app_name, deployed.compose_id, spec.main_stack())]
    for extra in spec.extra_stacks:
        text = scoped_compose(scenario.extra_composes[extra.name], scope)
        deployed = await dokploy.deploy_stack(f"{name}-{extra.name}-{token}", text)
        stacks.append(Stack(extra.name, deployed.app_name, deployed.compose_id, extra))
    return stacks
