"""Single-line classification, masking, header stripping and access logs."""

from __future__ import annotations

import pytest

from mcp_server.log_analysis.analysis import analyse
from mcp_server.log_analysis.lines import lines_from_text
from mcp_server.log_analysis.masks import join_value_parts
from mcp_server.log_analysis.patterns import (
    collapse_lists,
    find_candidates,
    line_severity,
    mask,
    mask_many,
    parse_access,
    path_template,
    strip_header,
)
from mcp_server.log_analysis.structured import parse_structured

from . import fixtures as F


@pytest.mark.parametrize(
    ("line", "severity"),
    [
        ("2026-11-25 09:00:00,000 ERROR app: boom", "error"),
        ("ERROR:root:something broke", "error"),
        ("2026-11-25 09:00:00.000 WARN 1 --- [main] c.e.App : slow", "warning"),
        ("09:00:00.123 [main] INFO  c.e.App - user error count is 3", None),  # level wins over words
        ("2026/11/25 09:00:02 [error] 29#29: *1 connect() failed", "error"),
        ("2026/11/25 09:00:02 [crit] 29#29: SSL_do_handshake() failed", "error"),
        ("2026/11/25 09:00:02 [warn] 29#29: buffered", "warning"),
        ("2026-11-25T09:00:02.000000Z 0 [ERROR] [MY-010119] [Server] Aborting", "error"),
        ("2026-11-25T09:00:01.000000Z 0 [Warning] [MY-010068] [Server] self signed", "warning"),
        ("2026-11-25T09:00:01.000000Z 0 [Note] [MY-010068] [Server] fine", None),
        ("1:M 25 Nov 2026 09:00:10.000 # Background saving error", "error"),
        ("1:C 25 Nov 2026 09:00:00.001 # WARNING Memory overcommit must be enabled! may fail", "warning"),
        ("1:M 25 Nov 2026 09:00:00.002 * Ready to accept connections tcp", None),
        ("OOM command not allowed when used memory > 'maxmemory'.", "error"),
        ("MISCONF Redis is configured to save RDB snapshots", "error"),
        ("2026-11-25 09:00:04.000 UTC [58] FATAL:  password authentication failed", "error"),
        ("2026-11-25 09:00:04.000 UTC [58] LOG:  could not receive data from client", None),
        ('time="x" level=error msg="bind failed"', "error"),
        ("E1125 09:00:00.000000       1 controller.go:12] sync failed", "error"),
        ("W1125 09:00:00.000000       1 controller.go:12] slow", "warning"),
        ("fail: Microsoft.AspNetCore.Server.Kestrel[13] Connection id failed", "error"),
        ("2026-11-25T09:00:00.000Z\terror\tserver/main.go:42\tlisten failed", "error"),
        ("Segmentation fault (core dumped)", "error"),
        ("Killed", "error"),
        ("connect ECONNREFUSED 127.0.0.1:6379", "error"),
        ("Could not connect to the database, retrying", "error"),
        ("npm warn deprecated inflight@1.0.6", "warning"),
        ("Listening on port 8080", None),
    ],
)
def test_line_severity(line: str, severity: str | None) -> None:
    assert line_severity(line) == severity


def test_candidates_find_keywords_in_any_case_and_5xx() -> None:
    lines = [
        "all good",
        "Something FAILED here",
        "user 42 logged in",
        '1.2.3.4 - - [x] "GET / HTTP/1.1" 503 0',
        '1.2.3.4 - - [x] "GET / HTTP/1.1" 200 0',
        '{"DownstreamStatus":502}',
        "Traceback (most recent call last):",
    ]
    assert find_candidates(lines) == [1, 3, 5, 6]


def test_mask_replaces_variable_parts() -> None:
    masked = mask(
        "2026-11-25T09:00:00.123Z req 3f2a9c1e-0000-4bbb-8ccc-123456789abc from 10.0.3.7:5432 "
        "took 123ms hash deadbeefcafe12 ptr 0x7ffd"
    )
    assert masked == "<TS> req <UUID> from <IP> took <NUM> hash <HEX> ptr <HEX>"


def test_mask_syslog_dates_with_month_names() -> None:
    assert mask("Jun 14 15:16:01 combo sshd[19939]: x") == "<TS> combo sshd[<NUM>]: x"
    assert mask("[Sun Dec 04 04:47:44 2005] [notice] x") == "[<TS>] [notice] x"


@pytest.mark.parametrize(
    ("line", "content"),
    [
        ("2026-11-25 09:00:00,123 ERROR [main] com.shop.App: Payment failed", "Payment failed"),
        ("2026-11-25 09:00:00,123 - app.db - WARNING - pool exhausted", "WARNING - pool exhausted"),
        ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown", "check pass; user unknown"),
        ("1:M 25 Nov 2026 09:00:10.000 # Background saving error", "Background saving error"),
        ("2026-11-25 09:00:05.000 UTC [59] ERROR:  relation does not exist", "relation does not exist"),
        ("plain message without header", "plain message without header"),
        # A file name glued to a time (masks to "<NUM><TS>"), then a time, a pid and a level.
        (
            "api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.api [-] GET",
            "nova.api [-] GET",
        ),
    ],
)
def test_strip_header(line: str, content: str) -> None:
    assert strip_header(mask(line)) == mask(content)


def test_path_template_and_access_parse() -> None:
    assert path_template("/api/users/42/orders?page=2") == "/api/users/{n}/orders"
    assert path_template("/o/9f1c2d3e-1111-2222-3333-444455556666") == "/o/{uuid}"
    assert path_template("/blob/deadbeefcafebabe") == "/blob/{hex}"
    assert path_template("/static/app.js") == "/static/app.js"
    assert parse_access('1.2.3.4 - - [x] "GET /api/users/42 HTTP/1.1" 502 157 "-" "curl"') == (
        "GET",
        "/api/users/{n}",
        502,
    )
    assert parse_access("no request here") is None


def test_access_logs_count_5xx_as_errors_with_path_templates() -> None:
    analysis = analyse(lines_from_text(F.NGINX_ACCESS + F.TRAEFIK_ACCESS))
    templates = {g.template: len(g.events) for g in analysis.templates.values()}
    assert templates == {
        "HTTP 502 GET /api/users/{n}": 2,
        "HTTP 504 POST /api/orders/{uuid}/pay": 1,
        "HTTP 503 GET /app": 1,
        "HTTP 502 GET /api/items/{n}": 1,
    }
    assert all(e.severity == "error" and e.kind == "http" for e in analysis.events)


def test_structured_json_and_logfmt_records() -> None:
    pino = parse_structured('{"level":50,"time":1795597202000,"msg":"boom","err":{"message":"bad"}}')
    assert pino is not None and pino.severity == "error" and pino.message == "boom: bad"
    info = parse_structured('{"level":"info","msg":"error budget report"}')
    assert info is not None and info.has_level and info.severity is None
    ecs = parse_structured('{"log":{"level":"warn"},"message":"slow"}')
    assert ecs is not None and ecs.severity == "warning"
    logfmt = parse_structured('time="t" level=error msg="Error while starting" error="bind: in use"')
    assert logfmt is not None and logfmt.severity == "error"
    assert logfmt.message == "Error while starting: bind: in use"
    assert parse_structured("{not json") is None


def test_json_and_logfmt_events() -> None:
    analysis = analyse(lines_from_text(F.JSON_LOGS + F.LOGFMT))
    summary = [(e.kind, e.severity) for e in analysis.events]
    assert summary == [("json", "error"), ("node", "error"), ("json", "warning"), ("logfmt", "error")]
    templates = [analysis.templates[e.template_key].template for e in analysis.events]
    assert templates[0] == "query failed: dial tcp <IP>: connect: connection refused"


def test_every_format_fixture_yields_its_errors() -> None:
    expected = {
        "MYSQL": (2, 1),
        "REDIS": (2, 1),
        "REDIS_CLIENT": (2, 0),
        "NGINX_ERROR": (1, 1),
        "POSTGRES": (3, 0),
    }
    for name, (errors, warnings) in expected.items():
        analysis = analyse(lines_from_text(getattr(F, name)))
        assert (len(analysis.errors), len(analysis.warnings)) == (errors, warnings), name


@pytest.mark.parametrize(
    ("masked", "collapsed"),
    [
        ("ask <IP> to delete <NUM> <NUM> <NUM>", "ask <IP> to delete <NUM>"),
        ('<IP>,<IP> "GET /"', '<IP> "GET /"'),
        ("from <NUM> to <NUM>", "from <NUM> to <NUM>"),  # not a list: words between
        ("<NUM> <HEX>", "<NUM> <HEX>"),  # different kinds of value
        # a value at the end of a query, then "HTTP/1.1": the list must start a token
        ('"GET <PATH>?since=<NUM> <NUM>" status', '"GET <PATH>?since=<NUM> <NUM>" status'),
    ],
)
def test_lists_of_one_kind_of_value_count_as_one(masked: str, collapsed: str) -> None:
    assert collapse_lists(masked) == collapsed


def test_pipes_delimit_numbers() -> None:
    assert mask("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579") == (
        "<NUM><TS>:<NUM>|Step_LSC|<NUM>|onStandStepChanged <NUM>"
    )


def test_hosts_are_masked_line_by_line_in_a_batch() -> None:
    texts = ["fetch www.example.com ok", "shop.jobs: done", "to db.internal:5432 and localhost:8080", "x"]
    assert mask_many(texts) == ["fetch <HOST> ok", "shop.jobs: done", "to <HOST> and <HOST>", "x"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail", "GET <PATH>"),
        ("opened file=/var/lib/app/8/data.db, ok", "opened file=<PATH>, ok"),
        (r"Core: C:\Windows\winsxs\amd64_6.1.7601\cbscore.dll", "Core: <PATH>"),
        ("read /etc/nginx/nginx.conf", "read /etc/nginx/nginx.conf"),  # no number: kept
        ("GET /health", "GET /health"),
    ],
)
def test_paths_with_numbers_are_one_value(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("through proxy SOCKS5", "through proxy SOCKS5"),  # names with a digit stay words
        ("HTTP2 MD5 (UTF8) x=SOCKS4", "HTTP2 MD5 (UTF8) x=SOCKS4"),
        ("HTTP/1.1 v1.2 blk_12 node12 R02 job00042 ABC123", "<NUM> <NUM> <NUM> <NUM> <NUM> <NUM> <NUM>"),
    ],
)
def test_names_with_a_digit_are_words_but_versions_and_ids_are_numbers(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    ("masked", "joined"),
    [
        ("done in <NUM> ms", "done in <NUM>ms"),  # as if written "12ms"
        ("lifetime <<NUM> sec", "lifetime <NUM>sec"),
        ("<NUM> bytes (<NUM> KB) sent", "<NUM> bytes sent"),  # the restated size is dropped
        ("f(<NUM>) <NUM> items (<NUM> new)", "f(<NUM>) <NUM> items (<NUM> new)"),  # not a restatement
    ],
)
def test_a_value_written_in_parts_is_one_value(masked: str, joined: str) -> None:
    assert join_value_parts(masked) == joined
