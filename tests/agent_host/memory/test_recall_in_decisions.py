"""Retrieval in diagnosis (agent_host/diagnosis/recall.py) with a real knowledge base: the past
incidents nearest to a new one (same service first) reach the incident's context and the model's
prompt, fenced as untrusted data; the owner's notes reach the prompt redacted; a knowledge base
that cannot answer is noted and the decision goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_host.diagnosis.recall import recall, remember, similar_reason
from agent_host.memory import KnowledgeBase, MemorySettings
from agent_host.model.decision import candidates_of
from agent_host.model.prompt import decide_prompt
from mcp_server.runbooks import RunbookLibrary

from .conftest import OOM, incident, varied_incidents

pytestmark = pytest.mark.anyio
LIBRARY = RunbookLibrary.load()


async def test_similar_incidents_reach_the_context_the_record_and_the_prompt(tmp_path: Path) -> None:
    kb = await KnowledgeBase.open(MemorySettings(), tmp_path)
    try:
        past = varied_incidents()
        past.append(incident("oom", "worker", evidence=OOM, solution="raise-memory", tool="set_memory_limit",
                             arguments={"memory": "512m"}, minutes=7))  # fmt: skip
        for item in past:
            await remember(kb, item)
        await kb.add_note(
            "note:api", "The api leaks memory when the cache warms: token=abcd1234efgh5678ijkl", {}
        )
        new = incident("oom", "api", evidence=OOM, outcome="open", minutes=30)
        rows = await recall(kb, new, 3)
        # the api's own OOM first, then the worker's OOM (same problem, another service)
        assert [r["incident_id"] for r in rows[:2]] == [past[0].id, past[-1].id], rows
        assert rows[0]["same_service"] is True and rows[0]["outcome_kind"] == "worked"
        assert new.context["_similar"]["structured"] == rows
        line = similar_reason(rows)
        assert line.startswith(f"memory: similar past incidents: {past[0].id} (api, oom, raise-memory worked")
        prompt = decide_prompt(
            new, candidates_of(LIBRARY.get("oom-killed"), new.facts), [],
            max_log_chars=2000, per_tool=2, per_incident=4,
        )  # fmt: skip
        section = prompt.split("## Similar past incidents")[1].split("## The owner's notes")[0]
        assert "<untrusted-data" in section and past[0].id in section
        notes = prompt.split("## The owner's notes (incident memory)")[1].split("## Candidate")[0]
        assert "leaks memory when the cache warms" in notes and "abcd1234efgh5678ijkl" not in notes
    finally:
        await kb.close()


async def test_a_first_incident_finds_nothing_and_a_broken_memory_does_not_block(tmp_path: Path) -> None:
    kb = await KnowledgeBase.open(MemorySettings(), tmp_path)
    new = incident("oom", "api", evidence=OOM, outcome="open")
    assert await recall(kb, new, 3) == [] and similar_reason([]) == "memory: no similar past incident"
    await kb.close()  # a closed knowledge base cannot answer: noted, and the decision goes on
    assert await recall(kb, new, 3) == []
    assert any("incident memory did not answer" in e.message for e in new.events), new.events
