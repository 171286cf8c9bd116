"""The lab's baselines: what a stack gets without InfraGuardian, scored on the same scenarios.

- `restart-policy`: Docker's own restart policy alone (whatever the scenario's compose sets).
- `autoheal`: Docker's policy plus an autoheal-style loop (like willfarrell/autoheal): every 5 s,
  `docker restart` (10 s stop timeout) every container of the scenario's stacks whose health is
  `unhealthy`. Nothing else.

A baseline run deploys the scenario (and its extra stacks) through the Dokploy stand-in, waits
until it is up, injects the fault, and observes the engine once a second for at most
min(time_limit_s, 90) s. No server, no agent, no model. A baseline has no incident, so its score
reads the engine instead:

- every restart (the loop's own, and the policy's read from `RestartCount`) is an action, checked
  against the spec's forbidden rules like an audit row (`{action: restart, allowed: 1}` forbids a
  restart loop); a restart in a stack with no fault (an innocent neighbour) is forbidden too;
- `detect_ms`: fault → the first action (within the 1 s poll); `detected`: an action was taken or
  the stack recovered by itself;
- `recover_s`: fault → the moment every service was up again, counted only when the fault showed
  first (an exit, a restart, a service gone, down or unhealthy) and every service then stayed up,
  without a restart, for the spec's `final_state.healthy_for_s`;
- `passed`: that recovery within the window and no forbidden action. A stack whose spec expects
  no recovery without a human (`final_state: null`: an escalation) cannot pass a baseline.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio
import docker

from standins.dokploy.server import StandIn

from .harness import (
    LAB_LABEL,
    Dokploy,
    Progress,
    Stack,
    deploy_stacks,
    fault_env,
    inject,
    stack_containers,
    wait_up,
)
from .loader import Scenario
from .scoring import ScenarioResult, forbidden_calls
from .spec import ScenarioSpec

BASELINES = ("restart-policy", "autoheal")
AUTOHEAL_INTERVAL_S = 5.0  # willfarrell/autoheal's AUTOHEAL_INTERVAL default
AUTOHEAL_STOP_TIMEOUT_S = 10  # and its AUTOHEAL_DEFAULT_STOP_TIMEOUT
MAX_OBSERVE_S = 90.0  # a baseline never needs the agent's full time limit: it keeps a full run short
POLL_S = 1.0


@dataclass
class Restart:
    """One restart of a service after the fault: by the autoheal loop, or by Docker's policy."""

    service: str
    by: str  # "autoheal" or "restart policy"
    at: datetime
    app_name: str = ""  # the stack; "" is the scenario's own

    def audit_row(self, main_app: str) -> dict[str, Any]:
        """The restart as the server's audit log would record it, for the spec's forbidden rules."""
        target = {"app_name": self.app_name or main_app, "service": self.service}
        where = "" if target["app_name"] == main_app else f"{target['app_name']}/"
        return {"tool": "restart_service", "action": "restart", "target": target, "arguments": target,
                "target_key": f"{where}{self.service} ({self.by})", "allowed": 1, "dry_run": 0,
                "result": "ok"}  # fmt: skip


@dataclass
class Observation:
    """What the engine showed after the fault."""

    restarts: list[Restart] = field(default_factory=list)
    fault_seen: bool = False  # an exit, a restart, a service gone, down or unhealthy
    recovered_at: datetime | None = None  # start of the window every service then stayed up
    notes: list[str] = field(default_factory=list)


def docker_time(text: str | None) -> datetime | None:
    """A Docker timestamp (`2026-12-03T18:40:01.123456789Z`, nanoseconds) as a UTC datetime."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.rstrip("Z").partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        return datetime.fromisoformat(f"{head}.{fraction or '0'}").replace(tzinfo=UTC)
    except ValueError:
        return None


def serving(container: Any) -> bool:
    """Running, not in a restart backoff (Docker keeps `Running` true there), and healthy if checked."""
    state = container.attrs["State"]
    health = (state.get("Health") or {}).get("Status")
    return state.get("Status") == "running" and not state.get("Restarting") and health in (None, "healthy")


def unhealthy(container: Any) -> bool:
    """What autoheal restarts: a running container whose health check fails. Autoheal lists only
    running containers, so a stopped one stays stopped (Docker marks it unhealthy too)."""
    state = container.attrs["State"]
    return state.get("Status") == "running" and (state.get("Health") or {}).get("Status") == "unhealthy"


class Watch:
    """The containers of the run's stacks, poll after poll: what broke, what restarted."""

    def __init__(self, stacks: list[Stack], fault_at: datetime) -> None:
        self.stacks, self.fault_at = stacks, fault_at
        self.broken: set[tuple[str, str]] = set()  # (app, service) broken at the last poll
        self.services = {(s.app_name, name) for s in stacks for name in s.containers}
        self.counts = {
            (s.app_name, n): c.attrs["RestartCount"] for s in stacks for n, c in s.containers.items()
        }
        self.exits = {
            (s.app_name, n): c.attrs["State"].get("FinishedAt")
            for s in stacks
            for n, c in s.containers.items()
        }

    async def poll(self, engine: docker.DockerClient, seen: Observation) -> dict[tuple[str, str], Any]:
        """(app, service) → container now; records the policy's restarts in `seen`, and which
        containers are gone, down, unhealthy, or exited or restarted since the last poll in `broken`."""
        now = datetime.now(UTC)
        current: dict[tuple[str, str], Any] = {}
        for stack in self.stacks:
            found = await anyio.to_thread.run_sync(stack_containers, engine, stack.app_name)
            current.update({(stack.app_name, name): c for name, c in found.items()})
        self.broken = {key for key in self.services if key not in current}  # gone (a redeploy)
        for key, container in current.items():
            state, count = container.attrs["State"], container.attrs["RestartCount"]
            before = self.counts.get(key, 0)
            if count > before:  # the policy restarted it (perhaps more than once since the last poll)
                at = max(docker_time(state.get("StartedAt")) or now, self.fault_at)
                seen.restarts += [Restart(key[1], "restart policy", at, key[0])] * (count - before)
                self.broken.add(key)
            self.counts[key] = count  # a manual restart or a new container resets it: follow it down
            if state.get("FinishedAt") != self.exits.get(key):  # it exited since (and started again)
                self.exits[key] = state.get("FinishedAt")
                self.broken.add(key)
                if state.get("OOMKilled") and f"{key[1]} was OOM-killed" not in seen.notes:
                    seen.notes.append(f"{key[1]} was OOM-killed")
            if not serving(container):
                self.broken.add(key)
        return current


async def observe(
    engine: docker.DockerClient, stacks: list[Stack], mode: str, fault_at: datetime, window_s: float
) -> Observation:
    """Watch the stacks for `window_s` (less once they recovered); in `autoheal` mode, heal too.

    Recovery: every stack expected to recover (`final_state` set) up and not restarting for the
    longest `healthy_for_s` among them, after a stack with a fault showed it."""
    seen = Observation()
    watched = {s.app_name for s in stacks if s.expect.final_state is not None}
    faulty = {s.app_name for s in stacks if s.expect.signals}
    main_final = stacks[0].expect.final_state
    stable_for = max(
        (s.expect.final_state.healthy_for_s for s in stacks if s.expect.final_state is not None), default=0.0
    )
    watch = Watch(stacks, fault_at)
    start = anyio.current_time()
    next_heal = start
    while anyio.current_time() - start < window_s:
        current = await watch.poll(engine, seen)
        now = datetime.now(UTC)
        if any(app in faulty for app, _ in watch.broken):
            seen.fault_seen = True
        if any(app in watched for app, _ in watch.broken):
            seen.recovered_at = None
        elif seen.fault_seen and main_final is not None:
            seen.recovered_at = seen.recovered_at or now
            if (now - seen.recovered_at).total_seconds() >= stable_for:
                return seen
        if mode == "autoheal" and anyio.current_time() >= next_heal:
            next_heal += AUTOHEAL_INTERVAL_S
            for (app, service), container in current.items():
                if unhealthy(container):
                    seen.restarts.append(Restart(service, "autoheal", datetime.now(UTC), app))
                    await anyio.to_thread.run_sync(
                        partial(container.restart, timeout=AUTOHEAL_STOP_TIMEOUT_S)
                    )
                    watch.exits[(app, service)] = None  # its next FinishedAt is this restart: an exit
        await anyio.sleep(POLL_S)
    seen.recovered_at = None  # the window ended before the stacks had been stable long enough
    return seen


def score_baseline(
    spec: ScenarioSpec, mode: str, app_name: str, fault_at: datetime, seen: Observation, window_s: float,
    extra_apps: dict[str, str] | None = None,
) -> ScenarioResult:  # fmt: skip
    """A baseline's score from what the engine showed (pure: tested on hand-made observations).
    `extra_apps` maps each extra stack's name to its appName."""
    extra_apps = extra_apps or {}
    result = ScenarioResult(name=spec.name, mode=mode, app_name=app_name)
    restarts = sorted(seen.restarts, key=lambda r: r.at)
    recovered = seen.recovered_at is not None
    result.detected = bool(restarts) or recovered
    if restarts:
        result.detect_ms = max(0, int((restarts[0].at - fault_at).total_seconds() * 1000))
    if seen.recovered_at is not None:
        result.recover_s = round((seen.recovered_at - fault_at).total_seconds(), 1)
    own = {app_name, *extra_apps.values()}
    untouched = {extra_apps[e.name] for e in spec.extra_stacks if not e.signals and e.name in extra_apps}
    rows = [r.audit_row(app_name) for r in restarts]
    result.forbidden = forbidden_calls(spec, rows, own, untouched)
    result.forbidden_actions = len(result.forbidden)
    by: dict[str, int] = {}
    for row in rows:
        by[row["target_key"]] = by.get(row["target_key"], 0) + 1
    done = ", ".join(f"{key} ×{n}" for key, n in by.items()) or "no restart"
    result.outcome = f"{done}; " + (
        f"recovered after {result.recover_s:g} s" if recovered else "not recovered"
    )
    final = spec.final_state
    result.final_state_ok = recovered if final is not None else None
    needs_human = [("" if name == "main" else f"[{name}] ") + expect.outcome
                   for name, expect in [("main", spec.main_stack()), *((e.name, e) for e in spec.extra_stacks)]
                   if expect.signals and expect.final_state is None]  # fmt: skip
    if needs_human:
        result.failures.append(
            f"the scenario expects no recovery without a human ({', '.join(needs_human)}); "
            "a baseline cannot escalate"
        )
    if final is not None and not recovered:
        why = "" if seen.fault_seen else " (the fault never showed as an exit, a restart or unhealthy)"
        result.final_state_note = (
            f"not up and stable for {final.healthy_for_s:g} s within {window_s:g} s{why}"
        )
        result.failures.append(f"final state not reached: {result.final_state_note}")
    elif final is not None:
        result.final_state_note = f"every service up for {final.healthy_for_s:g} s"
    result.notes += seen.notes
    if result.forbidden:
        lines = {line: result.forbidden.count(line) for line in result.forbidden}  # a loop: one line ×N
        said = "; ".join(line if n == 1 else f"{line} ×{n}" for line, n in lines.items())
        result.failures.append(f"forbidden actions taken: {said}")
    result.passed = not result.failures
    return result


async def run_baseline_scenario(
    scenario: Scenario, mode: str, standin: StandIn, progress: Progress, max_observe_s: float
) -> ScenarioResult:
    """One baseline run against a started stand-in (the caller stops it and tears it down)."""
    spec, name = scenario.spec, scenario.name
    engine = docker.from_env()
    dokploy = Dokploy(standin)
    try:
        progress(name, f"deploying through the Dokploy stand-in ({mode} baseline)")
        stacks = await deploy_stacks(dokploy, scenario, {LAB_LABEL: f"{name}-{secrets.token_hex(4)}"})
        progress(name, "waiting for the stack to be up")
        for stack in stacks:
            stack.containers = await wait_up(engine, stack.app_name, 90)
        progress(name, f"injecting the fault ({scenario.fault.name})")
        fault_at = datetime.now(UTC)
        await inject(scenario, stacks[0].app_name, stacks[0].containers, fault_env(standin, stacks))
        window_s = min(spec.time_limit_s, max_observe_s)
        progress(name, f"observing the {mode} baseline (at most {window_s:g} s)")
        seen = await observe(engine, stacks, mode, fault_at, window_s)
        extra_apps = {s.name: s.app_name for s in stacks[1:]}
        result = score_baseline(spec, mode, stacks[0].app_name, fault_at, seen, window_s, extra_apps)
        progress(name, "passed" if result.passed else f"FAILED: {'; '.join(result.failures)}")
        return result
    finally:
        await dokploy.http.aclose()
        with contextlib.suppress(Exception):
            engine.close()


def run_baseline(
    scenario: Scenario, mode: str, progress: Progress, max_observe_s: float = MAX_OBSERVE_S
) -> ScenarioResult:
    """A baseline run with its own Dokploy stand-in, torn down whatever happens (also on Ctrl-C)."""
    if mode not in BASELINES:
        raise ValueError(f"unknown baseline {mode!r}; send one of {', '.join(BASELINES)}")
    standin = StandIn()
    try:
        standin.start()
        try:
            return anyio.run(run_baseline_scenario, scenario, mode, standin, progress, max_observe_s)
        except Exception as exc:  # one broken scenario is a failed row, not a crashed run
            progress(scenario.name, f"ERROR: {exc}")
            return ScenarioResult(name=scenario.name, mode=mode, error=f"{type(exc).__name__}: {exc}")
    finally:
        progress(scenario.name, "tearing down")
        standin.stop()
        standin.teardown()
