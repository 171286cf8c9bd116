"""The commands, driven as a user drives them: the real python-telegram-bot Application polls the
Telegram stand-in, and every tool call goes to the REAL MCP server (in process, through
`mcp.Client(build_server(...))`), wired to the Dokploy stand-in and the real engine."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from mcp import Client
from mcp_types import RequestParamsMeta
from telegram.ext import AIORateLimiter, ApplicationBuilder, BaseHandler

from agent_host.approvals.book import ApprovalRequest
from agent_host.incidents.model import Incident
from agent_host.server_link.outcome import IDEMPOTENCY_KEY_META, ToolOutcome, outcome_from_result
from agent_host.telegram.commands import COMMANDS, command_handlers
from agent_host.telegram.context import BotContext
from agent_host.telegram.render import split_message
from mcp_server.safety.settings import SafetySettings
from mcp_server.server import build_server
from mcp_server.settings import Settings
from standins.dokploy.server import StandIn
from standins.telegram import TelegramStandIn
from tests.conftest import OPENAPI_FILE
from tests.mcp_server.act_fixtures import BUSYBOX, StandInAPI

from .conftest import OWNER

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]


class InProcessLink:
    """The agent's `ToolCaller` over an in-process client of the real server: the idempotency key
    travels in `_meta` as ServerLink sends it, and answers become `ToolOutcome`s the same way."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.keys: list[str | None] = []

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        timeout_s: float | None = None,
        confirmed: bool = False,
    ) -> ToolOutcome:
        self.keys.append(idempotency_key)
        meta = cast(RequestParamsMeta, {IDEMPOTENCY_KEY_META: idempotency_key}) if idempotency_key else None
        result = await self.client.call_tool(name, arguments, meta=meta)
        return outcome_from_result(name, arguments, result, idempotency_key=idempotency_key, duration_ms=0)


@asynccontextmanager
async def server_link(
    tmp_path: Path, standin: StandIn | None = None, **overrides: Any
) -> AsyncIterator[InProcessLink]:
    values: dict[str, Any] = {
        "state_dir": tmp_path / f"state-{secrets.token_hex(3)}",
        "dokploy_openapi_file": OPENAPI_FILE,
    }
    if standin is not None:
        values.update(dokploy_url=standin.url, dokploy_api_key=standin.api_key)
    server = build_server(Settings(**{**values, **overrides}), run_detectors=False)
    async with Client(server) as client:
        yield InProcessLink(client)


@asynccontextmanager
async def polling(
    standin: TelegramStandIn, handlers: Sequence[BaseHandler[Any, Any, Any]]
) -> AsyncIterator[None]:
    """The bot as the agent runs it: initialize, start, updater.start_polling in this loop, with
    the rate limiter honouring Telegram's retry_after (replies come faster than 1/s per chat)."""
    limiter = AIORateLimiter(max_retries=5)
    app = ApplicationBuilder().token(standin.token).base_url(standin.base_url).rate_limiter(limiter).build()
    app.add_handlers(handlers)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=1)
    try:
        yield
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def ask(standin: TelegramStandIn, text: str, *, within: float = 60.0) -> str:
    """Send `text` as the owner and return the bot's reply (what the user sees; all its parts)."""
    before = len(standin.sent(OWNER))
    standin.send_text(OWNER, OWNER, text)
    await standin.wait_for(lambda: len(standin.sent(OWNER)) > before, within=within)
    return "\n".join(m.text for m in standin.sent(OWNER)[before:])


# -- without Docker stacks ------------------------------------------------------------------------


async def test_help_lists_every_command_and_no_link_is_one_line(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    names = [c.name for c in COMMANDS]
    assert names == [
        "status", "services", "logs", "restart", "deploy", "rollback", "health",
        "metrics", "incidents", "approve", "deny", "mute", "help",
    ]  # fmt: skip
    async with polling(telegram_standin, command_handlers(bot_context)):
        text = await ask(telegram_standin, "/help")
        for command in COMMANDS:
            assert f"/{command.name}" in text
        assert "/mute <service> <duration>" in text
        # no MCP link configured: one line, nothing crashes
        assert await ask(telegram_standin, "/status") == (
            "the MCP server is not connected; commands that read or act are unavailable"
        )


async def test_incidents_approve_deny_and_mute_input(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    assert bot_context.approvals is not None
    incident = Incident(
        id="inc-tg01", fingerprint="service:local/shop/api", target_key="service:local/shop/api",
        target={"app_name": "shop", "service": "api"}, kind="oom", severity="critical",
        summary="api was OOM-killed <again>",
    )  # fmt: skip
    await bot_context.store.save(incident)
    now = datetime.now(UTC)
    for request_id in ("req-yes", "req-no"):
        await bot_context.approvals.ask(
            ApprovalRequest(
                id=request_id, incident_id="inc-tg01", title="raise-memory-limit on shop/api",
                changes=["memory 64m → 128m"], plan_hash="abc", expires_at=now + timedelta(minutes=10),
            )
        )  # fmt: skip
    async with polling(telegram_standin, command_handlers(bot_context)):
        listed = await ask(telegram_standin, "/incidents 3")
        assert "inc-tg01" in listed and "api was OOM-killed <again>" in listed  # escaped, shown as typed
        assert (
            await ask(telegram_standin, "/incidents many") == "'many' is not a count; send e.g. /incidents 10"
        )
        assert "approved: raise-memory-limit on shop/api" in await ask(telegram_standin, "/approve req-yes")
        assert (
            await ask(telegram_standin, "/approve req-yes")
            == "request req-yes was already approved; nothing changed"
        )
        assert "denied" in await ask(telegram_standin, "/deny req-no")
        assert "no approval request 'nope'" in await ask(telegram_standin, "/deny nope")
        assert await ask(telegram_standin, "/mute shop api soon") == (
            "'soon' is not a duration; send a number and m, h or d, e.g. 30m, 2h or 1d"
        )
    yes = await bot_context.approvals.get("req-yes")
    assert yes is not None and (yes.status, yes.answered_by) == ("approved", f"telegram:{OWNER}")
    no = await bot_context.approvals.get("req-no")
    assert no is not None and no.status == "denied"
    audit = [row["what"] for row in await bot_context.outbox.audit_rows()]
    assert any(w.startswith("/approve req-yes → ok") for w in audit), audit
    assert any("already approved" in w for w in audit), audit
    assert any(w.startswith("/mute shop api soon → 'soon' is not a duration") for w in audit), audit
    assert not any(w.startswith("/incidents") for w in audit)  # reads are not audited as changes


async def test_an_unknown_service_is_asked_back_by_the_real_server_inventory(
    telegram_standin: TelegramStandIn, bot_context: BotContext, tmp_path: Path
) -> None:
    async with server_link(tmp_path) as link:
        bot_context.link = link
        async with polling(telegram_standin, command_handlers(bot_context)):
            reply = await ask(telegram_standin, f"/restart nothing-{secrets.token_hex(3)} api")
    assert reply.startswith("no service matches 'nothing-")
    assert link.keys == [None]  # only list_inventory ran; nothing was sent to restart_service


def test_long_replies_are_split_under_the_limit_and_keep_pre_blocks_whole() -> None:
    lines = "\n".join(f"line {n} &amp; &lt;tag&gt;" for n in range(800))
    parts = split_message(f"<b>logs</b>\n<pre>{lines}</pre>")
    assert len(parts) > 1
    assert all(len(p) <= 4000 for p in parts)
    assert all(p.count("<pre>") == p.count("</pre>") == 1 for p in parts)
    assert "".join(parts).count("line ") == 800


# -- with a real stack on the engine (Dokploy stand-in) -----------------------------------------


def granada_compose(marker: str) -> str:
    api_script = (
        f"echo 'api {marker} ready <b>bold</b>'; echo 'connecting with password=hunter2secret'; "
        "while true; do sleep 1; done"
    )
    service = {"image": BUSYBOX, "init": True, "labels": {"ig.test": "dokploy-standin"}}
    services = {
        "api": {**service, "command": ["sh", "-c", api_script]},
        "db": {**service, "command": ["sh", "-c", "while true; do sleep 1; done"], "mem_limit": "32m"},
    }
    return yaml.safe_dump({"services": services}, sort_keys=False)


@pytest.fixture
def granada(dokploy_standin: StandIn) -> Callable[[], tuple[str, str]]:
    """Deploys a compose 'granada-<hex>' (api, db) through the stand-in; returns its appName and
    the hex marker (the unique part of its name: "granada" alone may match other stacks)."""

    def deploy() -> tuple[str, str]:
        api = StandInAPI(dokploy_standin)
        try:
            marker = secrets.token_hex(3)
            _, app_name = api.deployed_compose(f"granada-{marker}", granada_compose(marker))
            return app_name, marker
        finally:
            api.close()

    return deploy


@pytest.mark.docker
async def test_commands_on_a_real_stack(
    telegram_standin: TelegramStandIn,
    bot_context: BotContext,
    dokploy_standin: StandIn,
    granada: Callable[[], tuple[str, str]],
    tmp_path: Path,
) -> None:
    app_name, name = granada()
    read_only = SafetySettings(mode="read-only")  # type: ignore[arg-type]
    async with server_link(tmp_path, dokploy_standin, safety=read_only) as link:
        bot_context.link = link
        async with polling(telegram_standin, command_handlers(bot_context)):
            status = await ask(telegram_standin, f"/status {name}")
            assert app_name in status, status
            services = await ask(telegram_standin, f"/services {name}")
            assert "api: ok" in services and "db: ok" in services, services
            health = await ask(telegram_standin, f"/health granada {name}")
            assert "api: ok" in health, health
            logs = await ask(telegram_standin, f"/logs granada {name} api 10")
            assert f"api {name} ready <b>bold</b>" in logs, logs  # container text shown as text, not markup
            assert "hunter2secret" not in logs  # secrets masked
            assert re.search(rf"^\d\d:\d\d:\d\d api {name} ready", logs, re.M) and "stdout" not in logs, logs
            metrics = await ask(telegram_standin, f"/metrics {name} api")
            assert "CPU" in metrics, metrics
            # two services fit "granada <name>": a mutation asks back, never guesses
            asked = await ask(telegram_standin, f"/restart granada {name}")
            assert "could be several services" in asked and f"{app_name}/api" in asked, asked
            assert f"{app_name}/db" in asked, asked
            # the server's policy decides: read-only mode refuses the restart, shown as one line
            refused = await ask(telegram_standin, f"/restart {name} api")
            assert refused.startswith("refused by the server's policy:") and "\n" not in refused, refused
    assert link.keys[-1] is not None and link.keys[-1].startswith("telegram:")
    async with server_link(tmp_path, dokploy_standin) as link:
        bot_context.link = link
        async with polling(telegram_standin, command_handlers(bot_context)):
            done = await ask(telegram_standin, f"/restart {name} api", within=120)
            assert done.startswith(f"✅ restart {app_name}/api") and "→ running" in done, done
            deployed = await ask(telegram_standin, f"/deploy granada {name}", within=180)
            assert (
                deployed.startswith(f"✅ deploy {app_name}: done") and "deploy budget 1 of 3" in deployed
            ), deployed
            # nothing to go back to yet (the deploy changed nothing): the server's one line
            rolled = await ask(telegram_standin, f"/rollback granada {name}", within=180)
            assert rolled.startswith(f"rollback failed: no earlier version of '{app_name}'"), rolled
            assert "\n" not in rolled, rolled
            muted = await ask(telegram_standin, f"/mute {name} db 2h")
            assert muted.startswith(f"🔕 {app_name}/db muted until"), muted
    assert [k for k in link.keys if k] and all(k.startswith("telegram:") for k in link.keys if k)
    assert await bot_context.outbox.muted(f"service:local/{app_name}/db", datetime.now(UTC))
    assert not await bot_context.outbox.muted(f"service:local/{app_name}/api", datetime.now(UTC))
    audit = [row["what"] for row in await bot_context.outbox.audit_rows()]
    assert any(w.startswith(f"/restart {name} api → ok") for w in audit), audit
    assert any(w.startswith(f"/restart {name} api → refused by the server's policy") for w in audit), audit
