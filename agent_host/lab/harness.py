"""Running one scenario on the real engine: deploy its stack(s) through the Dokploy stand-in, start
the real server and agent watching only those stacks, wait until they are up, inject the fault, answer
the agent's approval request the way the scenario says (and do the owner's step), wait for the
incidents to end (or the time limit), check the final state, look for the planted canaries in all we
wrote, score, and tear everything down, even after a failure or Ctrl-C.

The stand-ins run in this process (the Dokploy one in its own thread); the server is spawned by the
agent over stdio, as `infraguardian-agent run` does. Staging on the engine is in stage.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import docker

from agent_host.console import incident_line
from agent_host.incidents.model import Incident
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from mcp_server.redaction import redact
from standins.dokploy.server import StandIn

from .leaks import captured_stderr, find_canaries
from .loader import Scenario
from .scoring import ScenarioResult, score
from .spec import StackExpectation
from .stage import (  # noqa: F401  (re-exported: baselines.py and tests import them from here)
    LAB_LABEL,
    Dokploy,
    Progress,
    Stack,
    audit_rows,
    deploy_stacks,
    env_name,
    final_state,
    inject,
    is_up,
    scoped_compose,
    server_env,
    stack_containers,
    wait_up,
)

ENDED_BADLY = frozenset({"escalated"})


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def agent_settings(scenario: Scenario, work: Path, ollama_url: str | None) -> AgentSettings:
    """Short windows for the lab, then the scenario's own `agent:` settings on top."""
    base: dict[str, Any] = {
        "state_dir": work / "agent", "poll_s": 0.5, "verify_window_max_s": 8, "verify_interval_s": 1,
        "model": {"ollama_host": ollama_url},
    }  # fmt: skip
    return AgentSettings.model_validate(deep_merge(base, scenario.spec.agent))


def stack_ended(expect: StackExpectation, mine: list[Incident], answering: bool) -> bool:
    """Whether a stack's incidents are over: none still running, and one ended as expected or
    badly (a flapping service's first incident may resolve; the run waits for the escalation)."""
    if not expect.signals:
        return True
    if not mine:
        return False
    waiting = [i for i in mine if i.status == "awaiting_approval"]
    if any(not i.closed and i.status != "awaiting_approval" for i in mine) or (waiting and answering):
        return False
    return bool(waiting) or any(i.status == expect.outcome or i.status in ENDED_BADLY for i in mine)


async def answer_approvals(agent: Any, scenario: Scenario, stacks: list[Stack], answered: set[str]) -> None:
    """Answer each pending request for the run's stacks as the scenario says; after an approval,
    run its owner step (the owner doing what the request asked)."""
    spec, book = scenario.spec, agent.deps.approvals
    if spec.approval is None or book is None:
        return
    apps = {s.app_name for s in stacks}
    for request in await book.pending():
        if request.id in answered:
            continue
        incident = await agent.deps.store.get(request.incident_id)
        if incident is None or incident.target.get("app_name") not in apps:
            continue
        answered.add(request.id)
        await book.answer(request.id, approve=spec.approval == "approve", by="lab:owner")
        if spec.approval == "approve" and spec.owner_step:
            main = stacks[0]
            await inject(scenario, main.app_name, main.containers, fault=scenario.folder / spec.owner_step)


async def wait_for_end(agent: Any, scenario: Scenario, stacks: list[Stack], deadline_s: float) -> bool:
    """Until every stack's incidents are over (answering approvals meanwhile); False at the deadline."""
    answered: set[str] = set()
    answering = scenario.spec.approval is not None
    with anyio.move_on_after(deadline_s):
        while True:
            await answer_approvals(agent, scenario, stacks, answered)
            incidents = await agent.deps.store.recent(200)
            if all(
                stack_ended(
                    s.expect, [i for i in incidents if i.target.get("app_name") == s.app_name], answering
                )
                for s in stacks
            ) and any(s.expect.signals for s in stacks):
                return True
            await anyio.sleep(1)
    return False


def fault_env(standin: StandIn, stacks: list[Stack]) -> dict[str, str]:
    """What a fault injector may use beyond the main stack's names: the Dokploy stand-in (a bad
    deploy is made through Dokploy, as a user would), each extra stack's names."""
    env = {"LAB_DOKPLOY_URL": standin.url, "LAB_DOKPLOY_API_KEY": standin.api_key,
           "LAB_COMPOSE_ID": stacks[0].compose_id}  # fmt: skip
    for stack in stacks[1:]:
        prefix = f"LAB_{env_name(stack.name)}"
        env[f"{prefix}_APP_NAME"], env[f"{prefix}_COMPOSE_ID"] = stack.app_name, stack.compose_id
        for service, container in stack.containers.items():
            env[f"{prefix}_CONTAINER_{env_name(service)}"] = container.name
    return env


async def run_scenario(
    scenario: Scenario, mode: str, standin: StandIn, work: Path, progress: Progress, ollama_url: str | None
) -> tuple[ScenarioResult, list[Path]]:
    """One run of `scenario` against a started stand-in (the caller stops it and tears it down);
    its score and the places canaries were searched in."""
    spec, name = scenario.spec, scenario.name
    scope = {LAB_LABEL: f"{name}-{secrets.token_hex(4)}"}
    engine = docker.from_env()
    dokploy = Dokploy(standin)
    notifications = work / "notifications.jsonl"
    try:
        settings = agent_settings(scenario, work, ollama_url)  # a bad `agent:` fails before deploying
        progress(name, "deploying through the Dokploy stand-in")
        stacks = await deploy_stacks(dokploy, scenario, scope)
        env = server_env(standin, work / "server", scope, spec.server_env)

        def notify(incident: Incident, step: str) -> None:  # the lines the agent's console prints
            with notifications.open("a", encoding="utf-8") as out:
                out.write(json.dumps(redact(incident_line(incident, step)), ensure_ascii=False) + "\n")

        progress(name, f"starting server and agent ({mode})")
        async with (
            running_agent(settings, env=env, listeners=[notify]) as agent,
            anyio.create_task_group() as tasks,
        ):
            progress(name, "waiting for the stack to be up")
            for stack in stacks:
                stack.containers = await wait_up(engine, stack.app_name, 90)
            tasks.start_soon(agent.monitor.run)
            progress(name, f"injecting the fault ({scenario.fault.name})")
            fault_at = datetime.now(UTC)
            await inject(scenario, stacks[0].app_name, stacks[0].containers, fault_env(standin, stacks))
            progress(name, f"waiting for the incident (at most {spec.time_limit_s:g} s)")
            await wait_for_end(agent, scenario, stacks, spec.time_limit_s)
            incidents = await agent.deps.store.recent(200)
            finals = await check_final_states(engine, stacks, incidents, progress, name)
            tasks.cancel_scope.cancel()
        main_ok, main_note = finals.get("main", (None, ""))
        result = score(
            spec, mode, app_name=stacks[0].app_name, incidents=incidents, fault_at=fault_at,
            audit_rows=audit_rows(work / "server"), final_state_ok=main_ok, final_state_note=main_note,
            extra_apps={s.name: s.app_name for s in stacks[1:]},
            extra_final={k: v for k, v in finals.items() if k != "main"},
        )  # fmt: skip
        return result, [work]
    finally:
        await dokploy.http.aclose()
        with contextlib.suppress(Exception):
            engine.close()


async def check_final_states(
    engine: docker.DockerClient, stacks: list[Stack], incidents: list[Incident], progress: Progress, name: str
) -> dict[str, tuple[bool | None, str]]:
    """Each stack's final state, checked when its incidents resolved (or it had no fault)."""
    finals: dict[str, tuple[bool | None, str]] = {}
    for stack in stacks:
        final = stack.expect.final_state
        if final is None:
            continue
        mine = [i for i in incidents if i.target.get("app_name") == stack.app_name]
        if stack.expect.signals and not any(i.status == "resolved" for i in mine):
            finals[stack.name] = (None, "not checked: the incident did not resolve")
            continue
        progress(name, f"checking the final state of {stack.name} for {final.healthy_for_s:g} s")
        finals[stack.name] = await final_state(engine, stack.app_name, final.healthy_for_s, final.no_new_oom)
    return finals


def leaf_errors(exc: BaseException) -> list[BaseException]:
    """The errors themselves, out of the task groups they were raised in (a fault injector's
    message, not "unhandled errors in a TaskGroup")."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaf_errors(inner)]
    return [exc]


def model_url(scenario: Scenario, mode: str) -> tuple[str | None, Any]:
    """Where the agent finds its model in `mode`: none (runbook), the scripted stand-in, or the
    real Ollama at $OLLAMA_HOST (ollama); and the stand-in to stop afterwards."""
    if mode == "scripted":
        ollama = scripted_model(scenario)
        return ollama.url, ollama
    if mode == "ollama":
        host = os.environ.get("OLLAMA_HOST")
        if not host:
            raise RuntimeError("--mode ollama needs OLLAMA_HOST (e.g. http://127.0.0.1:11434)")
        return host, None
    return None, None


def run_one(scenario: Scenario, mode: str, progress: Progress) -> ScenarioResult:
    """A scenario with its own stand-ins and state, torn down whatever happens (also on Ctrl-C).

    Our processes' stderr goes to a file in the run's state for the canary search; the progress
    lines still reach the terminal."""
    standin = StandIn()
    ollama = None
    try:
        standin.start()
        with tempfile.TemporaryDirectory(prefix=f"ig-lab-{scenario.name}-") as tmp:
            work = Path(tmp)
            try:
                url, ollama = model_url(scenario, mode)
                with captured_stderr(work / "stderr.log"):
                    result, searched = anyio.run(run_scenario, scenario, mode, standin, work, progress, url)
            except Exception as exc:  # one broken scenario is a failed row, not a crashed run
                error = "; ".join(f"{type(e).__name__}: {e}" for e in leaf_errors(exc))
                progress(scenario.name, f"ERROR: {error}")
                return ScenarioResult(name=scenario.name, mode=mode, error=error)
            sent = (
                {"requests sent to the model": json.dumps([r.body for r in ollama.requests])}
                if ollama
                else {}
            )
            leaked = find_canaries(scenario.spec.canaries, searched, sent)
            if leaked:
                result.canaries_leaked = len(leaked)
                result.failures.append(f"canaries leaked: {'; '.join(leaked)}")
                result.passed = False
            if scenario.spec.canaries:
                result.notes.append(
                    f"{len(scenario.spec.canaries)} canaries searched for in {len(searched)} place(s) and what the model was sent"
                )
            progress(scenario.name, "passed" if result.passed else f"FAILED: {'; '.join(result.failures)}")
            return result
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
