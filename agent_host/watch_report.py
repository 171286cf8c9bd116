"""What the running agent watches, kept in the state directory for `infraguardian-agent status`.

`status` runs in another process and cannot ask the agent, so `run` writes `agent-status.json` every
`report_s` (30 s): its pid and start, the server it talks to, the decision mode, and what the server
sees — each engine with its stacks and services, from the server's inventory resource (refreshed every
`inventory_s`, 5 min, because an inventory inspects every container). `status` reads it back and says
whether the agent is running: the pid is alive and the report is younger than three intervals.

Everything written is redacted first; names of stacks and services are not secrets, but a summary
line from the server could carry one.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, Field, ValidationError

from mcp_server.redaction import redact

REPORT_FILE = "agent-status.json"
INVENTORY_URI = "infraguardian://inventory"


class WatchedStack(BaseModel):
    app_name: str
    kind: str = Field(description="compose, stack, swarm_service or dokploy_system")
    services: list[str]
    running: int
    containers: int
    unhealthy: int


class WatchedEngine(BaseModel):
    engine: str = Field(description="where the server reaches Docker, e.g. unix:///var/run/docker.sock")
    swarm: bool
    stacks: list[WatchedStack]
    unmanaged_containers: int
    collected_at: str

    @property
    def services(self) -> int:
        return sum(len(s.services) for s in self.stacks)


class WatchReport(BaseModel):
    pid: int
    started_at: str
    updated_at: str
    server: str
    mode: str
    report_s: float
    engines: list[WatchedEngine] = Field(default_factory=list)
    inventory_note: str | None = Field(default=None, description="why the watched list is missing or old")
    open_incidents: int = 0


def engine_from_inventory(inventory: dict[str, Any]) -> WatchedEngine:
    """The parts of the server's inventory (docker_ops.models.Inventory as JSON) that status shows."""
    stacks = [
        WatchedStack(
            app_name=str(group.get("app_name")),
            kind=str(group.get("kind")),
            services=[str(s.get("name")) for s in group.get("services") or []],
            running=int(group.get("containers_running") or 0),
            containers=int(group.get("containers_total") or 0),
            unhealthy=int(group.get("containers_unhealthy") or 0),
        )
        for group in inventory.get("groups") or []
    ]
    return WatchedEngine(
        engine=str(inventory.get("base_url") or "the server's engine"),
        swarm=bool(inventory.get("swarm_active")),
        stacks=sorted(stacks, key=lambda s: (s.kind == "dokploy_system", s.app_name)),
        unmanaged_containers=len(inventory.get("unmanaged") or []),
        collected_at=str(inventory.get("collected_at") or ""),
    )


def write_report(state_dir: Path, report: WatchReport) -> None:
    """Atomically replace the report (a reader never sees half a file)."""
    path = state_dir / REPORT_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(redact(report.model_dump(mode="json")), ensure_ascii=False, indent=1))
    os.replace(temporary, path)


def read_report(state_dir: Path) -> WatchReport | None:
    """The last report, or None when no agent ever ran here (or the file is unreadable)."""
    try:
        return WatchReport.model_validate_json((state_dir / REPORT_FILE).read_text())
    except (OSError, ValidationError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def liveness(report: WatchReport | None, now: datetime | None = None) -> tuple[bool, str]:
    """(running?, one line saying so) for `status`."""
    if report is None:
        return False, "not running (no agent has run with this state directory)"
    now = now or datetime.now(UTC)
    age = (now - datetime.fromisoformat(report.updated_at)).total_seconds()
    if pid_alive(report.pid) and age <= 3 * report.report_s:
        return True, f"running (pid {report.pid}, since {report.started_at[:19]}Z, report {age:.0f} s old)"
    return False, f"not running (last seen {report.updated_at[:19]}Z, pid {report.pid})"


class Reporter:
    """Keeps `agent-status.json` current while the agent runs (see the module docstring)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        server: str,
        mode: Any,
        read_resource: Any,
        open_incidents: Any,
        report_s: float = 30.0,
        inventory_s: float = 300.0,
    ) -> None:
        self.state_dir = state_dir
        self._mode = mode  # callable: the mode line, which changes when the model comes or goes
        self._read_resource = read_resource
        self._open_incidents = open_incidents
        self.report_s, self.inventory_s = report_s, inventory_s
        now = datetime.now(UTC).isoformat()
        self.report = WatchReport(
            pid=os.getpid(), started_at=now, updated_at=now, server=server, mode=mode(), report_s=report_s
        )
        self._inventory_at: float | None = None

    async def refresh(self) -> WatchReport:
        """Re-read the inventory when it is due, then write the report."""
        if self._inventory_at is None or time.monotonic() - self._inventory_at >= self.inventory_s:
            try:
                inventory = json.loads(await self._read_resource(INVENTORY_URI))
                self.report.engines = [engine_from_inventory(inventory)]
                self.report.inventory_note = None
            except Exception as exc:  # the server is away or refused: say so, keep the last list
                self.report.inventory_note = f"could not read the server's inventory: {exc}"[:300]
            self._inventory_at = time.monotonic()
        self.report.mode = self._mode()
        self.report.open_incidents = len(await self._open_incidents())
        self.report.updated_at = datetime.now(UTC).isoformat()
        await anyio.to_thread.run_sync(write_report, self.state_dir, self.report)
        return self.report

    async def run(self) -> None:
        """Refresh every `report_s` until cancelled."""
        while True:
            await self.refresh()
            await anyio.sleep(self.report_s)
