"""The webhooks over a real socket: `prepare_http` (what `serve --transport streamable-http` runs) serves
/hooks/alertmanager beside /mcp, and an alert posted there lands in the alert inbox."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from mcp_server.hooks.inbox import AlertInbox
from mcp_server.server import build_server
from mcp_server.server.transports import prepare_http
from mcp_server.settings import load_settings
from tests.hooks.recordings import ALERTMANAGER, case

TOKEN = "hooks-http-token-0123456789"


def test_alertmanager_post_over_uvicorn_reaches_the_inbox(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path / "state", mcp_port=0, mcp_token=TOKEN)
    http = prepare_http(build_server(settings, run_detectors=False), settings, "streamable-http")
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not http.server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert http.server.started, "the HTTP server did not start"
        recorded = case(ALERTMANAGER, "bearer_authorization__firing")
        # as Alertmanager sent it: its headers (our token for <SECRET>) and its configured query string
        headers = [(n, v.replace("<SECRET>", TOKEN)) for n, v in recorded.headers if n.lower() != "host"]
        base = http.url.rsplit("/", 1)[0]
        with httpx.Client(timeout=10) as client:
            response = client.post(
                f"{base}/hooks/alertmanager?via=authorization", headers=headers, content=recorded.body
            )
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == 1
            assert client.post(f"{base}/mcp", json={}).status_code == 401  # /mcp keeps its own bearer check
    finally:
        http.stop()
        thread.join(timeout=10)
        http.sock.close()
    assert not thread.is_alive(), "the HTTP server did not stop"
    inbox = AlertInbox.in_state_dir(settings.state_dir)
    try:
        [stored] = inbox.firing(settings.docker_host_name)
    finally:
        inbox.close()
    assert stored.alert.name == "MonTestValueHigh" and stored.alert.source == "alertmanager"
    assert http.hooks is not None and http.hooks._inbox is None  # closed when serving stopped
