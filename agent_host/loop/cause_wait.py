"""Waiting for the cause: a symptom is often seen before its cause. A vector DB's slow answers (a
latency rule) can breach before the disk detector's next round sees its volume filling; deciding at
once would escalate "nothing explains it", and the volume's signal would then open a second
incident asking for the bigger volume.

A runbook with `wait_for_cause` (signals: the kinds that would explain it, max_s) makes diagnose wait
when no solution's conditions hold and no escalation rule did: it saves the incident (its facts,
e.g. the volumes the service mounts, are what lets the monitor attach such a signal to it), sleeps,
re-reads the signals the monitor attached, and decides again once one of those kinds joined. The
deadline counts from the incident's opening, so an agent killed mid-wait waits no longer after its
restart; the number of looks is bounded too, whatever the clock does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from agent_host.diagnosis.decide import Choice, choose
from agent_host.diagnosis.facts import facts_of
from agent_host.diagnosis.flap import FlapVerdict
from agent_host.incidents.grouping import keep_attached
from agent_host.incidents.model import Incident
from agent_host.loop.deps import LoopDeps

STEP = "diagnose"
LOOK_EVERY_S = 5.0


def unexplained(choice: Choice) -> bool:
    """No solution holds and nothing code can tell (an escalation rule, flap protection, a down
    dependency) decided: only the runbook's unconditional escalation is left."""
    return choice.solution is None and choice.retarget is None and not choice.decision.escalation


async def wait_for_cause(
    deps: LoopDeps, incident: Incident, choice: Choice, verdict: FlapVerdict, history: Mapping[str, Any]
) -> Choice:
    """`choice`, or a new one made once a signal of the runbook's `wait_for_cause` kinds joined the
    incident (see the module docstring). Returns `choice` unchanged when the runbook has no
    `wait_for_cause`, when something already decided, or when the wait ends with nothing joined."""
    book = deps.library.get(incident.runbook or "")
    wait = book.wait_for_cause if book is not None else None
    if wait is None or not unexplained(choice):
        return choice
    deadline = incident.opened_at + timedelta(seconds=wait.max_s)
    kinds = " or ".join(wait.signals)
    for look in range(math.ceil(wait.max_s / LOOK_EVERY_S) + 1):
        left = (deadline - deps.clock()).total_seconds()
        if left <= 0:
            break
        if look == 0:
            incident.note(STEP, f"nothing explains it yet: waiting up to {left:.0f} s for a {kinds} signal")
        await deps.store.save(incident)
        await deps.sleep(min(LOOK_EVERY_S, left))
        stored = await deps.store.get(incident.id)
        if stored is not None:
            keep_attached(incident, stored)
        if not any(signal.get("kind") in wait.signals for signal in incident.signals):
            continue
        now = deps.clock()
        incident.facts = facts_of(incident, history, now)
        choice = choose(
            incident.runbook, deps.library, incident.facts, verdict, deps.settings, deps.mode_note()
        )
        incident.note(STEP, f"a {kinds} signal joined: deciding again")
        return choice
    incident.note(STEP, f"no {kinds} signal joined within {wait.max_s:.0f} s of the opening")
    return choice
