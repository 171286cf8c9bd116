"""An agent killed after closing an incident and before indexing it loses nothing: at the next
start, the closed incidents the index lacks are indexed (forgotten ones stay out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_host.incidents.store import IncidentStore
from agent_host.memory import KnowledgeBase, MemorySettings

from .conftest import varied_incidents

pytestmark = pytest.mark.anyio


async def test_the_incidents_closed_but_not_indexed_are_indexed_at_start(
    store: IncidentStore, tmp_path: Path
) -> None:
    incidents = varied_incidents()[:4]
    for item in incidents:
        await store.save(item)
    kb = await KnowledgeBase.open(MemorySettings(), tmp_path / "state")
    try:
        await kb.remember(incidents[0])  # the one the agent indexed before it was killed
        await store.forget(incidents[3].id)
        assert await kb.catch_up(store) == 2
        assert {e.incident_id for e in await kb.entries()} == {i.id for i in incidents[:3]}
        assert await kb.catch_up(store) == 0  # nothing twice
    finally:
        await kb.close()
