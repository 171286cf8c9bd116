"""What InfraGuardian never changes: the one definition of protected names, images, labels,
networks and data volumes, shared by both layers that refuse.

- `mcp_server.safety.protection` applies all of it to every action the server may take, plus the
  names, volumes and database images the settings add;
- `docker_ops` applies `builtin_reason` itself, so a direct caller of `docker_ops.actions` cannot
  stop or kill Dokploy, Traefik or InfraGuardian either, and `inventory` groups Dokploy's own
  services and containers by the names below.

This module imports nothing from the project, so both layers import it without a cycle (and safety
does not pull in the Docker SDK through it). tests/test_protected.py checks the two layers classify
alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SELF_LABEL = "io.infraguardian.self"
"""`io.infraguardian.self=true` on InfraGuardian's own containers."""

DOKPLOY_PREFIX = "dokploy"
"""Anything named `dokploy*` (or an image under `dokploy/`) is Dokploy itself."""
TRAEFIK = "traefik"
"""Anything whose name contains `traefik`, and images `traefik*`, is the ingress of every app."""

DOKPLOY_SYSTEM_SERVICES = frozenset({"dokploy", "dokploy-postgres", "dokploy-redis", "dokploy-monitoring"})
"""Dokploy's own swarm services (all match DOKPLOY_PREFIX); the inventory groups them as dokploy_system."""
DOKPLOY_SYSTEM_CONTAINERS = frozenset({"dokploy-traefik"})
"""Dokploy's plain containers: its Traefik, the reverse proxy of every site."""

DOCKER_NETWORKS = frozenset({"bridge", "host", "none", "ingress", "docker_gwbridge"})
"""Docker's own networks."""

DATABASE_IMAGES = (
    "postgres",
    "postgis",
    "timescale",
    "pgvector",
    "mysql",
    "mariadb",
    "percona",
    "mongo",
    "redis",
    "valkey",
    "keydb",
    "dragonfly",
    "clickhouse",
    "couchdb",
    "influxdb",
    "elasticsearch",
    "opensearch",
    "cassandra",
    "scylla",
    "neo4j",
    "cockroach",
    "meilisearch",
    "qdrant",
    "minio",
)
"""Image names (last path part, prefix match) whose volumes hold a database's data."""

# Volume names that say "database" (templates use pgdata, db, mysql, redis_data, zulipPostgresData …)
_DATABASE_WORDS = re.compile(
    r"(postgres|pgdata|mysql|mariadb|mongo|redis|valkey|keydb|clickhouse|timescale|couchdb|influx|"
    r"elastic|opensearch|meili|qdrant|database)"
)
_DB_TOKEN = re.compile(r"(^|[-_.])(db|pg|sql|data)([-_.]|$)")


def image_name(reference: str) -> str:
    """`ghcr.io/acme/traefik-forward:1.2@sha256:…` → `traefik-forward` (last path part, no tag)."""
    ref = reference.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def image_path(reference: str) -> list[str]:
    """`docker.io/dokploy/dokploy:v0.30@sha256:…` → `["docker.io", "dokploy", "dokploy"]`."""
    ref = reference.split("@", 1)[0].lower()
    head, _, last = ref.rpartition("/")
    return [*(head.split("/") if head else []), last.split(":", 1)[0]]


def is_database_image(reference: str, extra_images: Iterable[str] = ()) -> bool:
    """True for an image whose name starts like a database's (DATABASE_IMAGES, plus `extra_images`)."""
    name = image_name(reference)
    return any(name.startswith(db) for db in (*DATABASE_IMAGES, *extra_images))


def looks_like_data_volume(name: str) -> bool:
    """True for a volume name that says database or data (`pgdata`, `app-db`, `<appName>-data`)."""
    name = name.lower()
    return bool(_DATABASE_WORDS.search(name) or _DB_TOKEN.search(name) or name.endswith("data"))


def builtin_reason(
    names: Iterable[str],
    image: str | None = None,
    labels: Mapping[str, str] | None = None,
    *,
    image_target: str | None = None,
) -> str | None:
    """Why an object is Dokploy, Traefik or InfraGuardian (so nothing may change it), or None.

    `names`: every name it goes by, lower-case (own name, compose project/service, swarm service,
    stack); `image`: the image it runs; `labels`: its labels; `image_target`: the reference when the
    object is itself an image.
    """
    names = list(names)
    if any(n.startswith(DOKPLOY_PREFIX) for n in (*names, *image_path(image or ""))):
        return "it is part of Dokploy itself"
    if any(TRAEFIK in n for n in names) or (image and image_name(image).startswith(TRAEFIK)):
        return "it is Traefik, the ingress of every app"
    if image_target and image_name(image_target).startswith((TRAEFIK, DOKPLOY_PREFIX)):
        return "it is an image Dokploy or Traefik runs on"
    if (labels or {}).get(SELF_LABEL, "").strip().lower() == "true":
        return "it is InfraGuardian itself"
    return None
