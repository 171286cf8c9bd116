"""The loop on a scripted server: real graph, real SQLite checkpointer, store and approval book."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent_host.approvals import ApprovalBook
from agent_host.incidents.store import IncidentStore
from agent_host.loop.deps import LoopDeps
from agent_host.loop.graph import compile_graph
from agent_host.monitor import Monitor
from agent_host.runner import checkpointer
from agent_host.settings import AgentSettings
from mcp_server.runbooks import RunbookLibrary

from .fakes import Answer, FakeServer

MIB = 1024 * 1024


@dataclass
class Loop:
    server: FakeServer
    deps: LoopDeps
    monitor: Monitor
    store: IncidentStore
    book: ApprovalBook
    sleeps: list[float]
    state_dir: Path


def make_signal(
    kind: str = "oom", service: str = "api", *, evidence: dict[str, Any] | None = None, minutes_ago: float = 1
) -> dict[str, Any]:
    seen = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
    return {
        "id": f"{kind}-shop-{service}",
        "kind": kind,
        "severity": "critical",
        "summary": f"{service} {kind}",
        "target": {
            "kind": "container", "host": "local", "project": "shop", "service": service,
            "name": f"shop-{service}-1", "app_name": "shop", "container_name": f"shop-{service}-1",
        },
        "evidence": evidence or {},
        "runbook": {"oom": "oom-killed", "crash_loop": "crash-loop", "disk_pressure": "disk-filling"}.get(kind, kind),
        "first_seen": seen,
        "last_seen": seen,
        "status": "active",
    }  # fmt: skip


def healthy_service(limit: int = 64 * MIB, restarts: int = 1, running: bool = True) -> Answer:
    return Answer(
        structured={
            "app_name": "shop",
            "service": "api",
            "containers": [
                {
                    "name": "shop-api-1", "service": "api", "status": "running" if running else "exited",
                    "health": None, "restarts": restarts, "exit_code": 0 if running else 137,
                    "oom_killed": not running, "memory_limit_bytes": limit,
                }
            ],
        }
    )  # fmt: skip


def script_quiet_stack(server: FakeServer) -> None:
    """A stack where everything but the incident's problem is fine."""
    server.on("service_status", healthy_service())
    server.on("read_logs", Answer(text="GET /api 200\nGET /api 200"))
    server.on(
        "container_stats",
        Answer(structured={"containers": [{"running": True, "memory_usage_bytes": 20 * MIB, "memory_percent": 31.0, "cpu_percent": 3.0}]}),
    )  # fmt: skip
    server.on(
        "compose_graph",
        Answer(structured={"services": [
            {"name": "api", "kind": "app", "depends_on": ["db"], "upstream": ["db"], "blast_radius": ["web"]},
            {"name": "db", "kind": "database", "depends_on": [], "upstream": [], "blast_radius": ["api", "web"]},
        ]}),
    )  # fmt: skip
    server.on(
        "compose_health",
        Answer(structured={"verdict": "ok", "services": [
            {"service": "api", "verdict": "ok", "containers": []},
            {"service": "db", "verdict": "ok", "containers": []},
        ]}),
    )  # fmt: skip
    server.on("active_signals", Answer(structured={"signals": []}))
    server.on(
        "set_memory_limit",
        lambda args: Answer(structured={
            "ok": True, "dry_run": bool(args.get("dry_run")), "service": "api",
            "containers": [{"container": "shop-api-1", "old_limit": "64m", "new_limit": args["memory"], "ok": True}],
        }),
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Every loop test runs on both databases the agent supports (PostgreSQL from .ci/setup)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def loop(tmp_path: Path, database_url: str | None) -> AsyncIterator[Loop]:
    async with make_loop(tmp_path, database_url=database_url) as made:
        yield made


class make_loop:
    """A loop on `state_dir` (and `database_url`); a second one on the same place is "the agent
    after a restart". With PostgreSQL, each loop gets its own schema-free tables in the shared test
    database, so the tables are emptied first when `fresh`."""

    def __init__(
        self,
        state_dir: Path,
        server: FakeServer | None = None,
        *,
        database_url: str | None = None,
        fresh: bool = True,
    ) -> None:
        self.state_dir = state_dir
        self.server = server or FakeServer()
        self.database_url = database_url
        self.fresh = fresh

    async def __aenter__(self) -> Loop:
        settings = AgentSettings(
            state_dir=self.state_dir,
            database_url=self.database_url,
            verify_window_max_s=0.001,
            verify_interval_s=0.001,
        )
        self.db = settings.open_database()
        self.store = IncidentStore(self.db)
        self.book = ApprovalBook(self.db)
        if self.database_url and self.fresh:
            await self.db.transaction(
                lambda tx: [tx.execute(f"DELETE FROM {t}") for t in ("incidents", "fixes", "approvals")]
            )
        sleeps: list[float] = []

        async def no_sleep(seconds: float) -> None:
            sleeps.append(seconds)

        deps = LoopDeps(
            link=self.server, library=RunbookLibrary.load(), store=self.store, settings=settings,
            approvals=self.book, sleep=no_sleep,
        )  # fmt: skip
        self._saver_cm = checkpointer(settings)
        saver = await self._saver_cm.__aenter__()
        if self.database_url and self.fresh:
            await _clear_checkpoints(self.database_url)
        graph = compile_graph(deps, saver)

        async def no_signals() -> list[dict[str, Any]]:
            return []

        return Loop(
            self.server, deps, Monitor(deps, graph, no_signals), self.store, self.book, sleeps, self.state_dir
        )

    async def __aexit__(self, *exc: object) -> None:
        await self._saver_cm.__aexit__(None, None, None)
        self.db.close()


async def _clear_checkpoints(url: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints"):
            await conn.execute(f"DELETE FROM {table}")
