"""The OOM fix approved from a Telegram button, on the real engine: the runbook's raise needs a human
(`approval: always`), so the agent asks; the bot (the real python-telegram-bot against the Telegram
stand-in) shows the exact change with Approve / Deny / Wait; the owner taps Approve; the agent raises
the limit to 64 MiB, verifies it and resolves the incident, approved by telegram:<owner>."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import cast

import anyio
import docker
import pytest
import yaml
from pydantic import SecretStr

from agent_host.incidents.model import Incident
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from agent_host.telegram.approvals import parse_callback
from agent_host.telegram.settings import TelegramSettings
from standins.dokploy.server import StandIn
from standins.telegram import TelegramStandIn
from tests.mcp_server.act_fixtures import StandInAPI

from .conftest import server_env, wait_for_incident, watch_only
from .test_oom_raise import MIB, oom_compose

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]
REPO_RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"
OWNER = 4242
RAISE = "    confidence: 0.85\n    risk: low\n"


def runbooks_needing_approval(folder: Path) -> Path:
    """A copy of the runbooks whose OOM raise is `approval: always`."""
    shutil.copytree(REPO_RUNBOOKS, folder)
    oom = folder / "oom-killed.yaml"
    text = oom.read_text()
    assert text.count(RAISE) == 1, "oom-killed.yaml changed: update RAISE in this test"
    oom.write_text(text.replace(RAISE, RAISE + "    approval: always\n"))
    return folder


def approval_message(standin: TelegramStandIn) -> tuple[int, dict[str, str], str] | None:
    """(message id, {choice: callback data}, text) of the bot's message with approval buttons."""
    for message in standin.sent(OWNER):
        rows = (message.reply_markup or {}).get("inline_keyboard") or []
        data = [str(b.get("callback_data") or "") for row in rows for b in row]
        parsed = {d: parse_callback(d) for d in data}
        choices = {p[2]: d for d, p in parsed.items() if p is not None}
        if set(choices) == {"a", "d", "w"}:
            return message.message_id, choices, message.text
    return None


async def test_the_oom_fix_is_approved_from_a_telegram_button_applied_and_verified(
    standin: StandIn, telegram_standin: TelegramStandIn, tmp_path: Path
) -> None:
    api = StandInAPI(standin)
    scope, watch = watch_only("tgapprove")
    compose_id, app_name = api.deployed_compose("tgapprove", oom_compose(scope))
    engine = docker.from_env()
    runbooks = runbooks_needing_approval(tmp_path / "runbooks")
    env = server_env(standin, tmp_path / "server", INFRAGUARDIAN_RUNBOOKS_DIR=str(runbooks), **watch)
    telegram = TelegramSettings(
        token=SecretStr(telegram_standin.token),
        base_url=telegram_standin.base_url,
        allowed_chat_ids=[OWNER],
        allowed_user_ids=[OWNER],
        poll_timeout_s=1,
    )
    # Telegram configured as a user would: the agent runs the bot itself (runner.telegram_channel)
    settings = AgentSettings(
        state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1,
        telegram=telegram,
    )  # fmt: skip
    try:
        async with running_agent(settings, env=env) as agent, anyio.create_task_group() as tasks:
            assert agent.deps.approvals is not None and agent.telegram is not None
            assert "Telegram: commands, approvals and notifications for 1 chat(s)" in agent.describe_mode()
            try:
                tasks.start_soon(agent.monitor.run)
                waiting = await wait_for_incident(
                    agent.deps.store, app_name, lambda i: i.status == "awaiting_approval", timeout_s=90
                )
                # the notifier's message for this incident carries the question and its buttons
                shown = await telegram_standin.wait_for(lambda: approval_message(telegram_standin), within=30)
                message_id, choices, text = cast(tuple[int, dict[str, str], str], shown)
                query_id = telegram_standin.press_button(OWNER, OWNER, message_id, choices["a"])
                answers = await telegram_standin.wait_for(
                    lambda: [a for a in telegram_standin.callback_answers if a.callback_query_id == query_id],
                    within=30,
                )
                resolved: Incident = await wait_for_incident(agent.deps.store, app_name, timeout_s=90)
                parsed = parse_callback(choices["a"])
                assert parsed is not None
                request = await agent.deps.approvals.get(parsed[0])
                # the notifier brings the same message up to date with the outcome
                await telegram_standin.wait_for(
                    lambda: any(m.text.startswith("✅ Resolved") for m in telegram_standin.sent(OWNER)),
                    within=30,
                )
            finally:
                tasks.cancel_scope.cancel()
        assert waiting.id == resolved.id
        assert "set_memory_limit api: memory 32 MiB → 64 MiB" in text  # the exact change was shown
        assert str(answers[0].text).startswith("Approved")
        assert request is not None and request.status == "approved"
        assert request.answered_by == f"telegram:{OWNER}"
        assert resolved.status == "resolved", resolved.events
        assert resolved.approved_by == f"telegram:{OWNER}"
        assert resolved.verification is not None and resolved.verification.get("verdict") == "healthy"
        (action,) = [a for a in resolved.actions if ":act:" in a.key]
        assert action.ok and action.arguments["memory"] == "64m"
        containers = engine.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={app_name}"}
        )
        assert containers and all(c.attrs["HostConfig"]["Memory"] == 64 * MIB for c in containers)
        persisted = yaml.safe_load(api.compose(compose_id)["composeFile"])
        assert persisted["services"]["api"]["mem_limit"] in ("64m", "64M", 64 * MIB, "67108864")
        # one message for the incident, edited: the tap marked who approved, then the outcome
        (final,) = telegram_standin.sent(OWNER)
        assert final.message_id == message_id and not final.reply_markup
        assert final.text.startswith("✅ Resolved")
        assert any(
            e.message_id == message_id and f"Approved by Owner (telegram:{OWNER})" in e.new_text
            for e in telegram_standin.edits
        )
    finally:
        api.close()
        with contextlib.suppress(Exception):
            engine.close()
