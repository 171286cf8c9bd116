"""Byte-level formats the stand-in reproduces: log boxes, ETags, ids, YAML rewriting, zod flatten."""

from __future__ import annotations

import re

import pytest

from mcp_server.dokploy.openapi import OperationTable
from standins.dokploy.boxen import compose_summary_box, string_width
from standins.dokploy.compose_files import ComposeFileError, convert_compose, env_file, load_compose
from standins.dokploy.ids import build_app_name, nanoid, now_iso
from standins.dokploy.responses import next_etag
from standins.dokploy.validation import query_input, validate_input
from standins.dokploy.world import DEFAULT_OPENAPI_PATH

from .replay import all_capture_names, load_capture


def _captured_boxes() -> list[tuple[str, str]]:
    out = []
    for name in all_capture_names():
        if not name.startswith("deployment.readLogs--"):
            continue
        body = load_capture(name)["response"]["body"]
        if isinstance(body, str) and "╔" in body:
            out.append((name, body[body.index("╔") : body.index("╝") + 1]))
    return out


@pytest.mark.parametrize(("name", "box"), _captured_boxes(), ids=[n for n, _ in _captured_boxes()])
def test_log_box_is_byte_identical_to_dokploy(name: str, box: str) -> None:
    app = re.search(r"App Name: (\S+)", box)
    assert app is not None
    app_name = app.group(1)
    stack = "stack deploy" in box
    command = (
        f"stack deploy -c docker-compose.yml {app_name} --prune --with-registry-auth"
        if stack
        else f"compose -p {app_name} -f docker-compose.yml up -d --build --remove-orphans"
    )
    assert compose_summary_box(app_name, command, "raw", "stack" if stack else "docker-compose") == box


def test_emoji_take_two_columns() -> None:
    assert string_width("Build Compose 🐳") == 16
    assert string_width("ok ✅") == 5


@pytest.mark.parametrize(
    "name",
    [
        "nextapi.health--no-auth",
        "project.all--no-api-key",
        "webhook.deploy-compose--raw-ok",
        "webhook.deploy-compose--unknown-token",
        "webhook.deploy-application--unknown-token",
    ],
)
def test_etag_matches_nextjs(name: str) -> None:
    capture = load_capture(name)["response"]
    etag = dict(capture["all_headers"])["ETag"]
    import json

    payload = json.dumps(capture["body"], separators=(",", ":"), ensure_ascii=False)
    assert next_etag(payload) == etag


def test_ids_names_and_timestamps_have_dokploy_formats() -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{21}", nanoid())
    assert re.fullmatch(r"capdemo-[a-z0-9]{6}", build_app_name("compose", "capdemo"))
    assert re.fullmatch(r"my-app-[a-z0-9]{6}", build_app_name("compose", " My App"))
    assert re.fullmatch(r"app-[a-z0-9 -]+-[a-z0-9]{6}", build_app_name("app", None))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now_iso())


def _compose(text: str, **extra: object) -> dict[str, object]:
    return {
        "composeFile": text,
        "appName": "demo-abc123",
        "composeType": "docker-compose",
        "isolatedDeployment": False,
        "env": None,
        **extra,
    }


def test_written_compose_matches_dokploy_dump() -> None:
    capture = load_capture("deployment.logfile--deploy-ok")
    source = load_capture("compose.update--composeFile")["request"]["body"]["composeFile"]
    assert convert_compose(_compose(source), []) == capture["written_files"]["docker-compose.yml"]


def test_yaml_keeps_yaml_1_2_strings() -> None:
    text = "services:\n  a:\n    image: x\n    ports: [22:22]\n    environment:\n      A: yes\n      B: on\n"
    out = convert_compose(_compose(text), [])
    assert "- 22:22" in out and "A: yes" in out and "B: on" in out


def test_broken_yaml_reports_line_and_column() -> None:
    with pytest.raises(
        ComposeFileError, match=r"at line 4, column 4:\n\n    image: ig/busybox:test\n   command"
    ):
        load_compose("services:\n  db:\n    image: ig/busybox:test\n   command: [unclosed\n  api: {\n")


def test_domain_without_service_name_fails_like_dokploy() -> None:
    domain = {"host": "api.example.test", "serviceName": None}
    with pytest.raises(ComposeFileError, match=r'^Domain "api\.example\.test" is missing a service name$'):
        convert_compose(_compose("services:\n  api:\n    image: x\n"), [domain])


def test_isolated_deployment_matches_captured_conversion() -> None:
    capture = load_capture("compose.getConvertedCompose--isolated")["response"]["body"]
    text = (
        'services:\n  web:\n    image: ig/busybox:test\n    command: sh -c "sleep 3600"\n'
        "    volumes:\n      - data:/data\nvolumes:\n  data: {}\n"
    )
    converted = convert_compose(_compose(text, appName="caphook-xz1bq8", isolatedDeployment=True), [])
    assert converted == capture


def test_env_file_matches_capture() -> None:
    capture = load_capture("deployment.logfile--deploy-ok")["written_files"][".env"]
    assert env_file(_compose("", appName="capdemo-qiqp6p"), "/root/.docker") == capture
    with_env = env_file(_compose("", appName="x-1", env="FOO=bar\n\nBAZ=1"), "/root/.docker")
    assert with_env.splitlines() == [
        'APP_NAME="x-1"',
        'COMPOSE_PROJECT_NAME="x-1"',
        "FOO=bar",
        "BAZ=1",
        'DOCKER_CONFIG="/root/.docker"',
    ]


@pytest.fixture(scope="module")
def table() -> OperationTable:
    return OperationTable.from_file(DEFAULT_OPENAPI_PATH)


@pytest.mark.parametrize(
    "name",
    [
        "deployment.readLogs--tail-not-a-number",
        "project.one--repeated-query-key",
        "project.one--empty-id",
        "deployment.all--missing-applicationId",
        "compose.one--validation-missing-id",
    ],
)
def test_query_validation_matches_captured_zod_errors(table: OperationTable, name: str) -> None:
    capture = load_capture(name)
    request, body = capture["request"], capture["response"]["body"]
    op = table.get(request["path"].removeprefix("/api/"))
    from urllib.parse import urlencode

    query = urlencode(
        [
            (k, v)
            for k, vals in (request["query"] or {}).items()
            for v in (vals if isinstance(vals, list) else [vals])
        ]
    ).encode()
    failure = validate_input(table, op, query_input(op, query))
    assert failure is not None
    assert failure.issues == body["issues"]
    assert failure.zod_error == body["data"]["zodError"]
