"""Signals after their incident closed: the server keeps one signal per kind and target, with its
first `first_seen`, while the problem keeps happening. Seen again after a fix, it is a recurrence
(a new incident, so flap protection counts it); seen again after an escalation, a human already has
the target and it joins the escalated incident (a flapping service is escalated once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import Loop, make_signal

pytestmark = pytest.mark.anyio


def seen_now(signal: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    """The same server signal (same id and first_seen) seen again just now, or one of `kind`."""
    again = dict(signal, last_seen=(datetime.now(UTC) + timedelta(milliseconds=5)).isoformat())
    if kind is not None:
        again.update(id=f"{kind}-shop-api", kind=kind, first_seen=again["last_seen"])
    return again


async def close(loop: Loop, incident_id: str, status: Any) -> None:
    incident = await loop.store.get(incident_id)
    assert incident is not None
    incident.close(status, f"closed as {status} by the test", "test")
    await loop.store.save(incident)


async def test_a_signal_seen_again_after_its_fix_opens_a_new_incident_once(loop: Loop) -> None:
    signal = make_signal("exited", minutes_ago=5)
    [first] = await loop.monitor.handle_signals([signal])
    await close(loop, first, "resolved")
    # not seen since the incident closed: handled, nothing opens
    assert await loop.monitor.handle_signals([signal]) == []
    # seen again: a recurrence, a new incident for the same target (not silently dropped)
    again = seen_now(signal)
    [second] = await loop.monitor.handle_signals([again])
    assert second != first
    assert await loop.monitor.handle_signals([again]) == []  # the open one takes it
    incidents = {i.id: i for i in await loop.store.recent(10)}
    assert incidents[second].target_key == incidents[first].target_key
    assert (
        await loop.store.count_since(incidents[first].target_key, datetime.now(UTC) - timedelta(hours=1)) == 2
    )


async def test_after_an_escalation_the_target_s_signals_join_it_until_the_hold_ends(loop: Loop) -> None:
    signal = make_signal("exited", minutes_ago=5)
    [escalated] = await loop.monitor.handle_signals([signal])
    await close(loop, escalated, "escalated")
    crash_loop = seen_now(signal, "crash_loop")
    assert await loop.monitor.handle_signals([seen_now(signal), crash_loop]) == []
    incident = await loop.store.get(escalated)
    assert incident is not None and incident.status == "escalated"
    assert {s["kind"] for s in incident.signals} == {"exited", "crash_loop"}
    assert any("signal attached: crash_loop" in e.message for e in incident.events)
    # once the hold is over, the next occurrence is a new incident again
    loop.deps.settings.flap.escalation_hold_s = 0
    [after_hold] = await loop.monitor.handle_signals([seen_now(signal)])
    assert after_hold != escalated
