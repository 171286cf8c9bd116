"""Implicit dependencies: found where a host stands, never inside other words; with evidence."""

from __future__ import annotations

import json

import pytest

from mcp_server.compose_graph import ComposeGraph
from mcp_server.compose_graph.dokploy_template import read_template
from tests.conftest import SHARED

TARGETS = ["db", "redis", "api", "mongo", "rabbitmq", "web", "search"]


def _implicit(environment: dict[str, str] | None = None, **service: object) -> list[tuple[str, str, str]]:
    """Implicit deps of service `app` among TARGETS, as (service, evidence, source)."""
    services: dict[str, object] = {name: {"image": "busybox"} for name in TARGETS}
    services["app"] = {"image": "busybox", "environment": environment or {}, **service}
    graph = ComposeGraph.from_text(json.dumps({"services": services}))
    return [(d.service, d.evidence, d.source) for d in graph.implicit_dependencies("app")]


@pytest.mark.parametrize(
    ("key", "value", "service"),
    [
        ("DATABASE_URL", "postgres://user:pw@db:5432/x", "db"),
        ("REDIS_HOST", "redis", "redis"),
        ("API_BASE", "http://api:8000", "api"),
        ("MONGO", "mongodb://mongo:27017", "mongo"),
        ("BROKER", "amqp://rabbitmq", "rabbitmq"),
        ("PG", "db:5432", "db"),
        ("MYSQL_DSN", "user:pass@tcp(db:3306)/app", "db"),
        ("REPLICAS", "mongodb://u:p@web:27017,mongo:27017/x?replicaSet=rs", "mongo"),
        ("SEARCH_HOSTS", "search, web", "search"),
        ("UPSTREAM_ADDR", "api:8000", "api"),
        ("database__connection__host", "db", "db"),
        ("PROXY", "http://user:12345@web:3128", "web"),
        ("MIXED_CASE", "HTTP://API:8000/", "api"),
    ],
)
def test_hosts_are_found(key: str, value: str, service: str) -> None:
    assert (service, key, "environment") in _implicit({key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SITE", "https://website.com"),
        ("ROOT", "/srv/web/static"),
        ("USER", "web_user"),
        ("PUBLIC_URL", "https://web.example.com"),
        ("IMAGE", "redis:7"),
        ("GREETING", "say db please"),  # bare word, key is not a host key
        ("CRON", "10:30"),
        ("CREDENTIALS", "db:12345@elsewhere"),  # user:password@host, not db:port
        ("WEB_HOST", "webhost"),
        ("PATH_LIKE", "api/v1:8000"),
        ("TAGGED", "registry/api:1.2"),
    ],
)
def test_no_false_positives(key: str, value: str) -> None:
    assert _implicit({key: value}) == []


def test_self_reference_and_explicit_duplicates_are_dropped() -> None:
    services = {
        "db": {"image": "postgres", "environment": {"PGHOST": "db"}},
        "app": {
            "image": "busybox",
            "depends_on": ["db"],
            "environment": {"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://redis"},
        },
        "redis": {"image": "redis"},
    }
    graph = ComposeGraph.from_text(json.dumps({"services": services}))
    assert graph.implicit_dependencies("db") == []
    assert [(d.service, d.evidence) for d in graph.implicit_dependencies("app")] == [("redis", "REDIS_URL")]


def test_container_names_and_network_aliases_count_as_hosts() -> None:
    services = {
        "database": {"image": "postgres", "container_name": "pg-main"},
        "cache": {"image": "redis", "networks": {"default": {"aliases": ["kv"]}}},
        "app": {"image": "x", "environment": ["PGHOST=pg-main", "KV_URL=redis://kv:6379"]},
    }
    graph = ComposeGraph.from_text(json.dumps({"services": services}))
    assert [(d.service, d.evidence) for d in graph.implicit_dependencies("app")] == [
        ("database", "PGHOST"),
        ("cache", "KV_URL"),
    ]


@pytest.mark.parametrize(
    ("command", "service", "evidence"),
    [
        ("sh -c 'wait-for-it db:5432 && exec app'", "db", "db:5432"),
        (["pg_isready", "-h", "db"], "db", "-h db"),
        (["app", "--redis-host=redis"], "redis", "--redis-host=redis"),
        (["curl", "-fsS", "http://api:8000/health"], "api", "http://api:8000/health"),
        ("app --api-host api --port 1", "api", "--api-host api"),
    ],
)
def test_commands_are_searched(command: str | list[str], service: str, evidence: str) -> None:
    assert (service, evidence, "command") in _implicit(command=command)


def test_entrypoint_is_searched_and_plain_words_are_not() -> None:
    found = _implicit(entrypoint=["/bin/sh", "-c", "echo web db search; exec app amqp://rabbitmq"])
    assert found == [("rabbitmq", "amqp://rabbitmq", "entrypoint")]


def test_real_templates() -> None:
    corpus = SHARED / "corpora" / "dokploy-templates"

    def implicit(name: str, service: str) -> set[tuple[str, str]]:
        env = read_template((corpus / name / "template.toml").read_text()).env_file_text()
        graph = ComposeGraph.from_text((corpus / name / "docker-compose.yml").read_text(), env_file_text=env)
        return {(d.service, d.evidence) for d in graph.implicit_dependencies(service)}

    assert implicit("ackee", "ackee") == {("mongo", "ACKEE_MONGODB")}  # value comes from .env
    assert ("ollama", "OLLAMA_HOST") in implicit("n8n-runner-postgres-ollama", "n8n")
    assert implicit("seaweedfs", "s3") == {("filer", "-filer=filer:8888")}
    assert implicit("activepieces", "activepieces") == set()  # hosts named, but declared in depends_on
