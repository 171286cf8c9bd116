"""The external_alert detector on the real engine: recorded Uptime Kuma / Alertmanager requests go through
the parsers into a real alert inbox, and `engine.poll` turns them into signals on compose services made
of real labelled containers (two projects, both with a service `api`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from mcp_server.detectors import DetectorEngine, DomainSpec, Severity, Signal
from mcp_server.docker_ops.host import DockerHost
from mcp_server.docker_ops.models import COMPOSE_PROJECT, COMPOSE_SERVICE
from mcp_server.hooks import parse_alertmanager, parse_uptime_kuma
from mcp_server.hooks.inbox import AlertInbox
from mcp_server.hooks.models import WebhookBatch
from mcp_server.runbooks import RunbookLibrary
from mcp_server.runbooks.conditions import all_hold

from ..hooks.recordings import ALERTMANAGER, UPTIME_KUMA, case
from .helpers import RUN_ID, fast_settings, run_container, unique

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Stacks:
    """Two compose projects on the engine: `shop` has api and worker, `blog` has api too."""

    shop: str
    blog: str
    shop_api_container: str


@pytest.fixture(scope="module")
def stacks() -> Iterator[Stacks]:
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    shop, blog = f"ig-ea-shop-{RUN_ID}", f"ig-ea-blog-{RUN_ID}"
    made = []
    try:
        for project, service in ((shop, "api"), (shop, "worker"), (blog, "api")):
            name = unique(f"ea-{service}")
            labels = {COMPOSE_PROJECT: project, COMPOSE_SERVICE: service}
            made.append(run_container(client, name, ["sleep", "600"], labels=labels))
        yield Stacks(shop, blog, made[0].name)
    finally:
        for container in made:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        client.close()


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[AlertInbox]:
    opened = AlertInbox.in_state_dir(tmp_path)
    yield opened
    opened.close()


def engine_for(
    host: DockerHost, inbox: AlertInbox | None, domains: list[DomainSpec] | None = None
) -> DetectorEngine:
    return DetectorEngine(
        host, fast_settings(enabled=["external_alert"]), domains=domains or [], alerts=inbox
    )


def kuma(name: str) -> WebhookBatch:
    r = case(UPTIME_KUMA, name)
    return parse_uptime_kuma(r.method, r.query, r.body, r.content_type)


def alertmanager(alerts: list[dict[str, Any]], group_key: str) -> WebhookBatch:
    """An Alertmanager request like the recorded one, with these alerts (each made from the recorded
    alert with other labels / fingerprint / status)."""
    payload = json.loads(case(ALERTMANAGER, "firing").body)
    payload.update(alerts=alerts, groupKey=group_key)
    return parse_alertmanager(json.dumps(payload).encode() + b"\n", "application/json")


def am_alert(fingerprint: str, labels: dict[str, str], status: str = "firing") -> dict[str, Any]:
    alert = json.loads(case(ALERTMANAGER, "firing").body)["alerts"][0]
    alert.update(fingerprint=fingerprint, status=status, labels={**alert["labels"], **labels})
    if status == "resolved":
        alert["endsAt"] = "2026-12-03T06:40:00.01Z"
    return alert


async def active(engine: DetectorEngine) -> list[Signal]:
    return [s for s in engine.active_signals() if s.kind == "external_alert"]


async def test_uptime_kuma_monitor_of_a_dokploy_domain_raises_on_its_service(
    host: DockerHost, inbox: AlertInbox, stacks: Stacks
) -> None:
    # the recorded monitor watches http://127.0.0.1:19310/, which Dokploy routes to shop's api
    domain = DomainSpec(
        host="127.0.0.1", https=False, port=19310, expected_target="api:8080", app_name=stacks.shop
    )
    engine = engine_for(host, inbox, [domain])
    inbox.accept("testhost", kuma("http_down__json"))
    [raised] = await engine.poll(["external_alert"])
    signal = raised.signal
    assert raised.change == "raised"
    assert (signal.target.kind, signal.target.project, signal.target.service) == (
        "compose_service",
        stacks.shop,
        "api",
    )
    assert signal.severity == Severity.critical and signal.runbook == "external-alert"
    assert signal.summary == "Uptime Kuma: kuma-http down (connection refused)"
    assert signal.evidence["mapped_by"] == "Dokploy domain 127.0.0.1"
    assert signal.evidence["sources"] == ["uptime-kuma"]
    [listed] = signal.evidence["alerts"]
    assert listed["key"] == "monitor:1" and listed["url"] == "http://127.0.0.1:19310/"
    # nothing new: the signal is left as it is (its last_seen says when a monitor last said "down")
    assert await engine.poll(["external_alert"]) == []
    [same] = await active(engine)
    assert same.last_seen == signal.last_seen
    # the resend changes nothing but says "still down": last_seen moves; the UP resolves the signal
    inbox.accept("testhost", kuma("http_down_resend__json"))
    assert await engine.poll(["external_alert"]) == []
    [still] = await active(engine)
    assert still.id == signal.id and still.last_seen > signal.last_seen
    inbox.accept("testhost", kuma("http_up__json"))
    [resolved] = await engine.poll(["external_alert"])
    assert resolved.change == "resolved" and resolved.signal.id == signal.id
    assert await active(engine) == []


async def test_alertmanager_labels_map_and_ambiguity_is_not_guessed(
    host: DockerHost, inbox: AlertInbox, stacks: Stacks
) -> None:
    engine = engine_for(host, inbox)
    explicit = am_alert(
        "a1", {"compose_service": "worker", "compose_project": stacks.shop, "severity": "critical"}
    )
    ambiguous = am_alert(
        "a2", {"compose_service": "api", "severity": "info"}
    )  # shop and blog both have an api
    inbox.accept("testhost", alertmanager([explicit], "g-worker"))
    inbox.accept("testhost", alertmanager([ambiguous], "g-api"))
    changes = await engine.poll(["external_alert"])
    by_kind = {c.signal.target.kind: c.signal for c in changes}
    assert set(by_kind) == {"compose_service", "host"}
    worker = by_kind["compose_service"]
    assert (worker.target.project, worker.target.service) == (stacks.shop, "worker")
    assert worker.severity == Severity.critical
    assert worker.evidence["mapped_by"] == "compose_service label=worker"
    assert worker.summary == "Alertmanager: MonTestValueHigh firing (critical)"
    unmapped = by_kind["host"]
    assert unmapped.evidence["mapped_by"] is None and unmapped.evidence["group_key"] == "alertmanager|g-api"
    assert any("several projects" in r for r in unmapped.evidence["unmapped_reasons"])
    assert unmapped.summary.endswith("; not mapped to a service")


async def test_a_flood_about_one_service_is_one_signal(
    host: DockerHost, inbox: AlertInbox, stacks: Stacks
) -> None:
    engine = engine_for(host, inbox)
    flood = [
        am_alert(f"f{i:02d}", {"container": stacks.shop_api_container, "item": str(i)}) for i in range(30)
    ]
    inbox.accept("testhost", alertmanager(flood, "g-flood"))
    [raised] = await engine.poll(["external_alert"])
    signal = raised.signal
    assert (signal.target.project, signal.target.service) == (stacks.shop, "api")
    assert signal.evidence["alerts_total"] == 30 and len(signal.evidence["alerts"]) == 10
    assert signal.evidence["mapped_by"] == f"container label={stacks.shop_api_container}"
    assert "30 alerts from alertmanager" in signal.summary
    # 29 resolve: still one signal; the last one leaving its group (send_resolved: false) resolves it
    inbox.accept(
        "testhost", alertmanager([am_alert(f"f{i:02d}", {}, "resolved") for i in range(29)], "g-other")
    )
    assert await engine.poll(["external_alert"]) == []
    assert [s.evidence["alerts_total"] for s in await active(engine)] == [1]
    inbox.accept("testhost", alertmanager([am_alert("other", {"container": "nothing-here"})], "g-flood"))
    changes = await engine.poll(["external_alert"])
    assert {(c.change, c.signal.id == signal.id) for c in changes} == {("resolved", True), ("raised", False)}


async def test_unmapped_alerts_are_grouped_per_sender_group(
    host: DockerHost, inbox: AlertInbox, stacks: Stacks
) -> None:
    engine = engine_for(host, inbox)
    for name in ("group_2_firing", "firing"):  # Prometheus's own target 127.0.0.1:19100: no service here
        r = case(ALERTMANAGER, name)
        inbox.accept("testhost", parse_alertmanager(r.body, r.content_type))
    inbox.accept("testhost", kuma("tcp_port_down__json"))
    changes = await engine.poll(["external_alert"])
    assert [c.change for c in changes] == ["raised"] * 3
    found = await active(engine)
    assert len(found) == 3 and len({s.id for s in found}) == 3
    two = next(s for s in found if s.evidence["alerts_total"] == 2)
    assert two.target.kind == "host" and "2 alerts from alertmanager" in two.summary
    kuma_signal = next(s for s in found if s.evidence["sources"] == ["uptime-kuma"])
    assert (kuma_signal.target.kind, kuma_signal.target.name) == ("domain", "127.0.0.1")


async def test_without_an_inbox_nothing_is_found(host: DockerHost) -> None:
    engine = engine_for(host, None)
    assert await engine.poll(["external_alert"]) == []
    assert engine.status().detectors[0].last_error is None


@pytest.mark.parametrize(
    ("facts", "solution", "escalation"),
    [
        ({"upstream_down": ["db"], "running": True, "health": "unhealthy"}, "fix-upstream-first", None),
        ({"running": False, "upstream_down": []}, "service-not-running", None),
        ({"running": True, "health": "unhealthy", "upstream_down": []}, "restart-unhealthy", None),
        ({"running": True, "health": "none", "upstream_down": []}, None, "proxy (Traefik) and DNS"),
        ({}, None, "names no service of this host"),  # unmapped: its context calls name no service
    ],
)
def test_the_runbook_fixes_what_docker_sees_and_hands_the_rest_to_a_person(
    facts: dict[str, Any], solution: str | None, escalation: str | None
) -> None:
    book = RunbookLibrary.load().get("external-alert")
    assert book is not None and book.signals == ["external_alert"]
    escalations = [r.reason for r in book.escalate_when if r.when and all_hold(r.when, facts)]
    holding = [s.id for s in book.solutions if all_hold(s.when, facts)]
    if escalation is None:
        assert escalations == [] and holding[0] == solution
    else:
        assert len(escalations) == 1 and escalation in escalations[0] and holding == []
