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

The names, images, labels and patterns are defined once, in `mcp_server.protected`, which
docker_ops' own guard uses too; this module adds the settings and the Dokploy API rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from mcp_server.protected import DOCKER_NETWORKS, builtin_reason, looks_like_data_volume
from mcp_server.protected import is_database_image as _is_database_image
from mcp_server.safety.settings import SafetySettings
from mcp_server.safety.targets import Target

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


def is_database_image(reference: str, settings: SafetySettings) -> bool:
    return _is_database_image(reference, settings.extra_database_images)


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def _builtin_reason(target: Target) -> str | None:
    image_target = target.name if target.kind == "image" else None
    return builtin_reason(target.names(), target.image, target.labels, image_target=image_target)


def _volume_reason(target: Target, settings: SafetySettings) -> str | None:
    name = (target.name or "").lower()
    images = [i for i in (*target.used_by_images, target.image or "") if i]
    if any(is_database_image(i, settings) for i in images):
        return "it holds a database's data"
    if looks_like_data_volume(name):
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
