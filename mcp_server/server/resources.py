"""MCP resources: runbooks, compose files (redacted), the inventory, the audit log, budgets, active signals."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from mcp_server.dokploy.host_files import HostFileError, dokploy_compose_text
from mcp_server.redaction import redact, redact_text
from mcp_server.runbooks import RunbookLibrary
from mcp_server.safety.budgets import budget_overview
from mcp_server.server.context import services
from mcp_server.server.resolve import current_inventory
from mcp_server.server.services import LiveServices
from mcp_server.settings import Settings


def _constant(text: str) -> Callable[[], str]:
    def read() -> str:
        return text

    return read


def register(mcp: MCPServer, settings: Settings, live: LiveServices) -> None:
    library = RunbookLibrary.load(settings.runbooks_dir)

    # A template is not listed by resources/list, so each runbook is also its own static resource.
    for name in library.names():
        book = library.get(name)
        assert book is not None
        text = library.text(name) or ""
        mcp.resource(
            f"runbook://{name}",
            name=f"runbook-{name}",
            title=book.title,
            description=book.description,
            mime_type="application/yaml",
        )(_constant(text))

    @mcp.resource("runbook://{name}", mime_type="application/yaml", description="A runbook by name (YAML).")
    def runbook(name: str) -> str:
        text = library.text(name)
        if text is None:
            raise ResourceNotFoundError(f"no runbook {name!r}; known: {', '.join(library.names())}")
        return text

    @mcp.resource(
        "runbook://index", mime_type="application/json", description="Names and titles of all runbooks."
    )
    def runbook_index() -> str:
        return json.dumps(
            [
                {"name": n, "title": b.title, "signals": b.signals}
                for n in library.names()
                if (b := library.get(n))
            ]
        )

    @mcp.resource(
        "dokploy://compose/{compose_id}/file",
        mime_type="application/yaml",
        description="The compose file Dokploy stores for a compose (secrets redacted).",
    )
    async def compose_file(compose_id: str, ctx: Context) -> str:
        svc = services(ctx)
        client = await svc.dokploy()
        try:
            compose = await client.compose_one(compose_id)
        except Exception as exc:
            raise ResourceNotFoundError(f"compose {compose_id!r}: {redact_text(str(exc))}") from None
        # git sources store no file in Dokploy: then its checkout, only from under Dokploy's directory
        try:
            found = await anyio.to_thread.run_sync(
                dokploy_compose_text, compose, svc.settings.dokploy_base_dir
            )
        except HostFileError as exc:
            raise ResourceNotFoundError(f"compose {compose_id!r}: {redact_text(str(exc))}") from None
        return redact_text(found.text)

    @mcp.resource(
        "infraguardian://inventory", mime_type="application/json", description="Live inventory of this host."
    )
    async def inventory_resource() -> str:
        svc = live.get()
        inv = await current_inventory(svc, svc.host(None))  # the default host
        return json.dumps(redact(inv.model_dump(mode="json")))

    @mcp.resource(
        "infraguardian://audit", mime_type="application/json", description="The newest 200 audit log rows."
    )
    async def audit_resource() -> str:
        rows = await live.get().safety.audit_entries(limit=200)
        return json.dumps([r.model_dump(mode="json") for r in rows])

    @mcp.resource(
        "infraguardian://budgets",
        mime_type="application/json",
        description="Budget rules and each target's use over the last 24 h (spent or not, next allowed).",
    )
    async def budgets_resource() -> str:
        safety = live.get().safety
        overview = functools.partial(
            budget_overview, safety.budgets, safety.settings.budgets, now=safety.clock()
        )
        return json.dumps(redact(await anyio.to_thread.run_sync(overview)))

    @mcp.resource(
        "infraguardian://signals",
        mime_type="application/json",
        description="Active signals from the detectors.",
    )
    async def signals_resource() -> str:
        store = live.get().detectors  # the watcher's signal store: the same for every session
        signals = store.active_signals() if store else []
        return json.dumps(redact([s.model_dump(mode="json") for s in signals]))
