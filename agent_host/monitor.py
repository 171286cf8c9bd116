"""The monitor: the agent's main loop around the graph.

Every `poll_s` it reads the server's active signals, turns them into incidents (incidents/grouping.py)
and drives each incident's LangGraph thread (thread id = incident id) in its own task. It resumes
every unfinished incident when it starts (the checkpointer knows the node each one was in), resumes
an incident paused for approval once the approval is answered or expired, and never drives one
thread twice at a time. Killing it loses nothing: the store and the checkpoints are written before
anything moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import anyio
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agent_host.incidents.grouping import (
    SYMPTOM_KINDS,
    already_handled,
    attach,
    blames,
    causes_first,
    holds,
    incident_target,
    left_to_human,
    new_incident,
    recurrence,
)
from agent_host.incidents.model import Incident
from agent_host.loop.deps import LoopDeps
from agent_host.loop.state import LoopState

log = logging.getLogger("infraguardian.agent")

SignalSource = Callable[[], Awaitable[list[dict[str, Any]]]]
RECENT_HOLDERS = 20  # newest incidents searched for one that holds a signal grouped into it


class Monitor:
    def __init__(self, deps: LoopDeps, graph: CompiledStateGraph[LoopState], signals: SignalSource) -> None:
        self.deps = deps
        self.graph = graph
        self.signals = signals
        self._running: set[str] = set()
        self._tasks: anyio.abc.TaskGroup | None = None

    async def run(self) -> None:
        """Resume what was unfinished, then watch until cancelled (and look for an unreachable
        model again every `recheck_s`, when one is configured)."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            keep_looking = getattr(self.deps.decider, "keep_looking", None)
            if keep_looking is not None:
                tasks.start_soon(keep_looking)
            await self.resume_unfinished()
            while True:
                await self.tick()
                await anyio.sleep(self.deps.settings.poll_s)

    async def tick(self) -> None:
        """One round: new signals, answered or expired approvals."""
        try:
            signals = await self.signals()
        except Exception as exc:  # the server is away: the link reconnects; try again next round
            log.warning("cannot read signals: %s", exc)
            signals = []
        for incident_id in await self.handle_signals(signals):
            self._start(incident_id, None)
        await self.handle_approvals()

    async def handle_signals(self, signals: Sequence[Mapping[str, Any]]) -> list[str]:
        """Attach each signal to its incident or open one; returns the ids of incidents opened."""
        opened: list[str] = []
        store = self.deps.store
        active = causes_first([s for s in signals if s.get("status", "active") == "active"])
        gathering = {incident_target(s)[1] for s in active if self._evidence_coming(s)}
        recent: list[Incident] | None = None  # read once a round, when a signal needs it
        for signal in active:
            if self._evidence_coming(signal):
                continue  # opened next round with its evidence (logs, inspect, own probe)
            if signal.get("kind") in SYMPTOM_KINDS and incident_target(signal)[1] in gathering:
                continue  # a cause for this service (an OOM kill) is still being inspected: it opens first
            candidate = new_incident(signal)
            current = await store.open_for(candidate.fingerprint)
            if current is None:
                current = next((i for i in await store.unfinished() if blames(i, signal)), None)
            if current is not None:
                if attach(current, signal):
                    await store.save(current)
                continue
            last = await store.last_for(candidate.fingerprint)
            if last is None:  # grouped into another incident (a victim; a slow service over its volume)
                recent = await store.recent(RECENT_HOLDERS) if recent is None else recent
                last = next((i for i in recent if holds(i, signal)), None)
            if already_handled(last, signal):
                continue
            hold_s = self.deps.settings.flap.escalation_hold_s
            if last is not None and left_to_human(last, hold_s, self.deps.clock()):
                if attach(last, signal):  # the escalated incident shows that it keeps happening
                    await store.save(last)
                continue
            known = await store.get(candidate.id)
            if known is not None:
                if not known.closed or already_handled(known, signal):
                    continue
                candidate = recurrence(candidate, signal)  # seen again after its incident closed
                if await store.get(candidate.id) is not None:
                    continue
            await store.save(candidate)
            opened.append(candidate.id)
        return opened

    def _evidence_coming(self, signal: Mapping[str, Any]) -> bool:
        """A signal raised before its evidence was gathered, younger than `evidence_wait_s`: the
        server publishes the complete copy within a second or two, and an incident opened on the
        early copy would decide without it (e.g. `process_alive` from the unhealthy probe)."""
        if not (signal.get("evidence") or {}).get("evidence_pending"):
            return False
        try:
            seen = datetime.fromisoformat(str(signal.get("first_seen")))
        except ValueError:
            return False
        return (self.deps.clock() - seen).total_seconds() < self.deps.settings.evidence_wait_s

    async def handle_approvals(self) -> None:
        book = self.deps.approvals
        if book is None:
            return
        await book.expire()
        for incident in await self.deps.store.unfinished():
            if incident.status != "awaiting_approval" or incident.id in self._running:
                continue
            command = await self._approval_answer(incident.id)
            if command is not None:
                self._start(incident.id, command)

    async def _approval_answer(self, incident_id: str) -> Command[Any] | None:
        book = self.deps.approvals
        answered = await book.answered_for(incident_id) if book else []
        return Command(resume={"approval_id": answered[-1].id}) if answered else None

    async def resume_unfinished(self) -> None:
        """Drive every incident that is not closed from where its checkpoint stopped."""
        for incident in await self.deps.store.unfinished():
            if incident.status == "awaiting_approval":
                continue  # handle_approvals resumes it once answered
            self._start(incident.id, None)

    async def resume_unfinished_inline(self) -> None:
        """`resume_unfinished` without tasks: each incident in turn, to its end or pause (`run --once`)."""
        for incident in await self.deps.store.unfinished():
            await self.drive(incident.id)

    def _start(self, incident_id: str, command: Command[Any] | None) -> None:
        if incident_id in self._running or self._tasks is None:
            return
        self._running.add(incident_id)
        self._tasks.start_soon(self._drive, incident_id, command)

    async def drive(self, incident_id: str, command: Command[Any] | None = None) -> LoopState:
        """Run one incident's thread until it ends or pauses (tests call this directly)."""
        config: RunnableConfig = {"configurable": {"thread_id": incident_id}}
        snapshot = await self.graph.aget_state(config)
        paused = any(task.interrupts for task in snapshot.tasks)
        if command is None and paused:
            command = await self._approval_answer(incident_id)
            if command is None:
                return cast(LoopState, snapshot.values)  # still waiting for a human
        if command is not None:
            payload: Any = command
        elif snapshot.next:
            payload = None  # resume at the node it was in
        elif snapshot.values:
            return cast(LoopState, snapshot.values)  # finished before the restart
        else:
            incident = await self.deps.store.get(incident_id)
            if incident is None:
                raise LookupError(f"no incident {incident_id}")
            payload = {"incident": incident.model_dump(mode="json"), "route": "done"}
        result = await self.graph.ainvoke(payload, config, durability="sync")
        return cast(LoopState, result)

    async def _drive(self, incident_id: str, command: Command[Any] | None) -> None:
        try:
            await self.drive(incident_id, command)
        except Exception:
            log.exception("incident %s stopped with an error; it resumes on the next start", incident_id)
            incident = await self.deps.store.get(incident_id)
            if isinstance(incident, Incident):
                incident.note("monitor", "the loop stopped with an internal error; resumed at the next start")
                await self.deps.store.save(incident)
        finally:
            self._running.discard(incident_id)
