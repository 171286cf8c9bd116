"""The rule syntax: what each kind of rule parses to, and that every mistake gets one line naming the
rule and saying what to write instead; config-file rules and label rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcp_server.metrics.rules import RuleError, format_duration, parse_rule, rules_from_labels
from mcp_server.metrics.settings import MetricSettings


def test_prometheus_rule_with_for_window() -> None:
    rule = parse_rule("queue", "http://n8n:5678/metrics n8n_queue_waiting > 10 for 5m")
    assert (rule.url, rule.source_kind, rule.metric, rule.operator) == (
        "http://n8n:5678/metrics",
        "prometheus",
        "n8n_queue_waiting",
        ">",
    )
    assert (rule.threshold, rule.unit, rule.for_s, rule.percentile) == (10.0, "", 300.0, None)
    assert rule.severity == "warning" and rule.chosen_runbook() == "queue-stuck"
    assert rule.breaches(11) and not rule.breaches(10)


def test_prometheus_label_matchers_keep_spaces_and_quotes() -> None:
    rule = parse_rule(
        "jobs", 'http://n8n:5678/metrics n8n_jobs{queue="a b",state!="done",path=~"/api/.*"} >= 1e2'
    )
    assert [(m.label, m.op, m.value) for m in rule.matchers] == [
        ("queue", "=", "a b"),
        ("state", "!=", "done"),
        ("path", "=~", "/api/.*"),
    ]
    assert rule.threshold == 100.0 and rule.chosen_runbook() == "metric-threshold"
    assert rule.selector() == 'n8n_jobs{queue="a b",state!="done",path=~"/api/.*"}'
    assert rule.matchers[2].matches({"path": "/api/x"}) and not rule.matchers[2].matches({"path": "/web"})


def test_json_rule_with_trailing_runbook_and_severity() -> None:
    rule = parse_rule(
        "backlog", "http://api:8080/stats json:items.0.count < 0.5 runbook=queue-stuck severity=critical"
    )
    assert (rule.source_kind, rule.metric, rule.threshold, rule.for_s) == ("json", "items.0.count", 0.5, 0.0)
    assert (rule.runbook, rule.severity, rule.chosen_runbook()) == ("queue-stuck", "critical", "queue-stuck")


@pytest.mark.parametrize(
    ("text", "metric", "percentile", "threshold_ms"),
    [
        ("http://qdrant:6333/healthz p95 > 500ms for 2m", "p95", 95.0, 500.0),
        ("http://qdrant:6333/healthz P99 >= 1.5s", "p99", 99.0, 1500.0),
        ("http://qdrant:6333/healthz latency > 2s for 30s", "latency", None, 2000.0),
    ],
)
def test_latency_rules_keep_milliseconds(
    text: str, metric: str, percentile: float | None, threshold_ms: float
) -> None:
    rule = parse_rule("search", text)
    assert (rule.source_kind, rule.metric, rule.percentile) == ("latency", metric, percentile)
    assert (rule.threshold, rule.unit) == (threshold_ms, "ms")
    assert rule.chosen_runbook() == "slow-responses"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("n8n:5678/metrics q > 1", "http:// or https:// URL"),
        ("ftp://files/x q > 1", "http:// or https:// URL"),
        ("http://h/m", "<selector> <operator> <threshold>"),
        ("http://h/m q>10", "put spaces around the operator"),
        ("http://h/m q => 10", "use one of > >= < <= == !="),
        ("http://h/m q > ten", "must be a number"),
        ("http://h/m q > 10 for", "'for' needs a duration like 5m"),
        ("http://h/m q > 10 for 5", "'for 5' needs a duration like 30s, 5m or 2h"),
        ("http://h/m q > 10ms", "only latency rules take"),
        ("http://h/m p95 > 500", "needs a time unit"),
        ("http://h/m p0 > 5ms", "between p1 and p100"),
        ("http://h/m q > 10 please", "only 'for <duration>', 'runbook=<name>'"),
        ("http://h/m q > 10 severity=page", "warning or critical"),
        ("http://h/m q{a=b} > 1", "label matchers must look like"),
        ('http://h/m q{a="x" > 1', "must end with '}'"),
        ('http://h/m q{a=~"("} > 1', "not a valid regex"),
        ("http://h/m json:a..b > 1", "empty part"),
        ("http://h/m 9lives > 1", "not a selector"),
        ("", "the rule is empty"),
    ],
)
def test_bad_rules_get_one_actionable_line(text: str, hint: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule("queue", text)
    message = str(caught.value)
    assert message.startswith("rule queue: ") and "\n" not in message
    assert hint in message


def test_bad_rule_name() -> None:
    with pytest.raises(RuleError, match="a rule name is 1-64 letters"):
        parse_rule("bad name", "http://h/m q > 1")


def test_secrets_in_urls_are_masked_when_shown() -> None:
    rule = parse_rule("q", "http://admin:hunter2@n8n:5678/metrics?token=s3cr3tvalue q > 1")
    assert rule.url == "http://admin:hunter2@n8n:5678/metrics?token=s3cr3tvalue"  # used as written
    for shown in (rule.shown_url(), rule.shown_text()):
        assert "hunter2" not in shown and "s3cr3tvalue" not in shown and "n8n:5678/metrics" in shown
    with pytest.raises(RuleError) as caught:
        parse_rule("q", "gopher://admin:hunter2@n8n/x q > 1")
    assert "hunter2" not in str(caught.value)


def test_durations_shown_in_their_shortest_form() -> None:
    assert [format_duration(s) for s in (300, 7200, 90, 86400, 0.5)] == ["5m", "2h", "90s", "1d", "0.5s"]


def test_label_rules_and_label_errors() -> None:
    labels = {
        "infraguardian.metric.queue": "http://n8n:5678/metrics n8n_queue_waiting > 10 for 5m",
        "infraguardian.metric.broken": "http://n8n:5678/metrics n8n_queue_waiting > lots",
        "com.docker.compose.service": "n8n-worker",
    }
    rules, errors = rules_from_labels(labels, "infraguardian.metric.")
    assert [r.name for r in rules] == ["queue"]
    assert errors == [
        (
            "infraguardian.metric.broken",
            "rule broken: the threshold 'lots' must be a number, e.g. 10, 0.5 or 500ms",
        )
    ]


def test_config_rules_are_checked_when_the_settings_load() -> None:
    settings = MetricSettings.model_validate(
        {"rules": [{"name": "queue", "service": "n8n/worker", "rule": "http://n8n:5678/metrics q > 10"}]}
    )
    assert settings.rules[0].parsed().metric == "q"
    assert (settings.interval_s, settings.timeout_s, settings.max_rules, settings.history_points) == (
        15.0,
        5.0,
        200,
        30,
    )
    bad_cases = [
        ({"rules": [{"name": "queue", "service": "n8n/w", "rule": "http://n8n q >"}]}, "rule queue:"),
        (
            {"rules": [{"name": "queue", "service": "n8n/w/x", "rule": "http://n8n/m q > 1"}]},
            "<app_name>/<service>",
        ),
        (
            {"rules": [{"name": "q", "service": "a/b", "rule": "http://n/m q > 1"}] * 2},
            "two metric rules named q for service a/b",
        ),
        (
            {
                "max_rules": 1,
                "rules": [{"name": f"q{i}", "service": "a/b", "rule": "http://n/m q > 1"} for i in range(2)],
            },
            "more than max_rules=1",
        ),
    ]
    for data, hint in bad_cases:
        with pytest.raises(ValidationError) as caught:
            MetricSettings.model_validate(data)
        assert hint in str(caught.value)
