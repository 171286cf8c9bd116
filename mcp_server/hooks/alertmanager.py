"""Parse Prometheus Alertmanager's webhook request (payload version 4) into a `WebhookBatch`.

`parse_alertmanager(body, content_type)` takes the exact request body and Content-Type header. Each
entry of `alerts[]` becomes one `ExternalAlert` keyed by its `fingerprint`.

What the recordings of Alertmanager 0.25 (`shared/monitors/alertmanager/`) taught, and how it is handled:
- The body is compact JSON followed by one "\\n" that Content-Length counts; Go escapes `>` `<` `&` as
  `\\u003e` `\\u003c` `\\u0026`. `json.loads` reads both as they are.
- `version` is the string "4"; anything else is refused (other versions have other fields).
- Times are RFC 3339 UTC with the fraction's trailing zeros cut ("06:37:04.01Z"), up to nanoseconds.
  A firing alert's `endsAt` is Go's zero time "0001-01-01T00:00:00Z": `ended_at` is None then.
- A repeat (after `repeat_interval`) and every retry after a 5xx / 4xx / timeout are byte-identical to
  the first request: nothing marks them. The batch's `payload_digest` lets the consumer see "same bytes".
- Partial resolve with `send_resolved: true`: the top `status` stays "firing" while one alert in
  `alerts[]` is "resolved". Each alert's own status is what counts, never the top one.
- A resolved alert appears in one request only; the next repeat leaves it out. With `send_resolved:
  false` nothing is sent at the resolve at all. So a firing alert that stops appearing may be resolved:
  only the consumer, which remembers keys per `group_key`, can tell.
- `max_alerts` truncation: `truncatedAlerts` says how many were left out, and the top `status` is
  computed from the kept alerts only (it said "resolved" while the group still fired). A note says so.
- `commonLabels` / `commonAnnotations` hold what the alerts of *this request* share; not used here,
  each alert carries its own labels.
- Basic / bearer auth come as an `Authorization` header: see `hooks.auth`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mcp_server.hooks.models import (
    MAX_LABEL_CHARS,
    MAX_SUMMARY_CHARS,
    ExternalAlert,
    Severity,
    WebhookBatch,
    WebhookPayloadError,
    bounded,
    check_body_size,
    content_type_base,
    decode_json,
    digest,
    now_utc,
    parse_rfc3339,
)

# Label values mapped to our three severities. Alertmanager has no fixed vocabulary; these are the words
# rule authors use. An unknown or missing severity is "warning": an alert is a problem, of unknown size.
_SEVERITY_WORDS: dict[str, Severity] = {
    **dict.fromkeys(
        ("critical", "crit", "error", "err", "high", "page", "fatal", "emergency", "p1"), "critical"
    ),
    **dict.fromkeys(("warning", "warn", "medium", "moderate", "p2", "p3"), "warning"),
    **dict.fromkeys(("info", "informational", "notice", "low", "none", "debug", "p4", "p5"), "info"),
}

# Labels that may name the service an alert is about, as hint name → labels tried in order. cAdvisor
# exports a container's Docker labels as `container_label_<name with _>`, which is how compose and swarm
# service names usually reach Prometheus.
_HINT_LABELS: dict[str, tuple[str, ...]] = {
    "compose_service": ("compose_service", "container_label_com_docker_compose_service"),
    "swarm_service": ("swarm_service", "container_label_com_docker_swarm_service_name"),
    "container": ("container", "container_name"),
    "instance": ("instance",),
    "job": ("job",),
}


def parse_alertmanager(
    body: bytes,
    content_type: str,
    *,
    target_labels: Sequence[str] = (),
    received_at: datetime | None = None,
) -> WebhookBatch:
    """The alerts of one Alertmanager webhook request (payload version 4).

    `target_labels`: extra label names to copy into each alert's `target_hints` (e.g. "app"), besides
    compose_service, container, instance and job. Raises `WebhookPayloadError` on anything that is not a
    version-4 payload.
    """
    check_body_size(body, "Alertmanager")
    base = content_type_base(content_type)
    if base and base != "application/json" and not base.endswith("+json"):
        raise WebhookPayloadError(
            f"Content-Type is {bounded(base, 60)!r}; Alertmanager's webhook sends application/json"
        )
    payload = _load_json_object(body)
    version = payload.get("version")
    if version != "4":
        raise WebhookPayloadError(
            f'version is {bounded(repr(version), 20)}; only Alertmanager webhook payload version "4" is understood'
        )
    raw_alerts = payload.get("alerts")
    if not isinstance(raw_alerts, list):
        raise WebhookPayloadError('"alerts" is missing or not a list; a version-4 payload has alerts: [...]')
    truncated = payload.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise WebhookPayloadError('"truncatedAlerts" must be a whole number >= 0')
    top_status = _optional_str(payload, "status", "the payload")
    group_key = _optional_str(payload, "groupKey", "the payload")
    receiver = _optional_str(payload, "receiver", "the payload")

    received = received_at or now_utc()
    notes: list[str] = []
    alerts = tuple(_alert(item, i, target_labels, received, notes) for i, item in enumerate(raw_alerts))
    if not alerts:
        notes.append("the request lists no alerts; nothing to raise or resolve")
    if truncated:
        notes.append(
            f"Alertmanager left {truncated} alert(s) of this group out (max_alerts); its top status "
            f"{top_status!r} is computed from the kept alerts only, so read each alert's own status"
        )
    return WebhookBatch(
        source="alertmanager",
        alerts=alerts,
        group_key=group_key,
        truncated_alerts=truncated,
        raw_status=top_status or "",
        receiver=receiver,
        payload_digest=digest(body),
        notes=tuple(notes),
    )


def _load_json_object(body: bytes) -> dict[str, Any]:
    payload = decode_json(body, "body", "Alertmanager sends a JSON object")
    if not isinstance(payload, dict):
        raise WebhookPayloadError(
            f"body is a JSON {type(payload).__name__}, not an object; Alertmanager sends a JSON object"
        )
    return payload


def _alert(
    item: object, index: int, target_labels: Sequence[str], received: datetime, notes: list[str]
) -> ExternalAlert:
    where = f"alerts[{index}]"
    if not isinstance(item, dict):
        raise WebhookPayloadError(
            f"{where} is not an object; each alert is {{status, labels, annotations, ...}}"
        )
    status = item.get("status")
    if status not in ("firing", "resolved"):
        raise WebhookPayloadError(
            f'{where}.status is {bounded(repr(status), 30)}; expected "firing" or "resolved"'
        )
    labels = _string_map(item.get("labels"), f"{where}.labels", required=True)
    annotations = _string_map(item.get("annotations"), f"{where}.annotations", required=False)
    starts = _optional_str(item, "startsAt", where)
    ends = _optional_str(item, "endsAt", where)
    fingerprint = _optional_str(item, "fingerprint", where)
    if not fingerprint:
        # Alertmanager always sends one; other senders of this format may not. Same labels → same key.
        fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
        notes.append(f"{where} had no fingerprint; its key was computed from its labels")
    name = labels.get("alertname", "") or "unnamed alert"
    return ExternalAlert(
        source="alertmanager",
        key=fingerprint,
        status=status,
        name=bounded(name, MAX_LABEL_CHARS),
        summary=_summary(annotations, name),
        severity=_SEVERITY_WORDS.get(labels.get("severity", "").strip().lower(), "warning"),
        labels={k: bounded(v, MAX_LABEL_CHARS) for k, v in labels.items()},
        url=_optional_str(item, "generatorURL", where) or None,
        started_at=parse_rfc3339(starts, f"{where}.startsAt") if starts else None,
        # a firing alert has not ended, whatever endsAt says (Go's zero time, or a resolve timeout)
        ended_at=parse_rfc3339(ends, f"{where}.endsAt") if ends and status == "resolved" else None,
        received_at=received,
        target_hints=_target_hints(labels, target_labels),
    )


def _summary(annotations: dict[str, str], name: str) -> str:
    """ "summary — description" from the annotations (either alone if only one, or if equal), else the name."""
    summary = annotations.get("summary", "").strip()
    description = annotations.get("description", "").strip() or annotations.get("message", "").strip()
    parts = [p for p in (summary, description) if p]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    return bounded(" — ".join(parts) or name, MAX_SUMMARY_CHARS)


def _target_hints(labels: dict[str, str], target_labels: Sequence[str]) -> dict[str, str]:
    hints: dict[str, str] = {}
    for hint, candidates in _HINT_LABELS.items():
        value = next((labels[c] for c in candidates if labels.get(c)), None)
        if value:
            hints[hint] = bounded(value, MAX_LABEL_CHARS)
    instance = hints.get("instance")
    if instance:
        # "10.0.1.5:9100" → "10.0.1.5", "web:8080" → "web": the host is what names a service
        host = instance.rsplit(":", 1)[0] if instance.rsplit(":", 1)[-1].isdigit() else instance
        hints["instance_host"] = host.strip("[]")
    for label in target_labels:
        if labels.get(label):
            hints[label] = bounded(labels[label], MAX_LABEL_CHARS)
    return hints


def _string_map(value: object, where: str, *, required: bool) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise WebhookPayloadError(f"{where} is missing or not an object of string values")
    for key, item in value.items():
        if not isinstance(item, str):
            raise WebhookPayloadError(
                f"{where}[{bounded(key, 60)!r}] is a {type(item).__name__}; label and annotation values are strings"
            )
    return dict(value)


def _optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise WebhookPayloadError(f"{where}.{key} is a {type(value).__name__}; expected a string")
    return value
