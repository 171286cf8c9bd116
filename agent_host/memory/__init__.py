"""Incident memory: a ChromaDB knowledge base of past incidents (and runbook/knowledge notes) that
the agent consults before deciding. The incident store stays the source of truth; this is an index
that can always be rebuilt from it. See `knowledge.KnowledgeBase`."""

from agent_host.memory.documents import incident_document
from agent_host.memory.errors import MemoryStoreError
from agent_host.memory.knowledge import KnowledgeBase, MemoryEntry, SimilarIncident
from agent_host.memory.settings import MemorySettings

__all__ = [
    "KnowledgeBase",
    "MemoryEntry",
    "MemorySettings",
    "MemoryStoreError",
    "SimilarIncident",
    "incident_document",
]
