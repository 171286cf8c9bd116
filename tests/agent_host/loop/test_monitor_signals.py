"""The monitor waits for a signal's evidence before opening its incident, and an incident takes the
gravest severity of its signals."""

from __future__ import annotations

import pytest

from agent_host.incidents.grouping import attach, new_incident

from .conftest import Loop, make_signal

pytestmark = pytest.mark.anyio


def pending(minutes_ago: float) -> dict[str, object]:
    signal = make_signal("unhealthy", minutes_ago=minutes_ago)
    signal["severity"] = "warning"
    signal["evidence"] = {"status": "unhealthy", "evidence_pending": True}
    return signal


async def test_a_signal_still_gathering_evidence_opens_nothing_until_it_is_in_or_too_old(loop: Loop) -> None:
    assert await loop.monitor.handle_signals([pending(minutes_ago=0.02)]) == []  # ~1 s old
    assert await loop.store.unfinished() == []
    complete = make_signal("unhealthy", minutes_ago=0.02, evidence={"own_probe": {"answered": True}})
    (opened,) = await loop.monitor.handle_signals([complete])
    incident = await loop.store.get(opened)
    assert incident is not None and incident.signals[0]["evidence"]["own_probe"] == {"answered": True}


async def test_evidence_that_never_comes_does_not_hold_the_incident_back(loop: Loop) -> None:
    # older than evidence_wait_s (10 s): the incident opens on what there is
    assert len(await loop.monitor.handle_signals([pending(minutes_ago=1)])) == 1


def test_an_incident_takes_the_gravest_severity_of_its_signals() -> None:
    quick = make_signal("oom")
    quick["severity"] = "warning"
    incident = new_incident(quick)
    assert incident.severity == "warning"
    inspected = dict(quick, severity="critical")
    assert attach(incident, inspected) is True  # same signal, graver: the incident changed
    assert incident.severity == "critical" and len(incident.signals) == 1
    assert attach(incident, dict(quick, severity="warning")) is False  # never lowered
    assert incident.severity == "critical"


async def test_an_oom_beside_a_crash_loop_opens_the_incident_whatever_the_order(loop: Loop) -> None:
    # the crash loop arrives first and complete; the OOM kill of the same service is still inspected
    loop_signal = make_signal("crash_loop", minutes_ago=0.02)
    oom = make_signal("oom", minutes_ago=0.02, evidence={"evidence_pending": True})
    assert await loop.monitor.handle_signals([loop_signal, oom]) == []  # the cause opens first
    (opened,) = await loop.monitor.handle_signals(
        [loop_signal, make_signal("oom", minutes_ago=0.02, evidence={"oom_killed": True})]
    )
    incident = await loop.store.get(opened)
    assert incident is not None and incident.kind == "oom" and incident.runbook == "oom-killed"
    assert [s["kind"] for s in incident.signals] == ["oom", "crash_loop"]


async def test_a_crash_loop_of_another_service_is_not_held_back_by_an_oom_being_inspected(loop: Loop) -> None:
    oom = make_signal("oom", "api", minutes_ago=0.02, evidence={"evidence_pending": True})
    (opened,) = await loop.monitor.handle_signals(
        [make_signal("crash_loop", "worker", minutes_ago=0.02), oom]
    )
    incident = await loop.store.get(opened)
    assert incident is not None and incident.kind == "crash_loop" and incident.target["service"] == "worker"
