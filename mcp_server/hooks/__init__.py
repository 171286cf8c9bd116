"""Webhooks from the monitoring tools owners already run: Prometheus Alertmanager and Uptime Kuma.

Pure parsing, no I/O: `parse_alertmanager` and `parse_uptime_kuma` turn a request exactly as the tool
sends it into a `WebhookBatch` of `ExternalAlert`s; `check_webhook_auth` checks its credentials. The HTTP
routes store each batch in the `AlertInbox` (inbox.py, SQLite); the external_alert detector reads it and
maps the alerts to services (mapping.py).
"""

from mcp_server.hooks.alertmanager import parse_alertmanager
from mcp_server.hooks.auth import check_webhook_auth
from mcp_server.hooks.inbox import AlertInbox, AlertInboxError, InboxReceipt, StoredAlert
from mcp_server.hooks.models import MAX_BODY_BYTES, ExternalAlert, WebhookBatch, WebhookPayloadError
from mcp_server.hooks.uptime_kuma import parse_uptime_kuma

__all__ = [
    "MAX_BODY_BYTES",
    "AlertInbox",
    "AlertInboxError",
    "ExternalAlert",
    "InboxReceipt",
    "StoredAlert",
    "WebhookBatch",
    "WebhookPayloadError",
    "check_webhook_auth",
    "parse_alertmanager",
    "parse_uptime_kuma",
]
