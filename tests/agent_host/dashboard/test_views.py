"""What the pages say about the server's data: health of a stack, projects, memory against limits."""

from __future__ import annotations

from typing import Any

from agent_host.dashboard import views


def container(status: str = "running", health: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": "c", "status": status, "health_status": health, "restart_count": 1, "exit_code": 137,
            "oom_killed": status != "running", **extra}  # fmt: skip


def group(
    app: str, containers: list[dict[str, Any]], project: str | None = "shop", kind: str = "compose"
) -> dict[str, Any]:
    ref = (
        {"project": project, "environment": "production", "name": app.upper(), "status": "done"}
        if project
        else None
    )
    return {
        "kind": kind,
        "app_name": app,
        "dokploy": ref,
        "services": [{"name": "api", "containers": containers}],
    }


def test_health_of_a_stack() -> None:
    inventory = {"groups": [
        group("ok", [container()]),
        group("half", [container(), container("exited")]),
        group("sick", [container(health="unhealthy")]),
        group("gone", [container("exited")]),
        group("empty", []),
    ]}  # fmt: skip
    rows = {r.app_name: r for r in views.stack_rows(inventory)}
    assert {name: r.health for name, r in rows.items()} == {
        "ok": "healthy", "half": "degraded", "sick": "degraded", "gone": "down", "empty": "unknown",
    }  # fmt: skip
    assert rows["gone"].problems == ["c exited exit 137 (OOMKilled)"]
    assert rows["gone"].services[0].state.startswith("down: c exited")


def test_projects_first_then_no_project_then_dokploy_itself() -> None:
    inventory = {"groups": [
        group("dokploy", [container()], project=None, kind="dokploy_system"),
        group("loose", [container()], project=None),
        group("b-app", [container()], project="Zeta"),
        group("a-app", [container()], project="alpha"),
    ]}  # fmt: skip
    order = [name for name, _ in views.by_project(views.stack_rows(inventory))]
    assert order == ["alpha", "Zeta", views.NO_PROJECT, views.SYSTEM_PROJECT]


def test_memory_against_the_limit_and_chart_points() -> None:
    history = {"containers": [
        {"container": "shop-api-1", "service": "api", "memory_limit_bytes": 256 * 2**20, "memory_limit_set": True,
         "samples": [{"at": "2026-12-04T02:00:05Z", "memory_used_bytes": 100 * 2**20, "cpu_percent": None},
                     {"at": "2026-12-04T02:00:00Z", "memory_used_bytes": 90 * 2**20, "cpu_percent": 3.5},
                     {"at": "not a time", "memory_used_bytes": 1, "cpu_percent": 1}]},
        {"container": "shop-db-1", "service": "db", "memory_limit_bytes": 8 * 2**30, "memory_limit_set": False,
         "samples": []},
    ]}  # fmt: skip
    api, db = views.container_resources(history)
    assert [p.memory_bytes for p in api.points] == [90 * 2**20, 100 * 2**20]  # sorted, bad time dropped
    assert api.memory_text == "100 MiB / 256 MiB"
    assert db.memory_limit_bytes is None and db.memory_text == "? / no limit"


def test_dependency_edges_skip_unknown_services() -> None:
    graph = {"services": [{"name": "api", "depends_on": ["db", "ghost"]}, {"name": "db", "depends_on": []}]}
    assert views.dependency_edges(graph) == (["api", "db"], [("api", "db")])


def test_plain_text_shows_strings_as_they_are() -> None:
    value = {
        "summary": 'x <img src=x onerror="a">',
        "logs": "line 1\nline 2",
        "n": 3,
        "empty": [],
        "sub": {"a": None},
    }
    assert views.plain_text(value).splitlines() == [
        'summary: x <img src=x onerror="a">', "logs:", "  line 1", "  line 2", "n: 3", "empty: []", "sub:", "  a: -",
    ]  # fmt: skip
    assert views.plain_text([{"k": "v"}, "s"]).splitlines() == ["-", "  k: v", "- s"]
