"""Everything a node needs besides the state, passed once when the graph is built."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio

from agent_host.approvals.book import ApprovalBook
from agent_host.diagnosis.recall import remember
from agent_host.diagnosis.resources import snapshot_resources
from agent_host.incidents.model import Incident, now
from agent_host.incidents.store import IncidentStore
from agent_host.settings import AgentSettings
from mcp_server.runbooks import RunbookLibrary

from .ports import ToolCaller
from .state import LoopState, Route

MAX_CONTEXT_TEXT = 4000


@dataclass
class LoopDeps:
    link: ToolCaller
    library: RunbookLibrary
    store: IncidentStore
    settings: AgentSettings
    approvals: ApprovalBook | None = None
    decider: Any | None = None  # agent_host.model.ModelDecider; None: runbook-only
    memory: Any | None = None  # agent_host.memory.KnowledgeBase; None: no incident memory
    mode_note: Callable[[], str] = lambda: "runbook-only: no model configured"
    clock: Callable[[], datetime] = now
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    listeners: list[Callable[[Incident, str], None]] = field(default_factory=list)

    async def save(self, incident: Incident, route: Route, step: str) -> LoopState:
        """Store the incident (the post-mortem is always current), index it in incident memory
        once it is closed, and hand the state on."""
        if incident.closed and "_resources" not in incident.context:
            # the watcher forgets samples after 30 min: the incident keeps its own for the plot
            resources = await snapshot_resources(self.link, incident)
            if resources is not None:
                incident.context["_resources"] = resources
        await self.store.save(incident)
        # what is stored is told at once; indexing in memory comes after (it may take a moment,
        # and a stop in between loses nothing: the next start's catch_up indexes it)
        for listener in self.listeners:
            listener(incident, step)
        if incident.closed:
            await remember(self.memory, incident)
        return {"incident": incident.model_dump(mode="json"), "route": route}


def load(state: LoopState) -> Incident:
    return Incident.model_validate(state["incident"])


def bounded_answer(tool: str, arguments: dict[str, Any], answer: Any) -> dict[str, Any]:
    """A tool answer as kept in the incident: structured content, text cut to MAX_CONTEXT_TEXT."""
    text = answer.text or ""
    return {
        "tool": tool,
        "arguments": arguments,
        "ok": bool(answer.ok),
        "refused": bool(answer.refused),
        "error": answer.error,
        "structured": answer.structured,
        "text": text if len(text) <= MAX_CONTEXT_TEXT else text[:MAX_CONTEXT_TEXT] + " …(cut)",
    }
