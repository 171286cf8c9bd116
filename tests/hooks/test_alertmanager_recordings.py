"""parse_alertmanager against every request Alertmanager 0.25 really sent (shared/monitors/alertmanager/),
then against broken payloads. The listener's own JSON parse of each body is the oracle."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_server.hooks import MAX_BODY_BYTES, WebhookBatch, WebhookPayloadError, parse_alertmanager
from mcp_server.hooks.models import parse_rfc3339
from tests.hooks.recordings import ALERTMANAGER, Recorded, case, load, request_files

FILES = request_files(ALERTMANAGER)
RECEIVED = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


def parse(recorded: Recorded, target_labels: tuple[str, ...] = ()) -> WebhookBatch:
    return parse_alertmanager(
        recorded.body, recorded.content_type, target_labels=target_labels, received_at=RECEIVED
    )


def test_the_recordings_are_all_here() -> None:
    assert len(FILES) == 27 + 113


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_recorded_request_parses_like_the_listener_read_it(path: Path) -> None:
    recorded = load(path)
    expected = recorded.record["body"]
    assert recorded.method == "POST" and recorded.content_type == "application/json"
    assert recorded.body.endswith(b"}\n")  # compact JSON plus one newline, counted in Content-Length

    batch = parse(recorded)

    assert batch.source == "alertmanager"
    assert batch.raw_status == expected["status"]
    assert batch.group_key == expected["groupKey"]
    assert batch.receiver == expected["receiver"]
    assert batch.truncated_alerts == expected["truncatedAlerts"]
    assert batch.payload_digest == hashlib.sha256(recorded.body).hexdigest()
    assert len(batch.alerts) == len(expected["alerts"]) >= 1
    for alert, raw in zip(batch.alerts, expected["alerts"], strict=True):
        assert alert.key == raw["fingerprint"] and len(alert.key) == 16
        assert alert.status == raw["status"]
        assert alert.name == raw["labels"]["alertname"]
        assert alert.labels == raw["labels"]
        assert alert.url == raw["generatorURL"]
        assert alert.started_at is not None and alert.started_at.tzinfo is not None
        assert alert.received_at == RECEIVED
        if raw["status"] == "firing":
            assert raw["endsAt"] == "0001-01-01T00:00:00Z" and alert.ended_at is None
        else:
            assert alert.ended_at is not None and alert.ended_at > alert.started_at


def test_firing_then_resolved_keep_the_key_and_read_the_times() -> None:
    (firing,) = parse(case(ALERTMANAGER, "firing")).alerts
    (resolved,) = parse(case(ALERTMANAGER, "resolved")).alerts
    assert firing.key == resolved.key == "4f6f9d3b76566105"
    assert (firing.status, resolved.status) == ("firing", "resolved")
    # "06:37:04.01Z": Go cuts the fraction's trailing zeros
    assert firing.started_at == datetime(2026, 12, 3, 6, 37, 4, 10_000, tzinfo=UTC) == resolved.started_at
    assert firing.ended_at is None
    assert resolved.ended_at == datetime(2026, 12, 3, 6, 37, 46, 10_000, tzinfo=UTC)
    assert firing.severity == "warning"
    # Go's HTML-safe escapes (\u003e, \u0026) are read back as > and &
    assert firing.summary == "mon_test_value is 1 for only — Scenario single, item only reported 1 (> 0)."
    assert firing.url is not None and "&g0.tab=1" in firing.url


def test_partial_resolve_is_read_per_alert_not_from_the_top_status() -> None:
    both = parse(case(ALERTMANAGER, "group_2_firing"))
    partial = parse(case(ALERTMANAGER, "group_partial_resolved"))
    after = parse(case(ALERTMANAGER, "group_repeat_after_partial"))
    last = parse(case(ALERTMANAGER, "group_all_resolved"))

    assert {a.key for a in both.alerts} == {a.key for a in partial.alerts}
    assert partial.raw_status == "firing"
    by_status = {a.status: a.key for a in partial.alerts}
    assert set(by_status) == {"firing", "resolved"}
    # the resolved alert is shown once; the repeat lists only the one still firing
    assert [(a.key, a.status) for a in after.alerts] == [(by_status["firing"], "firing")]
    assert [(a.key, a.status) for a in last.alerts] == [(by_status["firing"], "resolved")]
    assert both.group_key == partial.group_key == after.group_key == last.group_key


def test_repeats_and_retries_are_byte_identical_and_give_the_same_batch() -> None:
    first, repeat = case(ALERTMANAGER, "firing"), case(ALERTMANAGER, "repeat")
    assert first.body == repeat.body
    assert parse(first) == parse(repeat)

    # the 500 receiver got 51 attempts, the 400 one 15, the slow one 8: each one body, one digest
    digests: dict[str, set[str]] = defaultdict(set)
    for path in (ALERTMANAGER / "all_requests").glob("*.json"):
        recorded = load(path)
        if recorded.path in ("/am/status500", "/am/status400", "/am/slow"):
            digests[recorded.path].add(parse(recorded).payload_digest)
    assert {path: len(d) for path, d in digests.items()} == {
        "/am/status500": 1,
        "/am/status400": 1,
        "/am/slow": 1,
    }


def test_max_alerts_truncation_reports_resolved_while_the_group_still_fires() -> None:
    batch = parse(case(ALERTMANAGER, "max_alerts_1__group_partial_resolved"))
    assert batch.raw_status == "resolved" and batch.truncated_alerts == 1
    assert [a.status for a in batch.alerts] == ["resolved"]
    assert any("max_alerts" in note and "each alert's own status" in note for note in batch.notes)
    assert parse(case(ALERTMANAGER, "firing")).notes == ()


def test_target_down_alert_hints_at_the_instance_and_is_critical() -> None:
    (alert,) = parse(case(ALERTMANAGER, "target_down__firing"), target_labels=("scenario",)).alerts
    assert alert.name == "MonTestTargetDown" and alert.severity == "critical"
    assert alert.target_hints == {
        "instance": "127.0.0.1:19101",
        "instance_host": "127.0.0.1",
        "job": "montest-down",
        "scenario": "targetdown",
    }


def _edited(recorded: Recorded, edit: dict[str, object]) -> bytes:
    """The recorded body with the first alert's fields changed (None deletes one)."""
    payload = json.loads(recorded.body)
    for key, value in edit.items():
        if value is None:
            payload["alerts"][0].pop(key)
        else:
            payload["alerts"][0][key] = value
    return json.dumps(payload).encode()


def test_compose_labels_from_cadvisor_and_unknown_severity() -> None:
    recorded = case(ALERTMANAGER, "firing")
    labels = {
        "alertname": "QueueStuck",
        "container_label_com_docker_compose_service": "n8n",
        "container_label_com_docker_swarm_service_name": "app-n8n-abc",
        "container": "n8n-1",
        "severity": "P5",
    }
    body = _edited(recorded, {"labels": labels, "annotations": None})
    (alert,) = parse_alertmanager(body, "application/json; charset=utf-8").alerts
    assert alert.target_hints["compose_service"] == "n8n"
    assert alert.target_hints["swarm_service"] == "app-n8n-abc"
    assert alert.target_hints["container"] == "n8n-1"
    assert alert.severity == "info" and alert.summary == "QueueStuck"
    odd = _edited(recorded, {"labels": {"alertname": "X", "severity": "whatever"}})
    assert parse_alertmanager(odd, "application/json").alerts[0].severity == "warning"


def test_a_firing_alert_has_not_ended_whatever_its_endsAt_says() -> None:
    """Senders that copy Prometheus' resolve timeout into endsAt: a firing alert still has no end."""
    body = _edited(case(ALERTMANAGER, "firing"), {"endsAt": "2026-12-03T06:41:04.01Z"})
    assert parse_alertmanager(body, "application/json").alerts[0].ended_at is None


def test_a_missing_fingerprint_gets_a_key_from_the_labels() -> None:
    recorded = case(ALERTMANAGER, "firing")
    one = parse_alertmanager(_edited(recorded, {"fingerprint": None}), "application/json")
    two = parse_alertmanager(_edited(recorded, {"fingerprint": None}), "application/json")
    assert one.alerts[0].key == two.alerts[0].key != "4f6f9d3b76566105"
    assert any("no fingerprint" in note for note in one.notes)


def test_go_times_zero_and_nanoseconds() -> None:
    assert parse_rfc3339("0001-01-01T00:00:00Z", "endsAt") is None
    assert parse_rfc3339("2026-12-03T06:37:04.123456789Z", "t") == datetime(
        2026, 12, 3, 6, 37, 4, 123456, tzinfo=UTC
    )
    assert parse_rfc3339("2026-12-03T08:37:04+02:00", "t") == datetime(2026, 12, 3, 6, 37, 4, tzinfo=UTC)


def _body(**changes: object) -> bytes:
    payload = json.loads(case(ALERTMANAGER, "group_2_firing").body)
    payload.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del payload[key]
    return json.dumps(payload).encode()


BAD = {
    "not json": (b"<html>nope</html>", "not JSON"),
    "not utf-8": (b'{"version": "4", "alerts": [], "x": "\xff"}', "not UTF-8"),
    "json array": (b"[1, 2]", "not an object"),
    "wrong version": (_body(version="3"), 'version "4"'),
    "number version": (_body(version=4), 'version "4"'),
    "missing alerts": (_body(alerts=None), '"alerts" is missing'),
    "alerts object": (_body(alerts={"a": 1}), '"alerts" is missing or not a list'),
    "alert not object": (_body(alerts=["x"]), "alerts[0] is not an object"),
    "alert status": (_body(alerts=[{"status": "pending", "labels": {}}]), '"firing" or "resolved"'),
    "label not string": (_body(alerts=[{"status": "firing", "labels": {"a": 1}}]), "values are strings"),
    "labels missing": (_body(alerts=[{"status": "firing"}]), "alerts[0].labels is missing"),
    "bad startsAt": (
        _body(alerts=[{"status": "firing", "labels": {}, "startsAt": "yesterday"}]),
        "alerts[0].startsAt is not an RFC 3339 time",
    ),
    "startsAt number": (
        _body(alerts=[{"status": "firing", "labels": {}, "startsAt": 5}]),
        "expected a string",
    ),
    "negative truncated": (_body(truncatedAlerts=-1), "truncatedAlerts"),
    "string truncated": (_body(truncatedAlerts="1"), "truncatedAlerts"),
    "huge body": (b'{"x": "' + b"A" * MAX_BODY_BYTES + b'"}', "over the 1048576-byte limit"),
}


@pytest.mark.parametrize("label", BAD)
def test_bad_payloads_raise_one_clear_line(label: str) -> None:
    body, expected = BAD[label]
    with pytest.raises(WebhookPayloadError) as caught:
        parse_alertmanager(body, "application/json")
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and len(message) < 300 and "AAAA" not in message
    assert isinstance(caught.value, ValueError)


def test_a_non_json_content_type_is_refused() -> None:
    with pytest.raises(WebhookPayloadError, match="sends application/json"):
        parse_alertmanager(case(ALERTMANAGER, "firing").body, "text/plain")


def test_an_empty_alert_list_is_a_note_not_an_error() -> None:
    batch = parse_alertmanager(_body(alerts=[]), "application/json")
    assert batch.alerts == () and "no alerts" in batch.notes[0]


WRONG_VALUES: tuple[object, ...] = (None, 1, -1, 1.5, True, "x", "", [], ["x"], {}, {"a": 1})


def test_any_field_of_any_type_gives_a_batch_or_a_payload_error() -> None:
    """Every top-level and alert field replaced by values of other types: never another exception."""
    original = json.loads(case(ALERTMANAGER, "group_partial_resolved").body)
    refused = 0
    for where in ("top", "alert"):
        fields = original if where == "top" else original["alerts"][0]
        for key in fields:
            for value in WRONG_VALUES:
                payload = json.loads(json.dumps(original))
                (payload if where == "top" else payload["alerts"][0])[key] = value
                try:
                    parse_alertmanager(json.dumps(payload).encode(), "application/json")
                except WebhookPayloadError:
                    refused += 1
    assert refused > 50
