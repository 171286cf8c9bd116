"""Fixtures of the safety tests: a fake clock (nobody sleeps) and a gate on a temporary state dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_server.safety import ActionRequest, Decision, Mode, ResultStatus, Safety, SafetySettings, Target
from mcp_server.safety.gate import ConfirmAnswer

START = 1_780_000_000.0  # 2026-05-28T20:26:40Z


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeSafety = Callable[..., Safety]


@pytest.fixture
def make_safety(tmp_path: Path, clock: FakeClock) -> Iterator[MakeSafety]:
    """`make_safety(mode="admin", max_mutations_per_minute=5)` → a gate on tmp_path/state."""
    opened: list[Safety] = []

    def make(mode: str | Mode = Mode.OPERATE, **settings: Any) -> Safety:
        config = SafetySettings.model_validate({"mode": mode, **settings})
        gate = Safety(config, tmp_path / "state", clock=clock)
        opened.append(gate)
        return gate

    yield make
    for gate in opened:
        gate.close()


async def human_says_yes(decision: Decision) -> ConfirmAnswer:
    """A `confirm` callback for policy tests: a human approves whatever is asked."""
    return "confirmed"


def service(name: str = "api", project: str = "shop-a1b2c3", **fields: Any) -> Target:
    return Target(kind="compose_service", project=project, service=name, **fields)


def request(action: str, target: Target | None = None, **fields: Any) -> ActionRequest:
    fields.setdefault("tool", f"{action}_tool")
    fields.setdefault("client", "test-client")
    return ActionRequest(action=action, target=target if target is not None else service(), **fields)


async def audited_raise(
    gate: Safety, target: Target, before: int, after: int, *, result: ResultStatus = "ok"
) -> Decision:
    """A raise_memory of `target` from `before` to `after` bytes, allowed and recorded in the audit
    log with `result`, as set_memory_limit records one: what a revert_memory must find."""
    details = {"current_limit_bytes": before, "new_limit_bytes": after, "current_usage_bytes": 1}
    decision = await gate.authorize(request("raise_memory", target, tool="set_memory_limit", details=details))
    assert decision.allowed, decision.reason
    await gate.record(decision, result, f"raise_memory to {after}")
    return decision
