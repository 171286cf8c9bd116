"""Incident memory: a ChromaDB knowledge base of past incidents (and runbook/knowledge notes) that
the agent consults before deciding. The incident store stays the source of truth; this is an index
that can always be rebuilt from it. See `knowledge.KnowledgeBase`.

The knowledge base (chromadb, wordllama: the `agent` extra) loads on first use, so the settings and
`infraguardian-agent --help/--version` work where that extra is not installed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_host.memory.errors import MemoryStoreError
from agent_host.memory.settings import MemorySettings

if TYPE_CHECKING:
    from agent_host.memory.documents import incident_document
    from agent_host.memory.knowledge import KnowledgeBase, MemoryEntry, SimilarIncident

_LAZY = {
    "KnowledgeBase": "agent_host.memory.knowledge",
    "MemoryEntry": "agent_host.memory.knowledge",
    "SimilarIncident": "agent_host.memory.knowledge",
    "incident_document": "agent_host.memory.documents",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agent_host.memory' has no attribute {name!r}")


__all__ = [
    "KnowledgeBase",
    "MemoryEntry",
    "MemorySettings",
    "MemoryStoreError",
    "SimilarIncident",
    "incident_document",
]
