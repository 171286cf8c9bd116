"""Unresponsive: a container's port stops answering our own probe, with or without a health check.

Every `probe_interval_s` (5 s by default) each running container's TCP ports (exposed or published)
are probed once, from where this server reaches them: the container's IP when it shares a network
with the server (the server on the Docker host reaches every bridge network), else the published
port on the Docker host. A port counts as HTTP when a Dokploy domain routes to it, when it carries
the label `infraguardian.probe.path`, or once it answered one GET with an HTTP status line; it is
then probed with `GET <path>` (any status means it answers). Ports that never spoke HTTP are left
alone, and so are well-known database ports (`probe_skip_ports`), unless labels ask for them
(the choice of ports and addresses is `..own_probe`, shared with the unhealthy detector):

    infraguardian.probe=off          never probe this container
    infraguardian.probe=tcp          probe its ports with a TCP connect only
    infraguardian.probe=http         probe its ports with GET / (or the path below)
    infraguardian.probe.path=/healthz   GET this path (implies http)
    infraguardian.probe.port=8080    probe only this port

`probe_failures_before_signal` failed probes in a row raise the signal (a warning, critical when no
probed port of the container answers); one answer clears it. A container that was just started
(`probe_start_grace_s`) or asked to stop is not judged, and a stopped one is left to the exit
detectors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from mcp_server.docker_ops.events import ContainerEvent
from mcp_server.docker_ops.models import COMPOSE_PROJECT, COMPOSE_SERVICE

from ..base import Detector, DetectorContext, Findings, Severity, Signal
from ..http_probe import PortProbe, probe_port
from ..inputs import DomainSpec, resolve_provider
from ..own_probe import container_address, probe_choice, probe_path
from ..settings import DetectorSettings
from ..state import ContainerRef, target_from_labels

_CLASSIFY_ATTEMPTS = 3  # GETs that get no answer at all before a port is left alone

PortKind = Literal["unknown", "http", "tcp", "skip"]


@dataclass
class PortState:
    """What is known of one container port between polls."""

    kind: PortKind = "unknown"
    attempts: int = 0
    failures: int = 0
    last: PortProbe | None = None
    via: str = ""


@dataclass(frozen=True)
class PortPlan:
    """One probe to run this round."""

    container: ContainerRef
    port: int
    address: str
    address_port: int
    via: str
    http_path: str | None
    classify: bool


class UnresponsiveDetector(Detector):
    name = "unresponsive"
    runbook = "unhealthy"
    description = "a container's port stops answering our own HTTP or TCP probe"
    event_actions = frozenset({"start", "die", "destroy"})
    fixed_rate = True  # a round slowed by timeouts must not delay the next probe of healthy ports

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        self._ports: dict[str, dict[int, PortState]] = {}
        self._started: dict[str, float] = {}
        # (compose project, service, container port) that a Dokploy domain routes to
        self._domain_ports: set[tuple[str, str, int]] = set()
        self._domains_read_at: float | None = None

    def poll_interval_s(self) -> float | None:
        return self.settings.probe_interval_s

    async def on_event(self, event: ContainerEvent, ctx: DetectorContext) -> Findings:
        """A (re)start begins a grace period with a clean slate; a stopped container is not ours."""
        self._ports.pop(event.container_id, None)
        if event.action == "start":
            self._started[event.container_id] = time.monotonic()
            return Findings()
        self._started.pop(event.container_id, None)
        name = event.container_name or event.container_id[:12]
        target = target_from_labels(ctx.host_name, name, event.container_id, event.attributes)
        return Findings(cleared={self.fingerprint_of(target): f"container {name} stopped"})

    async def poll(self, ctx: DetectorContext) -> Findings:
        findings = Findings(complete=True)
        await self._refresh_domain_ports(ctx, findings)
        refs = await ctx.containers.find()
        running = {r.id for r in refs}
        for gone in set(self._ports) - running:
            del self._ports[gone]
        plans: list[PortPlan] = []
        for ref in refs:
            plans += self._plan(ref, findings)
        await self._probe(plans)
        # a port that just failed is confirmed at once (one short pause per retry) rather than a
        # whole interval later; only failing ports are probed again, never more than the threshold
        for _ in range(self.settings.probe_failures_before_signal - 1):
            retry = [p for p in plans if self._failures(p) > 0]
            if not retry:
                break
            await anyio.sleep(self.settings.probe_retry_delay_s)
            await self._probe(retry)
        by_container: dict[str, list[PortPlan]] = {}
        for plan in plans:
            by_container.setdefault(plan.container.id, []).append(plan)
        for plans_of_one in by_container.values():
            signal = self._judge(ctx, plans_of_one[0].container, findings)
            if signal is not None:
                findings.firing.append(signal)
        return findings

    async def _probe(self, plans: list[PortPlan]) -> None:
        """Probe each planned port once (at most `concurrency` at a time) and note the results."""
        limiter = anyio.CapacityLimiter(self.settings.concurrency)

        async def run(plan: PortPlan) -> None:
            async with limiter:
                probe = await probe_port(
                    plan.address,
                    plan.address_port,
                    http_path=plan.http_path,
                    timeout_s=self.settings.probe_timeout_s,
                )
            self._note(plan, probe)

        async with anyio.create_task_group() as tg:
            for plan in plans:
                tg.start_soon(run, plan)

    def _failures(self, plan: PortPlan) -> int:
        state = self._ports.get(plan.container.id, {}).get(plan.port)
        return state.failures if state is not None and state.kind in ("http", "tcp") else 0

    # -- what to probe ---------------------------------------------------------------------------
    def _plan(self, ref: ContainerRef, findings: Findings) -> list[PortPlan]:
        choice = probe_choice(ref, self.settings)
        if choice is None:
            return []
        mode, path = choice.mode, choice.path
        states = self._ports.setdefault(ref.id, {})
        plans: list[PortPlan] = []
        for port in choice.ports:
            state = states.setdefault(port, PortState())
            if path or mode == "http" or self._routed_by_domain(ref, port):
                state.kind = "http"
            elif mode == "tcp":
                state.kind = "tcp"
            if state.kind == "skip":
                continue
            reach = container_address(ref, port)
            if reach is None:
                findings.notes.append(
                    f"cannot reach {ref.name}:{port} from here (no shared network, not published)"
                )
                continue
            http_path = None if state.kind == "tcp" else (path or "/")
            plans.append(PortPlan(ref, port, *reach, http_path, classify=state.kind == "unknown"))
        return plans

    def _routed_by_domain(self, ref: ContainerRef, port: int) -> bool:
        project, service = ref.labels.get(COMPOSE_PROJECT), ref.labels.get(COMPOSE_SERVICE)
        return bool(project and service) and (str(project), str(service), port) in self._domain_ports

    async def _refresh_domain_ports(self, ctx: DetectorContext, findings: Findings) -> None:
        """Re-read the Dokploy domains at the domain check's pace, not at every probe round."""
        now = time.monotonic()
        if ctx.domains is None or (
            self._domains_read_at is not None
            and now - self._domains_read_at < self.settings.domain_interval_s
        ):
            return
        self._domains_read_at = now
        try:
            specs: list[DomainSpec] = await resolve_provider(ctx.domains)
        except Exception as exc:  # Dokploy down: keep what was known, probe the rest as usual
            findings.notes.append(f"domains unavailable for probes: {type(exc).__name__}: {exc}")
            return
        ports: set[tuple[str, str, int]] = set()
        for spec in specs:
            for routed in (spec.expected_target or "").split(","):
                service, _, port = routed.strip().rpartition(":")
                if spec.app_name and service and service != "?" and port.isdigit():
                    ports.add((spec.app_name, service, int(port)))
        self._domain_ports = ports

    # -- judging ---------------------------------------------------------------------------------
    def _note(self, plan: PortPlan, probe: PortProbe) -> None:
        state = self._ports.setdefault(plan.container.id, {}).setdefault(plan.port, PortState())
        state.last, state.via = probe, plan.via
        if plan.classify:
            if probe.outcome == "ok":
                state.kind = "http"
            elif probe.outcome == "not_http":
                state.kind = "skip"
            else:
                state.attempts += 1
                if state.attempts >= _CLASSIFY_ATTEMPTS:
                    state.kind = "skip"  # never answered: not known to speak HTTP, leave it alone
            return
        state.failures = 0 if probe.outcome == "ok" else state.failures + 1

    def _judge(self, ctx: DetectorContext, ref: ContainerRef, findings: Findings) -> Signal | None:
        target = target_from_labels(ctx.host_name, ref.name, ref.id, ref.labels)
        started = self._started.get(ref.id)
        if (started is not None and time.monotonic() - started < self.settings.probe_start_grace_s) or (
            ctx.lifecycle.requested_stop(ref.id, ctx.engine_now())
        ):
            findings.undecided.add(self.fingerprint_of(target))
            return None
        judged = {
            p: s for p, s in self._ports.get(ref.id, {}).items() if s.kind in ("http", "tcp") and s.last
        }
        failing = {
            p: s for p, s in judged.items() if s.failures >= self.settings.probe_failures_before_signal
        }
        if not failing:
            return None
        _, worst = max(failing.items(), key=lambda item: item[1].failures)
        assert worst.last is not None
        what = f"GET {probe_path(ref.labels)}" if worst.kind == "http" else "TCP connect"
        all_down = len(failing) == len(judged)
        ports_text = ", ".join(str(p) for p in sorted(failing))
        evidence: dict[str, Any] = {
            "ports": [
                {
                    "port": p,
                    "kind": s.kind,
                    "via": s.via,
                    "outcome": s.last.outcome if s.last else None,
                    "error": s.last.error if s.last else None,
                    "status_code": s.last.status_code if s.last else None,
                    "latency_ms": s.last.latency_ms if s.last else None,
                    "consecutive_failures": s.failures,
                }
                for p, s in sorted(judged.items())
            ],
            "interval_s": self.settings.probe_interval_s,
            "timeout_s": self.settings.probe_timeout_s,
        }
        return self.signal(
            ctx,
            target,
            Severity.critical if all_down else Severity.warning,
            f"container {ref.name} does not answer on port {ports_text}: {what} "
            f"{worst.last.error or worst.last.outcome} ({worst.failures} probes in a row)",
            evidence,
        )
