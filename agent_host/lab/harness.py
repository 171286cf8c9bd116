"""Running one scenario on the real engine: deploy its stack through the Dokploy stand-in, start the
real server and agent watching only that stack, wait until it is up, inject the fault, wait for the
incident to end (or to wait for approval, or the time limit), check the final state, score, and
tear everything down, even after a failure or Ctrl-C.

The stand-ins run in this process (the Dokploy one in its own thread); the server is spawned by the
agent over stdio, as `infraguardian-agent run` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import docker
import httpx
import yaml

from agent_host.incidents.model import Incident
from agent_host.model.settings import ModelSettings
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from standins.dokploy.server import StandIn

from .loader import Scenario
from .scoring import ScenarioResult, score

LAB_LABEL = (
    "ig.lab"  # every container of a run carries ig.lab=<scenario>-<token>; the server watches only those
)
Progress = Callable[[str, str], None]  # (scenario, what is happening)


def scoped_compose(compose_text: str, scope: dict[str, str]) -> str:
    """The scenario's compose with the run's label on every service (the server watches only those)."""
    compose = yaml.safe_load(compose_text)
    for service in compose["services"].values():
        labels = service.get("labels") or {}
        if isinstance(labels, list):
            labels = dict(item.split("=", 1) for item in labels)
        service["labels"] = {**labels, **scope}
    return yaml.safe_dump(compose, sort_keys=False)


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
        return str(row["appName"])


def stack_containers(engine: docker.DockerClient, app_name: str) -> dict[str, Any]:
    """service name → container of the compose project `app_name` (all states)."""
    found = engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={app_name}"})
    return {c.labels.get("com.docker.compose.service", c.name): c for c in found}


def is_up(container: Any) -> bool:
    state = container.attrs["State"]
    health = (state.get("Health") or {}).get("Status")
    return bool(state.get("Running")) and health in (None, "healthy")


async def wait_up(engine: docker.DockerClient, app_name: str, timeout_s: float) -> dict[str, Any]:
    """Until every container of the stack runs (and is healthy when it has a health check)."""
    with anyio.fail_after(timeout_s):
        while True:
            containers = await anyio.to_thread.run_sync(stack_containers, engine, app_name)
            if containers and all(is_up(c) for c in containers.values()):
                return containers
            await anyio.sleep(0.5)


async def inject(scenario: Scenario, app_name: str, containers: dict[str, Any]) -> None:
    """Run the scenario's fault injector with the stack's names in its environment."""
    env = dict(os.environ)
    env.update(
        LAB_SCENARIO=scenario.name, LAB_APP_NAME=app_name, LAB_PROJECT=app_name,
        LAB_CONTAINERS=json.dumps({s: c.name for s, c in containers.items()}),
    )  # fmt: skip
    for service, container in containers.items():
        env[f"LAB_CONTAINER_{service.upper().replace('-', '_')}"] = container.name
    command = (
        ["sh", str(scenario.fault)]
        if scenario.fault.suffix == ".sh"
        else [sys.executable, str(scenario.fault)]
    )
    with anyio.fail_after(60):
        done = await anyio.run_process(command, env=env, cwd=scenario.folder, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{scenario.fault} exited {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}"
        )


async def wait_for_end(agent: Any, app_name: str, deadline_s: float) -> Incident | None:
    """The stack's first incident once it is closed or awaiting approval; None at the deadline."""
    with anyio.move_on_after(deadline_s):
        while True:
            for incident in await agent.deps.store.recent(50):
                if incident.target.get("app_name") == app_name and (
                    incident.closed or incident.status == "awaiting_approval"
                ):
                    return incident
            await anyio.sleep(1)
    return None


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


async def run_scenario(
    scenario: Scenario, mode: str, standin: StandIn, work: Path, progress: Progress, ollama_url: str | None
) -> ScenarioResult:
    """One run of `scenario` against a started stand-in (the caller stops it and tears it down)."""
    spec, name = scenario.spec, scenario.name
    scope = {LAB_LABEL: f"{name}-{secrets.token_hex(4)}"}
    engine = docker.from_env()
    dokploy = Dokploy(standin)
    try:
        progress(name, "deploying through the Dokploy stand-in")
        app_name = await dokploy.deploy(
            f"{name}-{secrets.token_hex(3)}", scoped_compose(scenario.compose_text, scope)
        )
        settings = AgentSettings(
            state_dir=work / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1,
            model=ModelSettings(ollama_host=ollama_url),
        )  # fmt: skip
        env = server_env(standin, work / "server", scope, spec.server_env)
        progress(name, f"starting server and agent ({mode})")
        async with running_agent(settings, env=env) as agent, anyio.create_task_group() as tasks:
            progress(name, "waiting for the stack to be up")
            containers = await wait_up(engine, app_name, 90)
            tasks.start_soon(agent.monitor.run)
            progress(name, f"injecting the fault ({scenario.fault.name})")
            fault_at = datetime.now(UTC)
            await inject(scenario, app_name, containers)
            progress(name, f"waiting for the incident (at most {spec.time_limit_s:g} s)")
            incident = await wait_for_end(agent, app_name, spec.time_limit_s)
            ok: bool | None = None
            note = "not checked: the incident did not resolve" if spec.final_state else ""
            if spec.final_state is not None and incident is not None and incident.status == "resolved":
                progress(name, f"checking the final state for {spec.final_state.healthy_for_s:g} s")
                ok, note = await final_state(
                    engine, app_name, spec.final_state.healthy_for_s, spec.final_state.no_new_oom
                )
            incidents = await agent.deps.store.recent(100)
            tasks.cancel_scope.cancel()
        result = score(
            spec, mode, app_name=app_name, incidents=incidents, fault_at=fault_at,
            audit_rows=audit_rows(work / "server"), final_state_ok=ok, final_state_note=note,
        )  # fmt: skip
        progress(name, "passed" if result.passed else f"FAILED: {'; '.join(result.failures)}")
        return result
    finally:
        await dokploy.http.aclose()
        with contextlib.suppress(Exception):
            engine.close()


def run_one(scenario: Scenario, mode: str, progress: Progress) -> ScenarioResult:
    """A scenario with its own stand-ins and state, torn down whatever happens (also on Ctrl-C)."""
    standin = StandIn()
    ollama = None
    try:
        standin.start()
        if mode == "scripted":
            ollama = scripted_model(scenario)
        with tempfile.TemporaryDirectory(prefix=f"ig-lab-{scenario.name}-") as work:
            try:
                return anyio.run(
                    run_scenario,
                    scenario,
                    mode,
                    standin,
                    Path(work),
                    progress,
                    ollama.url if ollama else None,
                )
            except Exception as exc:  # one broken scenario is a failed row, not a crashed run
                progress(scenario.name, f"ERROR: {exc}")
                return ScenarioResult(name=scenario.name, mode=mode, error=f"{type(exc).__name__}: {exc}")
    finally:
        progress(scenario.name, "tearing down")
        if ollama is not None:
            ollama.stop()
        standin.stop()
        standin.teardown()


def scripted_model(scenario: Scenario) -> Any:
    """The Ollama stand-in answering every incident with the scenario's scripted decision."""
    from standins.ollama.server import OllamaStandIn

    if scenario.spec.scripted is None:
        raise RuntimeError(
            f"{scenario.name}: --mode scripted needs `scripted:` (solution, root_cause) in its spec"
        )
    ollama = OllamaStandIn()
    ollama.start()
    root_cause = scenario.spec.scripted.root_cause
    reply = {"thinking": f"The evidence fits: {root_cause}.",
             "json": {"root_cause": root_cause, "confidence": 0.9,
                      "solution": scenario.spec.scripted.solution, "reasons": [root_cause]}}  # fmt: skip
    ollama.set_default(reply)
    return ollama
