"""ComposeGraph answers: start order, dependants, blast radius, upstream, kinds, findings."""

from __future__ import annotations

import pytest

from mcp_server.compose_graph import ComposeGraph, DependencyCycleError, ServiceNotFoundError

STACK = """
services:
  web:
    image: nginx:1.27
    depends_on: [api]
    mem_limit: 256m
    healthcheck: {test: ["CMD", "true"]}
  api:
    image: ghcr.io/acme/api:2
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
    environment:
      REDIS_URL: redis://cache:6379/0
    deploy: {resources: {limits: {memory: 512M}}}
  worker:
    image: ghcr.io/acme/api:2
    environment: [DATABASE_URL=postgres://u:p@db:5432/app]
    healthcheck: {disable: true}
  migrate:
    image: ghcr.io/acme/api:2
    depends_on: [db]
  cache:
    image: valkey/valkey:8
    healthcheck: {test: ["NONE"]}
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "pg_isready"]}
"""


@pytest.fixture
def graph() -> ComposeGraph:
    return ComposeGraph.from_text(STACK)


def test_start_order_is_topological_and_stable(graph: ComposeGraph) -> None:
    # ready services start in file order: worker and cache have no explicit deps
    assert graph.start_order() == ["worker", "cache", "db", "migrate", "api", "web"]


def test_start_order_ignores_implicit_dependencies_like_compose(graph: ComposeGraph) -> None:
    order = graph.start_order()
    assert order.index("worker") < order.index("db")  # worker only *names* db


def test_direct_dependencies_and_dependants(graph: ComposeGraph) -> None:
    assert graph.depends_on("api") == ["db", "migrate"]
    assert graph.dependencies("api") == ["db", "migrate", "cache"]
    assert graph.dependencies("api", implicit=False) == ["db", "migrate"]
    assert graph.dependants("db") == ["api", "worker", "migrate"]
    assert graph.dependants("db", implicit=False) == ["api", "migrate"]
    assert graph.dependants("web") == []


def test_blast_radius_is_transitive_nearest_first(graph: ComposeGraph) -> None:
    assert graph.blast_radius("db") == ["api", "worker", "migrate", "web"]
    assert graph.blast_radius("cache") == ["api", "web"]
    assert graph.blast_radius("cache", implicit=False) == []
    assert graph.blast_radius("web") == []


def test_upstream_lists_roots_first(graph: ComposeGraph) -> None:
    assert graph.upstream("web") == ["cache", "db", "migrate", "api"]
    assert graph.upstream("web", implicit=False) == ["db", "migrate", "api"]
    assert graph.upstream("db") == []


def test_upstream_survives_implicit_cycles() -> None:
    graph = ComposeGraph.from_text(
        "services:\n"
        "  a: {image: x, environment: [B_URL=http://b:80]}\n"
        "  b: {image: x, environment: [A_URL=http://a:80]}\n"
        "  c: {image: x, depends_on: [a]}\n"
    )
    assert graph.start_order() == ["a", "b", "c"]
    assert graph.upstream("c") == ["a", "b"]
    assert graph.blast_radius("a") == ["b", "c"]


def test_unknown_service_question(graph: ComposeGraph) -> None:
    with pytest.raises(ServiceNotFoundError, match=r'no service named "nope" \(services: web, api'):
        graph.blast_radius("nope")


def test_cycle_is_reported_with_the_services_in_order() -> None:
    graph = ComposeGraph.from_text(
        "services:\n  ok: {image: x}\n  a: {image: x, depends_on: [ok, b]}\n"
        "  b: {image: x, volumes_from: [a]}\n  after: {image: x, depends_on: [a]}\n"
    )
    with pytest.raises(DependencyCycleError) as info:
        graph.start_order()
    assert info.value.cycle == ["a", "b", "a"]
    assert info.value.line == 3
    assert str(info.value) == "line 3: dependency cycle detected: a -> b -> a"


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(DependencyCycleError, match="a -> a"):
        ComposeGraph.from_text("services:\n  a: {image: x, depends_on: [a]}\n").start_order()


def test_kinds(graph: ComposeGraph) -> None:
    kinds = {name: (c.kind, c.product) for name, c in graph.kinds().items()}
    assert kinds == {
        "web": ("proxy", "nginx"),
        "api": ("app", None),
        "worker": ("app", None),
        "migrate": ("app", None),
        "cache": ("cache", "valkey"),
        "db": ("database", "postgres"),
    }


def test_findings(graph: ComposeGraph) -> None:
    found = {(f.code, f.service) for f in graph.findings()}
    no_memory = {s for code, s in found if code == "no-memory-limit"}
    assert no_memory == {"worker", "migrate", "cache", "db"}  # web: mem_limit, api: deploy limits
    no_health = {s for code, s in found if code == "no-healthcheck"}
    assert no_health == {"api", "worker", "migrate", "cache"}  # worker disabled, cache test NONE
    assert ("healthy-condition-without-healthcheck", "api") not in found  # db has one


def test_finding_for_waiting_on_health_of_a_service_without_healthcheck() -> None:
    graph = ComposeGraph.from_text(
        "services:\n  app:\n    image: x\n    depends_on:\n      db: {condition: service_healthy}\n"
        "  db: {image: postgres}\n"
    )
    [finding] = [f for f in graph.findings() if f.code == "healthy-condition-without-healthcheck"]
    assert finding.service == "app" and finding.line == 5
    assert "has no healthcheck configured" in finding.message


def test_findings_for_extends_from_another_file_and_unset_variables() -> None:
    graph = ComposeGraph.from_text(
        "services:\n  app:\n    extends: {service: base, file: common.yml}\n    image: ${TAG_UNSET}\n"
    )
    codes = {(f.code, f.service, f.line) for f in graph.findings()}
    assert ("extends-not-resolved", "app", 2) in codes
    assert ("unset-variable", None, 4) in codes
    no_health = [f for f in graph.findings() if f.code == "no-healthcheck"]
    assert "image may define its own HEALTHCHECK" in no_health[0].message


def test_links_and_depends_on_on_the_same_service_are_one_dependency() -> None:
    graph = ComposeGraph.from_text(
        "services:\n  app:\n    image: x\n    depends_on:\n      db: {condition: service_healthy}\n"
        "    links: ['db:database']\n  db: {image: x}\n"
    )
    [dep] = graph.explicit_dependencies("app")
    assert (dep.service, dep.via, dep.condition) == ("db", "depends_on", "service_healthy")
    assert [d.via for d in graph.declarations("app")] == ["depends_on", "links"]
    assert graph.depends_on("app") == ["db"]
