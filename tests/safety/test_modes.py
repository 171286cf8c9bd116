"""Modes and the action registry: who may do what."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcp_server.safety import ACTIONS, ActionRequest, Mode, SafetySettings, Target
from tests.safety.conftest import MakeSafety, audited_raise, human_says_yes, request, service

pytestmark = pytest.mark.anyio

MEMORY_RAISE = {
    "current_limit_bytes": 512 * 2**20,
    "new_limit_bytes": 768 * 2**20,
    "current_usage_bytes": 400 * 2**20,
}
MEMORY_LOWER = {
    "current_limit_bytes": 1024 * 2**20,
    "new_limit_bytes": 768 * 2**20,
    "current_usage_bytes": 400 * 2**20,
}
MEMORY_REVERT = MEMORY_LOWER  # undoes a raise 768 MiB → 1 GiB (audited_raise in the test below)


def valid_request(action: str) -> ActionRequest:
    """A request for `action` that passes every check but the mode (one service per action, so
    budgets and backoff of one action do not refuse the next)."""
    if action == "prune":
        return request(action, Target(kind="host"), details={"what": ["images", "build_cache"]})
    if action == "remove":
        return request(action, Target(kind="container", name="shop-a1b2c3-old-1"))
    if action == "read_sensitive":
        return request(
            action, Target(kind="dokploy_api", name="docker.readContainerFile"), details={"input": {}}
        )
    if action == "dokploy_mutation":
        return request(
            action, Target(kind="dokploy_api", name="compose.update"), details={"input": {"composeId": "c1"}}
        )
    memory = {"raise_memory": MEMORY_RAISE, "lower_memory": MEMORY_LOWER, "revert_memory": MEMORY_REVERT}
    details = memory.get(action, {})
    return request(action, service(f"svc-{action}"), details=details)


def test_mode_parsing_and_order() -> None:
    assert Mode.parse("READ_ONLY") is Mode.READ_ONLY
    assert Mode.parse("readonly") is Mode.READ_ONLY
    assert Mode.parse(" Admin ") is Mode.ADMIN
    assert Mode.ADMIN.allows(Mode.OPERATE) and Mode.OPERATE.allows(Mode.OPERATE)
    assert not Mode.OPERATE.allows(Mode.ADMIN) and not Mode.READ_ONLY.allows(Mode.OPERATE)
    with pytest.raises(ValueError, match="use one of read-only, operate, admin"):
        Mode.parse("root")
    assert SafetySettings().mode is Mode.OPERATE  # the default
    assert SafetySettings.model_validate({"mode": "read_only"}).mode is Mode.READ_ONLY


def test_registry_table() -> None:
    assert ACTIONS["read"].min_mode is Mode.READ_ONLY and not ACTIONS["read"].mutating
    operate = {name for name, spec in ACTIONS.items() if spec.min_mode is Mode.OPERATE}
    admin = {name for name, spec in ACTIONS.items() if spec.min_mode is Mode.ADMIN}
    assert operate == {
        "restart",
        "start",
        "stop",
        "deploy",
        "redeploy",
        "rollback",
        "raise_memory",
        "revert_memory",
    }
    assert admin == {"lower_memory", "kill", "exec", "remove", "prune", "dokploy_mutation", "read_sensitive"}
    # every admin change needs a human; reading a file or secret changes nothing, admin mode suffices
    assert all(ACTIONS[name].needs_confirmation for name in admin - {"read_sensitive"})
    assert not ACTIONS["read_sensitive"].needs_confirmation and not ACTIONS["read_sensitive"].changes_state
    assert ACTIONS["restart"].budget == ACTIONS["start"].budget == "restart"


@pytest.mark.parametrize("mode", list(Mode))
async def test_every_action_in_every_mode(make_safety: MakeSafety, mode: Mode) -> None:
    # a revert_memory is only valid after this server's own raise: made by an operate-mode gate on
    # the same state (tests/safety/test_memory_revert.py covers the revert itself)
    revert = valid_request("revert_memory")
    assert revert.target is not None
    await audited_raise(make_safety(Mode.OPERATE), revert.target, 768 * 2**20, 1024 * 2**20)
    gate = make_safety(mode)
    for name, spec in ACTIONS.items():
        decision = await gate.authorize(valid_request(name), confirm=human_says_yes)
        assert decision.allowed == mode.allows(spec.min_mode), (mode, name, decision.reason)
        if not decision.allowed:
            assert decision.code == "mode"
            assert f"needs {spec.min_mode.value} mode" in decision.reason
            assert "\n" not in decision.reason and decision.reason.startswith("refused: ")
        assert decision.needs_confirmation == spec.needs_confirmation
        assert decision.mutating == spec.mutating


async def test_read_only_allows_reads_of_anything(make_safety: MakeSafety) -> None:
    gate = make_safety("read-only")
    for target in (Target(kind="swarm_service", name="dokploy"), Target(kind="volume", name="pg-data"), None):
        decision = await gate.authorize(request("read", target) if target else request("read", tool="list"))
        assert decision.allowed and decision.code == "allowed"


async def test_unknown_action_is_refused_in_admin_mode(make_safety: MakeSafety) -> None:
    decision = await make_safety("admin").authorize(request("format_disk"))
    assert not decision.allowed and decision.code == "unknown_action"
    assert "'format_disk'" in decision.reason and "restart" in decision.reason


async def test_target_kind_must_fit_the_action(make_safety: MakeSafety) -> None:
    gate = make_safety("admin")
    decision = await gate.authorize(request("restart", Target(kind="volume", name="uploads")))
    assert decision.code == "invalid" and "does not apply to a volume target" in decision.reason
    decision = await gate.authorize(request("prune", Target(kind="host")))
    assert decision.code == "invalid" and "details.what" in decision.reason
    decision = await gate.authorize(request("prune", Target(kind="host"), details={"what": ["everything"]}))
    assert decision.code == "invalid" and "'everything'" in decision.reason


def test_bad_requests_are_rejected_by_the_models() -> None:
    with pytest.raises(ValidationError, match="needs project and service"):
        Target(kind="compose_service")
    with pytest.raises(ValidationError, match="needs name"):
        Target(kind="container")
    with pytest.raises(ValidationError):
        request("restart", unexpected=True)
