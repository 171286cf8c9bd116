"""Say what a service is from its image name: database, cache, queue, search, vector-db,
storage (object storage such as MinIO), proxy, or app (everything else).

Only the image *name* is used (registry, tag and digest are dropped), split into words on
`/ - _ .`: `docker.io/bitnami/postgresql:16` -> postgresql -> database. Images that merely
carry a product's name but are tools around it (mongo-express, postgres-exporter,
redis-commander, pgadmin…) are apps: a helper word such as `exporter`, `admin`, `ui`,
`express`, `backup` in the last name part wins over the product word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("database", "cache", "queue", "search", "vector-db", "storage", "proxy", "app")

# product word -> kind. Words are matched against the parts of the last path component.
_PRODUCTS: dict[str, str] = {
    # databases
    "postgres": "database",
    "postgresql": "database",
    "postgis": "database",
    "pgvector": "database",
    "timescaledb": "database",
    "mysql": "database",
    "mariadb": "database",
    "percona": "database",
    "mongo": "database",
    "mongodb": "database",
    "clickhouse": "database",
    "cockroach": "database",
    "couchdb": "database",
    "cassandra": "database",
    "scylla": "database",
    "influxdb": "database",
    "questdb": "database",
    "neo4j": "database",
    "surrealdb": "database",
    "rethinkdb": "database",
    "arangodb": "database",
    "mssql": "database",
    "ferretdb": "database",
    "libsql": "database",
    "etcd": "database",
    "victoria": "database",
    "victoriametrics": "database",
    # caches
    "redis": "cache",
    "valkey": "cache",
    "keydb": "cache",
    "dragonfly": "cache",
    "memcached": "cache",
    "varnish": "cache",
    # queues and brokers
    "rabbitmq": "queue",
    "kafka": "queue",
    "redpanda": "queue",
    "nats": "queue",
    "activemq": "queue",
    "artemis": "queue",
    "mosquitto": "queue",
    "emqx": "queue",
    "beanstalkd": "queue",
    "nsq": "queue",
    "pulsar": "queue",
    # search
    "elasticsearch": "search",
    "opensearch": "search",
    "meilisearch": "search",
    "typesense": "search",
    "solr": "search",
    "manticoresearch": "search",
    "zincsearch": "search",
    "quickwit": "search",
    # vector databases
    "qdrant": "vector-db",
    "weaviate": "vector-db",
    "chroma": "vector-db",
    "chromadb": "vector-db",
    "milvus": "vector-db",
    # object storage
    "minio": "storage",
    "seaweedfs": "storage",
    "garage": "storage",
    # proxies
    "traefik": "proxy",
    "nginx": "proxy",
    "caddy": "proxy",
    "haproxy": "proxy",
    "envoy": "proxy",
    "openresty": "proxy",
    "cloudflared": "proxy",
    "tailscale": "proxy",
    "proxy": "proxy",
}

# Only a namespace: checked when the last part of the name says nothing.
_NAMESPACE_PRODUCTS = {"mssql": "database"}

# Helper words: an image named like this is a tool *about* the product, hence an app.
_HELPERS = {
    "exporter",
    "admin",
    "pgadmin",
    "pgadmin4",
    "phpmyadmin",
    "adminer",
    "ui",
    "gui",
    "web",
    "express",
    "commander",
    "insight",
    "redisinsight",
    "dashboard",
    "backup",
    "backups",
    "operator",
    "exporters",
    "kibana",
    "metrics",
    "studio",
    "client",
    "cli",
    "console",
    "init",
    "migrate",
    "migrations",
    "setup",
}

_SPLIT = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class Classification:
    """`kind` is one of KINDS; `product` is the word that decided it (None for plain apps)."""

    kind: str
    product: str | None


def image_name(image: str) -> str:
    """`registry:5000/ns/name:tag@sha256:…` -> `ns/name` (lower case, no registry/tag/digest)."""
    name = image.split("@", 1)[0].lower()
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # first part is a registry host
    last = parts[-1].split(":", 1)[0]
    return "/".join([*parts[:-1], last])


def classify_image(image: str | None) -> Classification:
    """Classify one image reference; None (build-only service) is an app."""
    if not image:
        return Classification("app", None)
    parts = image_name(image).split("/")
    last_words = [w for w in _SPLIT.split(parts[-1]) if w]
    if any(word in _HELPERS for word in last_words):
        return Classification("app", None)
    for word in last_words:
        if word in _PRODUCTS:
            return Classification(_PRODUCTS[word], word)
    # products whose image has a generic last name (mcr.microsoft.com/mssql/server)
    for part in parts[:-1]:
        if part in _NAMESPACE_PRODUCTS:
            return Classification(_NAMESPACE_PRODUCTS[part], part)
    return Classification("app", None)
