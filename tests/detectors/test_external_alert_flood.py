"""A flood: one Alertmanager group naming many services at once is one external_alert group (one
signal, one incident), on their compose project; below the threshold, one group per service."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from mcp_server.detectors.checks.external_alert import FLOOD_SERVICES, _groups
from mcp_server.detectors.state import ContainerRef
from mcp_server.docker_ops.models import COMPOSE_PROJECT, COMPOSE_SERVICE
from mcp_server.hooks.inbox import StoredAlert
from mcp_server.hooks.mapping import ServiceIndex
from mcp_server.hooks.models import AlertSource, ExternalAlert

AT = datetime(2026, 12, 4, tzinfo=UTC)
SERVICES = [f"svc{i}" for i in range(FLOOD_SERVICES + 1)]
CTX: Any = SimpleNamespace(host_name="local")
INDEX = ServiceIndex(
    "local",
    [
        ContainerRef(
            id=f"shop-{s}-1", name=f"shop-{s}-1", image="x", state="running", status_text="Up",
            labels={COMPOSE_PROJECT: "shop", COMPOSE_SERVICE: s},
        )
        for s in SERVICES
    ],
    [],
)  # fmt: skip


def stored(service: str, group_key: str | None, source: AlertSource = "alertmanager") -> StoredAlert:
    alert = ExternalAlert(
        source=source, key=f"{service}-down", status="firing", name="InstanceDown", summary="down",
        severity="critical", received_at=AT, target_hints={"compose_service": service},
        labels={"compose_project": "shop"},
    )  # fmt: skip
    return StoredAlert(
        alert=alert, host="local", group_key=group_key, first_seen=AT, last_seen=AT, seq=1, resolved_by=None
    )


def test_one_group_naming_more_services_than_the_threshold_is_one_flood_on_their_project() -> None:
    (flood,) = _groups(CTX, INDEX, [stored(s, "{}:{alertname=InstanceDown}") for s in SERVICES])
    assert flood.target.kind == "compose_project" and flood.target.project == "shop"
    assert len(flood.alerts) == len(SERVICES) and flood.extra.startswith("flood|alertmanager|")


def test_at_the_threshold_or_without_a_sender_group_each_service_keeps_its_own_group() -> None:
    few = _groups(CTX, INDEX, [stored(s, "g") for s in SERVICES[:FLOOD_SERVICES]])
    assert sorted(g.target.service or "" for g in few) == SERVICES[:FLOOD_SERVICES]
    kuma = _groups(CTX, INDEX, [stored(s, None, "uptime-kuma") for s in SERVICES])
    assert len(kuma) == len(SERVICES) and all(g.target.kind == "compose_service" for g in kuma)


def test_two_groups_flood_apart_and_a_flood_across_projects_is_on_the_host() -> None:
    alerts = [stored(s, "a") for s in SERVICES] + [stored(s, "b") for s in SERVICES]
    assert len(_groups(CTX, INDEX, alerts)) == 2
    other = ServiceIndex(
        "local",
        [
            ContainerRef(
                id=f"{p}-{s}-1", name=f"{p}-{s}-1", image="x", state="running", status_text="Up",
                labels={COMPOSE_PROJECT: p, COMPOSE_SERVICE: s},
            )
            for p in ("shop", "blog") for s in SERVICES
        ],
        [],
    )  # fmt: skip
    mixed = [
        StoredAlert(
            alert=ExternalAlert(
                source="alertmanager", key=f"{p}-{s}", status="firing", name="InstanceDown", summary="down",
                severity="critical", received_at=AT, target_hints={"compose_service": s},
                labels={"compose_project": p},
            ),
            host="local", group_key="g", first_seen=AT, last_seen=AT, seq=1, resolved_by=None,
        )
        for p, s in [("shop", "svc0"), ("shop", "svc1"), ("shop", "svc2"), ("blog", "svc0"), ("blog", "svc1"),
                     ("blog", "svc2")]
    ]  # fmt: skip
    (flood,) = _groups(CTX, other, mixed)
    assert flood.target.kind == "host"
