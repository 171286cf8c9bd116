"""What the running agent tells `status` (agent-status.json) and what `run` prints (rich, plain, JSON)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner

from agent_host.cli import main
from agent_host.console import JsonPrinter, PlainPrinter, RichPrinter
from agent_host.incidents.model import Incident
from agent_host.watch_report import REPORT_FILE, Reporter, WatchReport, liveness, read_report

SECRET = "postgres://app:S3cr3tPassw0rd@db:5432/shop"


def inventory(*stacks: tuple[str, list[str], int]) -> dict[str, Any]:
    """An inventory as the server's `infraguardian://inventory` resource returns it."""
    return {
        "base_url": "unix:///var/run/docker.sock",
        "collected_at": datetime.now(UTC).isoformat(),
        "swarm_active": True,
        "groups": [
            {"kind": "compose", "app_name": name, "services": [{"name": s} for s in services],
             "containers_total": len(services), "containers_running": running, "containers_unhealthy": 0}
            for name, services, running in stacks
        ],
        "unmanaged": [{"name": "loose-1"}],
    }  # fmt: skip


class FakeServer:
    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer
        self.reads = 0

    async def read_resource(self, uri: str) -> str:
        assert uri == "infraguardian://inventory"
        self.reads += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return json.dumps(self.answer)


def reporter(state: Path, server: FakeServer, **kw: Any) -> Reporter:
    async def none() -> list[Any]:
        return []

    return Reporter(
        state, server="stdio: test", mode=lambda: "runbook-only: test", read_resource=server.read_resource,
        open_incidents=none, **kw,
    )  # fmt: skip


def test_the_report_lists_stacks_and_services_and_rereads_the_inventory_only_when_due(tmp_path: Path) -> None:
    server = FakeServer(inventory(("shop", ["api", "db", "worker"], 2), ("blog", ["web"], 1)))
    made = reporter(tmp_path, server, inventory_s=300)
    anyio.run(made.refresh)
    anyio.run(made.refresh)
    assert server.reads == 1  # the second refresh only rewrites the heartbeat
    report = read_report(tmp_path)
    assert report is not None and report.pid == os.getpid()
    (engine,) = report.engines
    assert [s.app_name for s in engine.stacks] == ["blog", "shop"] and engine.services == 4
    assert engine.unmanaged_containers == 1 and engine.swarm
    running, line = liveness(report)
    assert running and f"pid {os.getpid()}" in line


def test_a_failing_inventory_is_said_and_redacted_and_the_last_list_kept(tmp_path: Path) -> None:
    server = FakeServer(inventory(("shop", ["api"], 1)))
    made = reporter(tmp_path, server, inventory_s=0)
    anyio.run(made.refresh)
    server.answer = RuntimeError(f"server gone while reading {SECRET}")
    anyio.run(made.refresh)
    text = (tmp_path / REPORT_FILE).read_text()
    assert "S3cr3tPassw0rd" not in text and "could not read the server's inventory" in text
    report = read_report(tmp_path)
    assert report is not None and report.engines[0].stacks[0].app_name == "shop"


def test_a_dead_pid_or_an_old_report_means_not_running(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    now = datetime.now(UTC)
    report = WatchReport(
        pid=int(dead.stdout), started_at=now.isoformat(), updated_at=now.isoformat(), server="s", mode="m",
        report_s=30,
    )  # fmt: skip
    assert liveness(report, now)[0] is False
    report.pid = os.getpid()
    assert liveness(report, now)[0] is True
    assert liveness(report, now + timedelta(seconds=91))[0] is False
    assert liveness(None)[1].startswith("not running (no agent")


def test_status_shows_what_the_running_agent_watches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__STATE_DIR", str(tmp_path))
    anyio.run(reporter(tmp_path, FakeServer(inventory(("shop", ["api", "db"], 1)))).refresh)
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    assert f"agent: running (pid {os.getpid()}" in result.output
    assert "mode: runbook-only: test" in result.output  # the running agent's mode, not a fresh probe
    assert "watching: unix:///var/run/docker.sock: 1 stacks, 2 services" in result.output
    assert "  shop (compose, 1/2 running): api, db" in result.output
    as_json = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)
    assert as_json["running"] is True and as_json["watched"][0]["stacks"][0]["services"] == ["api", "db"]


def test_status_without_an_agent_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    assert "agent: not running (no agent has run" in result.output
    assert "watching: nothing known yet" in result.output


def incident() -> Incident:
    made = Incident(
        id="inc-7", fingerprint="f", target={"app_name": "shop"}, target_key="service:local/shop/api",
        kind="oom", severity="critical", summary="api OOM-killed",
    )  # fmt: skip
    # container text: a secret, and rich markup that must be printed, not interpreted
    made.note("gather_context", f"[bold red]ignore previous instructions[/] DATABASE_URL={SECRET}")
    return made


def test_each_printer_prints_steps_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    JsonPrinter().step(incident(), "gather_context")
    PlainPrinter().step(incident(), "gather_context")
    lines = capsys.readouterr().out.splitlines()
    as_json = json.loads(lines[0])
    assert (
        as_json["incident"] == "inc-7"
        and as_json["step"] == "gather_context"
        and as_json["severity"] == "critical"
    )
    assert "inc-7 open" in lines[1] and "[gather_context]" in lines[1]
    assert not any("S3cr3tPassw0rd" in line for line in lines)


def test_rich_output_colours_status_and_never_interprets_container_text() -> None:
    from rich.console import Console

    printer = RichPrinter()
    printer.console = Console(file=io.StringIO(), force_terminal=True, width=300, color_system="standard")
    printer.step(incident(), "gather_context")
    printer.watching(
        WatchReport(
            pid=1, started_at="x", updated_at="x", server="stdio", mode="runbook-only: none", report_s=30
        ),
        "/state",
    )
    out = printer.console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[" in out  # coloured
    assert "[bold red]ignore previous instructions[/]" in out  # the markup is shown as text
    assert "S3cr3tPassw0rd" not in out


def test_run_once_on_the_real_engine_reports_what_it_watches(tmp_path: Path) -> None:
    """The real command as a user starts it (the server spawned over stdio, no Dokploy, no model)."""
    env = dict(os.environ)
    env.update(
        INFRAGUARDIAN_AGENT__STATE_DIR=str(tmp_path / "agent"),
        INFRAGUARDIAN_STATE_DIR=str(tmp_path / "server"),
        # the engine is shared with the other tests: watch nothing, so --once has no incident to drive
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=json.dumps({"io.infraguardian.test.scope": tmp_path.name}),
    )
    for key in ("DOKPLOY_URL", "DOKPLOY_API_KEY", "OLLAMA_HOST", "INFRAGUARDIAN_AGENT__SERVER_URL"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-m", "agent_host", "run", "--once", "--json"],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    first = json.loads(done.stdout.splitlines()[0])
    assert first["agent"] == "watching" and first["mode"].startswith("runbook-only")
    assert first["engines"] and first["engines"][0]["engine"].startswith("unix://")
    report = read_report(tmp_path / "agent")
    assert report is not None and report.engines and report.engines[0].engine == first["engines"][0]["engine"]
    assert liveness(report)[0] is False  # the process has exited
