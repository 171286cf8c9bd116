"""`infraguardian-agent memory list | search | show | forget | note | rebuild | serve`: incident
memory, inspectable and correctable from the state directory (no server needed; no network unless
a Chroma server or Ollama embeddings are configured). Everything printed is redacted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any, TypeVar

import anyio
import click

from mcp_server.redaction import redact, redact_text

from .cli_incidents import _database, _settings
from .incidents.store import IncidentStore
from .memory.postmortem import memory_post_mortem

T = TypeVar("T")


@asynccontextmanager
async def opened() -> AsyncIterator[tuple[Any, IncidentStore]]:
    """The knowledge base and the incident store, from the agent's settings; closed afterwards."""
    from .memory import KnowledgeBase, MemoryStoreError

    settings = _settings()
    if not settings.memory.enabled:
        raise click.ClickException(
            "incident memory is off (INFRAGUARDIAN_AGENT__MEMORY__ENABLED=false); unset it to use `memory`"
        )
    db = _database(settings)
    try:
        store = IncidentStore(db)
        try:
            memory = await KnowledgeBase.open(
                settings.memory, settings.state_dir, ollama_host=settings.model.ollama_host, store=store
            )
        except MemoryStoreError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            yield memory, store
        finally:
            await memory.close()
    finally:
        db.close()


def run_with_memory(body: Callable[[Any, IncidentStore], Awaitable[T]]) -> T:
    async def main() -> T:
        async with opened() as (memory, store):
            return await body(memory, store)

    return anyio.run(main)


def echo(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(redact(data), indent=2, ensure_ascii=False, default=str))
    else:
        click.echo("\n".join(redact_text(line) for line in lines) if lines else "nothing remembered yet")


def _similar_line(item: Any) -> str:
    return (
        f"{item.incident_id}  {item.similarity:.2f}  {item.kind:14} {item.service or item.app_name:16} "
        f"{item.solution or 'no fix'} {item.outcome_kind}  {item.summary[:100]}"
    )


@click.group("memory")
def memory() -> None:
    """Incident memory: what past incidents taught (list, search, show a post-mortem, forget)."""


@memory.command("list")
@click.option("-n", "limit", default=50, show_default=True, help="How many of the newest to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(limit: int, as_json: bool) -> None:
    """The remembered incidents, newest first, with the fix each got and how it ended."""

    async def body(kb: Any, _: IncidentStore) -> tuple[list[Any], str]:
        return await kb.entries(limit), kb.status

    entries, status = run_with_memory(body)
    lines = [f"# {status}"] if entries else []
    lines += [
        f"{e.incident_id}  {e.opened_at[:19]}  {e.kind:14} {e.service or e.app_name:16} "
        f"{e.solution or 'no fix'} {e.outcome_kind}  {e.summary[:100]}"
        for e in entries
    ]
    echo({"status": status, "entries": [asdict(e) for e in entries]}, as_json, lines)


@memory.command("search")
@click.argument("text")
@click.option("-n", "limit", default=5, show_default=True, help="How many results.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(text: str, limit: int, as_json: bool) -> None:
    """Past incidents (and runbook/knowledge notes) closest in meaning to TEXT."""
    if not text.strip():
        raise click.UsageError("memory search needs some text, e.g. 'killed out of memory exit 137'")

    async def body(kb: Any, _: IncidentStore) -> tuple[list[Any], list[tuple[str, float, str]]]:
        return await kb.search(text, limit), await kb.search_notes(text, min(limit, 3))

    found, notes = run_with_memory(body)
    lines = [_similar_line(item) for item in found]
    lines += [f"note {note_id}  {score:.2f}  {body_text[:100]!r}" for note_id, score, body_text in notes]
    data = {
        "incidents": [asdict(item) for item in found],
        "notes": [{"id": n, "similarity": s, "text": t} for n, s, t in notes],
    }
    echo(data, as_json, lines)


@memory.command("show")
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(incident_id: str, as_json: bool) -> None:
    """A post-mortem of any incident from memory: the record, what this target's past fixes teach,
    and the most similar past incidents with how each ended."""

    async def body(kb: Any, store: IncidentStore) -> tuple[str, dict[str, Any]] | None:
        return await memory_post_mortem(kb, store, incident_id)

    found = run_with_memory(body)
    if found is None:
        raise click.ClickException(
            f"no incident {incident_id!r}; list them with `infraguardian-agent memory list`"
        )
    text, data = found
    echo(data, as_json, text.splitlines())


@memory.command("forget")
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def forget(incident_id: str, as_json: bool) -> None:
    """Stop learning from INCIDENT_ID: drop it from the index and its fixes from what steers the
    next decisions (the incident's own record stays for the audit; a rebuild skips it)."""

    async def body(kb: Any, store: IncidentStore) -> tuple[bool, bool]:
        return await store.forget(incident_id), await kb.forget(incident_id)

    known, indexed = run_with_memory(body)
    if not known and not indexed:
        raise click.ClickException(
            f"no incident {incident_id!r}; list them with `infraguardian-agent memory list`"
        )
    line = f"forgot {incident_id}: its fixes no longer steer decisions" + (
        "" if indexed else " (it was not indexed)"
    )
    echo({"forgotten": incident_id, "was_indexed": indexed}, as_json, [line])


@memory.command("note")
@click.argument("text")
@click.option("--id", "note_id", help="Its id (default: derived from the text); the same id replaces it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def note(text: str, note_id: str | None, as_json: bool) -> None:
    """Add a knowledge note (e.g. "the worker needs redis up first") that decisions can find."""
    import hashlib

    if not text.strip():
        raise click.UsageError("memory note needs the note's text")
    chosen = note_id or "note:" + hashlib.sha256(text.encode()).hexdigest()[:12]

    async def body(kb: Any, _: IncidentStore) -> None:
        await kb.add_note(chosen, text, {"kind": "note"})

    run_with_memory(body)
    echo({"note": chosen}, as_json, [f"noted {chosen}"])


@memory.command("rebuild")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rebuild(as_json: bool) -> None:
    """Rebuild the index from the incident store (the source of truth), e.g. after a restore."""

    async def body(kb: Any, store: IncidentStore) -> int:
        return await kb.rebuild(store)

    count = run_with_memory(body)
    echo({"indexed": count}, as_json, [f"re-indexed {count} closed incident(s) from the incident store"])


@memory.command("serve")
def serve() -> None:
    """Serve incident memory to any MCP client over stdio (read-only resources memory://incidents,
    memory://incidents/{id}, memory://search/{text}); e.g. Claude Desktop's command
    `infraguardian-agent memory serve`."""
    from .memory.mcp_resources import build_memory_server

    anyio.run(build_memory_server(opened).run_stdio_async)
