"""Reading a rule's number from a real local HTTP server: Prometheus text (a metric that changes,
label matchers summed), a JSON field, response times, and the reads that must fail with one clear
line (no such series, not JSON, HTTP errors, a redirect to another host, a body over the cap)."""

from __future__ import annotations

import pytest

from mcp_server.metrics.rules import parse_rule
from mcp_server.metrics.sources import SourceError, make_client, read_url, value_of

from .helpers import MetricServer

pytestmark = pytest.mark.anyio

EXPOSITION = """\
# HELP jobs_waiting Jobs waiting per queue.
# TYPE jobs_waiting gauge
jobs_waiting{queue="default",state="waiting"} 40
jobs_waiting{queue="mail",state="waiting"} 5
jobs_waiting{queue="mail",state="delayed"} 7
# TYPE jobs_done counter
jobs_done_total 1234
jobs_waiting_other 999
"""


async def read_value(
    server: MetricServer, rule_text: str, *, timeout_s: float = 5.0, max_bytes: int = 2 << 20
) -> float:
    rule = parse_rule("r", rule_text.replace("URL", server.url("/m")))
    async with make_client(timeout_s, True) as client:
        reading = await read_url(client, rule.url, timeout_s=timeout_s, max_bytes=max_bytes)
    return value_of(rule, reading, timeout_s=timeout_s)


async def test_prometheus_metric_changes_between_reads(metric_server: MetricServer) -> None:
    metric_server.set("/m", "# TYPE queue_waiting gauge\nqueue_waiting 45\n")
    assert await read_value(metric_server, "URL queue_waiting > 10") == 45
    metric_server.set("/m", "# TYPE queue_waiting gauge\nqueue_waiting 3\n")
    assert await read_value(metric_server, "URL queue_waiting > 10") == 3


async def test_prometheus_series_matching_the_labels_are_summed(metric_server: MetricServer) -> None:
    metric_server.set("/m", EXPOSITION)
    assert await read_value(metric_server, "URL jobs_waiting > 10") == 52
    assert await read_value(metric_server, 'URL jobs_waiting{queue="mail"} > 10') == 12
    assert await read_value(metric_server, 'URL jobs_waiting{queue="mail",state="waiting"} > 10') == 5
    assert await read_value(metric_server, 'URL jobs_waiting{state!~"del.*"} > 10') == 45
    assert await read_value(metric_server, "URL jobs_done_total > 10") == 1234


async def test_prometheus_missing_series_is_a_read_error(metric_server: MetricServer) -> None:
    metric_server.set("/m", EXPOSITION)
    with pytest.raises(SourceError, match=r"no series jobs_failed in the scrape \(0 line"):
        await read_value(metric_server, "URL jobs_failed > 10")
    with pytest.raises(SourceError, match=r'no series with these labels jobs_waiting\{queue="sms"\}'):
        await read_value(metric_server, 'URL jobs_waiting{queue="sms"} > 10')


async def test_json_field_and_list_index(metric_server: MetricServer) -> None:
    metric_server.set(
        "/m",
        '{"queue": {"waiting": 45, "lag": "2.5", "ok": true}, "items": [{"count": 7}], "name": "n8n"}',
        content_type="application/json",
    )
    assert await read_value(metric_server, "URL json:queue.waiting > 10") == 45
    assert await read_value(metric_server, "URL json:queue.lag > 10") == 2.5
    assert await read_value(metric_server, "URL json:queue.ok == 0") == 1
    assert await read_value(metric_server, "URL json:items.0.count > 10") == 7
    with pytest.raises(SourceError, match="no 'depth' in the JSON object at queue"):
        await read_value(metric_server, "URL json:queue.depth > 10")
    with pytest.raises(SourceError, match="no '3' in the JSON list at items"):
        await read_value(metric_server, "URL json:items.3.count > 10")
    with pytest.raises(SourceError, match='json:name is "n8n", not a number'):
        await read_value(metric_server, "URL json:name > 10")
    metric_server.set("/m", "<html>oops</html>")
    with pytest.raises(SourceError, match="the body is not JSON"):
        await read_value(metric_server, "URL json:queue.waiting > 10")


async def test_http_errors_redirects_and_size_cap(metric_server: MetricServer) -> None:
    metric_server.set("/m", "queue_waiting 1\n", status=503)
    with pytest.raises(SourceError, match=r"HTTP 503 from http://127\.0\.0\.1"):
        await read_value(metric_server, "URL queue_waiting > 10")

    # a redirect within the same host is followed, one to another host is refused
    metric_server.set("/real", "queue_waiting 9\n")
    metric_server.set("/m", "", status=302, headers={"Location": "/real"})
    assert await read_value(metric_server, "URL queue_waiting > 10") == 9
    metric_server.set("/m", "", status=302, headers={"Location": "http://user:pw@elsewhere.invalid/x"})
    with pytest.raises(SourceError, match="redirected to another host") as caught:
        await read_value(metric_server, "URL queue_waiting > 10")
    assert "pw@" not in str(caught.value)

    metric_server.set("/m", "queue_waiting 1\n" + "# padding\n" * 500)
    with pytest.raises(SourceError, match="the body is larger than 1 KiB"):
        await read_value(metric_server, "URL queue_waiting > 10", max_bytes=1024)


async def test_latency_times_the_get_and_failures_count_as_the_timeout(metric_server: MetricServer) -> None:
    metric_server.set("/m", "ok", delay_s=0.3)
    slow = await read_value(metric_server, "URL p95 > 200ms")
    assert 300 <= slow < 5000
    metric_server.set("/m", "ok")
    fast = await read_value(metric_server, "URL p95 > 200ms")
    assert fast < slow
    # no answer in time, a 5xx, and a refused connection all count as the timeout (in ms)
    metric_server.set("/m", "ok", delay_s=3)
    assert await read_value(metric_server, "URL p95 > 200ms", timeout_s=0.5) == 500
    metric_server.set("/m", "boom", status=500)
    assert await read_value(metric_server, "URL latency > 200ms", timeout_s=0.5) == 500
    rule = parse_rule("r", "http://127.0.0.1:9/ p95 > 200ms")
    async with make_client(0.5, True) as client:
        reading = await read_url(client, rule.url, timeout_s=0.5, max_bytes=1024)
    assert reading.error and value_of(rule, reading, timeout_s=0.5) == 500
    # a read error of a Prometheus rule is raised, with the credentials masked
    secret = parse_rule("r", "http://admin:hunter2@127.0.0.1:9/m q > 1")
    async with make_client(0.5, True) as client:
        reading = await read_url(client, secret.url, timeout_s=0.5, max_bytes=1024)
    with pytest.raises(SourceError) as caught:
        value_of(secret, reading, timeout_s=0.5)
    assert "hunter2" not in str(caught.value)


async def test_credentials_in_the_url_are_sent_as_basic_auth(metric_server: MetricServer) -> None:
    metric_server.set("/m", "queue_waiting 4\n")
    rule = parse_rule(
        "r", metric_server.url("/m").replace("://", "://scraper:pa55word@") + " queue_waiting > 1"
    )
    async with make_client(5, True) as client:
        reading = await read_url(client, rule.url, timeout_s=5, max_bytes=1024)
    assert value_of(rule, reading, timeout_s=5) == 4
    assert metric_server.last_headers["/m"]["Authorization"] == "Basic c2NyYXBlcjpwYTU1d29yZA=="
