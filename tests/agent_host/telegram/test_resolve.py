"""Fuzzy names against an inventory in the `list_inventory` tool's shape: the right service for
"granada api", ambiguity asked back, and a mutation never resolved by a near miss."""

from __future__ import annotations

from typing import Any

from agent_host.telegram.resolve import resolve_compose, resolve_service


def entry(
    app: str, services: list[str], *, name: str | None = None, project: str | None = None
) -> dict[str, Any]:
    return {
        "app_name": app,
        "kind": "compose",
        "dokploy_name": name,
        "project": project,
        "services": [{"name": s, "containers": 1, "running": 1, "problems": []} for s in services],
    }


INVENTORY: dict[str, Any] = {
    "host": "local",
    "entries": [
        entry("granada-web-x1y2", ["api", "db", "frontend"], name="web", project="Granada"),
        entry("shop-a1b2", ["api", "worker"], name="shop", project="Shop"),
        entry("rag-c3d4", ["rag-api", "vector"], name="rag", project="RAG"),
    ],
}


def test_granada_api_is_the_api_of_the_granada_compose() -> None:
    for mutation in (False, True):
        found = resolve_service("granada api", INVENTORY, mutation=mutation)
        assert found.match is not None, found.candidates
        assert (found.match.app_name, found.match.service) == ("granada-web-x1y2", "api")
        assert found.match.target_key == "service:local/granada-web-x1y2/api"


def test_a_name_that_fits_several_services_is_asked_back() -> None:
    found = resolve_service(["api"], INVENTORY, mutation=True)
    assert found.match is None
    labels = {c.label for c in found.candidates}
    assert {"granada-web-x1y2/api", "shop-a1b2/api"} <= labels
    question = found.question("service")
    assert "granada-web-x1y2/api" in question and "shop-a1b2/api" in question


def test_an_exact_app_slash_service_always_resolves() -> None:
    found = resolve_service("shop-a1b2/api", INVENTORY, mutation=True)
    assert found.match is not None and found.match.label == "shop-a1b2/api"


def test_a_typo_is_fine_for_a_read_but_never_for_a_mutation() -> None:
    read = resolve_service("granda frontend", INVENTORY, mutation=False)
    assert read.match is not None and read.match.label == "granada-web-x1y2/frontend"
    change = resolve_service("granda frontend", INVENTORY, mutation=True)
    assert change.match is None and change.candidates == []
    assert "no service matches 'granda frontend'" in change.question("service")


def test_a_read_takes_the_clearly_best_match_only() -> None:
    # "rag api" fits rag-c3d4/rag-api by both words; the others only by "api"
    found = resolve_service("rag api", INVENTORY, mutation=False)
    assert found.match is not None and found.match.label == "rag-c3d4/rag-api"
    # "api" alone ties between two services called api: asked back even for a read
    tied = resolve_service("api", INVENTORY, mutation=False)
    assert tied.match is None and len(tied.candidates) >= 2


def test_composes_resolve_by_app_name_dokploy_name_or_project() -> None:
    for query in ("granada", "GRANADA", "granada-web-x1y2", "web"):
        found = resolve_compose(query, INVENTORY, mutation=True)
        assert found.match is not None and found.match.app_name == "granada-web-x1y2", query
    assert resolve_compose("nothing-like-it", INVENTORY, mutation=False).match is None
