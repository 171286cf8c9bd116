"""The dashboard served for real (uvicorn on a free port, its lifespan polling the store): the
server-sent event of an incident written by another connection reaches an open stream; a port in
use is one clear error; a disabled dashboard serves nothing."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import anyio
import httpx
import pytest

from agent_host.approvals import ApprovalBook
from agent_host.dashboard.runtime import agent_dashboard
from agent_host.dashboard.server import DashboardServeError
from agent_host.incidents.store import IncidentStore
from agent_host.settings import AgentSettings
from tests.agent_host.dashboard.seed import live_incident, save_incidents

pytestmark = pytest.mark.anyio
TOKEN = "serving-test-token-0123456789"


def settings_for(state_dir: Path, **dashboard: object) -> AgentSettings:
    return AgentSettings(
        state_dir=state_dir, dashboard={"token": TOKEN, "port": 0, "poll_s": 0.2, **dashboard}
    )


async def test_an_open_event_stream_hears_of_an_incident_written_elsewhere(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    db = settings.open_database()
    try:
        store, book = IncidentStore(db), ApprovalBook(db)
        async with agent_dashboard(settings, store=store, approvals=book, link=None) as where:
            assert where is not None and settings.dashboard.token is not None
            assert TOKEN not in where and "INFRAGUARDIAN_AGENT__DASHBOARD__TOKEN" in where
            url = where.split()[1]
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                assert (await client.get("/healthz")).status_code == 200
                async with client.stream("GET", "/events", headers=headers) as stream:
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    events: list[str] = []
                    with anyio.fail_after(30):
                        async for line in stream.aiter_lines():
                            if line.startswith("event:"):
                                events.append(line.split(":", 1)[1].strip())
                                if events == ["hello"]:
                                    await anyio.sleep(0.5)  # let the poller learn the empty state
                                    await save_incidents(tmp_path, live_incident("shop-live"))
                            if line.startswith("data:") and events[-1:] == ["incidents"]:
                                assert json.loads(line.split(":", 1)[1])["topic"] == "incidents"
                                break
                    assert events[0] == "hello" and "incidents" in events
                listed = await client.get("/api/incidents", headers=headers)
                assert [i["status"] for i in listed.json()] == ["open"]
    finally:
        db.close()


async def test_a_port_in_use_is_one_clear_error_and_disabled_serves_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = settings_for(tmp_path, port=port)
        db = settings.open_database()
        try:
            store, book = IncidentStore(db), ApprovalBook(db)
            with pytest.raises(
                DashboardServeError, match=f"cannot listen on 127.0.0.1:{port}.*DASHBOARD__PORT"
            ):
                async with agent_dashboard(settings, store=store, approvals=book, link=None):
                    pass
            off = settings_for(tmp_path, enabled=False)
            async with agent_dashboard(off, store=store, approvals=book, link=None) as where:
                assert where is None
        finally:
            db.close()
