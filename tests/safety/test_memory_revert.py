"""revert_memory: operate mode may undo this server's own raise, and nothing else that lowers.

A revert is allowed only when the audit log's newest memory change of the same target is a raise
by this server, within the window, from exactly the limit asked for now, and every container's
limit is still what it set. The tool that picks the action is tested on the real engine in
tests/mcp_server/test_act_memory_revert.py."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_server.safety import ActionRequest, Decision, Safety, Target
from tests.safety.conftest import FakeClock, MakeSafety, audited_raise, request, service

pytestmark = pytest.mark.anyio

MIB = 2**20
GIB = 2**30
DAY = 86400.0


def revert(
    current: int,
    new: int,
    usage: int = 100 * MIB,
    *,
    target: Target | None = None,
    limits: list[int] | None = None,
    dry_run: bool = False,
) -> ActionRequest:
    """What set_memory_limit asks for when it lowers `current` to `new`."""
    details: dict[str, Any] = {
        "current_limit_bytes": current,
        "new_limit_bytes": new,
        "current_usage_bytes": usage,
        "container_limits_bytes": limits if limits is not None else [current],
    }
    return request(
        "revert_memory", target or service(), tool="set_memory_limit", details=details, dry_run=dry_run
    )


async def refused(gate: Safety, req: ActionRequest) -> Decision:
    decision = await gate.authorize(req)
    assert not decision.allowed, decision.reason
    assert "\n" not in decision.reason and decision.reason.startswith("refused: ")
    return decision


async def test_undoing_our_own_raise_is_allowed_in_operate_mode_right_away(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    await audited_raise(gate, service(), 512 * MIB, 1 * GIB)
    clock.advance(60)  # well inside the memory bucket's 10 min backoff: an undo does not wait for it
    decision = await gate.authorize(revert(1 * GIB, 512 * MIB))
    assert decision.allowed and decision.code == "allowed", decision.reason
    assert not decision.needs_confirmation
    assert decision.reason.startswith("allowed: revert_memory of compose service api")
    assert "memory budget 2 of 3 used" in decision.reason  # counted with the raise
    check = await gate.revert_check(service(), revert(1 * GIB, 512 * MIB).details)
    assert check.allowed and check.undoes.startswith(
        "undoes this server's raise of api from 512 MiB to 1 GiB at 2026-05-28T20:26:40.000Z"
    )
    assert check.undoes.endswith("(60 s ago)")


async def test_admin_mode_reverts_without_asking_a_human(make_safety: MakeSafety) -> None:
    gate = make_safety("admin")
    await audited_raise(gate, service(), 512 * MIB, 1 * GIB)
    decision = await gate.authorize(revert(1 * GIB, 512 * MIB))  # no confirm callback at all
    assert decision.allowed, decision.reason


async def test_read_only_mode_refuses_even_an_undo(make_safety: MakeSafety) -> None:
    await audited_raise(make_safety(), service(), 512 * MIB, 1 * GIB)
    decision = await refused(make_safety("read-only"), revert(1 * GIB, 512 * MIB))
    assert decision.code == "mode" and "revert_memory needs operate mode" in decision.reason


async def test_without_a_raise_lowering_is_refused_and_says_what_it_needs(make_safety: MakeSafety) -> None:
    decision = await refused(make_safety(), revert(1 * GIB, 512 * MIB))
    assert decision.code == "mode" and decision.escalate
    assert decision.reason == (
        "refused: no raise of api from 512 MiB to 1 GiB by this server in the last 24 h to undo; "
        "any other lowering is lower_memory, which needs admin mode and a human. Do not retry: "
        "escalate to a human"
    )


async def test_a_raise_of_another_service_or_host_does_not_count(make_safety: MakeSafety) -> None:
    gate = make_safety()
    await audited_raise(gate, service("worker"), 512 * MIB, 1 * GIB)
    await audited_raise(gate, service("api", host="other"), 512 * MIB, 1 * GIB)
    await audited_raise(gate, service("api", project="shop-other"), 512 * MIB, 1 * GIB)
    decision = await refused(gate, revert(1 * GIB, 512 * MIB))
    assert "no raise of api from 512 MiB to 1 GiB" in decision.reason


async def test_only_exactly_the_old_limit_undoes_it(make_safety: MakeSafety) -> None:
    gate = make_safety()
    await audited_raise(gate, service(), 512 * MIB, 1 * GIB)
    decision = await refused(gate, revert(1 * GIB, 256 * MIB))
    assert decision.code == "mode" and not decision.escalate  # sending the right value works
    assert "is undone only by restoring exactly 512 MiB, not 256 MiB" in decision.reason
    assert f"send memory '{512 * MIB}b' to undo it" in decision.reason
    assert "lower_memory, which needs admin mode and a human" in decision.reason
    assert (await gate.authorize(revert(1 * GIB, 512 * MIB))).allowed  # the exact one passes


async def test_a_raise_older_than_the_window_cannot_be_undone(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    await audited_raise(gate, service(), 512 * MIB, 1 * GIB)
    clock.advance(DAY - 1)
    assert (await gate.authorize(revert(1 * GIB, 512 * MIB, dry_run=True))).allowed  # still inside
    clock.advance(2)
    decision = await refused(gate, revert(1 * GIB, 512 * MIB))
    assert "no raise of api from 512 MiB to 1 GiB by this server in the last 24 h to undo" in decision.reason
    assert (
        "(its last raise of api from 512 MiB to 1 GiB at 2026-05-28T20:26:40.000Z is older)"
        in decision.reason
    )


async def test_the_window_is_a_setting_and_zero_turns_the_undo_off(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    hour = make_safety(memory_revert_window_s=3600)
    await audited_raise(hour, service(), 512 * MIB, 1 * GIB)
    clock.advance(3601)
    decision = await refused(hour, revert(1 * GIB, 512 * MIB))
    assert "in the last 1 h to undo" in decision.reason
    off = make_safety(memory_revert_window_s=0)
    await audited_raise(off, service("worker"), 512 * MIB, 1 * GIB)
    clock.advance(1)
    disabled = await refused(off, revert(1 * GIB, 512 * MIB, target=service("worker")))
    assert (
        "undoing this server's own raises is turned off here (memory_revert_window_s is 0)" in disabled.reason
    )


async def test_a_limit_changed_since_the_raise_is_not_ours_to_lower(make_safety: MakeSafety) -> None:
    gate = make_safety()
    await audited_raise(gate, service(), 512 * MIB, 1 * GIB)
    by_hand = await refused(gate, revert(900 * MIB, 512 * MIB))  # someone set 900 MiB since
    assert "the limit of api is 900 MiB now, not the 1 GiB that this server's last raise" in by_hand.reason
    assert "it was changed since, so lowering it is no undo" in by_hand.reason
    # one of two containers changed: the highest limit still matches, the set does not
    mixed = await refused(gate, revert(1 * GIB, 512 * MIB, limits=[768 * MIB, 1 * GIB]))
    assert "the limit of api is 768 MiB and 1 GiB now" in mixed.reason


async def test_an_undone_raise_is_not_undone_twice(make_safety: MakeSafety, clock: FakeClock) -> None:
    gate = make_safety()
    await audited_raise(gate, service(), 512 * MIB, 1 * GIB)
    first = await gate.authorize(revert(1 * GIB, 512 * MIB))
    assert first.allowed, first.reason
    await gate.record(first, "ok", "reverted")
    clock.advance(60)
    # someone sets 1 GiB again by hand: that is no raise of this server's to undo
    again = await refused(gate, revert(1 * GIB, 512 * MIB))
    assert "the last memory change of api by this server was revert_memory at " in again.reason
    assert "not a raise" in again.reason


async def test_a_raise_that_ended_in_an_error_or_a_dry_run_is_no_proof(make_safety: MakeSafety) -> None:
    gate = make_safety()
    await audited_raise(gate, service(), 512 * MIB, 1 * GIB, result="error")
    failed = await refused(gate, revert(1 * GIB, 512 * MIB))
    assert "ended with error, so what it changed is uncertain" in failed.reason
    details = {"current_limit_bytes": 512 * MIB, "new_limit_bytes": 1 * GIB, "current_usage_bytes": 1}
    planned = await gate.authorize(request("raise_memory", service("worker"), details=details, dry_run=True))
    await gate.record(planned, "dry_run")
    dry = await refused(gate, revert(1 * GIB, 512 * MIB, target=service("worker")))
    assert "no raise of worker from 512 MiB to 1 GiB" in dry.reason


async def test_a_revert_below_the_usage_is_still_refused(make_safety: MakeSafety) -> None:
    gate = make_safety()
    await audited_raise(gate, service(), 512 * MIB, 1 * GIB)
    decision = await refused(gate, revert(1 * GIB, 512 * MIB, usage=600 * MIB))
    assert decision.code == "bounds"
    assert "below the current usage 600 MiB: the container would be OOM-killed at once" in decision.reason


async def test_a_revert_counts_in_the_memory_budget(make_safety: MakeSafety, clock: FakeClock) -> None:
    gate = make_safety()
    await audited_raise(gate, service(), 256 * MIB, 512 * MIB)
    clock.advance(601)  # the backoff between two raises: 10 min, then 20 min
    await audited_raise(gate, service(), 512 * MIB, 1 * GIB)
    clock.advance(1201)
    await audited_raise(gate, service(), 1 * GIB, 2 * GIB)
    decision = await refused(gate, revert(2 * GIB, 1 * GIB))
    assert decision.code == "budget_exhausted" and "memory actions in the last 24 h" in decision.reason
