"""Metric rules: a number read from a service (Prometheus text, a JSON field, a response time)
crossed its threshold for long enough.

The rules come from the config file (`detectors.metrics.rules`) and from compose labels
`infraguardian.metric.<name>: "<rule>"` on running containers, re-read every round: a rule whose
container is gone disappears and its signal resolves. Syntax and evaluation: mcp_server/metrics/.

Every round reads each distinct URL once (bounded by `concurrency`), with one HTTP client made for
that round and closed after it (detectors have no close hook, and a client left open would keep
sockets). The readings and windows live in this instance: after a restart each rule learns again
within one `for` window, and until then a breaching rule is undecided (a restored signal stays).
A failed read leaves the rule undecided and adds a note; a bad label adds a note and one warning
in the log, never an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio

from mcp_server.docker_ops.host import DockerOpsError
from mcp_server.metrics.rules import MetricRule, format_duration, rules_from_labels
from mcp_server.metrics.sources import Reading, SourceError, make_client, read_url, value_of
from mcp_server.metrics.window import Judgement, RuleWindow

from ..base import Detector, DetectorContext, Findings, Severity, Signal, Target, fingerprint
from ..settings import DetectorSettings
from ..state import service_level

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchedRule:
    """One rule about one target, and where it was declared (for notes)."""

    target: Target
    rule: MetricRule
    origin: str  # "config" or "label <label> on <container>"

    @property
    def key(self) -> tuple[str, str, str]:
        # a changed rule text starts a new window
        return (self.target.key(), self.rule.name, self.rule.text)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else f"{value:.4g}"


def config_target(host_name: str, service: str) -> Target:
    """The target of a config rule: `<app>/<service>` → that compose service; `<app>` alone → the
    swarm service of a Dokploy application."""
    project, _, name = service.partition("/")
    if name:
        return Target.for_compose_service(host_name, project, name)
    return Target.for_swarm_service(host_name, project)


class MetricRuleDetector(Detector):
    name = "metric_rule"
    runbook = "metric-threshold"
    description = "a custom metric rule (queue depth, p95 latency, a JSON field) crossed its threshold"
    # a slow URL must not stretch the interval of the others (latency windows assume the pace)
    fixed_rate = True

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        self._windows: dict[tuple[str, str, str], RuleWindow] = {}
        self._warned_labels: set[tuple[str, str, str]] = set()  # (container id, label, text)
        self._label_fingerprints: set[str] = set()  # of the last round that could list containers
        # the settings validated these texts already: parse them once, not every round
        self._config_rules = [(config.service, config.parsed()) for config in settings.metrics.rules]

    def poll_interval_s(self) -> float | None:
        return self.settings.metrics.interval_s

    async def poll(self, ctx: DetectorContext) -> Findings:
        findings = Findings(complete=True)
        watched = await self._watched_rules(ctx, findings)
        if not watched:
            self._windows.clear()
            return findings
        readings = await self._read_all(sorted({w.rule.url for w in watched}))
        now = ctx.now()
        for item in watched:
            self._judge(ctx, item, readings[item.rule.url], now, findings)
        live = {w.key for w in watched}
        for key in set(self._windows) - live:
            del self._windows[key]
        return findings

    # -- which rules ----------------------------------------------------------------------------
    async def _watched_rules(self, ctx: DetectorContext, findings: Findings) -> list[WatchedRule]:
        metrics = self.settings.metrics
        watched: dict[tuple[str, str], WatchedRule] = {}
        for service, rule in self._config_rules:
            item = WatchedRule(config_target(ctx.host_name, service), rule, "config")
            watched.setdefault((item.target.key(), item.rule.name), item)
        try:
            containers = await ctx.containers.find()
        except DockerOpsError as exc:
            # without the list, label rules can't be judged: keep their signals as they are
            findings.notes.append(f"label rules not read (container list failed): {exc}")
            findings.undecided |= self._label_fingerprints
            containers = []
        else:
            self._label_fingerprints = set()
            seen_containers = {ref.id for ref in containers}
            self._warned_labels = {w for w in self._warned_labels if w[0] in seen_containers}
        for ref in sorted(containers, key=lambda r: r.name):
            rules, errors = rules_from_labels(ref.labels, metrics.label_prefix)
            for label, error in errors:
                findings.notes.append(f"label {label} on {ref.name}: {error}")
                if (ref.id, label, ref.labels[label]) not in self._warned_labels:
                    self._warned_labels.add((ref.id, label, ref.labels[label]))
                    log.warning("metric rule label %s on container %s ignored: %s", label, ref.name, error)
            target = service_level(ref.target(ctx.host_name))
            for rule in rules:
                item = WatchedRule(target, rule, f"label {metrics.label_prefix}{rule.name} on {ref.name}")
                self._label_fingerprints.add(self._fingerprint(item))
                watched.setdefault((target.key(), rule.name), item)
        items = list(watched.values())
        if len(items) > metrics.max_rules:
            dropped = items[metrics.max_rules :]
            findings.notes.append(
                f"{len(items)} metric rules, more than max_rules={metrics.max_rules}: {len(dropped)} ignored "
                f"(first: {dropped[0].rule.name} from {dropped[0].origin}); raise detectors.metrics.max_rules"
            )
            findings.undecided |= {self._fingerprint(d) for d in dropped}
            items = items[: metrics.max_rules]
        return items

    # -- reading --------------------------------------------------------------------------------
    async def _read_all(self, urls: list[str]) -> dict[str, Reading]:
        metrics = self.settings.metrics
        limiter = anyio.CapacityLimiter(self.settings.concurrency)
        readings: dict[str, Reading] = {}

        async def read(client: Any, url: str) -> None:
            async with limiter:  # the clock of a latency reading starts only once it may run
                readings[url] = await read_url(
                    client, url, timeout_s=metrics.timeout_s, max_bytes=metrics.max_body_bytes
                )

        async with (
            make_client(metrics.timeout_s, metrics.verify_tls) as client,
            anyio.create_task_group() as tg,
        ):
            for url in urls:
                tg.start_soon(read, client, url)
        return readings

    # -- judging --------------------------------------------------------------------------------
    def _fingerprint(self, item: WatchedRule) -> str:
        return fingerprint(self.name, item.target, item.rule.name)

    def _judge(
        self, ctx: DetectorContext, item: WatchedRule, reading: Reading, now: datetime, findings: Findings
    ) -> None:
        rule = item.rule
        signal_id = self._fingerprint(item)
        where = f"{self._who(item.target)}: rule {rule.name}"
        try:
            value = value_of(rule, reading, timeout_s=self.settings.metrics.timeout_s)
        except SourceError as exc:
            findings.undecided.add(signal_id)
            findings.notes.append(f"{where}: {exc}")
            return
        if rule.source_kind == "latency" and (reading.error or (reading.status or 0) >= 400):
            failure = reading.error or f"HTTP {reading.status}"
            findings.notes.append(f"{where}: request failed ({failure}), counted as {_number(value)}ms")
        window = self._windows.get(item.key)
        if window is None:
            window = self._windows[item.key] = RuleWindow(rule, self.settings.metrics.history_points)
        judgement = window.add(now, value)
        if judgement.breached:
            findings.firing.append(self._signal(ctx, item, judgement, signal_id))
        elif not judgement.decided:
            findings.undecided.add(signal_id)

    @staticmethod
    def _who(target: Target) -> str:
        return target.service or target.name or target.key()

    def _signal(
        self, ctx: DetectorContext, item: WatchedRule, judgement: Judgement, signal_id: str
    ) -> Signal:
        rule = item.rule
        metric = rule.selector() if rule.source_kind == "prometheus" else rule.metric
        unit = rule.unit
        held = f" for {format_duration(rule.for_s)}" if rule.for_s else ""
        summary = (
            f"{self._who(item.target)}: {rule.name} {metric} = {_number(round(judgement.value, 3))}{unit} "
            f"{rule.operator} {_number(rule.threshold)}{unit}{held} ({rule.shown_url()})"
        )
        evidence: dict[str, Any] = {
            "rule": rule.name,
            "expression": rule.shown_text(),
            "source": rule.shown_url(),
            "source_kind": rule.source_kind,
            "metric": metric,
            "operator": rule.operator,
            "threshold": rule.threshold,
            "unit": unit,
            "for_s": rule.for_s,
            "value": judgement.value,
            "breached_since": judgement.since.isoformat() if judgement.since else None,
            "values": [[at.isoformat(), v] for at, v in judgement.values],
        }
        if rule.source_kind == "latency":
            pct = rule.percentile
            evidence["percentile"] = int(pct) if pct is not None and pct.is_integer() else pct
        signal = self.signal(
            ctx, item.target, Severity(rule.severity), summary, evidence, runbook=rule.chosen_runbook()
        )
        return signal.model_copy(update={"id": signal_id})
