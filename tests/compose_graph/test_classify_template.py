"""Image classification, and the `.env` rebuilt from a Dokploy template.toml."""

from __future__ import annotations

import pytest

from mcp_server.compose_graph import KINDS, classify_image
from mcp_server.compose_graph.classify import image_name
from mcp_server.compose_graph.dokploy_template import TemplateError, read_template
from mcp_server.compose_graph.dotenv import parse_env_file
from tests.conftest import SHARED


@pytest.mark.parametrize(
    ("image", "kind", "product"),
    [
        ("postgres:16-alpine", "database", "postgres"),
        ("docker.io/bitnami/postgresql:15", "database", "postgresql"),
        ("pgvector/pgvector:pg16", "database", "pgvector"),
        ("mysql:8", "database", "mysql"),
        ("mariadb:11@sha256:abc", "database", "mariadb"),
        ("mongo:7", "database", "mongo"),
        ("clickhouse/clickhouse-server:24", "database", "clickhouse"),
        ("mcr.microsoft.com/mssql/server:2022-latest", "database", "mssql"),
        ("redis:7", "cache", "redis"),
        ("valkey/valkey:8", "cache", "valkey"),
        ("memcached:1.6", "cache", "memcached"),
        ("rabbitmq:3-management", "queue", "rabbitmq"),
        ("confluentinc/cp-kafka:7.6", "queue", "kafka"),
        ("nats:2", "queue", "nats"),
        ("docker.elastic.co/elasticsearch/elasticsearch:8.13.0", "search", "elasticsearch"),
        ("getmeili/meilisearch:v1.8", "search", "meilisearch"),
        ("qdrant/qdrant", "vector-db", "qdrant"),
        ("cr.weaviate.io/semitechnologies/weaviate:1.25", "vector-db", "weaviate"),
        ("chromadb/chroma:0.5", "vector-db", "chroma"),
        ("milvusdb/milvus:v2.4", "vector-db", "milvus"),
        ("minio/minio:RELEASE.2024", "storage", "minio"),
        ("traefik:v3", "proxy", "traefik"),
        ("nginx", "proxy", "nginx"),
        ("caddy:2-alpine", "proxy", "caddy"),
        ("localhost:5000/nginx:latest", "proxy", "nginx"),
        ("mongo-express:1", "app", None),
        ("prometheuscommunity/postgres-exporter", "app", None),
        ("dpage/pgadmin4", "app", None),
        ("rediscommander/redis-commander", "app", None),
        ("ghcr.io/acme/website:1", "app", None),
        (None, "app", None),
        ("", "app", None),
    ],
)
def test_classify_image(image: str | None, kind: str, product: str | None) -> None:
    result = classify_image(image)
    assert (result.kind, result.product) == (kind, product)
    assert result.kind in KINDS


def test_image_name_drops_registry_tag_and_digest() -> None:
    assert image_name("registry.example.com:5000/team/api:1.2@sha256:00") == "team/api"
    assert image_name("library/redis") == "library/redis"


TEMPLATE = """
[variables]
main_domain = "${domain}"
db_password = "${password:24}"
secret = "${base64:32}"
short = "${hash:6}"
port = 5432
url = "postgres://app:${db_password}@db:5432/app"

[config]
[config.env]
DB_PASSWORD = "${db_password}"
DATABASE_URL = "${url}"
PUBLIC = "https://${main_domain}"
DEBUG = true
WORKERS = 4
RAW = "${not_a_variable}"
"""


def test_template_variables_and_env_are_processed_like_dokploy() -> None:
    template = read_template(TEMPLATE, app_name="demo")
    assert len(template.variables["db_password"]) == 24 and template.variables["db_password"].isalnum()
    assert "port" not in template.variables  # non-string variables are dropped, as in Dokploy
    assert template.variables["url"] == f"postgres://app:{template.variables['db_password']}@db:5432/app"
    env = parse_env_file(template.env_file_text())
    assert env["APP_NAME"] == env["COMPOSE_PROJECT_NAME"] == "demo"
    assert env["DATABASE_URL"] == template.variables["url"]
    assert env["PUBLIC"].startswith("https://demo-") and env["PUBLIC"].endswith(".traefik.me")
    assert (env["DEBUG"], env["WORKERS"], env["RAW"]) == ("true", "4", "")  # ${not_a_variable} is unset
    assert env["DOCKER_CONFIG"] == "/root/.docker"


def test_template_processing_is_deterministic() -> None:
    assert read_template(TEMPLATE).env_lines == read_template(TEMPLATE).env_lines
    assert read_template(TEMPLATE, seed="other").env_lines != read_template(TEMPLATE).env_lines


def test_env_list_form_and_helpers() -> None:
    text = (
        '[variables]\nk = "${jwt:secret_v}"\nsecret_v = "s"\n'
        '[config]\nenv = ["A=${k}", "B=${uuid}", {C = 1}]\n'
    )
    lines = read_template(text).env_lines
    assert lines[0].startswith("A=") and lines[0].count(".") == 2  # a JWT
    assert len(lines[1]) == len("B=") + 36
    assert lines[2] == "C=1"


@pytest.mark.parametrize("name", ["signoz", "timescaledb", "valkey"])
def test_templates_tomllib_rejects_are_read_like_dokploys_lenient_parser(name: str) -> None:
    text = (SHARED / "corpora" / "dokploy-templates" / name / "template.toml").read_text()
    template = read_template(text)
    assert template.env_lines  # the env survives; only file mounts were unreadable


def test_broken_template_outside_mounts_is_an_error() -> None:
    with pytest.raises(TemplateError, match="not valid TOML"):
        read_template("[variables]\nx = \n")
