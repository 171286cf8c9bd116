"""Chroma clients and collections for incident memory (blocking calls: the knowledge base runs them
in worker threads).

- Embedded: `PersistentClient` in `<state_dir>/memory`; a server: `HttpClient` from `chroma_url`.
  Telemetry is off in both (nothing leaves the machine unless a Chroma or Ollama URL is configured).
- Every collection uses cosine distance and records, in its metadata, which embedding made its
  vectors (`embedding: wordllama-256`). Opened with a different embedding, it is dropped and
  recreated empty (then refilled from the incident store): vectors of two models are never mixed.
- A directory Chroma cannot read is moved aside to `memory.broken-<UTC time>`, never deleted.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.config import Settings
from chromadb.errors import NotFoundError

from agent_host.memory.embeddings import embedding_id

logger = logging.getLogger(__name__)

INCIDENTS = "incidents"
NOTES = "notes"
COLLECTIONS = (INCIDENTS, NOTES)
EMBEDDING_KEY = "embedding"  # collection metadata: the embedding_id() its vectors were made with


def chroma_settings(token: str | None = None) -> Settings:
    """Client settings: no telemetry ever; a token (if any) sent as `Authorization: Bearer …`."""
    settings = Settings(anonymized_telemetry=False, allow_reset=True)
    if token:
        settings.chroma_client_auth_provider = "chromadb.auth.token_authn.TokenAuthClientProvider"
        settings.chroma_client_auth_credentials = token
        settings.chroma_auth_token_transport_header = "Authorization"  # noqa: S105 - a header name
    return settings


def embedded_client(path: Path) -> ClientAPI:
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings())


def drop_embedded_system(path: Path) -> None:
    """Forget Chroma's cached system for `path` after it failed to open: Chroma caches one system
    per directory for the whole process, also a half-started one, and would hand it out again
    (broken) when the directory is recreated."""
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is not None:
        try:
            system.stop()
        except Exception as exc:  # it never started properly: stopping it is best effort
            logger.debug("stopping Chroma's half-started system for %s: %s", path, exc)


def server_client(url: str, token: str | None) -> ClientAPI:
    """An HTTP client of the Chroma server at `url` (http(s)://host[:port], port 8000 by default)."""
    parts = urlsplit(url)
    ssl = parts.scheme == "https"
    port = parts.port or (443 if ssl else 8000)
    return chromadb.HttpClient(host=str(parts.hostname), port=port, ssl=ssl, settings=chroma_settings(token))


def stored_embedding(client: ClientAPI, name: str) -> str | None:
    """The embedding a collection was made with ("" when it says none); None when it does not exist."""
    try:
        collection = client.get_collection(name, embedding_function=None)
    except NotFoundError:
        return None
    return str((collection.metadata or {}).get(EMBEDDING_KEY) or "")


def create_collection(client: ClientAPI, name: str, embedding: EmbeddingFunction[Documents]) -> Collection:
    """The collection `name` (created if missing): cosine distance, its embedding recorded."""
    return client.get_or_create_collection(
        name,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={EMBEDDING_KEY: embedding_id(embedding), "made_by": "infraguardian"},
        embedding_function=embedding,  # type: ignore[arg-type]  # Chroma's Embeddable union is invariant
    )


def open_collection(
    client: ClientAPI, name: str, embedding: EmbeddingFunction[Documents]
) -> tuple[Collection, str | None]:
    """The collection, and why it was recreated empty (None when it was kept or is new): a
    collection made with another embedding is dropped, not mixed."""
    wanted = embedding_id(embedding)
    stored = stored_embedding(client, name)
    why = None
    if stored is not None and stored != wanted:
        client.delete_collection(name)
        why = f"{name} re-embedded: stored with {stored or 'an unknown embedding'}, configured {wanted}"
    collection = create_collection(client, name, embedding)
    collection.count()  # reads the segment: an unreadable one fails here, at open, not later
    return collection, why


def recreate_collection(client: ClientAPI, name: str, embedding: EmbeddingFunction[Documents]) -> Collection:
    """Drop the collection if it exists and make it again, empty."""
    if stored_embedding(client, name) is not None:
        client.delete_collection(name)
    return create_collection(client, name, embedding)


def move_aside(path: Path, when: datetime | None = None) -> Path:
    """Move an unreadable Chroma directory to `<name>.broken-<UTC time>` beside it (kept, never
    deleted: a human may want to look at it) and return where it went."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.broken-{stamp}-{counter}")
    shutil.move(str(path), str(target))
    return target


def close_client(client: Any) -> None:
    """Release the client (an embedded one frees its directory, so it can be moved or reopened)."""
    close = getattr(client, "close", None)
    if callable(close):
        close()


def first_line(exc: BaseException) -> str:
    """An exception as one short line (Chroma's messages can be long and multi-line)."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]
