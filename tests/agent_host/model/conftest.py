"""The decider against the Ollama stand-in (the real `ollama` client): an OOM incident with its
evidence, the oom-killed runbook's candidates, scripted read-only tools and a clock to move."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent_host.incidents.model import Incident
from agent_host.model import Candidate, ModelDecider, ModelSettings, candidates_of
from agent_host.model.tools import ToolDefinition
from mcp_server.runbooks import RunbookLibrary
from standins.ollama import OllamaStandIn

MODEL = "gpt-oss:20b"
MIB = 1024 * 1024
OOM_FACTS: dict[str, Any] = {
    "signal_kind": "oom", "signal_severity": "critical", "running": True, "exit_code": 137,
    "oom_killed": True, "memory_limit_bytes": 64 * MIB, "memory_limit": "64m", "proposed_memory": "128m",
    "proposed_memory_fits": True, "oom_after_raise": False, "failed_fixes": 0, "recurrences_4h": 1,
    "dependants": ["web"], "log_patterns": ["out_of_memory"],
}  # fmt: skip
FENCED_LOGS = (
    '<untrusted-data source="container logs: api" nonce="n0nce">\n'
    "12:00:01 GET /api/report 200\n12:00:02 JavaScript heap out of memory\n"
    '</untrusted-data nonce="n0nce">'
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def make_incident(
    severity: str = "critical", *, signals: int = 1, logs: str = FENCED_LOGS, **facts: Any
) -> Incident:
    signal = {"id": "oom-shop-api", "kind": "oom", "severity": severity, "summary": "api OOM-killed"}
    return Incident(
        id="inc-model1", fingerprint="service:local/shop/api", target_key="service:local/shop/api",
        target={"host": "local", "app_name": "shop", "service": "api", "container": "shop-api-1"},
        kind="oom", severity=severity, summary="api was OOM-killed", runbook="oom-killed",
        signals=[{**signal, "id": f"oom-{i}"} for i in range(signals)],
        context={
            "logs": {"tool": "read_logs", "arguments": {}, "ok": True, "text": logs, "structured": None},
            "_graph": {"tool": "compose_graph", "ok": True, "text": "", "structured": {"services": [
                {"name": "api", "kind": "app", "depends_on": ["db"], "upstream": ["db"], "blast_radius": ["web"]},
            ]}},
            "deployments": {"tool": "deployment_history", "ok": True, "text": "", "structured": {
                "deployments": [{"status": "done", "title": "bump deps", "finished_at": "2026-12-03T10:00:00Z"}]}},
        },
        facts={**OOM_FACTS, **facts},
    )  # fmt: skip


def oom_candidates(incident: Incident) -> list[Candidate]:
    return candidates_of(RunbookLibrary.load().get("oom-killed"), incident.facts)


def definition(name: str, read_only: bool = True, description: str = "") -> ToolDefinition:
    return ToolDefinition(
        name=name,
        description=description or f"{name.replace('_', ' ')} of one service",
        input_schema={
            "type": "object",
            "properties": {"app_name": {"type": "string"}, "service": {"type": "string"}},
            "required": ["app_name"],
        },
        read_only=read_only,
    )


@dataclass
class ScriptedReadTools:
    """The caller's read-only tools: definitions as the server lists them, answers from a dict."""

    definitions: list[ToolDefinition] = field(
        default_factory=lambda: [
            definition("read_logs"),
            definition("service_status"),
            definition("container_stats"),
            definition("prune", read_only=False),
            definition("restart_service", read_only=False),
        ]
    )
    answers: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def call(self, name: str, arguments: dict[str, Any]) -> str:
        self.calls.append((name, arguments))
        return self.answers.get(name, f'{{"tool": "{name}", "memory_usage_bytes": 62914560}}')


def answer(solution: str = "raise-memory-limit", confidence: float = 0.9, **extra: Any) -> dict[str, Any]:
    """A scripted model turn answering in the decision schema."""
    return {
        "json": {
            "root_cause": "the api's heap outgrew its 64m limit while building a report",
            "confidence": confidence,
            "solution": solution,
            "reasons": ["exit 137 with OOMKilled", "heap out of memory in the logs"],
        },
        **extra,
    }


MakeDecider = Callable[..., ModelDecider]


@pytest.fixture
async def make_decider(ollama_standin: OllamaStandIn) -> AsyncIterator[MakeDecider]:
    made: list[ModelDecider] = []

    def make(
        *, read_tools: Any = None, clock: Callable[[], datetime] | None = None, **settings: Any
    ) -> ModelDecider:
        decider = ModelDecider(
            ModelSettings(ollama_host=ollama_standin.url, **settings),
            read_tools=read_tools if read_tools is not None else ScriptedReadTools(),
            **({"clock": clock} if clock else {}),
        )
        made.append(decider)
        return decider

    yield make
    for decider in made:
        await decider.aclose()
