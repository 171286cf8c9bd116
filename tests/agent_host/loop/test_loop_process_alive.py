"""The unhealthy runbook through the whole loop: the signal's own probe says the process answers
while its health check fails → escalated with that reason and nothing touched; it says the process
does not answer → restarted once and verified."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Loop, healthy_service, make_signal, script_quiet_stack
from .fakes import Answer

pytestmark = pytest.mark.anyio

WRONG_PORT = "wget: can't connect to remote host (127.0.0.1): Connection refused"


def api_status(health: str) -> Answer:
    status = healthy_service()
    assert status.structured is not None
    status.structured["containers"][0].update(health=health, last_probe=WRONG_PORT)
    return status


def unhealthy_signal(own_probe: dict[str, Any]) -> dict[str, Any]:
    return make_signal("unhealthy", evidence={"failing_streak": 5, "own_probe": own_probe})


async def drive(loop: Loop, signal: dict[str, Any]) -> Any:
    (incident_id,) = await loop.monitor.handle_signals([signal])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None
    return incident


async def test_a_process_that_answers_its_port_gets_its_check_escalated(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    loop.server.on("service_status", api_status("unhealthy"))
    loop.server.on("restart_service", Answer(structured={"ok": True}))
    own = {"answered": True, "port": 8080, "kind": "http", "outcome": "ok", "status_code": 200}
    incident = await drive(loop, unhealthy_signal(own))
    assert incident.status == "escalated", incident.events
    assert incident.facts["process_alive"] is True
    assert "the process works but its health check fails" in (incident.outcome or "")
    assert loop.server.mutations() == []  # a restart would not fix the check


async def test_a_process_that_does_not_answer_is_restarted_once(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    restarted: list[dict[str, Any]] = []

    def restart(args: dict[str, Any]) -> Answer:
        restarted.append(args)
        return Answer(structured={"ok": True})

    # unhealthy until the restart, healthy after it
    loop.server.on("service_status", lambda _args: api_status("healthy" if restarted else "unhealthy"))
    loop.server.on("restart_service", restart)
    own = {"answered": False, "port": 8080, "kind": "http", "outcome": "no_answer", "error": "no answer"}
    incident = await drive(loop, unhealthy_signal(own))
    assert incident.facts["process_alive"] is False
    assert incident.decision is not None and incident.decision.solution == "restart-once"
    assert loop.server.mutations() == [("restart_service", {"app_name": "shop", "service": "api"})]
    assert incident.status == "resolved", incident.events
