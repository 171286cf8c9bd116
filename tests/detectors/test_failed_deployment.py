"""Failed-deployment detector on deployment rows captured from a real Dokploy (also served through
the real DokployClient), and the newest-finished / error-streak logic."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.responses import JSONResponse

from mcp_server.detectors import (
    DeploymentWatch,
    DetectorEngine,
    DetectorSettings,
    Severity,
    dokploy_deployment_watches,
)
from mcp_server.detectors.checks.failed_deployment import newest_finished
from mcp_server.docker_ops.host import DockerHost
from mcp_server.dokploy import DokployClient
from mcp_server.dokploy.models import Deployment, OverviewService

from ..conftest import OPENAPI_FILE, ScriptedServer
from .helpers import dokploy_capture

pytestmark = pytest.mark.anyio


async def test_failed_deployment_from_rows_resolves_after_a_good_deploy(host: DockerHost) -> None:
    rows: list[dict[str, Any]] = list(dokploy_capture("deployment.allByCompose--after-missing-image"))
    fail_next = False

    async def fetch() -> list[dict[str, Any]]:
        if fail_next:
            raise ConnectionError("Dokploy did not answer")
        return rows

    async def logs(deployment_id: str) -> str:
        return str(dokploy_capture("deployment.readLogs--missing-image-error"))

    watch = DeploymentWatch(
        app_name="capdemo-qiqp6p", dokploy_id="x2i8xcknObKu2IjCtumbL", fetch=fetch, logs=logs
    )
    settings = DetectorSettings(enabled=["failed_deployment"], deployment_interval_s=3600)
    engine = DetectorEngine(host, settings, deployments=[watch])
    await engine.poll()
    [sig] = engine.active_signals()
    assert sig.kind == "failed_deployment" and sig.runbook == "failed-deployment"
    assert sig.severity == Severity.critical
    assert sig.target.app_name == "capdemo-qiqp6p" and sig.target.dokploy_id == "x2i8xcknObKu2IjCtumbL"
    newest_error = max((r for r in rows if r["status"] == "error"), key=lambda r: r["createdAt"])
    assert sig.evidence["deployment_id"] == newest_error["deploymentId"]
    assert sig.evidence["failed_in_a_row"] == 2
    assert sig.evidence["last_successful"]["created_at"] == "2026-11-25T08:37:42.544Z"
    assert "Manual deployment" in sig.summary and "2 failed deployments in a row" in sig.summary
    assert any("Error response from daemon" in line for line in sig.evidence["log_tail"])
    assert sig.evidence["log_tail"][-1] == "Error occurred ❌, check the logs for details."

    fail_next = True  # Dokploy unreachable: the failure is neither confirmed nor resolved
    await engine.poll()
    assert [s.id for s in engine.active_signals()] == [sig.id]
    [status] = engine.status().detectors
    assert status.notes and "not read" in status.notes[0]

    fail_next = False  # a new deployment succeeds: the signal resolves
    rows.insert(
        0, {**rows[0], "deploymentId": "new-ok", "status": "done", "createdAt": "2026-11-25T09:00:00.000Z"}
    )
    await engine.poll()
    assert engine.active_signals() == []
    assert engine.resolved_signals()[0].id == sig.id


async def test_failed_deployment_through_the_dokploy_client(
    host: DockerHost, scripted_server: ScriptedServer
) -> None:
    scripted_server.answer(
        JSONResponse(dokploy_capture("deployment.allByCompose--after-missing-image")),
        JSONResponse(dokploy_capture("deployment.readLogs--missing-image-error")),
    )
    services = [OverviewService.model_validate(r) for r in dokploy_capture("overview.services--after-deploy")]
    client = await DokployClient.connect(scripted_server.url, "test-key", openapi_file=OPENAPI_FILE)
    async with client:
        watches = dokploy_deployment_watches(client, services)
        assert [(w.app_name, w.kind) for w in watches] == [("capdemo-qiqp6p", "compose")]
        engine = DetectorEngine(
            host,
            DetectorSettings(enabled=["failed_deployment"], deployment_interval_s=3600),
            deployments=watches,
        )
        await engine.poll()
    [sig] = engine.active_signals()
    assert sig.target.dokploy_id == "x2i8xcknObKu2IjCtumbL"
    assert any("Docker command failed" in line for line in sig.evidence["log_tail"])
    paths = [r["path"] for r in scripted_server.received]
    assert paths == ["/api/deployment.allByCompose", "/api/deployment.readLogs"]


def test_newest_finished_deployment_and_error_streak() -> None:
    def row(i: str, status: str, minute: int) -> Deployment:
        return Deployment(deployment_id=i, status=status, created_at=f"2026-03-01T12:{minute:02d}:00.000Z")  # type: ignore[arg-type]

    rows = [row("a", "done", 1), row("b", "error", 2), row("c", "error", 3), row("d", "running", 4)]
    newest, streak, last_ok = newest_finished(rows)
    assert newest is not None and newest.deployment_id == "c" and streak == 2
    assert last_ok is not None and last_ok.deployment_id == "a"
    assert newest_finished([row("x", "running", 1)]) == (None, 0, None)
