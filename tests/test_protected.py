"""One definition of what is protected: docker_ops' own guard, the inventory and the safety layer
classify the same objects the same way, because all take their names from mcp_server.protected."""

from __future__ import annotations

from typing import Any

import pytest
from docker.models.containers import Container

from mcp_server import protected
from mcp_server.docker_ops.actions import _check_action, _protection_reason
from mcp_server.docker_ops.host import ActionRefused
from mcp_server.docker_ops.inventory import RawInventory, build_inventory
from mcp_server.safety import SafetySettings, Target, protection_reason

# (container name, image, labels): Dokploy, Traefik, InfraGuardian and ordinary apps
CONTAINERS: list[tuple[str, str, dict[str, str]]] = [
    ("dokploy-traefik", "traefik:v3.1", {}),
    ("dokploy.1.abc", "dokploy/dokploy:v0.30", {"com.docker.swarm.service.name": "dokploy"}),
    ("dokploy-postgres.1.x", "postgres:16", {"com.docker.swarm.service.name": "dokploy-postgres"}),
    ("dokploy-redis.1.y", "redis:7", {"com.docker.swarm.service.name": "dokploy-redis"}),
    ("edge", "traefik:v2.11", {}),
    ("forward-auth", "ghcr.io/acme/traefik-forward-auth:2", {}),
    (
        "shop-traefik-1",
        "nginx",
        {"com.docker.compose.project": "shop", "com.docker.compose.service": "traefik"},
    ),
    ("x-proxy-1", "nginx", {"com.docker.compose.project": "dokploy-extra"}),
    ("stack_web.1.z", "nginx", {"com.docker.stack.namespace": "traefik-stack"}),
    ("agent", "busybox", {protected.SELF_LABEL: "true"}),
    ("agent2", "busybox", {protected.SELF_LABEL: " TRUE "}),
    ("not-self", "busybox", {protected.SELF_LABEL: "false"}),
    ("shop-api-1", "shop/api:1", {"com.docker.compose.project": "shop", "com.docker.compose.service": "api"}),
    ("shop-db-1", "postgres:16", {"com.docker.compose.project": "shop", "com.docker.compose.service": "db"}),
    ("blog", "ghost:5", {}),
    ("my-dokploy-notes", "nginx", {}),  # "dokploy" not at the start: an ordinary app
]


def container(name: str, image: str, labels: dict[str, str]) -> Container:
    return Container(
        attrs={
            "Id": "0" * 64,
            "Name": f"/{name}",
            "State": {"Status": "running"},
            "Config": {"Image": image, "Labels": labels},
        }
    )


def safety_reason(name: str, image: str, labels: dict[str, str]) -> str | None:
    # only the built-in rules: the settings' own additions (self_names, extra names) are safety's alone
    bare = SafetySettings(self_names=[])
    return protection_reason(Target(kind="container", name=name, image=image, labels=labels), bare)


@pytest.mark.parametrize(("name", "image", "labels"), CONTAINERS, ids=[c[0] for c in CONTAINERS])
def test_docker_ops_and_safety_protect_the_same_containers(
    name: str, image: str, labels: dict[str, str]
) -> None:
    by_docker_ops = _protection_reason(container(name, image, labels))
    by_safety = safety_reason(name, image, labels)
    assert (by_docker_ops is None) == (by_safety is None), (by_docker_ops, by_safety)


def test_the_sample_has_both_kinds() -> None:
    verdicts = [_protection_reason(container(*c)) is None for c in CONTAINERS]
    assert verdicts.count(True) == 5 and verdicts.count(False) == len(CONTAINERS) - 5


def test_docker_ops_refuses_to_stop_what_safety_protects_unless_allowed() -> None:
    self_container = container("guardian", "busybox", {protected.SELF_LABEL: "true"})
    with pytest.raises(
        ActionRefused, match="refusing to kill guardian: guardian: it is InfraGuardian itself"
    ):
        _check_action(self_container, "kill", "SIGKILL", False)
    _check_action(self_container, "kill", "SIGKILL", True)  # a human asked: allowed
    _check_action(self_container, "restart", "SIGKILL", False)  # restart is not refused
    with pytest.raises(ActionRefused, match="Traefik, the ingress"):
        _check_action(container("edge", "traefik:v3", {}), "stop", "SIGKILL", False)


def test_every_dokploy_system_name_is_protected_and_grouped_as_dokploy() -> None:
    for service in protected.DOKPLOY_SYSTEM_SERVICES:
        assert protection_reason(Target(kind="swarm_service", name=service), SafetySettings(self_names=[]))
    for name in protected.DOKPLOY_SYSTEM_CONTAINERS:
        assert protection_reason(Target(kind="container", name=name), SafetySettings(self_names=[]))
    services: list[dict[str, Any]] = [
        {"ID": f"s{i}", "Spec": {"Name": name, "Labels": {}}}
        for i, name in enumerate(sorted(protected.DOKPLOY_SYSTEM_SERVICES))
    ]
    containers = [
        {
            "Id": f"{i:064d}",
            "Name": f"/{name}",
            "State": {"Status": "running"},
            "Config": {"Labels": {}, "Image": "x"},
        }
        for i, name in enumerate(sorted(protected.DOKPLOY_SYSTEM_CONTAINERS))
    ]
    inv = build_inventory(
        "unix://test", RawInventory(containers=containers, swarm_active=True, services=services)
    )
    grouped = {g.app_name for g in inv.groups if g.kind == "dokploy_system"}
    assert grouped == protected.DOKPLOY_SYSTEM_SERVICES | protected.DOKPLOY_SYSTEM_CONTAINERS


def test_the_self_label_is_one_name() -> None:
    from mcp_server.safety.targets import SELF_LABEL

    assert SELF_LABEL == protected.SELF_LABEL == "io.infraguardian.self"


def test_data_volumes_and_database_images() -> None:
    assert [
        protected.looks_like_data_volume(n) for n in ("app-db-data", "pgdata", "zulipPostgresData", "uploads")
    ] == [
        True,
        True,
        True,
        False,
    ]
    assert protected.is_database_image("docker.io/library/postgres:16")
    assert not protected.is_database_image("ferretdb/ferretdb")
    assert protected.is_database_image("ferretdb/ferretdb", ["ferretdb"])
