"""Live memory limits: bounded raises in operate mode, decreases only in admin, never below usage."""

from __future__ import annotations

import pytest

from mcp_server.safety import ActionRequest, SafetySettings
from tests.safety.conftest import MakeSafety, human_says_yes, request, service

pytestmark = pytest.mark.anyio

MIB = 2**20
GIB = 2**30


def memory(action: str, current: int | None, new: int, usage: int | None, name: str = "api") -> ActionRequest:
    details = {"current_limit_bytes": current, "new_limit_bytes": new, "current_usage_bytes": usage}
    return request(action, service(name), details={k: v for k, v in details.items() if v is not None})


@pytest.mark.parametrize(
    ("current", "new", "usage", "code", "phrase"),
    [
        (512 * MIB, 1024 * MIB, 500 * MIB, "allowed", "allowed: raise_memory"),  # exactly 2×
        (512 * MIB, 1025 * MIB, 500 * MIB, "bounds", "at most 1 GiB"),  # more than 2×
        (3 * GIB, 5 * GIB, 2 * GIB, "bounds", "at most 4 GiB"),  # above the ceiling
        (4 * GIB, 5 * GIB, 2 * GIB, "bounds", "already at the ceiling"),
        (None, 1 * GIB, 300 * MIB, "bounds", "no memory limit now"),  # unlimited → limited is lowering
        (1 * GIB, 1 * GIB, 300 * MIB, "invalid", "not above the current limit"),
        (1 * GIB, 512 * MIB, 300 * MIB, "invalid", "lower_memory (admin mode)"),
        (512 * MIB, 4 * MIB, None, "invalid", "at least 6 MiB"),
    ],
)
async def test_raise_in_operate_mode(
    make_safety: MakeSafety, current: int | None, new: int, usage: int | None, code: str, phrase: str
) -> None:
    decision = await make_safety().authorize(memory("raise_memory", current, new, usage))
    assert decision.code == code and phrase in decision.reason, decision.reason


async def test_admin_may_exceed_the_operate_bounds_but_not_go_below_usage(make_safety: MakeSafety) -> None:
    gate = make_safety("admin")
    assert (await gate.authorize(memory("raise_memory", 512 * MIB, 6 * GIB, 500 * MIB, "a"))).allowed
    lowered = await gate.authorize(
        memory("lower_memory", 1 * GIB, 600 * MIB, 500 * MIB, "b"), confirm=human_says_yes
    )
    assert lowered.allowed and lowered.needs_confirmation
    too_low = await gate.authorize(memory("lower_memory", 1 * GIB, 400 * MIB, 500 * MIB, "c"))
    assert too_low.code == "bounds" and "OOM-killed" in too_low.reason
    blind = await gate.authorize(memory("lower_memory", 1 * GIB, 600 * MIB, None, "d"))
    assert blind.code == "invalid" and "current_usage_bytes" in blind.reason
    limited = await gate.authorize(
        memory("lower_memory", None, 600 * MIB, 500 * MIB, "e"), confirm=human_says_yes
    )
    assert limited.allowed  # putting a limit on an unlimited container is a decrease: admin only


async def test_lowering_is_refused_in_operate_mode(make_safety: MakeSafety) -> None:
    decision = await make_safety().authorize(memory("lower_memory", 1 * GIB, 600 * MIB, 500 * MIB))
    assert decision.code == "mode" and "needs admin mode" in decision.reason


async def test_missing_details_say_what_is_needed(make_safety: MakeSafety) -> None:
    decision = await make_safety().authorize(request("raise_memory", details={"new_limit_bytes": "lots"}))
    assert decision.code == "invalid" and "new_limit_bytes, current_limit_bytes" in decision.reason


async def test_configured_bounds(make_safety: MakeSafety) -> None:
    gate = make_safety(memory_raise_max_factor=1.5, memory_raise_ceiling_bytes=8 * GIB)
    assert (await gate.authorize(memory("raise_memory", 4 * GIB, 6 * GIB, 3 * GIB, "a"))).allowed
    assert (await gate.authorize(memory("raise_memory", 4 * GIB, 7 * GIB, 3 * GIB, "b"))).code == "bounds"
    with pytest.raises(ValueError, match="greater than 1"):
        SafetySettings(memory_raise_max_factor=0.5)
