"""External alerts: what Uptime Kuma and Alertmanager reported to the webhooks, as signals."""

from __future__ import annotations

from ..base import Detector


class ExternalAlertDetector(Detector):
    name = "external_alert"
    runbook = "external-alert"
    description = "an outside monitor (Uptime Kuma, Alertmanager) reports a service down or alerting"
