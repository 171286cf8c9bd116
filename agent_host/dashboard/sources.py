"""Where the dashboard's pages get their data: the incident store and the approval book (the same
database the agent writes, so `dashboard` alone shows what a running agent does), the LangGraph
checkpoints (where each open incident stands), and the MCP server through the agent's link (live
health, stats, the dependency graph, budgets) — the dashboard never touches Docker or Dokploy itself.

The server's inventory is read from the unaudited `infraguardian://inventory` resource and kept for
`health_s` seconds, so many open browsers cost one engine scan per interval. A page that needs a tool
(stats_history, compose_graph) calls it once per view; a server that cannot be reached turns into a
note on the page, never an error page.

Everything handed to a template is redacted here (`mcp_server.redaction.redact`); escaping is the
templates' autoescape.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent_host.approvals import ApprovalBook, ApprovalRequest
from agent_host.incidents.model import Incident
from agent_host.incidents.store import IncidentStore
from agent_host.server_link import LinkError, ServerLink
from agent_host.settings import AgentSettings
from mcp_server.redaction import redact, redact_text

if TYPE_CHECKING:
    from agent_host.telegram.outbox import Outbox

log = logging.getLogger(__name__)

INVENTORY_URI = "infraguardian://inventory"
BUDGETS_URI = "infraguardian://budgets"


@dataclass
class Reading:
    """One read from the server: the data (redacted) or why there is none, and when."""

    data: Any = None
    note: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return self.data is not None


@dataclass(frozen=True)
class AgentGraphShape:
    """The agent's LangGraph graph as the agent page draws it: node ids and arrows (source, target)."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]


@dataclass
class DashboardSources:
    settings: AgentSettings
    store: IncidentStore
    approvals: ApprovalBook
    link: ServerLink | None = None
    graph: Any | None = None  # a compiled LangGraph graph with the agent's checkpointer
    mode: Callable[[], str] | None = None
    _inventory: Reading | None = None
    _inventory_monotonic: float = 0.0
    # made on first use and kept: the agent page and its live fragment are rendered again and again
    _outbox: Outbox | None = field(default=None, init=False, repr=False)
    _graph_shape: AgentGraphShape | None = field(default=None, init=False, repr=False)

    # -- the agent's own state ----------------------------------------------------------------------

    def mode_line(self) -> str:
        if self.mode is not None:
            return self.mode()
        from agent_host.runner import mode_note

        if self.settings.model.enabled:
            return f"model {self.settings.model.model} at {self.settings.model.ollama_host} (as configured)"
        return mode_note(self.settings)

    async def incidents(self, limit: int = 200) -> list[Incident]:
        return await self.store.recent(limit)

    async def incident(self, incident_id: str) -> Incident | None:
        return await self.store.get(incident_id)

    async def pending_approvals(self) -> list[ApprovalRequest]:
        """The requests waiting for an answer, after marking the overdue ones expired (a write: for
        a page a person opens; the live poller reads `open_approvals` instead)."""
        await self.approvals.expire()
        return await self.approvals.pending()

    async def open_approvals(self) -> list[ApprovalRequest]:
        """The pending requests not yet past their expiry, without writing anything: the live poller
        reads this every second. An overdue one is only left out here; the page render or the
        agent's monitor marks it expired in the database."""
        moment = datetime.now(UTC)
        return [r for r in await self.approvals.pending() if r.expires_at > moment]

    async def answered_approvals(self, limit: int = 20) -> list[ApprovalRequest]:
        return await self.approvals.answered(limit)

    async def telegram_audit(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest Telegram commands, button presses and refused strangers (redacted)."""
        if self._outbox is None:
            from agent_host.telegram.outbox import Outbox

            self._outbox = Outbox(self.store.db)  # creates the bot's tables if missing: once, not per render
        return list(redact(await self._outbox.audit_rows(limit)))

    def agent_graph_shape(self) -> AgentGraphShape:
        """The agent's graph to draw (its nodes and arrows), compiled on first use and kept: the
        graph is code, it cannot change while the dashboard runs."""
        if self._graph_shape is None:
            from agent_host.loop.graph import build_graph

            drawn = build_graph(None).compile().get_graph()
            self._graph_shape = AgentGraphShape(
                nodes=tuple(str(node_id) for node_id in drawn.nodes),
                # one arrow per pair: several conditional routes (auto, approval) can lead to the same node
                edges=tuple(dict.fromkeys((str(e.source), str(e.target)) for e in drawn.edges)),
            )
        return self._graph_shape

    async def node_of(self, incident_id: str) -> str | None:
        """The graph node an unfinished incident will run next (or waits in), from its checkpoint."""
        if self.graph is None:
            return None
        try:
            state = await self.graph.aget_state({"configurable": {"thread_id": incident_id}})
        except Exception as exc:  # a checkpoint that cannot be read is shown as unknown, and logged
            log.warning("dashboard: cannot read the checkpoint of %s: %s", incident_id, redact_text(str(exc)))
            return None
        return state.next[0] if state is not None and state.next else None

    # -- the server ---------------------------------------------------------------------------------

    async def inventory(self) -> Reading:
        """The server's inventory (cached for `dashboard.health_s`)."""
        fresh = time.monotonic() - self._inventory_monotonic < self.settings.dashboard.health_s
        if self._inventory is not None and fresh:
            return self._inventory
        self._inventory = await self._resource(INVENTORY_URI)
        self._inventory_monotonic = time.monotonic()
        return self._inventory

    async def signals(self) -> Reading:
        if self.link is None:
            return Reading(note=NO_SERVER)
        try:
            return Reading(redact(await self.link.active_signals()))
        except LinkError as exc:
            return Reading(note=f"signals unavailable: {redact_text(str(exc))}")

    async def budgets(self) -> Reading:
        return await self._resource(BUDGETS_URI)

    async def tool(self, name: str, arguments: dict[str, Any]) -> Reading:
        """A read-only tool's structured result, or a note saying why there is none."""
        if self.link is None:
            return Reading(note=NO_SERVER)
        try:
            outcome = await self.link.call_tool(name, arguments)
        except LinkError as exc:
            return Reading(note=f"{name} unavailable: {redact_text(str(exc))}")
        if not outcome.ok or not isinstance(outcome.structured, dict):
            return Reading(note=f"{name}: {redact_text(outcome.error or outcome.text or 'no answer')[:300]}")
        return Reading(redact(outcome.structured))

    async def _resource(self, uri: str) -> Reading:
        if self.link is None:
            return Reading(note=NO_SERVER)
        try:
            text = await self.link.read_resource(uri)
            return Reading(redact(json.loads(text)))
        except (LinkError, ValueError) as exc:
            return Reading(note=f"{uri} unavailable: {redact_text(str(exc))[:300]}")


NO_SERVER = "no MCP server connected: live data needs the agent's server (INFRAGUARDIAN_AGENT__SERVER_URL)"
