"""Protected targets: what no mutation may touch, in any mode.

Built in (cannot be configured away, see settings.py for why):
- Dokploy itself: anything named `dokploy*` (swarm services dokploy, dokploy-postgres,
  dokploy-redis, dokploy-monitoring, the dokploy-traefik container, the dokploy-network) and images
  `dokploy/*`;
- Traefik: images `traefik*` and anything whose name contains "traefik";
- InfraGuardian itself: label `io.infraguardian.self=true` (and the `self_names` patterns);
- database and data volumes: volumes of database images, names ending `-data`/`_data` (Dokploy names
  its database volumes `<appName>-data`), names mentioning a database;
- Docker's own networks (bridge, host, none, ingress, docker_gwbridge);
- Dokploy API procedures that reconfigure Dokploy or Traefik or can delete volumes.
Settings add more names, volumes and database images.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from mcp_server.safety.settings import SafetySettings
from mcp_server.safety.targets import SELF_LABEL, Target

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
# Volume names that say "database" (templates use pgdata, db, mysql, redis_data, zulipPostgresData …)
_DATABASE_WORDS = re.compile(
    r"(postgres|pgdata|mysql|mariadb|mongo|redis|valkey|keydb|clickhouse|timescale|couchdb|influx|"
    r"elastic|opensearch|meili|qdrant|database)"
)
_DB_TOKEN = re.compile(r"(^|[-_.])(db|pg|sql|data)([-_.]|$)")
DOCKER_NETWORKS = frozenset({"bridge", "host", "none", "ingress", "docker_gwbridge"})

# Dokploy routers whose mutations change Dokploy itself (its settings, users, servers, Traefik).
_DOKPLOY_SELF_ROUTERS = frozenset(
    {
        "settings",
        "admin",
        "server",
        "cluster",
        "swarm",
        "user",
        "organization",
        "sso",
        "scim",
        "licensekey",
        "stripe",
        "whitelabeling",
        "customrole",
        "auditlog",
        "forwardauth",
    }
)
_DATABASE_ROUTERS = frozenset({"postgres", "mysql", "mariadb", "mongo", "redis", "libsql"})
# input fields of Dokploy procedures that name Docker objects
_NAME_FIELDS = ("appName", "containerId", "containerName", "serviceName", "volumeName")


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


def is_database_image(reference: str, settings: SafetySettings) -> bool:
    name = image_name(reference)
    return any(name.startswith(db) for db in (*DATABASE_IMAGES, *settings.extra_database_images))


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def _builtin_reason(target: Target) -> str | None:
    names = target.names()
    image = target.image or ""
    if any(n.startswith("dokploy") for n in (*names, *image_path(image))):
        return "it is part of Dokploy itself"
    if any("traefik" in n for n in names) or (image and image_name(image).startswith("traefik")):
        return "it is Traefik, the ingress of every app"
    if target.kind == "image" and target.name and image_name(target.name).startswith(("traefik", "dokploy")):
        return "it is an image Dokploy or Traefik runs on"
    if target.labels.get(SELF_LABEL, "").strip().lower() == "true":
        return "it is InfraGuardian itself"
    return None


def _volume_reason(target: Target, settings: SafetySettings) -> str | None:
    name = (target.name or "").lower()
    images = [i for i in (*target.used_by_images, target.image or "") if i]
    if any(is_database_image(i, settings) for i in images):
        return "it holds a database's data"
    if _DATABASE_WORDS.search(name) or _DB_TOKEN.search(name) or name.endswith("data"):
        return "it looks like a database or data volume (data loss cannot be undone)"
    if _matches(name, settings.extra_protected_volumes):
        return "it is a protected volume in the settings"
    return None


def _procedure_reason(target: Target, details: Mapping[str, Any]) -> str | None:
    procedure = (target.name or "").strip()
    router, _, method = procedure.partition(".")
    payload = details.get("input")
    data: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
    if router.lower() in _DOKPLOY_SELF_ROUTERS:
        return f"{router}.* changes Dokploy itself"
    if "traefik" in procedure.lower():
        return "it changes Traefik configuration"
    if router.lower() in _DATABASE_ROUTERS and method == "rebuild":
        return "rebuild deletes the database's volumes"
    if router == "dockerVolume" or data.get("deleteVolumes") is True:
        return "it can delete volumes (use a call without deleteVolumes, or remove a volume by name)"
    for field in _NAME_FIELDS:
        value = data.get(field)
        text = value.lower().lstrip("/") if isinstance(value, str) else ""
        if text.startswith("dokploy") or "traefik" in text:
            return f"its {field} names Dokploy or Traefik"
    return None


def protection_reason(
    target: Target, settings: SafetySettings, details: Mapping[str, Any] | None = None
) -> str | None:
    """Why `target` may not be changed, or None when it may. `details` are the action's details
    (for `dokploy_api` targets: `{"input": {...}}`, the procedure's input)."""
    reason = _builtin_reason(target)
    if reason:
        return reason
    names = target.names()
    if any(_matches(n, settings.self_names) for n in names):
        return "it is InfraGuardian itself"
    if any(_matches(n, settings.extra_protected_names) for n in names):
        return "it is protected in the settings"
    if target.kind == "volume":
        return _volume_reason(target, settings)
    if target.kind == "network" and (target.name or "").lower() in DOCKER_NETWORKS:
        return "it is one of Docker's own networks"
    if target.kind == "dokploy_api":
        return _procedure_reason(target, details or {})
    return None
