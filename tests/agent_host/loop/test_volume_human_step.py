"""A filling data volume on a scripted server: the facts code reads from the signal and the compose
file, the approval that asks a person to grow the volume (the agent never prunes or deletes), and
what follows an approval — verified when the volume came down, escalated when it did not, with the
agent having changed nothing either way. The same scenario runs on the real engine in
tests/agent_host/e2e/test_volume_filling.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_host.diagnosis.volumes import compose_volume, growth_text, size_option, volume_facts
from mcp_server.runbooks import RunbookError, parse_runbook
from mcp_server.safety.boundary import wrap_untrusted

from .conftest import Loop, healthy_service, make_signal, script_quiet_stack
from .fakes import Answer

pytestmark = pytest.mark.anyio
MIB = 1024 * 1024
MOUNTPOINT = "/var/lib/docker/volumes/shop_qdrant_data/_data"
COMPOSE = yaml.safe_dump(
    {
        "services": {
            "qdrant": {"image": "qdrant/qdrant", "volumes": ["qdrant_data:/qdrant/storage"]},
            "api": {"image": "shop/api", "depends_on": ["qdrant"], "volumes": ["./conf:/conf:ro"]},
        },
        "volumes": {"qdrant_data": {"driver_opts": {"type": "tmpfs", "device": "tmpfs", "o": "size=16m"}}},
    }
)


# the server hands a compose file out fenced as untrusted data, like all text it did not write
FENCED = wrap_untrusted(COMPOSE, "compose_graph result.compose_file")


def volume_signal(used_percent: float = 93.8) -> dict[str, Any]:
    signal = make_signal(
        "disk_pressure",
        evidence={
            "used_percent": used_percent, "used_bytes": 15 * MIB, "free_bytes": MIB,
            "total_bytes": 16 * MIB, "fill_rate_bytes_per_s": 34952.5, "projected_full_in_s": 30.0,
            "path": MOUNTPOINT,
        },
    )  # fmt: skip
    signal["target"] = {"kind": "volume", "host": "local", "name": "shop_qdrant_data", "project": "shop"}
    signal["target"]["app_name"] = "shop"
    return signal


def script_volume_stack(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    loop.server.on("disk_usage", Answer(structured={"kinds": [], "largest_volumes": []}))
    loop.server.on(
        "compose_graph",
        Answer(structured={"compose_file": FENCED, "services": [
            {"name": "qdrant", "kind": "app", "depends_on": [], "upstream": [], "blast_radius": ["api"]},
            {"name": "api", "kind": "app", "depends_on": ["qdrant"], "upstream": ["qdrant"], "blast_radius": []},
        ]}),
    )  # fmt: skip


def volume_still_full(_args: dict[str, Any]) -> Answer:
    """The detectors still see the volume at 93.8 %, measured after the hand-over."""
    signal = volume_signal()
    signal["last_seen"] = "2999-01-01T00:00:00+00:00"
    return Answer(structured={"detectors_running": True, "signals": [signal]})


async def asked(loop: Loop) -> tuple[str, Any]:
    (incident_id,) = await loop.monitor.handle_signals([volume_signal()])
    await loop.monitor.drive(incident_id)
    (request,) = await loop.book.pending()
    return incident_id, request


# -- facts ------------------------------------------------------------------------------------------
def test_sizes_and_growth_read_as_a_person_writes_them() -> None:
    assert size_option(16 * MIB) == "16m"
    assert size_option(16 * MIB + 1) == "17m"  # rounded up, never below what is there
    assert size_option(2 * 1024 * MIB) == "2g"
    assert growth_text(34952.5, 30.0) == "growing 2.0 MiB/min, full in ~30 s"
    assert growth_text(0.0, None) == "not growing now"
    assert growth_text(None, None) == "growth not measured yet"


def test_the_compose_file_says_who_mounts_a_volume_by_its_docker_name() -> None:
    assert compose_volume(COMPOSE, "shop", "shop_qdrant_data") == (["qdrant"], "tmpfs")
    assert compose_volume(COMPOSE, "shop", "other_qdrant_data") == ([], None)
    named = {
        "services": {
            "db": {"volumes": [{"type": "volume", "source": "pg", "target": "/var/lib/postgresql"}]},
            "backup": {"volumes": [{"type": "bind", "source": "pg", "target": "/x"}]},
            "old": {"volumes": ["legacy:/data"]},
        },
        "volumes": {"pg": {"name": "pgdata-prod"}, "legacy": {"external": True}},
    }
    assert compose_volume(yaml.safe_dump(named), "shop", "pgdata-prod") == (["db"], None)
    assert compose_volume(yaml.safe_dump(named), "shop", "legacy") == (["old"], None)
    assert compose_volume("services: [unclosed", "shop", "x") is None


def test_volume_facts_carry_the_evidence_and_the_blast_radius() -> None:
    context = {"volume-users": {"tool": "compose_graph", "ok": True, "structured": {"compose_file": FENCED}}}
    graph = {"services": [{"name": "qdrant", "blast_radius": ["api", "web"]}]}
    facts = volume_facts([volume_signal()], context, graph)
    assert facts == {
        "volume_name": "shop_qdrant_data",
        "volume_size_bytes": 16 * MIB,
        "volume_size": "16m",
        "proposed_volume_size": "32m",
        "volume_growth": "growing 2.0 MiB/min, full in ~30 s",
        "volume_mountpoint": MOUNTPOINT,
        "volume_services": ["qdrant"],
        "volume_type": "tmpfs",
        "dependants": ["qdrant", "api", "web"],
    }
    assert volume_facts([make_signal("oom")], context, graph) == {}


# -- the runbook model ------------------------------------------------------------------------------
_HUMAN = """name: x
title: t
description: d
trigger: {signals: [disk_pressure]}
context:
  - {id: usage, do: look, tool: disk_usage}
solutions:
  - id: grow
    title: ask a person
    confidence: 0.9
    risk: high
    approval: always
    human_steps:
      - {do: grow it, instruction: "grow {facts.volume_name} to {facts.proposed_volume_size}"}
verify: {window_s: 60, checks: [{check: volume_below_percent, percent: 85}]}
escalate_when: [ask]
"""


def test_a_human_step_parses_and_its_mistakes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(_HUMAN)
    assert parse_runbook(path).solutions[0].human_steps[0].do == "grow it"
    for old, new, expected in [
        ("approval: always", "approval: auto", "human_steps need approval: always"),
        ("{facts.volume_name}", "{facts.volume}", "line 14: .*unknown fact 'volume'"),
        ("percent: 85", "kinds: [x]", "volume_below_percent needs percent"),
        (
            "    human_steps:\n",
            "    follow: x\n    human_steps:\n",
            "exactly one of them",
        ),
    ]:
        path.write_text(_HUMAN.replace(old, new, 1))
        with pytest.raises(RunbookError, match=expected):
            parse_runbook(path)


# -- the loop ---------------------------------------------------------------------------------------
async def test_a_filling_tmpfs_volume_asks_a_person_with_the_evidence_and_touches_nothing(loop: Loop) -> None:
    script_volume_stack(loop)
    incident_id, request = await asked(loop)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "awaiting_approval", incident.events
    assert incident.decision is not None and incident.decision.solution == "grow-tmpfs-volume"
    assert request.incident_id == incident_id and "a human step" in request.title
    (change,) = request.changes
    assert change.startswith(
        "for you to do, the agent will not do it: Volume shop_qdrant_data (used by qdrant): "
    )
    for words in (
        "93.8% of its 16m used, growing",
        "growing 2.0 MiB/min, full in ~30 s",
        f"`mount -o remount,size=32m {MOUNTPOINT}`",
        "o: size=32m",
        "Do not prune or remove the volume.",
    ):
        assert words in change
    assert request.blast_radius == ["qdrant", "api"]
    # no prune, not even its dry run: a data volume is not what a prune frees
    assert [c[0] for c in loop.server.calls if c[0] == "prune"] == []
    assert any("prune-plan: not needed" in e.message for e in incident.events)
    assert loop.server.mutations() == []


async def test_approved_and_grown_it_is_verified_and_the_record_says_the_agent_did_not_act(
    loop: Loop,
) -> None:
    script_volume_stack(loop)
    incident_id, request = await asked(loop)
    # the person grew it: the detectors no longer see it full, and qdrant runs
    loop.server.on("active_signals", Answer(structured={"detectors_running": True, "signals": []}))
    loop.server.on("service_status", healthy_service())
    await loop.book.answer(request.id, approve=True, by="cli:ops")
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "resolved", incident.events
    assert incident.actions == [] and loop.server.mutations() == []
    assert incident.verification is not None and incident.verification["verdict"] == "healthy"
    assert incident.decision is not None
    assert any("the agent did not act: cli:ops approved" in r for r in incident.decision.reasons)
    assert any(e.message.startswith("handed to cli:ops; the agent did not act") for e in incident.events)
    status_calls = [c[1] for c in loop.server.calls if c[0] == "service_status"]
    assert {"app_name": "shop", "service": "qdrant"} in status_calls


async def test_approved_but_still_full_it_escalates_without_a_rollback(loop: Loop) -> None:
    script_volume_stack(loop)
    loop.server.on("active_signals", volume_still_full)
    incident_id, request = await asked(loop)
    await loop.book.answer(request.id, approve=True, by="cli:ops")
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated", incident.events
    assert "the approved human step was not done or did not help" in (incident.outcome or "")
    assert "volume_below_percent" in (incident.outcome or "")
    assert incident.verification is not None and incident.verification["verdict"] == "unhealthy"
    assert not any(e.step == "rollback" for e in incident.events)
    assert await loop.store.fixes_for(incident.target_key) == []  # no fix of the agent's failed
    assert loop.server.mutations() == []


async def test_without_a_known_size_a_filling_volume_still_only_escalates(loop: Loop) -> None:
    script_volume_stack(loop)
    signal = volume_signal()
    del signal["evidence"]["total_bytes"]
    (incident_id,) = await loop.monitor.handle_signals([signal])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated"
    assert "its size is unknown" in (incident.outcome or "")
    assert await loop.book.pending() == [] and loop.server.mutations() == []
