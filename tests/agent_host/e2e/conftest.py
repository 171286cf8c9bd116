"""The agent end to end on the real engine: the real server (spawned over stdio, its detectors on,
wired to the Dokploy stand-in), the real link, graph, checkpointer and store.

Shared here: the Dokploy stand-in, the server's environment, and waiting for this test's incident
(the engine is shared with the rest of the suite, so a test only looks at its own stack)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent_host.incidents.model import Incident
from agent_host.incidents.store import IncidentStore
from agent_host.settings import AgentSettings
from standins.dokploy.server import StandIn
from tests.conftest import OPENAPI_FILE
from tests.mcp_server.act_fixtures import LABELS

MIB = 1024 * 1024


@pytest.fixture
def standin() -> Iterator[StandIn]:
    made = StandIn(service_labels=LABELS)
    with made.serving():
        yield made


def server_env(standin: StandIn, state: Path, **extra: str) -> dict[str, str]:
    """The environment of the server the agent spawns: the stand-in's URL and key, its own state."""
    env = dict(os.environ)
    env.update(
        DOKPLOY_URL=standin.url,
        DOKPLOY_API_KEY=standin.api_key,
        INFRAGUARDIAN_STATE_DIR=str(state),
        INFRAGUARDIAN_DOKPLOY_OPENAPI_FILE=str(OPENAPI_FILE),
        **extra,
    )
    return env


def watch_only(prefix: str) -> tuple[dict[str, str], dict[str, str]]:
    """A label unique to one test, and the server env that makes its detectors watch only
    containers carrying it: the engine is shared with the rest of the suite (and other agents)."""
    scope = {"ig.e2e": f"{prefix}-{secrets.token_hex(4)}"}
    return scope, {"INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS": json.dumps(scope)}


async def wait_for_incident(
    store: IncidentStore,
    app_name: str,
    done: Callable[[Incident], bool] = lambda i: i.closed,
    *,
    timeout_s: float = 150,
) -> Incident:
    """The first incident of `app_name` for which `done` holds (by default: closed)."""
    with anyio.fail_after(timeout_s):
        while True:
            for incident in await store.recent(50):
                if incident.target.get("app_name") == app_name and done(incident):
                    return incident
            await anyio.sleep(1)


async def all_incidents(settings: AgentSettings) -> list[Incident]:
    """Every incident in the agent's database, read through a fresh connection."""
    db = settings.open_database()
    try:
        return await IncidentStore(db).recent(100)
    finally:
        db.close()


class Deciding:
    """How a scenario's incidents are decided: by the runbooks alone, or by the scripted model (the
    real `ollama` client against the Ollama stand-in) picking the runbook's candidate."""

    def __init__(self, mode: str, ollama: Any | None) -> None:
        self.mode = mode
        self.ollama = ollama

    def model_settings(self) -> dict[str, Any]:
        """AgentSettings' `model` for this mode (empty: no model configured)."""
        return {"ollama_host": self.ollama.url} if self.ollama is not None else {}

    def script(self, app_name: str, solution: str, root_cause: str) -> None:
        """The model answers every incident of `app_name` with `solution` (no-op runbook-only)."""
        if self.ollama is None:
            return
        reply = {
            "thinking": f"The evidence fits: {root_cause}.",
            "json": {"root_cause": root_cause, "confidence": 0.9, "solution": solution,
                     "reasons": [root_cause]},
        }  # fmt: skip
        self.ollama.script([{"match": app_name, "reply": reply}])
        # anything else this agent meets (it should meet nothing else) gets a harmless answer
        self.ollama.set_default(
            {"json": {"root_cause": "not this test's", "confidence": 0.1, "solution": "none", "reasons": []}}
        )

    def check(self, decision: Any) -> None:
        """The decision record says who decided, and the model's reason when it was the model."""
        assert decision is not None and decision.mode == self.mode, decision
        if self.ollama is None:
            assert "runbook-only" in decision.mode_note
        else:
            assert any(r.startswith("model: ") for r in decision.reasons), decision.reasons
            assert self.ollama.chats, "the model was never asked"


@pytest.fixture(params=["runbook", "model"])
def deciding(request: pytest.FixtureRequest) -> Deciding:
    """Each scenario runs twice: runbook-only, and with the scripted model."""
    if request.param == "runbook":
        return Deciding("runbook", None)
    return Deciding("model", request.getfixturevalue("ollama_standin"))
