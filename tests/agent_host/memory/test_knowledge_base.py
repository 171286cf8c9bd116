"""The knowledge base on an embedded Chroma in a temporary state directory: remember, similar
(same service first), search, entries, forget, rebuild, notes; reopening; switching the embedding;
a corrupted directory moved aside and rebuilt; the store's `forget` surviving a rebuild."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from agent_host.incidents.database import Database
from agent_host.incidents.store import IncidentStore
from agent_host.memory import KnowledgeBase, MemorySettings, MemoryStoreError, incident_document
from agent_host.memory.documents import DOCUMENT_MAX_CHARS

from .conftest import OOM, incident, varied_incidents

pytestmark = pytest.mark.anyio

SETTINGS = MemorySettings()


def _broken_dirs(state_dir: Path) -> list[Path]:
    return sorted(state_dir.glob("memory.broken-*"))


async def _kb(tmp_path: Path, store: IncidentStore | None = None) -> KnowledgeBase:
    return await KnowledgeBase.open(SETTINGS, tmp_path, store=store)


async def test_remember_similar_search_entries_and_forget(tmp_path: Path) -> None:
    kb = await _kb(tmp_path)
    try:
        assert kb.status == f"embedded Chroma at {tmp_path / 'memory'}, embedding wordllama-256, 0 incidents"
        assert kb.embedding_name == "wordllama-256"
        past = varied_incidents()
        for inc in past:
            await kb.remember(inc)
        await kb.remember(past[0])  # idempotent: an upsert by id
        assert await kb.count() == len(past)

        # a new OOM on another service: the OOM on api is the closest past incident
        now = incident("oom", "billing", evidence=OOM, outcome="open", minutes=30)
        [best, *_] = await kb.similar(now, n=3)
        assert best.incident_id == past[0].id
        assert (best.kind, best.service, best.solution, best.outcome_kind) == (
            "oom",
            "api",
            "raise-memory",
            "worked",
        )
        assert best.recover_s == 40 and not best.same_service and 0 < best.similarity <= 1
        assert best.summary.startswith("Incident oom (critical)")

        hits = await kb.search("killed by out of memory, exit 137", n=2)
        assert hits[0].incident_id == past[0].id and len(hits) == 2

        entries = await kb.entries(limit=4)
        assert [e.incident_id for e in entries] == [i.id for i in reversed(past)][:4]  # newest first
        entry = await kb.get(past[2].id)
        assert entry is not None and (entry.kind, entry.outcome_kind, entry.solution) == (
            "crash_loop",
            "escalated",
            "",
        )
        assert await kb.get("inc-nope") is None

        assert await kb.forget(past[0].id) is True
        assert await kb.forget(past[0].id) is False
        assert await kb.get(past[0].id) is None
        assert all(s.incident_id != past[0].id for s in await kb.similar(now, n=5))
    finally:
        await kb.close()


async def test_similar_puts_the_same_service_first_and_never_itself(tmp_path: Path) -> None:
    kb = await _kb(tmp_path)
    try:
        other_oom = incident("oom", "api", app="blog", evidence=OOM, minutes=1)
        same_target_disk = incident("disk_pressure", "billing", evidence={"used_percent": 96}, minutes=2)
        for inc in [*varied_incidents(), other_oom, same_target_disk]:
            await kb.remember(inc)
        now = incident("oom", "billing", evidence=OOM, outcome="open", minutes=30)
        await kb.remember(now)  # itself stored already (e.g. remembered while open): never returned
        found = await kb.similar(now, n=3)
        assert found[0].incident_id == same_target_disk.id
        assert found[0].same_service and not any(s.same_service for s in found[1:])
        assert now.id not in [s.incident_id for s in found]
        rest = [s.similarity for s in found[1:]]
        assert rest == sorted(rest, reverse=True)
        assert {s.kind for s in found[1:]} == {"oom"}  # then the closest: the two OOMs elsewhere
    finally:
        await kb.close()


async def test_the_target_s_own_history_of_that_kind_is_found_beyond_the_nearest(tmp_path: Path) -> None:
    kb = await _kb(tmp_path)
    try:
        for n in range(30):  # OOMs elsewhere, worded like the new one: the nearest 13 are all these
            await kb.remember(incident("oom", f"svc{n}", app="farm", evidence=OOM, minutes=n))
        own_oom = incident(
            "oom", "billing", evidence={**OOM, "last_log_lines": ["heap limit reached", "GC overhead"]},
            summary="billing restarted after a kill", solution="raise-memory", outcome="failed", minutes=40,
        )  # fmt: skip
        own_disk = incident("disk_pressure", "billing", evidence={"used_percent": 99}, minutes=41)
        await kb.remember(own_oom)
        await kb.remember(own_disk)
        now = incident("oom", "billing", evidence=OOM, outcome="open", minutes=60)
        found = await kb.similar(now, n=3)
        assert found[0].incident_id == own_oom.id and found[0].same_service
        assert (found[0].solution, found[0].outcome_kind) == ("raise-memory", "failed")
        assert own_disk.id not in [s.incident_id for s in found]  # another kind: not promoted
        assert [s.same_service for s in found] == [True, False, False]
    finally:
        await kb.close()


async def test_documents_carry_outcome_root_cause_and_no_secret() -> None:
    secret = "postgres://app:S3cr3tPassw0rd@db:5432/shop"
    failed = incident(
        "crash_loop", "worker", outcome="failed", solution="restart",
        evidence={"exit_codes": [1], "last_log_lines": [f"connecting to {secret}", "connection refused " * 300]},
        model_root_cause="the database refuses connections",
    )  # fmt: skip
    doc_id, text, meta = incident_document(failed)
    assert doc_id == failed.id and len(text) <= DOCUMENT_MAX_CHARS
    assert "S3cr3tPassw0rd" not in text
    assert "Root cause: the database refuses connections" in text
    assert "restart_service() ok" in text
    assert meta["outcome_kind"] == "failed" and meta["solution"] == "restart" and meta["recover_s"] == -1
    assert all(v is not None for v in meta.values())
    assert meta["compose"] == meta["app_name"] == "shop" and meta["status"] == "escalated"
    worked = incident("oom", "api", evidence=OOM, solution="raise-memory", recover_s=42)
    _, text, meta = incident_document(worked)
    assert meta["outcome_kind"] == "worked" and meta["recover_s"] == 42.0
    assert "Root cause: Raise memory" in text and "Outcome: worked: resolved by raise-memory" in text
    # names pull a query towards the same app's other failures: they are metadata, not text
    assert "shop" not in text and "api" not in text
    assert (meta["app_name"], meta["service"]) == ("shop", "api")
    domain = incident("domain_down", "proxy", summary="proxy of shop: shop.example.com answers 502")
    unnamed_text = incident_document(domain)[1]
    assert (
        "shop.example.com answers 502" in unnamed_text and "proxy" not in unnamed_text
    )  # a domain stays whole


async def test_reopening_keeps_the_data_without_warnings(tmp_path: Path) -> None:
    kb = await _kb(tmp_path)
    past = varied_incidents()
    for inc in past:
        await kb.remember(inc)
    await kb.add_note("runbook:oom-killed", "OOM killed: raise the memory limit", {"kind": "runbook"})
    await kb.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Could not reconstruct embedding function"
        kb = await _kb(tmp_path)
    try:
        assert kb.status.endswith("embedding wordllama-256, 6 incidents")
        assert (await kb.search("out of memory, exit 137", n=1))[0].incident_id == past[0].id
        [(note_id, similarity, text)] = await kb.search_notes("container killed, out of memory", n=1)
        assert (note_id, text) == ("runbook:oom-killed", "OOM killed: raise the memory limit")
        assert 0 < similarity <= 1
    finally:
        await kb.close()


async def test_notes_are_searched_by_meaning(tmp_path: Path) -> None:
    kb = await _kb(tmp_path)
    try:
        assert await kb.search_notes("anything") == []
        await kb.add_note("oom", "the container ran out of memory and was killed: raise its memory limit", {})
        await kb.add_note(
            "disk", "the disk is full: prune unused images and build cache", {"kind": "runbook"}
        )
        await kb.add_note("tls", "the certificate expired: renew it through Traefik", {})
        found = await kb.search_notes("no space left on device", n=3)
        assert found[0][0] == "disk" and len(found) == 3
        assert await kb.add_note("disk", "replaced text about certificates", {})  # an upsert by id
        assert len(await kb.search_notes("x", n=10)) == 3
        # offered again unchanged (every agent start offers every runbook): nothing re-embedded
        assert not await kb.add_note("disk", "replaced text about certificates", {})
        assert await kb.add_note("disk", "replaced text about certificates", {"kind": "runbook"})
        found = await kb.search_notes("certificates", n=3)
        assert [f[2] for f in found if f[0] == "disk"] == ["replaced text about certificates"]
    finally:
        await kb.close()


async def test_switching_the_embedding_re_embeds_instead_of_mixing(
    tmp_path: Path, store: IncidentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    past = varied_incidents()
    for inc in past:
        await store.save(inc)
    kb = await _kb(tmp_path, store)
    assert kb.status.endswith(
        "6 incidents; the index was empty; rebuilt from the incident store (6 incidents)"
    )
    await kb.close()

    from agent_host.memory import knowledge
    from agent_host.memory.embeddings import LexicalEmbedding

    monkeypatch.setattr(knowledge, "embedding_for", lambda settings, host: LexicalEmbedding())
    kb = await _kb(tmp_path, store)
    try:
        assert kb.embedding_name == "lexical-256"
        assert "incidents re-embedded: stored with wordllama-256, configured lexical-256" in kb.status
        assert kb.status.endswith("rebuilt from the incident store (6 incidents)")
        assert await kb.count() == 6
        assert (await kb.search("oom killed exit 137", n=1))[0].incident_id == past[0].id
    finally:
        await kb.close()
    monkeypatch.undo()  # wordllama again, and no store: recreated empty, and says so
    kb = await KnowledgeBase.open(SETTINGS, tmp_path)
    try:
        assert "incidents re-embedded: stored with lexical-256, configured wordllama-256" in kb.status
        assert await kb.count() == 0 and "rebuilt" not in kb.status
    finally:
        await kb.close()


async def test_a_corrupted_directory_is_moved_aside_and_rebuilt_from_the_store(
    tmp_path: Path, store: IncidentStore
) -> None:
    closed = varied_incidents()[:3]
    for inc in [*closed, incident("oom", "cache", evidence=OOM, outcome="open")]:
        await store.save(inc)
    kb = await _kb(tmp_path)
    await kb.remember(closed[0])
    await kb.close()
    sqlite = tmp_path / "memory" / "chroma.sqlite3"
    sqlite.write_bytes(b"this is not a database " * 2000)

    kb = await _kb(tmp_path, store)
    try:
        broken = _broken_dirs(tmp_path)
        assert len(broken) == 1 and (broken[0] / "chroma.sqlite3").read_bytes().startswith(b"this is not")
        assert "the Chroma directory was unreadable (" in kb.status
        assert f"moved to {broken[0].name}" in kb.status
        assert kb.status.endswith("rebuilt from the incident store (3 incidents)")
        assert await kb.count() == 3  # the closed ones; the open incident is not memory yet
        assert {e.incident_id for e in await kb.entries()} == {i.id for i in closed}
    finally:
        await kb.close()


async def test_a_missing_directory_is_created_and_filled_from_the_store(
    tmp_path: Path, store: IncidentStore
) -> None:
    for inc in varied_incidents():
        await store.save(inc)
    kb = await _kb(tmp_path, store)
    try:
        assert (tmp_path / "memory" / "chroma.sqlite3").exists()
        assert await kb.count() == 6
    finally:
        await kb.close()


async def test_forget_in_the_store_survives_a_rebuild(tmp_path: Path, store: IncidentStore) -> None:
    past = varied_incidents()
    for inc in past:
        await store.save(inc)
        if inc.decision and inc.decision.solution:
            await store.record_fix(inc.id, inc.target_key, inc.decision.solution, "worked", inc.opened_at)
    kb = await _kb(tmp_path, store)
    try:
        assert await kb.count() == 6
        assert await store.forget(past[0].id) is True and await kb.forget(past[0].id) is True
        assert await store.fixes_for(past[0].target_key) == []  # what it taught no longer steers decisions
        assert await kb.rebuild(store) == 5
        assert await kb.get(past[0].id) is None and await kb.count() == 5
        assert await store.forget("inc-unknown") is False
    finally:
        await kb.close()


async def test_merged_incidents_are_not_remembered(tmp_path: Path) -> None:
    kb = await _kb(tmp_path)
    try:
        inc = incident("unhealthy", "web", outcome="open")
        await kb.remember(inc)
        assert await kb.count() == 1
        inc.close("merged", "grouped into inc-db: its root cause is db (down)", "diagnose")
        await kb.remember(inc)
        assert await kb.count() == 0
    finally:
        await kb.close()


async def test_a_closed_knowledge_base_says_so(tmp_path: Path) -> None:
    kb = await _kb(tmp_path)
    await kb.close()
    await kb.close()  # idempotent
    with pytest.raises(MemoryStoreError, match="closed"):
        await kb.count()


def test_the_chroma_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="chroma_url must be http://host:port"):
        MemorySettings(chroma_url="chroma.internal:8000")
    assert MemorySettings(chroma_url="https://chroma.internal/").chroma_url == "https://chroma.internal"
    assert MemorySettings(chroma_url="  ").chroma_url is None


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_store_closed_lists_closed_not_forgotten_newest_first(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = (
        Database(postgres_url=request.getfixturevalue("postgres_url"))
        if backend == "postgresql"
        else Database(sqlite_path=tmp_path / "agent.db")
    )
    try:
        store = IncidentStore(db)
        app = f"mem{tmp_path.name[-12:].replace('_', '').replace('-', '')}"  # unique in a shared database
        past = [incident("oom", "api", app=app, evidence=OOM, minutes=m, outcome="worked") for m in (1, 2, 3)]
        past = [p.model_copy(update={"id": f"{p.id}-{n}"}) for n, p in enumerate(past)]
        opened = incident("oom", "db", app=app, evidence=OOM, outcome="open", minutes=4)
        for inc in [*past, opened]:
            await store.save(inc)
            if inc.decision and inc.decision.solution:
                await store.record_fix(inc.id, inc.target_key, inc.decision.solution, "worked", inc.opened_at)
        mine = {i.id for i in past} | {opened.id}
        listed = [i.id for i in await store.closed() if i.id in mine]
        assert listed == [past[2].id, past[1].id, past[0].id]
        assert await store.forget(past[1].id) is True
        assert await store.forget(past[1].id) is True  # again: still there, still forgotten
        assert [i.id for i in await store.closed() if i.id in mine] == [past[2].id, past[0].id]
        assert [f.incident_id for f in await store.fixes_for(past[0].target_key)] == [past[2].id, past[0].id]
        assert len(await store.closed(limit=1)) == 1
        assert await store.get(past[1].id) is not None  # the record itself stays for the post-mortem
    finally:
        db.close()
