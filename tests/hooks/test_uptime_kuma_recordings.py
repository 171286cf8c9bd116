"""parse_uptime_kuma against every request Uptime Kuma 2.5.3 really sent (shared/monitors/uptime-kuma/):
JSON, form-data, custom body (sent as form-urlencoded), GET, extra headers; test, down, resend, up; then
broken requests. The listener's own parse of each request is the oracle."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from mcp_server.hooks import MAX_BODY_BYTES, WebhookBatch, WebhookPayloadError, parse_uptime_kuma
from tests.hooks.recordings import UPTIME_KUMA, Recorded, case, load, request_files

FILES = request_files(UPTIME_KUMA)
RECEIVED = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
VARIANTS = ("json", "form_data", "get", "json_extra_headers", "custom")
EVENTS = (
    "http_down",
    "http_down_resend",
    "http_up",
    "http_slow_down",
    "http_slow_up",
    "tcp_port_down",
    "tcp_port_up",
    "keyword_down",
    "keyword_up",
)


def parse(recorded: Recorded, query: str | None = None) -> WebhookBatch:
    return parse_uptime_kuma(
        recorded.method,
        recorded.query if query is None else query,
        recorded.body,
        recorded.content_type,
        received_at=RECEIVED,
    )


def _listener_view(recorded: Recorded) -> dict[str, Any]:
    """What the listener itself read: {heartbeat, monitor, msg}, or the custom template's keys."""
    record = recorded.record
    if recorded.method == "GET":
        return dict(record["query_parsed"])
    if record["body_kind"] == "multipart":
        (part,) = record["body"]
        assert part["name"] == "data" and part["filename"] is None
        return dict(json.loads(part["value_raw"]))
    return dict(record["body"])


def test_the_recordings_are_all_here() -> None:
    assert len(FILES) == 56 + 56


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_recorded_request_parses_like_the_listener_read_it(path: Path) -> None:
    recorded = load(path)
    seen = _listener_view(recorded)
    batch = parse(recorded)
    assert batch.source == "uptime-kuma"
    custom = "heartbeatStatus" in seen
    status = seen["heartbeatStatus"] if custom else (seen.get("heartbeat") or {}).get("status")
    if status is None:  # the Test button
        assert batch.alerts == () and batch.is_test and batch.raw_status == "test"
        assert "test notification" in batch.notes[0]
        return
    (alert,) = batch.alerts
    assert alert.status == {0: "firing", 1: "resolved"}[status]
    assert alert.severity == ("critical" if status == 0 else "info")
    assert batch.raw_status == {0: "down", 1: "up"}[status]
    assert batch.group_key == alert.key
    if custom:
        assert alert.name == seen["name"] and alert.summary == seen["Body"]
        assert alert.key == f"name:{seen['name']}|{seen['hostnameOrURL']}"
    else:
        monitor = seen["monitor"]
        assert alert.key == f"monitor:{monitor['id']}" and alert.name == monitor["name"]
        assert alert.summary == seen["msg"]
        assert alert.resend is (status == 0 and seen["heartbeat"]["important"] is False)
    assert alert.url and alert.url != "https://"
    assert alert.target_hints["monitor_name"] == alert.name and alert.target_hints["host"] == "127.0.0.1"
    assert alert.received_at == RECEIVED


@pytest.mark.parametrize("event", EVENTS)
def test_each_body_form_of_one_event_gives_the_same_alert(event: str) -> None:
    """JSON, form-data, GET and JSON-with-headers carry the same object: equal alerts. The custom body
    carries what its template renders (no monitor id, no lastDownTime): same state, name and URL."""
    alerts = {v: parse(case(UPTIME_KUMA, f"{event}__{v}")).alerts[0] for v in VARIANTS}
    json_alert = alerts["json"]
    assert alerts["form_data"] == alerts["get"] == alerts["json_extra_headers"] == json_alert
    custom = alerts["custom"]
    assert (custom.status, custom.name, custom.url, custom.target_hints) == (
        json_alert.status,
        json_alert.name,
        json_alert.url,
        json_alert.target_hints,
    )
    assert custom.key == f"name:{json_alert.name}|{json_alert.url}"
    if json_alert.status == "firing":
        assert custom.started_at == json_alert.started_at
    else:
        assert custom.ended_at == json_alert.ended_at


def test_down_resend_up_of_one_monitor() -> None:
    down = parse(case(UPTIME_KUMA, "http_down__json")).alerts[0]
    resend_batch = parse(case(UPTIME_KUMA, "http_down_resend__json"))
    resend = resend_batch.alerts[0]
    up = parse(case(UPTIME_KUMA, "http_up__json")).alerts[0]
    assert down.key == resend.key == up.key == "monitor:1"
    assert [a.status for a in (down, resend, up)] == ["firing", "firing", "resolved"]
    assert (down.resend, resend.resend, up.resend) == (False, True, False)
    assert "resend" in resend_batch.notes[0]
    assert down.started_at == datetime(2026, 12, 3, 6, 44, 6, 339_000, tzinfo=UTC) and down.ended_at is None
    # UP carries lastDownTime: the outage's start, then its end
    assert up.started_at == down.started_at
    assert up.ended_at == datetime(2026, 12, 3, 6, 44, 46, 341_000, tzinfo=UTC)
    assert down.summary == "[kuma-http] [🔴 Down] connect ECONNREFUSED 127.0.0.1:19310"


def test_why_a_monitor_went_down() -> None:
    reasons = {
        event: parse(case(UPTIME_KUMA, f"{event}__json")).alerts[0].labels["kuma_reason"]
        for event in ("http_down", "http_slow_down", "tcp_port_down", "keyword_down")
    }
    assert reasons == {
        "http_down": "connection_refused",
        "http_slow_down": "timeout",
        "tcp_port_down": "connection_refused",
        "keyword_down": "keyword",
    }
    assert "kuma_reason" not in parse(case(UPTIME_KUMA, "http_up__json")).alerts[0].labels


def test_a_port_monitor_is_located_by_hostname_and_port_not_its_placeholder_url() -> None:
    recorded = case(UPTIME_KUMA, "tcp_port_down__json")
    assert _listener_view(recorded)["monitor"]["url"] == "https://"
    (alert,) = parse(recorded).alerts
    assert alert.url == "127.0.0.1:19311"
    assert alert.target_hints == {
        "monitor_name": "kuma-tcp",
        "url": "127.0.0.1:19311",
        "host": "127.0.0.1",
        "port": "19311",
    }
    assert alert.labels["monitor_type"] == "port"


def test_get_with_a_token_in_the_configured_url_still_parses() -> None:
    """Uptime Kuma appends msg/heartbeat/monitor after the query of the configured URL."""
    recorded = case(UPTIME_KUMA, "http_down__get")
    with_token = parse(recorded, query="?token=abc&" + recorded.query)
    assert with_token.alerts == parse(recorded).alerts
    assert with_token.payload_digest != parse(recorded).payload_digest


def _json_payload(name: str) -> dict[str, Any]:
    return dict(json.loads(case(UPTIME_KUMA, name).body))


def _post_json(payload: object) -> WebhookBatch:
    return parse_uptime_kuma("POST", "", json.dumps(payload).encode(), "application/json")


@pytest.mark.parametrize(("status", "word"), [(2, "PENDING"), (3, "MAINTENANCE")])
def test_pending_and_maintenance_raise_nothing(status: int, word: str) -> None:
    payload = _json_payload("http_down__json")
    payload["heartbeat"]["status"] = status
    batch = _post_json(payload)
    assert batch.alerts == () and not batch.is_test
    assert batch.raw_status == word.lower() and word in batch.notes[0]


def test_a_message_with_a_monitor_but_no_heartbeat_is_a_note() -> None:
    payload = _json_payload("http_down__json") | {
        "heartbeat": None,
        "msg": "[kuma-http] certificate expires in 7 days",
    }
    batch = _post_json(payload)
    assert batch.alerts == () and not batch.is_test and batch.raw_status == "message"
    assert "kuma-http" in batch.notes[0] and "certificate" in batch.notes[0]


def test_tags_become_labels_and_service_hints() -> None:
    payload = _json_payload("http_down__json")
    payload["monitor"]["tags"] = [{"name": "compose_service", "value": "n8n"}, {"name": "team", "value": ""}]
    (alert,) = _post_json(payload).alerts
    assert alert.labels["compose_service"] == "n8n" and alert.labels["team"] == ""
    assert alert.target_hints["compose_service"] == "n8n"


def test_a_custom_template_with_the_monitor_id_gets_the_json_key() -> None:
    payload = json.loads(case(UPTIME_KUMA, "http_down__custom").body) | {"monitorID": 1}
    batch = parse_uptime_kuma("POST", "", json.dumps(payload).encode(), "application/x-www-form-urlencoded")
    assert batch.alerts[0].key == parse(case(UPTIME_KUMA, "http_down__json")).alerts[0].key


def test_a_custom_body_that_renders_the_standard_object_or_real_form_fields() -> None:
    """A custom template may render the JSON preset's object, or urlencoded msg/heartbeat/monitor fields."""
    json_body = case(UPTIME_KUMA, "http_down__json").body
    (expected,) = parse(case(UPTIME_KUMA, "http_down__json")).alerts
    as_custom = parse_uptime_kuma(
        "POST", "", json_body, "application/x-www-form-urlencoded", received_at=RECEIVED
    )
    assert as_custom.alerts == (expected,)
    payload = _json_payload("http_down__json")
    fields = urlencode(
        {name: json.dumps(payload[name]) for name in ("heartbeat", "monitor")} | {"msg": payload["msg"]}
    )
    as_form = parse_uptime_kuma(
        "POST", "", fields.encode(), "application/x-www-form-urlencoded", received_at=RECEIVED
    )
    assert as_form.alerts == (expected,)


FORM_CT = "multipart/form-data; boundary=--------------------------f40f0905778a75a1d707d6cd"
BAD: dict[str, tuple[str, str, bytes, str, str]] = {
    # label: (method, query, body, content type, expected words in the message)
    "not json": ("POST", "", b"{nope", "application/json", "body is not JSON"),
    "json array": ("POST", "", b"[]", "application/json", "not an object"),
    "no msg": ("POST", "", b'{"heartbeat": null}', "application/json", "msg is missing"),
    "status out of range": (
        "POST",
        "",
        b'{"msg": "x", "heartbeat": {"status": 7}}',
        "application/json",
        "heartbeat.status is 7",
    ),
    "status as text": (
        "POST",
        "",
        b'{"msg": "x", "heartbeat": {"status": "0"}}',
        "application/json",
        "heartbeat.status is '0'",
    ),
    "status as bool": (
        "POST",
        "",
        b'{"msg": "x", "heartbeat": {"status": true}}',
        "application/json",
        "heartbeat.status is True",
    ),
    "status as list": (
        "POST",
        "",
        b'{"msg": "x", "heartbeat": {"status": [0]}}',
        "application/json",
        "heartbeat.status is [0]",
    ),
    "status as float": (
        "POST",
        "",
        b'{"msg": "x", "heartbeat": {"status": 0.0}}',
        "application/json",
        "heartbeat.status is 0.0",
    ),
    "heartbeat list": (
        "POST",
        "",
        b'{"msg": "x", "heartbeat": [0]}',
        "application/json",
        "heartbeat is a list",
    ),
    "bad time": (
        "POST",
        "",
        b'{"msg": "x", "heartbeat": {"status": 0, "time": "now"}}',
        "application/json",
        "heartbeat.time",
    ),
    "name not text": (
        "POST",
        "",
        b'{"msg": "x", "heartbeat": {"status": 0}, "monitor": {"name": 5}}',
        "application/json",
        "monitor.name is a int",
    ),
    "get without msg": ("GET", "heartbeat=%7B%7D", b"", "", "no msg parameter"),
    "get twice": ("GET", "msg=a&msg=b", b"", "", "'msg' more than once"),
    "get bad heartbeat": ("GET", "msg=a&heartbeat=%7Bx", b"", "", "parameter 'heartbeat' is not JSON"),
    "put": ("PUT", "", b"{}", "application/json", "method PUT"),
    "image": ("POST", "", b"\x89PNG", "image/png", "'image/png' is not one Uptime Kuma sends"),
    "no data field": (
        "POST",
        "",
        b'----------------------------f40f0905778a75a1d707d6cd\r\nContent-Disposition: form-data; name="other"\r\n\r\n{}\r\n----------------------------f40f0905778a75a1d707d6cd--\r\n',
        FORM_CT,
        "no field 'data'",
    ),
    "multipart garbage": ("POST", "", b"garbage", FORM_CT, "form-data body cannot be parsed"),
    "custom unknown json": (
        "POST",
        "",
        b'{"Title": "x"}',
        "application/x-www-form-urlencoded",
        "neither heartbeat/monitor/msg",
    ),
    "custom plain text": (
        "POST",
        "",
        b"monitor is down!",
        "application/x-www-form-urlencoded",
        "neither JSON nor form fields",
    ),
    "custom bad status": (
        "POST",
        "",
        b'{"heartbeatStatus": "down"}',
        "application/x-www-form-urlencoded",
        "heartbeatStatus is 'down'",
    ),
    "not utf-8": ("POST", "", b'{"msg": "\xff"}', "application/json", "not UTF-8"),
    "huge body": (
        "POST",
        "",
        b'{"msg": "' + b"A" * MAX_BODY_BYTES + b'"}',
        "application/json",
        "over the 1048576-byte limit",
    ),
    "too many fields": ("GET", "&".join(f"p{i}=1" for i in range(101)), b"", "", "over 100 parameters"),
    "huge query": ("GET", "msg=" + "A" * MAX_BODY_BYTES, b"", "", "query string is over"),
}


@pytest.mark.parametrize("label", BAD)
def test_bad_requests_raise_one_clear_line(label: str) -> None:
    method, query, body, content_type, expected = BAD[label]
    with pytest.raises(WebhookPayloadError) as caught:
        parse_uptime_kuma(method, query, body, content_type)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and len(message) < 300 and "AAAA" not in message


WRONG_VALUES: tuple[object, ...] = (None, 1, -1, 1.5, True, "x", "", "https://", [], ["x"], {}, {"a": 1})


def test_any_field_of_any_type_gives_a_batch_or_a_payload_error() -> None:
    """Every field of msg / heartbeat / monitor replaced by values of other types: never another exception."""
    original = _json_payload("http_up__json")
    refused = 0
    for part in ("top", "heartbeat", "monitor"):
        fields = original if part == "top" else original[part]
        for key in fields:
            for value in WRONG_VALUES:
                payload = json.loads(json.dumps(original))
                (payload if part == "top" else payload[part])[key] = value
                try:
                    _post_json(payload)
                except WebhookPayloadError:
                    refused += 1
    assert refused > 50
