"""Metric rules on the agent's side, on a scripted server: the facts a metric_rule signal gives, the
three runbooks that answer it (queue-stuck, slow-responses, metric-threshold), the `signal_cleared`
check that verifies a metric recovered, and the grouping that makes a slow vector DB and its
filling volume one incident. The signals are hand-made after the contract of the metric_rule
detector (kind, compose_service target, evidence); the real engine runs the same cases in
tests/agent_host/e2e/test_metric_queue.py and test_metric_vectordb.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent_host.diagnosis.metric_facts import rule_facts, service_volumes
from agent_host.diagnosis.verify_checks import VerifyMemo, signal_cleared
from agent_host.incidents.grouping import blames, new_incident
from mcp_server.runbooks import Check, RunbookLibrary

from .conftest import Loop, healthy_service, script_quiet_stack
from .fakes import Answer, FakeServer
from .test_volume_human_step import COMPOSE, FENCED, volume_signal

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def metric_signal(
    service: str = "worker",
    *,
    rule: str = "queue",
    runbook: str = "queue-stuck",
    value: float = 45.0,
    last_seen: datetime | None = None,
    **evidence: Any,
) -> dict[str, Any]:
    """A metric_rule signal as the detector raises it: about the compose service with the rule."""
    seen = (last_seen or datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    queue = {
        "rule": rule, "expression": "http://127.0.0.1:9/metrics n8n_queue_waiting > 10 for 5m",
        "source": "http://127.0.0.1:9/metrics", "source_kind": "prometheus",
        "metric": "n8n_queue_waiting", "operator": ">", "threshold": 10.0, "unit": "", "for_s": 300,
        "value": value, "breached_since": (NOW - timedelta(minutes=7)).isoformat(),
        "values": [[(NOW - timedelta(minutes=1)).isoformat(), 40.0], [NOW.isoformat(), value]],
    }  # fmt: skip
    return {
        "id": f"metric_rule-shop-{service}-{rule}",
        "kind": "metric_rule",
        "severity": "warning",
        "summary": f"{service}: {queue['metric']} = {value:g} > 10 for 7 min",
        "target": {"kind": "compose_service", "host": "local", "project": "shop", "service": service,
                   "app_name": "shop"},
        "evidence": {**queue, **evidence},
        "runbook": runbook,
        "first_seen": seen,
        "last_seen": seen,
        "status": "active",
    }  # fmt: skip


def latency_signal(**evidence: Any) -> dict[str, Any]:
    latency = {
        "expression": "http://qdrant:6333/healthz p95 > 500ms for 2m", "source_kind": "latency",
        "metric": "p95", "threshold": 500.0, "unit": "ms", "percentile": 95,
    }  # fmt: skip
    return metric_signal(
        "qdrant", rule="latency", runbook="slow-responses", value=5000.0, **{**latency, **evidence}
    )


# -- facts ------------------------------------------------------------------------------------------
def test_a_metric_signal_gives_its_numbers_as_facts() -> None:
    facts = rule_facts(metric_signal()["evidence"], NOW)
    assert facts == {
        "metric_rule": "queue", "metric_name": "n8n_queue_waiting", "metric_source_kind": "prometheus",
        "metric_value": 45.0, "metric_operator": ">", "metric_threshold": 10.0, "metric_unit": "",
        "metric_breached_for_s": 420.0,
    }  # fmt: skip
    # numbers that are not numbers, and a time without a zone, are unknown rather than guessed
    odd = rule_facts({"value": True, "threshold": "10", "breached_since": "2026-12-04T08:00:00"}, NOW)
    assert odd == {}


def test_the_compose_file_says_which_volumes_a_service_mounts() -> None:
    assert service_volumes(COMPOSE, "shop", "qdrant") == ["shop_qdrant_data"]
    assert service_volumes(COMPOSE, "shop", "api") == []  # a bind mount is no volume
    assert service_volumes(COMPOSE, "shop", "nope") == []
    assert service_volumes("services: [unclosed", "shop", "qdrant") is None


# -- grouping ---------------------------------------------------------------------------------------
def test_a_filling_volume_joins_the_incident_of_the_service_that_mounts_it() -> None:
    slow = new_incident(latency_signal())
    assert not blames(slow, volume_signal())  # before diagnosis nothing says what qdrant mounts
    slow.facts = {"service_volumes": ["shop_qdrant_data"]}
    assert blames(slow, volume_signal())
    other = volume_signal()
    other["target"] = {**other["target"], "name": "shop_other"}
    assert not blames(slow, other)
    elsewhere = volume_signal()
    elsewhere["target"] = {**elsewhere["target"], "host": "edge-2"}
    assert not blames(slow, elsewhere)  # the same volume name on another Docker host


def test_a_slow_service_joins_the_incident_of_the_volume_it_mounts() -> None:
    filling = new_incident(volume_signal())
    filling.facts = {"volume_services": ["qdrant"], "dependants": ["qdrant", "api"]}
    assert blames(filling, latency_signal())
    assert not blames(filling, metric_signal("billing"))


# -- the runbooks -----------------------------------------------------------------------------------
def test_the_signals_runbook_decides_and_metric_threshold_is_the_fallback() -> None:
    library = RunbookLibrary.load()
    assert library.for_signal("metric_rule")[0].name == "metric-threshold"
    for name in ("queue-stuck", "slow-responses", "metric-threshold"):
        book = library.get(name)
        assert book is not None and "metric_rule" in book.signals


def script_queue_stack(server: FakeServer, *, still_stuck: bool) -> None:
    """A healthy-looking worker beside its running broker; afterwards the detectors see the queue
    still stuck (the signal read again after the restart) or no signal at all (drained)."""
    script_quiet_stack(server)
    server.on("restart_service", Answer(structured={"ok": True}))
    server.on(
        "active_signals",
        Answer(structured={"detectors_running": True, "signals": [
            metric_signal(last_seen=datetime(2999, 1, 1, tzinfo=UTC))
        ] if still_stuck else []}),
    )  # fmt: skip


async def test_a_stuck_queue_restarts_its_service_and_is_verified_when_it_drains(loop: Loop) -> None:
    script_queue_stack(loop.server, still_stuck=False)
    (incident_id,) = await loop.monitor.handle_signals([metric_signal()])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "resolved", [e.message for e in incident.events]
    assert incident.runbook == "queue-stuck" and incident.kind == "metric_rule"
    assert incident.decision is not None and incident.decision.solution == "restart-worker"
    assert incident.decision.route == "auto"
    assert incident.facts["metric_value"] == 45.0 and incident.facts["metric_rule"] == "queue"
    assert loop.server.mutations() == [("restart_service", {"app_name": "shop", "service": "worker"})]
    assert incident.verification is not None
    assert incident.verification["checks"]["signal_cleared"]["last"] is True


async def test_a_queue_still_stuck_after_the_restart_is_not_called_fixed(loop: Loop) -> None:
    script_queue_stack(loop.server, still_stuck=True)
    (incident_id,) = await loop.monitor.handle_signals([metric_signal()])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated", [e.message for e in incident.events]
    assert (incident.outcome or "").startswith("needs a human: verification unhealthy")
    assert incident.verification is not None and incident.verification["verdict"] == "unhealthy"
    assert incident.verification["checks"]["signal_cleared"]["last"] is False


async def test_a_stuck_queue_behind_a_down_broker_blames_the_broker(loop: Loop) -> None:
    script_queue_stack(loop.server, still_stuck=False)
    loop.server.on(
        "compose_graph",
        Answer(structured={"start_order": ["redis", "worker"], "services": [
            {"name": "worker", "kind": "worker", "depends_on": ["redis"], "upstream": ["redis"], "blast_radius": []},
            {"name": "redis", "kind": "queue", "depends_on": [], "upstream": [], "blast_radius": ["worker"]},
        ]}),
    )  # fmt: skip
    loop.server.on(
        "compose_health",
        Answer(structured={"verdict": "degraded", "services": [
            {"service": "worker", "verdict": "ok", "containers": []},
            {"service": "redis", "verdict": "down", "containers": []},
        ]}),
    )  # fmt: skip
    (incident_id,) = await loop.monitor.handle_signals([metric_signal()])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.target.get("service") == "redis", incident.events
    assert incident.runbook == "dependency-down"
    assert ("restart_service", {"app_name": "shop", "service": "worker"}) not in loop.server.mutations()


def script_vectordb_stack(server: FakeServer, signals: list[dict[str, Any]]) -> None:
    script_quiet_stack(server)
    server.on("service_status", healthy_service())
    server.on(
        "compose_graph",
        Answer(structured={"compose_file": FENCED, "services": [
            {"name": "qdrant", "kind": "vector-db", "depends_on": [], "upstream": [], "blast_radius": ["api"]},
            {"name": "api", "kind": "app", "depends_on": ["qdrant"], "upstream": ["qdrant"], "blast_radius": []},
        ]}),
    )  # fmt: skip
    server.on("active_signals", Answer(structured={"detectors_running": True, "signals": signals}))


async def test_slow_answers_over_a_filling_volume_ask_for_a_bigger_volume_in_one_incident(
    loop: Loop,
) -> None:
    """The latency signal comes first; the server already sees qdrant's volume filling: the
    incident follows disk-filling to the human step, and the volume's own signal, once it reaches
    the monitor, joins that incident instead of opening a second one."""
    script_vectordb_stack(loop.server, [volume_signal()])
    (incident_id,) = await loop.monitor.handle_signals([latency_signal()])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "awaiting_approval", incident.events
    assert incident.runbook == "slow-responses"
    assert incident.decision is not None and incident.decision.runbook == "disk-filling"
    assert incident.decision.solution == "grow-tmpfs-volume"
    assert incident.facts["service_volumes"] == ["shop_qdrant_data"]
    assert incident.facts["filling_is_data_volume"] is True
    (request,) = await loop.book.pending()
    (change,) = request.changes
    assert "Volume shop_qdrant_data (used by qdrant)" in change and "size=32m" in change
    assert await loop.monitor.handle_signals([volume_signal()]) == []  # joined, nothing opened
    joined = await loop.store.get(incident_id)
    assert joined is not None and [s["kind"] for s in joined.signals] == ["metric_rule", "disk_pressure"]
    assert loop.server.mutations() == []


async def test_the_volume_first_then_the_slow_answers_join_its_incident(loop: Loop) -> None:
    script_vectordb_stack(loop.server, [])
    loop.server.on("disk_usage", Answer(structured={"kinds": [], "largest_volumes": []}))
    (incident_id,) = await loop.monitor.handle_signals([volume_signal()])
    await loop.monitor.drive(incident_id)
    assert await loop.monitor.handle_signals([latency_signal()]) == []
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "awaiting_approval", incident.events
    assert [s["kind"] for s in incident.signals] == ["disk_pressure", "metric_rule"]
    assert len(await loop.book.pending()) == 1


async def test_slow_answers_nothing_explains_escalate_with_the_numbers(loop: Loop) -> None:
    other_volume = volume_signal()
    other_volume["target"] = {**other_volume["target"], "name": "shop_logs"}  # not qdrant's
    script_vectordb_stack(loop.server, [other_volume])
    (incident_id,) = await loop.monitor.handle_signals([latency_signal()])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated", incident.events
    assert "filling_is_data_volume" not in incident.facts
    assert incident.facts["metric_value"] == 5000.0 and incident.facts["metric_unit"] == "ms"
    # the human sees what was ruled out, with the numbers
    assert "filling_is_data_volume equals True: no (unknown)" in (incident.outcome or "")
    assert "memory_percent at_least 90.0: no (31.2)" in (incident.outcome or "")
    assert loop.server.mutations() == [] and await loop.book.pending() == []


async def test_an_unknown_metric_is_only_escalated(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    signal = metric_signal("api", rule="orders_failed", runbook="metric-threshold")
    (incident_id,) = await loop.monitor.handle_signals([signal])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated", incident.events
    assert "no runbook knows a safe fix" in (incident.outcome or "")
    assert loop.server.mutations() == []


# -- the check --------------------------------------------------------------------------------------
async def test_signal_cleared_waits_for_a_fresh_reading_and_the_incidents_own_rule() -> None:
    acted = datetime.now(UTC)
    memo = VerifyMemo(acted, {"metric_rule": "queue"})
    check = Check(check="signal_cleared", kinds=["metric_rule"])
    target = {"app_name": "shop", "service": "worker"}
    server = FakeServer()

    async def look(*signals: dict[str, Any]) -> bool | None:
        server.on("active_signals", Answer(structured={"detectors_running": True, "signals": list(signals)}))
        return await signal_cleared(server, check, target, memo)

    assert await look(metric_signal(last_seen=acted - timedelta(seconds=5))) is None  # not read since
    assert await look(metric_signal(last_seen=acted + timedelta(seconds=5))) is False  # still past it
    assert await look() is True  # resolved
    assert await look(metric_signal(rule="memory_mb", last_seen=acted + timedelta(seconds=5))) is True
    server.on("active_signals", Answer(structured={"detectors_running": False, "signals": []}))
    assert await signal_cleared(server, check, target, memo) is None  # nobody watches: cannot tell


async def test_denied_the_record_keeps_both_signals_and_the_slow_queries_stay_with_the_human(
    loop: Loop,
) -> None:
    """The latency signal joined while the graph waited for the answer (the graph's own copy of
    the incident predates it): the record keeps it. Still slow after the denial, it stays with the
    escalated incident instead of opening another that would ask again for the same volume."""
    script_vectordb_stack(loop.server, [])
    loop.server.on("disk_usage", Answer(structured={"kinds": [], "largest_volumes": []}))
    (incident_id,) = await loop.monitor.handle_signals([volume_signal()])
    await loop.monitor.drive(incident_id)
    assert await loop.monitor.handle_signals([latency_signal()]) == []
    (request,) = await loop.book.pending()
    await loop.book.answer(request.id, approve=False, by="cli:ops")
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated", incident.events
    assert [s["kind"] for s in incident.signals] == ["disk_pressure", "metric_rule"]
    assert any(e.step == "monitor" and "signal attached: metric_rule" in e.message for e in incident.events)
    still = datetime.now(UTC).isoformat()
    again = [dict(volume_signal(), last_seen=still), dict(latency_signal(), last_seen=still)]
    assert await loop.monitor.handle_signals(again) == []
    assert [i.id for i in await loop.store.recent(10)] == [incident_id]
    assert await loop.book.pending() == [] and loop.server.mutations() == []
