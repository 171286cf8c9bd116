"""Metric rules: a number read from a service (Prometheus text, a JSON field, a response time)
crossed its threshold for long enough."""

from __future__ import annotations

from ..base import Detector


class MetricRuleDetector(Detector):
    name = "metric_rule"
    runbook = "metric-threshold"
    description = "a custom metric rule (queue depth, p95 latency, a JSON field) crossed its threshold"
