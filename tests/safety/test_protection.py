"""Protected targets are refused for every mutation in every mode, admin included."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcp_server.safety import SafetySettings, Target, protection_reason
from tests.safety.conftest import MakeSafety, human_says_yes, request, service

pytestmark = pytest.mark.anyio

PROTECTED = {
    # Dokploy itself
    "swarm service dokploy": Target(kind="swarm_service", name="dokploy"),
    "swarm service dokploy-postgres": Target(kind="swarm_service", name="dokploy-postgres"),
    "swarm service dokploy-redis": Target(kind="swarm_service", name="dokploy-redis"),
    "swarm service dokploy-monitoring": Target(kind="swarm_service", name="dokploy-monitoring"),
    "container dokploy-traefik": Target(kind="container", name="/dokploy-traefik"),
    "any dokploy* name": Target(kind="container", name="Dokploy-Something-Else"),
    "dokploy task container by label": Target(
        kind="container", name="x.1.abc", labels={"com.docker.swarm.service.name": "dokploy"}
    ),
    "dokploy image": Target(kind="container", name="web", image="dokploy/dokploy:v0.30.2"),
    "dokploy image, full reference": Target(
        kind="container", name="m", image="docker.io/dokploy/monitoring:1"
    ),
    "dokploy network": Target(kind="network", name="dokploy-network"),
    "dokploy resource": Target(kind="dokploy_resource", name="dokploy-postgres"),
    # Traefik
    "traefik image, innocent name": Target(kind="container", name="edge-1", image="traefik:v3.6.1"),
    "traefik image with registry": Target(
        kind="container", name="edge-2", image="docker.io/library/traefik@sha256:ab"
    ),
    "name containing traefik": Target(kind="compose_service", project="shop", service="my-traefik-proxy"),
    "traefik image target": Target(kind="image", name="traefik:v3.6"),
    # InfraGuardian itself
    "self label": Target(kind="container", name="watcher", labels={"io.infraguardian.self": "true"}),
    "self default name": Target(kind="compose_project", project="infraguardian-a1b2c3"),
    # database and data volumes
    "dokploy db volume": Target(kind="volume", name="shop-db-x7k2p9-data"),
    "compose _data volume": Target(kind="volume", name="shop_postgres_data"),
    "volume of a postgres service": Target(kind="volume", name="shop_store", used_by_images=["postgres:16"]),
    "volume of bitnami mysql": Target(kind="volume", name="shop_x", used_by_images=["bitnami/mysql:8.4"]),
    "volume of redis": Target(kind="volume", name="cache", used_by_images=["redis:7-alpine"]),
    "volume of mongo": Target(kind="volume", name="m", used_by_images=["mongo:7"]),
    "volume of mariadb": Target(kind="volume", name="m2", used_by_images=["mariadb:11"]),
    "pgdata volume": Target(kind="volume", name="app_pgdata"),
    "db volume": Target(kind="volume", name="paperless-db"),
    "camel case db volume": Target(kind="volume", name="zulipPostgresData"),
    # Docker's own networks
    "ingress network": Target(kind="network", name="ingress"),
}


def action_for(target: Target) -> tuple[str, dict[str, object]]:
    if target.kind in ("volume", "network", "image"):
        return "remove", {}
    return "kill", {}


@pytest.mark.parametrize("label", list(PROTECTED))
async def test_protected_target_refused_in_admin(make_safety: MakeSafety, label: str) -> None:
    target = PROTECTED[label]
    action, details = action_for(target)
    decision = await make_safety("admin").authorize(request(action, target, details=details))
    assert not decision.allowed, label
    assert decision.code == "protected" and decision.escalate
    assert "no mode may change it" in decision.reason and "\n" not in decision.reason


@pytest.mark.parametrize("action", ["restart", "stop", "redeploy", "rollback"])
async def test_operate_actions_on_dokploy_refused(make_safety: MakeSafety, action: str) -> None:
    decision = await make_safety("operate").authorize(
        request(action, Target(kind="swarm_service", name="dokploy"))
    )
    assert decision.code == "protected" and "part of Dokploy itself" in decision.reason


async def test_affected_objects_are_checked_too(make_safety: MakeSafety) -> None:
    redeploy = request(
        "redeploy",
        Target(kind="compose_project", project="shop-a1b2c3"),
        affected=[service("web"), Target(kind="container", name="shop-a1b2c3-proxy-1", image="traefik:v3")],
    )
    decision = await make_safety("admin").authorize(redeploy)
    assert decision.code == "protected" and "container shop-a1b2c3-proxy-1" in decision.reason


async def test_prune_of_volumes_is_never_allowed(make_safety: MakeSafety) -> None:
    gate = make_safety("admin")
    refused = await gate.authorize(
        request("prune", Target(kind="host"), details={"what": ["images", "volumes"]})
    )
    assert refused.code == "protected" and "one by one" in refused.reason
    allowed = await gate.authorize(
        request("prune", Target(kind="host"), details={"what": ["images"]}), confirm=human_says_yes
    )
    assert allowed.allowed


DOKPLOY_PROCEDURES = {
    "settings.cleanAll": {},
    "settings.reloadTraefik": {},
    "server.setup": {"serverId": "s1"},
    "user.createApiKey": {},
    "application.updateTraefikConfig": {"applicationId": "a1", "traefikConfig": "x"},
    "postgres.rebuild": {"postgresId": "p1"},
    "compose.delete": {"composeId": "c1", "deleteVolumes": True},
    "dockerVolume.removeVolume": {"volumeName": "shop_uploads"},
    "compose.update": {"composeId": "c1", "appName": "dokploy"},
}


@pytest.mark.parametrize("procedure", list(DOKPLOY_PROCEDURES))
async def test_dokploy_procedures_that_touch_dokploy_or_data(make_safety: MakeSafety, procedure: str) -> None:
    target = Target(kind="dokploy_api", name=procedure)
    details = {"input": DOKPLOY_PROCEDURES[procedure]}
    decision = await make_safety("admin").authorize(request("dokploy_mutation", target, details=details))
    assert decision.code == "protected", (procedure, decision.reason)


async def test_ordinary_dokploy_mutations_pass_in_admin(make_safety: MakeSafety) -> None:
    gate = make_safety("admin")
    for procedure, data in {
        "compose.update": {"composeId": "c1", "env": "A=1"},
        "compose.delete": {"composeId": "c2", "deleteVolumes": False},
        "postgres.changePassword": {"postgresId": "p1"},
    }.items():
        decision = await gate.authorize(
            request("dokploy_mutation", Target(kind="dokploy_api", name=procedure), details={"input": data}),
            confirm=human_says_yes,
        )
        assert decision.allowed, (procedure, decision.reason)


async def test_dokploy_container_procedures_need_the_resolved_container(make_safety: MakeSafety) -> None:
    gate = make_safety("admin")
    target = Target(kind="dokploy_api", name="docker.restartContainer")
    details = {"input": {"containerId": "4f2c0a9d"}}
    unresolved = await gate.authorize(request("dokploy_mutation", target, details=details))
    assert unresolved.code == "invalid" and "affected" in unresolved.reason
    traefik = Target(kind="container", name="4f2c0a9d", image="traefik:v3.6")
    protected = await gate.authorize(request("dokploy_mutation", target, details=details, affected=[traefik]))
    assert protected.code == "protected"
    plain = Target(kind="container", name="shop-a1b2c3-api-1", image="ghcr.io/acme/api:1")
    plain_request = request("dokploy_mutation", target, details=details, affected=[plain])
    allowed = await gate.authorize(plain_request, confirm=human_says_yes)
    assert allowed.allowed


def test_ordinary_targets_are_not_protected() -> None:
    settings = SafetySettings()
    for target in (
        service("api"),
        Target(kind="container", name="shop-a1b2c3-worker-1", image="ghcr.io/acme/worker:2"),
        Target(kind="swarm_service", name="shop-api-x1y2z3"),
        Target(kind="volume", name="shop_uploads", used_by_images=["nginx:1.27"]),
        Target(kind="network", name="shop-a1b2c3_default"),
        Target(kind="container", name="watcher", labels={"io.infraguardian.self": "false"}),
    ):
        assert protection_reason(target, settings) is None, target


def test_settings_add_protection_and_cannot_remove_it() -> None:
    settings = SafetySettings(
        extra_protected_names=["billing-*"],
        extra_protected_volumes=["*_uploads"],
        extra_database_images=["ferretdb"],
        self_names=["guardian-*"],
    )
    assert protection_reason(service("billing-api", project="billing-prod"), settings)
    assert protection_reason(Target(kind="volume", name="shop_uploads"), settings)
    assert protection_reason(
        Target(kind="volume", name="x", used_by_images=["ghcr.io/ferretdb/ferretdb:2"]), settings
    )
    assert protection_reason(Target(kind="container", name="guardian-agent"), settings)
    # nothing can switch the built-in protection off: there is no such setting, and empty lists keep it
    attempts: list[dict[str, object]] = [
        {"protect_dokploy": False},
        {"protected_builtin": []},
        {"unprotect": ["dokploy*"]},
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            SafetySettings.model_validate(attempt)
    bare = SafetySettings(self_names=[], extra_protected_names=[], extra_protected_volumes=[])
    assert protection_reason(Target(kind="swarm_service", name="dokploy"), bare)
    assert protection_reason(Target(kind="container", name="edge", image="traefik:v3"), bare)
    assert protection_reason(Target(kind="volume", name="app-db-data"), bare)
    assert protection_reason(
        Target(kind="container", name="w", labels={"io.infraguardian.self": "true"}), bare
    )
