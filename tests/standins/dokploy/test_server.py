"""Starting the stand-in (thread, asyncio, CLI) and the rejection bookkeeping behind the fixture."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from standins.dokploy.server import StandIn

# the stand-in's own command (the product's `infraguardian-mcp` has no stand-in sub-command)
STANDIN_COMMAND = [sys.executable, "-m", "standins.dokploy"]


def test_thread_start_serves_and_records_rejections() -> None:
    standin = StandIn(api_key="secret").start()
    try:
        with httpx.Client(base_url=standin.url) as client:
            assert client.get("/api/health").json() == {"ok": True}
            assert client.get("/api/project.all", headers={"x-api-key": "secret"}).json() == []
            assert (
                client.post("/api/project.all", headers={"x-api-key": "secret"}, json={}).status_code == 404
            )
            assert client.get("/api/project.all").status_code == 401
        reasons = [r.reason for r in standin.rejections]
        assert reasons == ["project.all is GET, not POST", "missing or wrong x-api-key"]
        assert len(standin.problems()) == 2
        standin.expect_rejections(2)
        assert standin.problems() == []
        standin.expect_rejections(3)
        assert "expected 3 rejected requests, got 2" in standin.problems()[0]
    finally:
        standin.stop()
        standin.teardown()


def test_unimplemented_procedure_is_501_and_reported() -> None:
    with StandIn(api_key="k") as standin:
        response = httpx.get(
            f"{standin.url}/api/backup.one", params={"backupId": "x"}, headers=standin.headers
        )
        assert response.status_code == 501
        assert response.json()["message"] == "The Dokploy stand-in does not implement backup.one"
        assert standin.problems() == ["procedure not implemented by the stand-in: backup.one"]
        standin.expect_unimplemented()
        assert standin.problems() == []
    standin.teardown()


@pytest.mark.anyio
async def test_async_context_manager_serves_on_the_running_loop() -> None:
    async with (
        StandIn(api_key="k") as standin,
        httpx.AsyncClient(base_url=standin.url, headers=standin.headers) as c,
    ):
        created = (await c.post("/api/project.create", json={"name": "async"})).json()
        environment = created["environment"]
        assert environment["name"] == "production" and environment["isDefault"] is True
        projects = (await c.get("/api/project.all")).json()
        assert [p["name"] for p in projects] == ["async"]
    await standin.ateardown()


def test_fixture_gives_a_fresh_standin(dokploy_standin: StandIn, api: httpx.Client) -> None:
    assert api.get("/api/project.all").json() == []
    assert api.get("/api/settings.getDokployVersion").json() == "v0.30.2"


@pytest.mark.dokploy_rejections
def test_marker_allows_deliberate_bad_requests(dokploy_standin: StandIn, api: httpx.Client) -> None:
    assert api.get("/api/project.create").status_code == 404
    assert len(dokploy_standin.rejections) == 1


def test_cli_prints_url_serves_and_stops_on_sigint(tmp_path: object) -> None:
    proc = subprocess.Popen(
        [
            *STANDIN_COMMAND,
            "--port",
            "0",
            "--api-key",
            "k",
            "--base-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Dokploy stand-in v0.30.2 listening on http://127.0.0.1:"), first
        url = first.split(" listening on ")[1].split(" ")[0]
        assert httpx.get(f"{url}/api/settings.health", headers={"x-api-key": "k"}).json() == {"status": "ok"}
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_help_names_the_openapi_default() -> None:
    result = subprocess.run(
        [*STANDIN_COMMAND, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())  # click wraps the help text
    assert "DOKPLOY_STANDIN_OPENAPI, else shared/dokploy/openapi.json beside the checkout" in help_text


def test_console_script_is_the_same_command() -> None:
    script = Path(sys.executable).with_name("infraguardian-standin")  # pyproject [project.scripts]
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Serve a local stand-in for Dokploy v0.30.2" in result.stdout
    assert "--openapi" in result.stdout and "--base-dir" in result.stdout


def test_the_product_cli_has_no_standin_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_server", "standin", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "No such command 'standin'" in result.stderr


def test_cli_reports_a_missing_openapi_document(tmp_path: object) -> None:
    result = subprocess.run(
        [
            *STANDIN_COMMAND,
            "--openapi",
            "/nonexistent.json",
            "--base-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "OpenAPI document not found: /nonexistent.json" in result.stderr
    assert "Traceback" not in result.stderr
