"""Mapping an outside alert to a service (`mcp_server.hooks.mapping`), every hint in its order, on a
hand-made container list (the engine's list entries as `ContainerRef`s): no Docker needed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mcp_server.detectors import DomainSpec
from mcp_server.detectors.state import ContainerRef
from mcp_server.docker_ops.models import COMPOSE_PROJECT, COMPOSE_SERVICE, STACK_NAMESPACE, SWARM_SERVICE_NAME
from mcp_server.hooks.mapping import ServiceIndex
from mcp_server.hooks.models import ExternalAlert


def compose(name: str, project: str, service: str) -> ContainerRef:
    labels = {COMPOSE_PROJECT: project, COMPOSE_SERVICE: service}
    return ContainerRef(id=name, name=name, image="x", state="running", status_text="Up", labels=labels)


def swarm_task(name: str, stack: str, service: str) -> ContainerRef:
    labels = {SWARM_SERVICE_NAME: f"{stack}_{service}", STACK_NAMESPACE: stack}
    return ContainerRef(id=name, name=name, image="x", state="running", status_text="Up", labels=labels)


CONTAINERS = [
    compose("shop-api-1", "shop", "api"),
    compose("shop-api-2", "shop", "api"),  # a replica: the same service, not an ambiguity
    compose("shop-n8n-1", "shop", "n8n"),
    compose("blog-api-1", "blog", "api"),
    swarm_task("blog_db.1.abc", "blog", "db"),
    ContainerRef(id="loose", name="loose-cron", image="x", state="exited", status_text="Exited", labels={}),
]
DOMAINS = [
    DomainSpec(host="shop.example.com", expected_target="api:8080", app_name="shop"),
    DomainSpec(host="shop.example.com", path="/hooks", expected_target="n8n:5678", app_name="shop"),
    DomainSpec(host="both.example.com", expected_target="api:8080, n8n:5678", app_name="shop"),
    DomainSpec(host="app.example.com", expected_target="?:3000", app_name="blog-app-x1y2"),
]


def alert(name: str = "SomethingWrong", labels: dict[str, str] | None = None, **hints: str) -> ExternalAlert:
    return ExternalAlert(
        source="alertmanager",
        key=name,
        status="firing",
        name=name,
        summary="s",
        severity="warning",
        labels=labels or {},
        received_at=datetime(2026, 12, 4, tzinfo=UTC),
        target_hints=hints,
    )


INDEX = ServiceIndex("local", CONTAINERS, DOMAINS)


@pytest.mark.parametrize(
    ("found", "key", "mapped_by"),
    [
        (alert(compose_service="n8n"), "compose_service:local/shop/n8n", "compose_service label=n8n"),
        (
            alert(labels={"compose_project": "blog"}, compose_service="api"),
            "compose_service:local/blog/api",
            "compose_service label=api",
        ),
        # named explicitly with its project: mapped although no container of it runs (it may be removed)
        (
            alert(labels={"compose_project": "shop"}, compose_service="redis"),
            "compose_service:local/shop/redis",
            "compose_service label=redis",
        ),
        (alert(app="blog/api"), "compose_service:local/blog/api", "app label=blog/api"),  # a configured label
        (alert(container="shop-api-2"), "compose_service:local/shop/api", "container label=shop-api-2"),
        (alert(container="loose-cron"), "container:local/loose-cron", "container label=loose-cron"),
        (alert(swarm_service="blog_db"), "swarm_service:local/blog_db", "swarm_service label=blog_db"),
        (
            alert(host="shop.example.com", url="https://shop.example.com/hooks/x"),
            "compose_service:local/shop/n8n",
            "Dokploy domain shop.example.com/hooks",
        ),
        (
            alert(host="shop.example.com", url="https://shop.example.com/"),
            "compose_service:local/shop/api",
            "Dokploy domain shop.example.com",
        ),
        (
            alert(host="app.example.com", url="https://app.example.com/"),
            "swarm_service:local/blog-app-x1y2",
            "Dokploy domain app.example.com",
        ),
        (alert(host="n8n", url="http://n8n:5678/healthz"), "compose_service:local/shop/n8n", "URL host=n8n"),
        (alert(instance_host="shop-n8n-1"), "compose_service:local/shop/n8n", "instance host=shop-n8n-1"),
        (alert("shop-api"), "compose_service:local/shop/api", "name=shop-api"),
        (alert("blog-api-1"), "compose_service:local/blog/api", "name=blog-api-1"),
    ],
)
def test_each_hint_maps_to_its_service(found: ExternalAlert, key: str, mapped_by: str) -> None:
    mapping = INDEX.map(found)
    assert mapping.target is not None, mapping.reasons
    assert (mapping.target.key(), mapping.mapped_by) == (key, mapped_by)


def test_an_ambiguous_hint_maps_nothing_and_the_next_hint_decides() -> None:
    ambiguous = INDEX.map(alert(compose_service="api"))
    assert ambiguous.target is None
    assert ambiguous.reasons == (
        "compose_service label 'api' is a service name in several projects: "
        "compose_service:local/blog/api, compose_service:local/shop/api",
        "name 'SomethingWrong' names no service or container of this host",
    )
    decided = INDEX.map(alert(compose_service="api", container="blog-api-1"))
    assert decided.target is not None and decided.target.key() == "compose_service:local/blog/api"
    assert decided.mapped_by == "container label=blog-api-1" and len(decided.reasons) == 1


def test_a_domain_routed_to_two_services_and_an_unknown_host_map_nothing() -> None:
    both = INDEX.map(alert(host="both.example.com", url="https://both.example.com/"))
    assert both.target is None and "routes to several services: api, n8n" in both.reasons[0]
    unknown = INDEX.map(alert(host="10.0.0.9", url="http://10.0.0.9:9100/"))
    assert unknown.target is None
    assert unknown.reasons[0] == "URL host '10.0.0.9' names no service or container of this host"
    assert INDEX.map(alert()).reasons == ("name 'SomethingWrong' names no service or container of this host",)
