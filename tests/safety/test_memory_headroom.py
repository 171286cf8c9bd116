"""A memory raise must leave the host its reserve of available memory, in every mode; where the
host's available memory is unknown (a remote engine) the raise is not refused on it."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_server.safety import ActionRequest, SafetySettings
from mcp_server.safety.policy import MemoryChange, memory_headroom
from tests.safety.conftest import MakeSafety, human_says_yes, request, service

pytestmark = pytest.mark.anyio

MIB = 2**20
GIB = 2**30


def raise_to(
    new: int,
    *,
    available: int | None,
    current: int = 512 * MIB,
    total: int | None = 8 * GIB,
    containers: int = 1,
    name: str = "api",
    dry_run: bool = False,
) -> ActionRequest:
    details: dict[str, Any] = {
        "current_limit_bytes": current,
        "new_limit_bytes": new,
        "current_usage_bytes": 300 * MIB,
        "container_count": containers,
        "host_available_bytes": available,
        "host_total_bytes": total,
        "host_limits_granted_bytes": 20 * GIB,  # overcommitted: evidence only, never refused on
    }
    return request("raise_memory", service(name), details=details, dry_run=dry_run)


async def test_a_raise_that_leaves_the_reserve_is_allowed(make_safety: MakeSafety) -> None:
    # 2 GiB available, +512 MiB leaves 1.5 GiB, above max(512 MiB, 5 % of 8 GiB = 409.6 MiB)
    decision = await make_safety().authorize(raise_to(1 * GIB, available=2 * GIB))
    assert decision.allowed, decision.reason


async def test_a_raise_that_eats_the_reserve_is_refused_with_the_numbers(make_safety: MakeSafety) -> None:
    decision = await make_safety().authorize(raise_to(1 * GIB, available=700 * MIB))
    assert not decision.allowed and decision.code == "bounds" and decision.escalate
    assert decision.reason == (
        "refused: the host has 700 MiB available; raising by 512 MiB would leave 188 MiB, below the "
        "512 MiB reserve; escalate to a human or free memory first"
    )


async def test_the_dry_run_is_refused_the_same_way(make_safety: MakeSafety) -> None:
    decision = await make_safety().authorize(raise_to(1 * GIB, available=700 * MIB, dry_run=True))
    assert not decision.allowed and "below the 512 MiB reserve" in decision.reason


async def test_every_container_of_the_service_counts(make_safety: MakeSafety) -> None:
    # 3 replicas × 512 MiB = 1.5 GiB more; 1.8 GiB available would leave 307 MiB
    gate = make_safety()
    three = await gate.authorize(raise_to(1 * GIB, available=1843 * MIB, containers=3, name="a"))
    one = await gate.authorize(raise_to(1 * GIB, available=1843 * MIB, containers=1, name="b"))
    assert not three.allowed and "raising by 1.5 GiB (3 containers)" in three.reason
    assert one.allowed, one.reason


async def test_more_than_the_host_has_says_how_much_is_missing(make_safety: MakeSafety) -> None:
    decision = await make_safety().authorize(raise_to(1 * GIB, available=256 * MIB))
    assert "would leave nothing (256 MiB short)" in decision.reason


async def test_unknown_availability_is_not_refused(make_safety: MakeSafety) -> None:
    decision = await make_safety().authorize(raise_to(1 * GIB, available=None, total=None))
    assert decision.allowed, decision.reason


async def test_admin_mode_keeps_the_headroom(make_safety: MakeSafety) -> None:
    gate = make_safety("admin")
    # admin may go past 2× and the 4 GiB ceiling …
    big = await gate.authorize(raise_to(6 * GIB, available=20 * GIB, total=32 * GIB, name="a"))
    assert big.allowed, big.reason
    # … but not past the host's reserve: a starved host hurts every service on it
    starved = await gate.authorize(raise_to(6 * GIB, available=6 * GIB, total=32 * GIB, name="b"))
    assert not starved.allowed and starved.escalate
    assert "raising by 5.5 GiB would leave 512 MiB, below the 1.6 GiB reserve" in starved.reason


async def test_operate_bounds_are_checked_before_the_headroom(make_safety: MakeSafety) -> None:
    decision = await make_safety().authorize(raise_to(2 * GIB, available=100 * MIB))
    assert decision.code == "bounds" and "at most 1 GiB" in decision.reason


async def test_lowering_needs_no_headroom(make_safety: MakeSafety) -> None:
    details = {
        "current_limit_bytes": 1 * GIB,
        "new_limit_bytes": 600 * MIB,
        "current_usage_bytes": 500 * MIB,
        "host_available_bytes": 0,
        "host_total_bytes": 8 * GIB,
    }
    lowered = await make_safety("admin").authorize(
        request("lower_memory", service(), details=details), confirm=human_says_yes
    )
    assert lowered.allowed, lowered.reason


async def test_the_audit_row_keeps_the_host_figures(make_safety: MakeSafety) -> None:
    gate = make_safety()
    decision = await gate.authorize(raise_to(1 * GIB, available=700 * MIB))
    await gate.record(decision, "refused")
    [row] = gate.audit.query(limit=5)
    assert row.arguments["host_available_bytes"] == 700 * MIB
    assert row.arguments["host_total_bytes"] == 8 * GIB and row.result == "refused"


@pytest.mark.parametrize(
    ("fixed", "percent", "total", "reserve"),
    [
        (512 * MIB, 5.0, 8 * GIB, 512 * MIB),  # small host: the fixed reserve is larger
        (512 * MIB, 5.0, 64 * GIB, int(3.2 * GIB)),  # big host: 5 % is larger
        (512 * MIB, 5.0, None, 512 * MIB),  # total unknown: the fixed reserve alone
        (0, 0.0, 8 * GIB, 0),  # both off: the raise only has to fit in what is available
    ],
)
def test_the_reserve_is_the_larger_of_bytes_and_percent(
    fixed: int, percent: float, total: int | None, reserve: int
) -> None:
    settings = SafetySettings(memory_headroom_reserve_bytes=fixed, memory_headroom_reserve_percent=percent)
    assert settings.memory_headroom_reserve(total) == reserve
    change = MemoryChange(
        current_limit_bytes=GIB, new_limit_bytes=2 * GIB, host_available_bytes=GIB, host_total_bytes=total
    )
    headroom = memory_headroom(change, settings)
    assert headroom is not None and headroom.reserve == reserve and headroom.left == 0
    assert headroom.fits is (reserve == 0)


def test_bad_reserve_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="memory_headroom_reserve_percent"):
        SafetySettings(memory_headroom_reserve_percent=95)
    with pytest.raises(ValueError, match="memory_headroom_reserve_bytes"):
        SafetySettings(memory_headroom_reserve_bytes=-1)
