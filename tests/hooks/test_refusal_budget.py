"""Refused webhook requests are audited at most 20 a minute per sender; the next audited one says
how many were left out. Through the real app: refusals still get their 401."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mcp_server.hooks.refusal_budget import MAX_SENDERS, RefusalBudget
from mcp_server.hooks.routes import build_hooks_app
from mcp_server.safety.reader import SafetyReader
from mcp_server.settings import Settings

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_sender_over_its_minute_is_left_out_then_counted_in_its_next_row() -> None:
    clock = Clock()
    budget = RefusalBudget(per_minute=3, clock=clock)
    assert [budget.take("10.0.0.1") for _ in range(5)] == [0, 0, 0, None, None]
    assert budget.take("10.0.0.2") == 0  # another sender has its own minute
    clock.now = 61.0
    assert budget.take("10.0.0.1") == 2 and budget.take("10.0.0.1") == 0


def test_the_senders_remembered_stay_bounded() -> None:
    budget = RefusalBudget(per_minute=1, clock=Clock())
    for i in range(MAX_SENDERS + 50):
        budget.take(f"10.1.{i // 256}.{i % 256}")
    assert len(budget._recent) == MAX_SENDERS


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_thirty_wrong_tokens_get_thirty_401s_and_twenty_audit_rows(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    app = build_hooks_app(settings, mcp_token="t" * 32)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as client:
            answers = [
                await client.post("/hooks/alertmanager", json={}, headers={"authorization": "Bearer wrong"})
                for _ in range(30)
            ]
    finally:
        app.close()
    assert {a.status_code for a in answers} == {401}
    reader = SafetyReader(settings.safety, tmp_path)
    try:
        rows = reader.audit_entries(limit=100, tool="hooks/alertmanager")
    finally:
        reader.db.close()
    assert len(rows) == 20 and all(not r.allowed and r.code == "unauthorized" for r in rows)
