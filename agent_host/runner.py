"""Putting the agent together: the server link, the server's runbooks, the incident store, the
approval book and the checkpointer (SQLite in the state directory, or PostgreSQL by URL), the
graph and the monitor. `infraguardian-agent run` and the tests start the agent through here."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent_host.approvals import ApprovalBook
from agent_host.incidents.database import Database
from agent_host.incidents.model import Incident
from agent_host.incidents.store import IncidentStore
from agent_host.loop.deps import LoopDeps
from agent_host.loop.graph import compile_graph
from agent_host.model import ModelDecider
from agent_host.model.tools import LinkReadTools, definitions_from_mcp
from agent_host.monitor import Monitor
from agent_host.server_link import ServerLink
from agent_host.settings import AgentSettings
from mcp_server.runbooks import RunbookLibrary

RUNBOOK_INDEX = "runbook://index"
log = logging.getLogger(__name__)


def mode_note(settings: AgentSettings) -> str:
    """How this agent decides when no model is configured (a configured one says it itself)."""
    return "runbook-only: no model configured (set OLLAMA_HOST or INFRAGUARDIAN_AGENT__MODEL__OLLAMA_HOST)"


async def server_runbook_texts(link: ServerLink) -> dict[str, str]:
    """The server's own runbooks (`runbook://…`), so agent and server follow the same files."""
    index = json.loads(await link.read_resource(RUNBOOK_INDEX))
    return {entry["name"]: await link.read_resource(f"runbook://{entry['name']}") for entry in index}


async def server_runbooks(link: ServerLink) -> RunbookLibrary:
    return RunbookLibrary.from_texts(await server_runbook_texts(link))


async def incident_memory(
    settings: AgentSettings, store: IncidentStore, runbooks: dict[str, str]
) -> tuple[Any | None, str]:
    """The knowledge base (embedded Chroma in the state directory, or a Chroma server) and a line
    saying what it is; the runbooks are indexed as notes. Memory that cannot open is reported and
    the agent runs without it, as it runs without a model."""
    if not settings.memory.enabled:
        return None, "incident memory off (INFRAGUARDIAN_AGENT__MEMORY__ENABLED=false)"
    from agent_host.memory import KnowledgeBase, MemoryStoreError

    try:
        memory = await KnowledgeBase.open(
            settings.memory, settings.state_dir, ollama_host=settings.model.ollama_host, store=store
        )
        for name, text in sorted(runbooks.items()):
            await memory.add_note(f"runbook:{name}", text, {"kind": "runbook", "name": name})
        await memory.catch_up(store)
    except MemoryStoreError as exc:
        return None, f"incident memory unavailable ({exc}); deciding without it"
    return memory, f"incident memory: {memory.status}"


async def model_decider(settings: AgentSettings, link: ServerLink) -> ModelDecider | None:
    """The model, when one is configured: offered the server's read-only tools, and asked at once
    whether it answers so `run` and every incident say the real mode from the start."""
    if not settings.model.enabled:
        return None
    tools = LinkReadTools(definitions_from_mcp(await link.list_tools()), link)
    decider = ModelDecider(settings.model, read_tools=tools)
    await decider.check()
    return decider


@contextlib.asynccontextmanager
async def checkpointer(settings: AgentSettings) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """LangGraph's saver: PostgreSQL when `database_url` is set, else SQLite in the state directory."""
    if settings.database_url:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(settings.database_url) as saver:
            await saver.setup()
            yield saver
    else:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        settings.state_dir.mkdir(parents=True, exist_ok=True)
        async with AsyncSqliteSaver.from_conn_string(str(settings.checkpoint_path)) as saver:
            yield saver


@contextlib.asynccontextmanager
async def telegram_channel(deps: LoopDeps, link: ServerLink, db: Database) -> AsyncIterator[Any | None]:
    """The Telegram bot when a token and an allowed chat are set (else None): commands, questions,
    approvals with buttons, and the incident notifier as a task beside the agent. Telegram being
    down never stops the agent: the bot connects and delivers in the background."""
    settings = deps.settings.telegram
    if not settings.enabled:
        yield None
        return
    from agent_host.telegram.approvals import approval_handlers
    from agent_host.telegram.bot import TelegramBot
    from agent_host.telegram.commands import command_handlers
    from agent_host.telegram.context import BotContext
    from agent_host.telegram.outbox import Outbox

    ctx = BotContext(settings=settings, link=link, store=deps.store, approvals=deps.approvals,
                     decider=deps.decider, outbox=Outbox(db))  # fmt: skip
    bot = TelegramBot(ctx, [*approval_handlers(ctx), *command_handlers(ctx)])
    deps.listeners.append(bot.listener)
    await bot.start()
    notifier = asyncio.create_task(bot.run_notifier(), name="telegram-notifier")
    try:
        yield bot
    finally:
        await bot.stop()  # ends run_notifier
        done, _ = await asyncio.wait([notifier], timeout=10)
        if not done:
            notifier.cancel()
        elif not notifier.cancelled() and notifier.exception() is not None:
            log.error("telegram: the notifier had stopped on an error: %s", notifier.exception())


@dataclass
class Agent:
    link: ServerLink
    deps: LoopDeps
    monitor: Monitor
    memory_status: str = ""
    telegram: Any | None = None  # agent_host.telegram.bot.TelegramBot when configured
    graph: Any | None = None  # the compiled LangGraph graph (the dashboard reads its checkpoints)

    def describe_mode(self) -> str:
        """How it decides (model or runbooks) and what it remembers, for `run`'s first lines."""
        parts = [self.deps.mode_note(), self.memory_status]
        if self.telegram is not None:
            chats = len(self.deps.settings.telegram.allowed_chat_ids)
            parts.append(f"Telegram: commands, approvals and notifications for {chats} chat(s)")
        return "; ".join(part for part in parts if part)


@contextlib.asynccontextmanager
async def running_agent(
    settings: AgentSettings,
    *,
    listeners: list[Callable[[Incident, str], None]] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Agent]:
    """Everything the agent needs, open; `agent.monitor.run()` watches until cancelled."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    db = settings.open_database()
    store, book = IncidentStore(db), ApprovalBook(db)
    try:
        async with ServerLink(settings.link_settings(), env=env) as link, checkpointer(settings) as saver:
            texts = await server_runbook_texts(link)
            library = RunbookLibrary.from_texts(texts)
            decider = await model_decider(settings, link)
            memory, memory_status = await incident_memory(settings, store, texts)
            log.debug("%s", memory_status)
            deps = LoopDeps(
                link=link, library=library, store=store, settings=settings, approvals=book,
                mode_note=decider.mode_note if decider else (lambda: mode_note(settings)),
                listeners=list(listeners or []), decider=decider, memory=memory,
            )  # fmt: skip
            graph = compile_graph(deps, saver)
            try:
                async with telegram_channel(deps, link, db) as telegram:
                    monitor = Monitor(deps, graph, link.active_signals)
                    yield Agent(link, deps, monitor, memory_status, telegram, graph)
            finally:
                if decider is not None:
                    await decider.aclose()
                if memory is not None:
                    await memory.close()
    finally:
        db.close()
