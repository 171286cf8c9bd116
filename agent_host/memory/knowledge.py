"""The knowledge base: past incidents (and runbook or knowledge notes) in Chroma, searched by meaning.

The incident store (SQLite/PostgreSQL) stays the source of truth; this is an index of it that can
always be rebuilt from it (`rebuild`). `open()` repairs what it can and says what it did in `status`:

- no directory yet: created (and filled from the store's closed incidents, if there are any);
- a directory Chroma cannot read: moved aside to `memory.broken-<UTC time>`, recreated, refilled;
- vectors made with another embedding than the configured one: dropped and re-embedded.

Every Chroma call blocks, so each runs in a worker thread; one lock keeps a rebuild from racing a
query. Errors are `MemoryStoreError` with one line saying what failed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction

from agent_host.incidents.model import Incident
from agent_host.memory import chroma
from agent_host.memory.documents import incident_document, query_text
from agent_host.memory.embeddings import embedding_for, embedding_id
from agent_host.memory.errors import MemoryStoreError
from agent_host.memory.records import (
    MemoryEntry,
    SimilarIncident,
    entry,
    rows,
    same_service,
    similar_incident,
)
from agent_host.memory.settings import MemorySettings
from mcp_server.redaction import redact_text

if TYPE_CHECKING:
    from chromadb.api.types import Include, Where

    from agent_host.incidents.store import IncidentStore

__all__ = ["KnowledgeBase", "MemoryEntry", "MemoryStoreError", "SimilarIncident"]

T = TypeVar("T")
BATCH = 256  # documents per Chroma write when rebuilding
CATCH_UP_RECENT = 200  # closed incidents checked at each start (a crash loses at most a few)
NOTE_MAX_CHARS = 8000


class KnowledgeBase:
    """Incident memory over one Chroma client; open it with `await KnowledgeBase.open(...)`."""

    def __init__(self, client: ClientAPI, embedding: EmbeddingFunction[Documents], where: str) -> None:
        self._client: ClientAPI | None = client
        self._embedding = embedding
        self._where = where
        self._lock = anyio.Lock()
        self._incidents: Collection | None = None
        self._notes: Collection | None = None
        self.embedding_name = embedding_id(embedding)
        self.status = f"{where}, embedding {self.embedding_name}"

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        settings: MemorySettings,
        state_dir: Path,
        *,
        ollama_host: str | None = None,
        store: IncidentStore | None = None,
    ) -> KnowledgeBase:
        """Open (or create, or repair) the knowledge base the settings name; `status` says how."""
        embedding = embedding_for(settings, ollama_host)
        notes: list[str] = []
        if settings.chroma_url:
            url = settings.chroma_url
            token = settings.chroma_token.get_secret_value() if settings.chroma_token else None
            try:
                client = await anyio.to_thread.run_sync(chroma.server_client, url, token)
            except Exception as exc:
                raise MemoryStoreError(
                    f"the Chroma server at {url} did not answer: {chroma.first_line(exc)}; start it, fix "
                    "INFRAGUARDIAN_AGENT__MEMORY__CHROMA_URL/CHROMA_TOKEN, or unset it for the embedded store"
                ) from None
            kb = cls(client, embedding, f"Chroma server at {url}")
            try:
                notes += await kb._open_collections()
            except Exception as exc:
                await kb.close()
                raise MemoryStoreError(
                    f"the Chroma server at {url} failed to open the collections: {chroma.first_line(exc)}"
                ) from None
        else:
            kb, notes = await cls._open_embedded(state_dir / "memory", embedding)
        why = "; ".join(notes)
        if store is not None and not why and await kb.count() == 0 and await store.closed(limit=1):
            why = "the index was empty"
        rebuilt = await kb.rebuild(store) if store is not None and why else None
        count = await kb.count()
        status = f"{kb._where}, embedding {kb.embedding_name}, {count} incidents"
        if why:
            status += f"; {why}"
        if rebuilt is not None:
            status += f"; rebuilt from the incident store ({rebuilt} incidents)"
        kb.status = status
        return kb

    @classmethod
    async def _open_embedded(
        cls, path: Path, embedding: EmbeddingFunction[Documents]
    ) -> tuple[KnowledgeBase, list[str]]:
        where = f"embedded Chroma at {path}"
        client: ClientAPI | None = None
        try:
            client = await anyio.to_thread.run_sync(chroma.embedded_client, path)
            kb = cls(client, embedding, where)
            return kb, await kb._open_collections()
        except MemoryStoreError:
            raise
        except Exception as exc:  # Chroma cannot read its directory: keep it aside, start anew
            if client is not None:
                await anyio.to_thread.run_sync(chroma.close_client, client)
            await anyio.to_thread.run_sync(chroma.drop_embedded_system, path)
            moved = await anyio.to_thread.run_sync(chroma.move_aside, path)
            try:
                client = await anyio.to_thread.run_sync(chroma.embedded_client, path)
                kb = cls(client, embedding, where)
                notes = await kb._open_collections()
            except Exception as again:
                raise MemoryStoreError(
                    f"{where}: unreadable ({chroma.first_line(exc)}), moved to {moved.name}, and a new one "
                    f"could not be made either: {chroma.first_line(again)}"
                ) from None
            why = f"the Chroma directory was unreadable ({chroma.first_line(exc)}): moved to {moved.name}"
            return kb, [why, *notes]

    async def _open_collections(self) -> list[str]:
        """Open both collections; why any was recreated (another embedding's vectors)."""

        def work(client: ClientAPI) -> list[str]:
            whys = []
            self._incidents, why = chroma.open_collection(client, chroma.INCIDENTS, self._embedding)
            whys += [why] if why else []
            self._notes, why = chroma.open_collection(client, chroma.NOTES, self._embedding)
            whys += [why] if why else []
            return whys

        return await anyio.to_thread.run_sync(work, self._require_client())

    # -- plumbing ----------------------------------------------------------------------------
    def _require_client(self) -> ClientAPI:
        if self._client is None:
            raise MemoryStoreError("the knowledge base is closed: open it again")
        return self._client

    async def _run(self, what: str, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in a worker thread under the lock; a Chroma failure as one line."""
        self._require_client()
        async with self._lock:
            try:
                return await anyio.to_thread.run_sync(functools.partial(work, *args))
            except MemoryStoreError:
                raise
            except Exception as exc:
                raise MemoryStoreError(
                    f"incident memory ({self._where}) could not {what}: {chroma.first_line(exc)}"
                ) from None

    def _collection(self, name: str) -> Collection:
        collection = self._incidents if name == chroma.INCIDENTS else self._notes
        if collection is None:
            raise MemoryStoreError("the knowledge base is closed: open it again")
        return collection

    # -- incidents ---------------------------------------------------------------------------
    async def remember(self, incident: Incident) -> None:
        """Store (or update) the incident, keyed by its id; a merged incident is not kept (its
        root cause lives on in the incident it was grouped into)."""
        if incident.status == "merged":
            await self.forget(incident.id)
            return
        doc_id, text, metadata = incident_document(incident)
        collection = self._collection(chroma.INCIDENTS)
        await self._run(
            f"store {incident.id}",
            lambda: collection.upsert(ids=[doc_id], documents=[text], metadatas=[metadata]),
        )

    async def similar(
        self, incident: Incident, n: int = 3, *, text: str | None = None
    ) -> list[SimilarIncident]:
        """The `n` nearest past incidents (never itself): the same service first, then the others,
        each group closest first. Candidates: the nearest 4·n+1 overall, plus this target's own
        nearest 2·n+1 when they are of the same kind (names are not in the embedded text, so the
        target's history is looked up by metadata; 10 ms over 10k incidents). No `$ne` filter for
        "not itself": it made Chroma scan every row's metadata (~25 ms over 10k incidents)."""
        collection = self._collection(chroma.INCIDENTS)
        text = text if text is not None else query_text(incident)  # `text`: the caller built it already
        here = cast("Where", {"target_key": incident.target_key})
        if n <= 0:
            return []

        def work() -> list[SimilarIncident]:
            include: Include = ["metadatas", "documents", "distances"]
            vector = self._embedding([text])
            nearest = collection.query(query_embeddings=vector, n_results=n * 4 + 1, include=include)
            own = collection.query(query_embeddings=vector, n_results=n * 2 + 1, where=here, include=include)
            found: dict[str, SimilarIncident] = {}
            for meta, document, distance in rows(nearest):
                found[str(meta.get("incident_id"))] = similar_incident(
                    meta, document, distance, same_service(meta, incident)
                )
            for meta, document, distance in rows(own):
                if meta.get("kind") == incident.kind:
                    found.setdefault(
                        str(meta.get("incident_id")), similar_incident(meta, document, distance, True)
                    )
            found.pop(incident.id, None)
            ranked = sorted(found.values(), key=lambda s: (not s.same_service, -s.similarity))
            return ranked[:n]

        return await self._run("look for similar incidents", work)

    async def search(self, text: str, n: int = 5) -> list[SimilarIncident]:
        """The `n` past incidents closest to a free text (e.g. `memory search "exit 137"`)."""
        collection = self._collection(chroma.INCIDENTS)
        query = redact_text(text)[:2000]
        if n <= 0:
            return []

        def work() -> list[SimilarIncident]:
            result = collection.query(
                query_texts=[query], n_results=n, include=["metadatas", "documents", "distances"]
            )
            return [similar_incident(m, d, x, False) for m, d, x in rows(result)]

        return await self._run("search", work)

    async def entries(self, limit: int = 50) -> list[MemoryEntry]:
        """Remembered incidents, newest first."""
        collection = self._collection(chroma.INCIDENTS)

        def work() -> list[MemoryEntry]:
            everything = collection.get(include=["metadatas"])
            pairs = list(zip(everything["ids"], everything.get("metadatas") or [], strict=False))
            pairs.sort(key=lambda p: str((p[1] or {}).get("opened_at", "")), reverse=True)
            newest = [doc_id for doc_id, _ in pairs[: max(limit, 0)]]
            if not newest:
                return []
            chosen = collection.get(ids=newest, include=["metadatas", "documents"])
            by_id = {
                i: entry(dict(m or {}), str(d or ""))
                for i, m, d in zip(
                    chosen["ids"], chosen["metadatas"] or [], chosen["documents"] or [], strict=False
                )
            }
            return [by_id[i] for i in newest if i in by_id]

        return await self._run("list incidents", work)

    async def get(self, incident_id: str) -> MemoryEntry | None:
        collection = self._collection(chroma.INCIDENTS)

        def work() -> MemoryEntry | None:
            found = collection.get(ids=[incident_id], include=["metadatas", "documents"])
            if not found["ids"]:
                return None
            return entry(dict((found["metadatas"] or [{}])[0] or {}), str((found["documents"] or [""])[0]))

        return await self._run(f"read {incident_id}", work)

    async def forget(self, incident_id: str) -> bool:
        """Remove the incident from the index; False when it was not there. (The CLI also calls
        `IncidentStore.forget`, so a rebuild does not bring it back and its fixes stop counting.)"""
        collection = self._collection(chroma.INCIDENTS)

        def work() -> bool:
            if not collection.get(ids=[incident_id], include=[])["ids"]:
                return False
            collection.delete(ids=[incident_id])
            return True

        return await self._run(f"forget {incident_id}", work)

    async def rebuild(self, store: IncidentStore) -> int:
        """Drop the index and refill it from the store's closed incidents (forgotten and merged
        ones left out); the number stored."""
        incidents = [i for i in await store.closed() if i.status != "merged"]
        documents = [incident_document(i) for i in incidents]
        client = self._require_client()

        def work() -> int:
            collection = chroma.recreate_collection(client, chroma.INCIDENTS, self._embedding)
            self._incidents = collection
            for start in range(0, len(documents), BATCH):
                batch = documents[start : start + BATCH]
                collection.upsert(
                    ids=[d[0] for d in batch],
                    documents=[d[1] for d in batch],
                    metadatas=[d[2] for d in batch],
                )
            return len(documents)

        return await self._run("rebuild the index from the incident store", work)

    async def catch_up(self, store: IncidentStore, recent: int = CATCH_UP_RECENT) -> int:
        """Index the `recent` newest closed incidents the index lacks (an agent killed between
        closing an incident and indexing it loses nothing); the number added."""
        incidents = [i for i in await store.closed(limit=recent) if i.status != "merged"]
        if not incidents:
            return 0
        collection = self._collection(chroma.INCIDENTS)

        def work() -> int:
            present = set(collection.get(ids=[i.id for i in incidents], include=[])["ids"])
            missing = [incident_document(i) for i in incidents if i.id not in present]
            if missing:
                collection.upsert(
                    ids=[d[0] for d in missing],
                    documents=[d[1] for d in missing],
                    metadatas=[d[2] for d in missing],
                )
            return len(missing)

        return await self._run("index the incidents closed while the agent was down", work)

    async def count(self) -> int:
        collection = self._collection(chroma.INCIDENTS)
        return await self._run("count incidents", collection.count)

    # -- notes -------------------------------------------------------------------------------
    async def add_note(self, note_id: str, text: str, metadata: dict[str, str]) -> bool:
        """Store (or update) a runbook or knowledge note; False when the same text and metadata are
        already stored (the agent offers every runbook at each start: unchanged ones cost no embedding)."""
        collection = self._collection(chroma.NOTES)
        body = redact_text(text)[:NOTE_MAX_CHARS]  # an owner's note may hold a pasted secret
        meta: dict[str, str | int | float | bool] = {
            **{k: str(v) for k, v in metadata.items()},
            "note_id": note_id,
            "text_sha": hashlib.sha256(body.encode()).hexdigest()[:16],
        }

        def store() -> bool:
            found = collection.get(ids=[note_id], include=["metadatas"])
            if found.get("ids"):
                stored = (found.get("metadatas") or [])[:1]
                if stored and dict(stored[0] or {}) == meta:
                    return False
                # Chroma's upsert merges metadata (an old key would stay): replace the note instead
                collection.delete(ids=[note_id])
            collection.add(ids=[note_id], documents=[body], metadatas=[meta])
            return True

        return await self._run(f"store note {note_id}", store)

    async def search_notes(self, text: str, n: int = 3) -> list[tuple[str, float, str]]:
        """(note id, similarity 0..1, text) of the `n` notes closest to `text`."""
        collection = self._collection(chroma.NOTES)
        if n <= 0:
            return []

        def work() -> list[tuple[str, float, str]]:
            result = collection.query(
                query_texts=[text[:2000]], n_results=n, include=["documents", "distances"]
            )
            ids = (result.get("ids") or [[]])[0]
            docs = (result.get("documents") or [[]])[0] or []
            dists = (result.get("distances") or [[]])[0] or []
            return [
                (str(i), round(max(0.0, min(1.0, 1.0 - float(x))), 4), str(d or ""))
                for i, d, x in zip(ids, docs, dists, strict=False)
            ]

        return await self._run("search notes", work)

    async def close(self) -> None:
        """Release the client (idempotent)."""
        client, self._client = self._client, None
        self._incidents = self._notes = None
        if client is not None:
            await anyio.to_thread.run_sync(chroma.close_client, client)
