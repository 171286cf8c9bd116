"""Settings of the metric rules (nested in DetectorSettings as `metrics`).

In the YAML settings file:

    detectors:
      metrics:
        interval_s: 15
        rules:
          - name: queue
            service: n8n/n8n-worker          # <app_name>/<compose service>, or a Dokploy app name
            rule: "http://n8n:5678/metrics n8n_queue_waiting > 10 for 5m"
          - name: search-latency
            service: vectors/qdrant
            rule: "http://qdrant:6333/healthz p95 > 500ms for 2m"
            severity: critical

Rules can also be compose labels on a service: `infraguardian.metric.<name>: "<rule>"` (see
mcp_server/metrics/rules.py for the rule syntax).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .rules import MetricRule, RuleSeverity, parse_rule


class MetricRuleConfig(BaseModel):
    """One rule of the config file: its name, the service it is about, and the rule text."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="short name, e.g. queue (rules named queue… suggest the queue-stuck runbook)"
    )
    service: str = Field(
        min_length=1,
        max_length=300,
        description="<app_name>/<service> of a compose app (Dokploy appName and compose service), "
        "or the appName alone for a Dokploy application (a swarm service)",
    )
    rule: str = Field(description="e.g. 'http://n8n:5678/metrics n8n_queue_waiting > 10 for 5m'")
    runbook: str | None = Field(default=None, description="runbook to suggest instead of the default")
    severity: RuleSeverity | None = Field(default=None, description="warning (default) or critical")

    @model_validator(mode="after")
    def _readable(self) -> MetricRuleConfig:
        self.parsed()  # a bad rule stops the settings from loading, with the parser's one-line error
        project, slash, service = self.service.partition("/")
        if not project or "/" in service or (slash and not service):
            raise ValueError(
                f"rule {self.name}: service must be '<app_name>/<service>' or '<app_name>', not {self.service!r}"
            )
        return self

    def parsed(self) -> MetricRule:
        """The rule text parsed (raises RuleError, a ValueError, when it can't be)."""
        return parse_rule(self.name, self.rule, runbook=self.runbook, severity=self.severity)


class MetricSettings(BaseModel):
    """Metric rules from the config file and how compose labels declare them."""

    model_config = ConfigDict(extra="forbid")

    rules: list[MetricRuleConfig] = Field(default_factory=list, description="rules of the config file")
    label_prefix: str = Field(
        default="infraguardian.metric.",
        min_length=1,
        description="a container label `<prefix><name>: <rule>` declares a rule about its service",
    )
    interval_s: float = Field(default=15.0, gt=0, description="how often every rule's URL is read")
    timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="a read with no complete answer by then fails (latency: counts as this)",
    )
    max_rules: int = Field(
        default=200, ge=1, le=10_000, description="rules evaluated at most (config file and labels together)"
    )
    history_points: int = Field(default=30, ge=1, le=1000, description="readings kept per rule for evidence")
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="a longer body fails the read (latency rules just stop reading)",
    )
    verify_tls: bool = Field(default=True, description="check https rule URLs against the system trust store")

    @model_validator(mode="after")
    def _within_limits(self) -> MetricSettings:
        if len(self.rules) > self.max_rules:
            raise ValueError(
                f"{len(self.rules)} metric rules in the config file, more than max_rules={self.max_rules}; "
                "remove some or raise detectors.metrics.max_rules"
            )
        seen: set[tuple[str, str]] = set()
        for rule in self.rules:
            key = (rule.service, rule.name)
            if key in seen:
                raise ValueError(f"two metric rules named {rule.name} for service {rule.service}; rename one")
            seen.add(key)
        return self
