"""Webhooks from the monitoring tools owners already run: Prometheus Alertmanager and Uptime Kuma.

Pure parsing, no I/O: `parse_alertmanager` and `parse_uptime_kuma` turn a request exactly as the tool
sends it into a `WebhookBatch` of `ExternalAlert`s; `check_webhook_auth` checks its credentials. The HTTP
routes and the mapping of alerts to Dokploy services use these.
"""

from mcp_server.hooks.alertmanager import parse_alertmanager
from mcp_server.hooks.auth import check_webhook_auth
from mcp_server.hooks.models import MAX_BODY_BYTES, ExternalAlert, WebhookBatch, WebhookPayloadError
from mcp_server.hooks.uptime_kuma import parse_uptime_kuma

__all__ = [
    "MAX_BODY_BYTES",
    "ExternalAlert",
    "WebhookBatch",
    "WebhookPayloadError",
    "check_webhook_auth",
    "parse_alertmanager",
    "parse_uptime_kuma",
]
