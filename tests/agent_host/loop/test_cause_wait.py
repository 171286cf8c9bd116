"""Waiting for the cause (agent_host/loop/cause_wait.py): the vector DB's slow answers breach before
the disk detector sees its volume filling. slow-responses waits for a disk_pressure signal to join
instead of escalating at once; when it joins, the one incident asks for the bigger volume. Nothing
joins → escalated once the wait is spent, and the wait is bounded by the incident's opening."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import Loop
from .test_metric_runbooks import latency_signal, metric_signal, script_vectordb_stack
from .test_volume_human_step import volume_signal

pytestmark = pytest.mark.anyio


async def test_the_slow_answers_first_wait_for_the_volume_and_then_ask_for_it_in_one_incident(
    loop: Loop,
) -> None:
    script_vectordb_stack(loop.server, [])  # the server sees no filling volume yet
    (incident_id,) = await loop.monitor.handle_signals([latency_signal()])
    looks: list[list[str]] = []

    async def the_disk_detector_catches_up(seconds: float) -> None:
        loop.sleeps.append(seconds)
        if len(loop.sleeps) == 3:  # a few looks later, the volume's signal reaches the monitor
            looks.append(await loop.monitor.handle_signals([volume_signal()]))

    loop.deps.sleep = the_disk_detector_catches_up
    await loop.monitor.drive(incident_id)
    assert looks == [[]]  # the volume's signal opened nothing: it joined the waiting incident
    incident = await loop.store.get(incident_id)
    assert incident is not None
    assert incident.status == "awaiting_approval", incident.events
    assert [s["kind"] for s in incident.signals] == ["metric_rule", "disk_pressure"]
    assert incident.decision is not None and incident.decision.runbook == "disk-filling"
    assert incident.decision.solution == "grow-tmpfs-volume"
    notes = [e.message for e in incident.events if e.step == "diagnose"]
    assert any("waiting up to" in n and "disk_pressure or memory_pressure" in n for n in notes)
    assert any("joined: deciding again" in n for n in notes)
    assert len(await loop.book.pending()) == 1 and loop.server.mutations() == []


async def test_nothing_joins_then_it_escalates_and_a_late_restart_waits_no_longer(loop: Loop) -> None:
    script_vectordb_stack(loop.server, [])
    (incident_id,) = await loop.monitor.handle_signals([latency_signal()])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None
    assert incident.status == "escalated", incident.events
    assert any("no disk_pressure or memory_pressure signal joined" in e.message for e in incident.events)
    waits = len(loop.sleeps)
    assert 0 < waits <= 300 / 5 + 1  # bounded by looks even when the clock does not move

    # an incident opened longer ago than the wait decides at once
    slow_api = metric_signal(
        "api", rule="latency", runbook="slow-responses", source_kind="latency", unit="ms"
    )
    (late_id,) = await loop.monitor.handle_signals([slow_api])
    late = await loop.store.get(late_id)
    assert late is not None
    late.opened_at -= timedelta(seconds=301)
    await loop.store.save(late)
    await loop.monitor.drive(late_id)
    assert len(loop.sleeps) == waits
    done = await loop.store.get(late_id)
    assert done is not None and done.status == "escalated"
