"""`infraguardian-agent memory list | search | show | forget | note | rebuild` and the memory MCP
resources, on a real state directory (incident store + embedded Chroma, wordllama): what a user
inspects and corrects. Nothing printed carries a secret that was in an incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from click.testing import CliRunner
from mcp import Client

from agent_host.cli import main
from agent_host.cli_memory import opened
from agent_host.incidents.model import Incident
from agent_host.incidents.store import IncidentStore
from agent_host.memory.mcp_resources import build_memory_server
from agent_host.settings import AgentSettings

from .conftest import incident, varied_incidents

SECRET = "Sup3rS3cretPw"


def seeded(state: Path) -> list[Incident]:
    """Closed incidents and their fixes in the agent's own database (as the loop leaves them);
    one carries a password in its log evidence."""
    incidents = varied_incidents()
    incidents.append(
        incident("crash_loop", "api", minutes=9, outcome="failed",
                 summary=f"api cannot reach postgres://app:{SECRET}@db:5432/app (connection refused)")
    )  # fmt: skip
    db = AgentSettings(state_dir=state).open_database()
    store = IncidentStore(db)

    async def write() -> None:
        for item in incidents:
            await store.save(item)
            if item.decision and item.decision.solution:
                outcome = "worked" if item.status == "resolved" else "failed"
                await store.record_fix(
                    item.id, item.target_key, item.decision.solution, outcome, datetime.now(UTC)
                )

    try:
        anyio.run(write)
    finally:
        db.close()
    return incidents


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__STATE_DIR", str(tmp_path / "agent"))
    return tmp_path / "agent"


def memory_cli(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(main, ["memory", *args])
    return done.exit_code, done.output


def test_list_search_show_forget_and_rebuild(state: Path) -> None:
    incidents = seeded(state)
    oom = incidents[0]
    code, out = memory_cli("rebuild")
    assert code == 0 and f"re-indexed {len(incidents)} closed incident(s)" in out, out
    code, out = memory_cli("list", "--json")
    listed = json.loads(out)
    assert code == 0 and len(listed["entries"]) == len(incidents) and "wordllama" in listed["status"]
    code, out = memory_cli("search", "killed by the kernel: out of memory, exit 137", "--json")
    found = json.loads(out)
    assert code == 0 and found["incidents"][0]["incident_id"] == oom.id, found["incidents"]
    code, out = memory_cli("show", oom.id)
    assert code == 0 and f"Incident {oom.id}" in out
    assert "What this target's past fixes teach the next decision:" in out
    assert "raise-memory: worked 1× in a row" in out and "Most similar past incidents" in out
    # nothing printed holds the password one incident carried
    for args in (("list",), ("search", "postgres connection refused"), ("show", incidents[-1].id)):
        code, out = memory_cli(*args)
        assert code == 0 and SECRET not in out, out
    # forget: out of the index, out of what steers decisions, and a rebuild does not bring it back
    code, out = memory_cli("forget", oom.id)
    assert code == 0 and f"forgot {oom.id}" in out
    code, out = memory_cli("rebuild", "--json")
    assert json.loads(out) == {"indexed": len(incidents) - 1}
    code, out = memory_cli("list", "--json")
    assert oom.id not in {e["incident_id"] for e in json.loads(out)["entries"]}
    code, out = memory_cli("show", oom.id, "--json")  # the record stays for the audit, lessons gone
    shown = json.loads(out)
    assert shown["incident"]["id"] == oom.id
    assert [lesson["solution"] for lesson in shown["lessons"]] == ["restart"]  # the api's other incident


def test_notes_are_found_by_meaning(state: Path) -> None:
    seeded(state)
    code, out = memory_cli(
        "note", "The celery worker needs redis to be up before it starts", "--id", "note:celery"
    )
    assert code == 0 and "noted note:celery" in out
    code, out = memory_cli("search", "worker cannot connect to the redis broker", "--json")
    assert code == 0 and "note:celery" in [n["id"] for n in json.loads(out)["notes"]], out
    # a pasted secret is redacted before it is stored, not only when printed
    memory_cli("note", "redis AUTH for the worker: REDIS_PASSWORD=Zq8vN3pLx7TyWm2K", "--id", "note:redis")
    chroma_files = b"".join(f.read_bytes() for f in (state / "memory").rglob("*") if f.is_file())
    assert b"Zq8vN3pLx7TyWm2K" not in chroma_files and b"redis AUTH for the worker" in chroma_files


def test_bad_input_gets_one_clear_line(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeded(state)
    code, out = memory_cli("show", "inc-nope")
    assert code != 0 and "no incident 'inc-nope'" in out
    code, out = memory_cli("forget", "inc-nope")
    assert code != 0 and "no incident 'inc-nope'" in out
    code, out = memory_cli("search", "  ")
    assert code != 0 and "memory search needs some text" in out
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__MEMORY__CHROMA_URL", "ftp://chroma:8000")
    code, out = memory_cli("list")
    assert code != 0 and "chroma_url must be http://host:port" in out and "Traceback" not in out
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__MEMORY__ENABLED", "false")
    monkeypatch.delenv("INFRAGUARDIAN_AGENT__MEMORY__CHROMA_URL")
    code, out = memory_cli("list")
    assert code != 0 and "incident memory is off" in out


@pytest.mark.anyio
async def test_the_memory_mcp_resources(state: Path) -> None:
    incidents = await anyio.to_thread.run_sync(seeded, state)
    async with opened() as (kb, store):
        await kb.rebuild(store)
    oom = incidents[0]
    async with Client(build_memory_server(opened)) as client:
        listed = await client.read_resource("memory://incidents")
        text = listed.contents[0].text  # type: ignore[union-attr]
        assert "<untrusted-data" in text and oom.id in text and SECRET not in text
        post = await client.read_resource(f"memory://incidents/{oom.id}")
        body = post.contents[0].text  # type: ignore[union-attr]
        assert f"Incident {oom.id}" in body and "Most similar past incidents" in body
        hits = await client.read_resource("memory://search/out%20of%20memory%2C%20exit%20137")
        payload = hits.contents[0].text  # type: ignore[union-attr]
        start, end = payload.index("{"), payload.rindex("}") + 1
        assert json.loads(payload[start:end])["incidents"][0]["incident_id"] == oom.id
        with pytest.raises(Exception, match="no incident 'inc-nope'"):
            await client.read_resource("memory://incidents/inc-nope")
