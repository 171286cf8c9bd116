"""Incident memory on a real Chroma server: `chroma run` from the venv as a child process (its
telemetry off; 1.5.9's Rust server has no product telemetry, the client's is off too), the
knowledge base pointed at it by `chroma_url`, a remember / similar / forget round trip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from agent_host.memory import KnowledgeBase, MemorySettings, MemoryStoreError

from .conftest import OOM, incident, varied_incidents

pytestmark = pytest.mark.anyio

HEARTBEAT_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A running `chroma run` on a free local port, data in tmp_path; its URL. Stopped at the end."""
    chroma = Path(sys.executable).with_name("chroma")
    assert chroma.exists(), f"{chroma} is missing: the agent extra installs chromadb and its CLI"
    port = _free_port()
    log = (tmp_path / "chroma.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_ANONYMIZED_TELEMETRY": "False"}
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "chroma-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HEARTBEAT_TIMEOUT_S
        while True:
            assert process.poll() is None, (
                "chroma run exited: " + (tmp_path / "chroma.log").read_text()[-2000:]
            )
            try:
                answered = httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200
            except httpx.HTTPError:
                answered = False  # not listening yet: the deadline below bounds the wait
            if answered:
                break
            assert time.monotonic() < deadline, f"no heartbeat from {url} within {HEARTBEAT_TIMEOUT_S:g} s"
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()


async def test_remember_similar_and_forget_on_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    settings = MemorySettings(chroma_url=chroma_server)
    kb = await KnowledgeBase.open(settings, tmp_path / "state")
    try:
        assert kb.status == f"Chroma server at {chroma_server}, embedding wordllama-256, 0 incidents"
        past = varied_incidents()
        for inc in past:
            await kb.remember(inc)
        assert await kb.count() == 6
        now = incident("oom", "api", evidence=OOM, outcome="open", minutes=30)
        found = await kb.similar(now, n=3)
        assert found[0].incident_id == past[0].id and found[0].same_service
        assert (found[0].solution, found[0].outcome_kind) == ("raise-memory", "worked")
        assert await kb.forget(past[0].id) is True
        assert past[0].id not in [s.incident_id for s in await kb.similar(now, n=5)]
        await kb.add_note("runbook:disk", "disk full: prune images", {"kind": "runbook"})
        assert (await kb.search_notes("no space left on device", n=1))[0][0] == "runbook:disk"
    finally:
        await kb.close()
    assert not (tmp_path / "state" / "memory").exists()  # nothing embedded was made on the side

    kb = await KnowledgeBase.open(settings, tmp_path / "state")  # the server kept it
    try:
        assert await kb.count() == 5
        assert [e.incident_id for e in await kb.entries(limit=2)] == [past[5].id, past[4].id]
    finally:
        await kb.close()


async def test_a_chroma_server_that_does_not_answer_is_one_line_without_the_token(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    settings = MemorySettings(chroma_url=url, chroma_token=SecretStr("tok-very-secret-123"))
    with pytest.raises(MemoryStoreError) as caught:
        await KnowledgeBase.open(settings, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"the Chroma server at {url} did not answer: ")
    assert "\n" not in message and "tok-very-secret-123" not in message
