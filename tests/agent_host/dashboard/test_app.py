"""The dashboard app in process (httpx over ASGI, no browser, no server link): login and the
session cookie, what needs a token, CSRF, approvals bound to the plan shown, redaction, escaping,
security headers, and the live hub noticing a write made by another connection."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent_host.approvals import ApprovalBook
from agent_host.dashboard.app import dashboard_app
from agent_host.dashboard.auth import COOKIE_NAME, DashboardTokenError, resolve_token, safe_next
from agent_host.dashboard.live import LiveHub
from agent_host.dashboard.sources import DashboardSources
from agent_host.incidents.store import IncidentStore
from agent_host.settings import AgentSettings
from tests.agent_host.dashboard.seed import (
    INJECTED_SCRIPT,
    SECRET_VALUE,
    Seeded,
    live_incident,
    save_incidents,
    seed_state,
)

pytestmark = pytest.mark.anyio
TOKEN = "dashboard-test-token-0123456789"


@dataclass
class Dash:
    client: httpx.AsyncClient
    seeded: Seeded
    sources: DashboardSources
    hub: LiveHub
    state_dir: Path


@pytest.fixture
async def dash(tmp_path: Path) -> AsyncIterator[Dash]:
    seeded = await seed_state(tmp_path, "shop-live")
    settings = AgentSettings(state_dir=tmp_path)
    db = settings.open_database()
    sources = DashboardSources(settings, IncidentStore(db), ApprovalBook(db))
    hub = LiveHub(sources)
    app = dashboard_app(sources, TOKEN, hub=hub)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8766") as client:
        yield Dash(client, seeded, sources, hub, tmp_path)
    db.close()


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


async def test_pages_need_the_token_and_login_sets_a_session_cookie(dash: Dash) -> None:
    assert (await dash.client.get("/healthz")).json() == {"status": "ok"}
    page = await dash.client.get("/incidents")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fincidents"
    api = await dash.client.get("/api/incidents")
    assert api.status_code == 401 and "Bearer" in api.json()["error"]
    assert (
        await dash.client.get("/api/incidents", headers={"Authorization": "Bearer wrong"})
    ).status_code == 401

    wrong = await dash.client.post("/login", data={"token": "not-the-token", "next": "/incidents"})
    assert wrong.status_code == 401 and COOKIE_NAME not in wrong.cookies
    ok = await dash.client.post("/login", data={"token": TOKEN, "next": "//evil.example/x"})
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # never off-site
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    page = await dash.client.get("/incidents")  # the client keeps the cookie
    assert page.status_code == 200 and dash.seeded.resolved in page.text
    await dash.client.get("/logout")
    assert (await dash.client.get("/incidents")).status_code == 303


async def test_every_page_renders_with_security_headers_and_escaped_untrusted_text(dash: Dash) -> None:
    seeded = dash.seeded
    for path in (
        "/",
        "/incidents",
        f"/incidents/{seeded.escalated}",
        f"/incidents/{seeded.resolved}",
        "/agent",
        "/approvals",
    ):
        page = await dash.client.get(path, headers=bearer())
        assert page.status_code == 200, path
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert SECRET_VALUE not in page.text, path
    page = await dash.client.get(f"/incidents/{seeded.escalated}", headers=bearer())
    assert INJECTED_SCRIPT not in page.text  # the raw markup never reaches the browser
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page.text
    # the only script is ours, from /static
    assert (
        page.text.count("<script") == 1 and '<script src="/static/dashboard.js" defer></script>' in page.text
    )
    missing = await dash.client.get("/incidents/nope", headers=bearer())
    assert missing.status_code == 404 and "no incident" in missing.text
    api = await dash.client.get(f"/api/incidents/{seeded.escalated}", headers=bearer())
    assert api.status_code == 200 and SECRET_VALUE not in api.text and api.json()["id"] == seeded.escalated
    from agent_host.telegram.outbox import Outbox

    await Outbox(dash.sources.store.db).audit(
        -1001, 4242, "/restart <b>x</b> POSTGRES_PASSWORD=hunter2secret", False
    )
    agent = await dash.client.get("/agent", headers=bearer())
    assert 'data-node="diagnose"' in agent.text and "runbook-only" in agent.text
    assert "4242" in agent.text and "refused" in agent.text and "&lt;b&gt;x&lt;/b&gt;" in agent.text
    assert SECRET_VALUE not in agent.text
    assert "no MCP server connected" in (await dash.client.get("/", headers=bearer())).text


async def csrf_of(dash: Dash) -> str:
    page = await dash.client.get("/approvals", headers=bearer())
    marker = 'name="csrf" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


async def plan_hash_of(dash: Dash, request_id: str) -> str:
    request = await dash.sources.approvals.get(request_id)
    assert request is not None
    return request.plan_hash


async def test_an_approval_answered_on_the_page_is_bound_to_the_plan_and_csrf(dash: Dash) -> None:
    seeded, csrf = dash.seeded, await csrf_of(dash)
    shown = await plan_hash_of(dash, seeded.approval)
    form = {"decision": "approve", "plan_hash": shown, "csrf": "forged"}
    refused = await dash.client.post(f"/approvals/{seeded.approval}", data=form, headers=bearer())
    assert refused.status_code == 403
    cross = await dash.client.post(
        f"/approvals/{seeded.approval}", data={**form, "csrf": csrf},
        headers={**bearer(), "Origin": "https://evil.example"},
    )  # fmt: skip
    assert cross.status_code == 403
    stale = await dash.client.post(
        f"/approvals/{seeded.approval}", data={**form, "csrf": csrf, "plan_hash": "0" * 16}, headers=bearer()
    )
    assert stale.status_code == 303 and "plan%20changed" in stale.headers["location"]
    assert (await dash.sources.approvals.get(seeded.approval)).status == "pending"  # type: ignore[union-attr]

    done = await dash.client.post(
        f"/approvals/{seeded.approval}", data={**form, "csrf": csrf}, headers=bearer()
    )
    assert done.status_code == 303 and "answered=" in done.headers["location"]
    answered = await dash.sources.approvals.get(seeded.approval)
    assert answered is not None and (answered.status, answered.answered_by) == ("approved", "dashboard")
    page = await dash.client.get(done.headers["location"], headers=bearer())
    assert "approved by dashboard" in page.text

    again = await dash.client.post(
        f"/approvals/{seeded.approval}", data={**form, "csrf": csrf, "decision": "deny"}, headers=bearer()
    )
    shown_error = await dash.client.get(again.headers["location"], headers=bearer())
    assert 'id="answer-error"' in shown_error.text and "already approved" in shown_error.text

    denied = await dash.client.post(
        f"/approvals/{seeded.approval_other}",
        data={"decision": "deny", "csrf": csrf, "plan_hash": await plan_hash_of(dash, seeded.approval_other)},
        headers=bearer(),
    )
    assert denied.status_code == 303
    assert (await dash.sources.approvals.get(seeded.approval_other)).status == "denied"  # type: ignore[union-attr]


async def test_the_live_hub_notices_a_write_from_another_connection(dash: Dash) -> None:
    assert await dash.hub.poll_once() == []  # the first poll only learns the state
    with dash.hub.subscribe() as queue:
        await save_incidents(dash.state_dir, live_incident("shop-live"))
        assert await dash.hub.poll_once() == ["incidents"]
        assert queue.get_nowait()["topic"] == "incidents"
        assert await dash.hub.poll_once() == []  # nothing new: nothing sent
    fragment = await dash.client.get("/fragments/incident_list", headers=bearer())
    assert fragment.status_code == 200 and "exited with code 2" in fragment.text
    assert (await dash.client.get("/fragments/incident_list")).status_code == 401


def test_token_comes_from_the_setting_the_server_token_or_a_generated_file(tmp_path: Path) -> None:
    explicit = AgentSettings(state_dir=tmp_path, dashboard={"token": "x" * 20})
    assert resolve_token(explicit).where == "INFRAGUARDIAN_AGENT__DASHBOARD__TOKEN"
    shared = AgentSettings(state_dir=tmp_path, server_token="s" * 24)
    assert resolve_token(shared).token == "s" * 24  # one secret for the MCP server and the dashboard
    generated = resolve_token(AgentSettings(state_dir=tmp_path))
    path = tmp_path / "dashboard-token"
    assert generated.where == str(path) and path.read_text().strip() == generated.token
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert resolve_token(AgentSettings(state_dir=tmp_path)).token == generated.token  # stable
    with pytest.raises(DashboardTokenError, match="shorter than 16"):
        resolve_token(AgentSettings(state_dir=tmp_path, dashboard={"token": "short"}))
    with pytest.raises(DashboardTokenError, match="TOKEN_FILE: cannot read"):
        resolve_token(AgentSettings(state_dir=tmp_path, dashboard={"token_file": str(tmp_path / "none")}))


def test_safe_next_keeps_the_user_on_this_site() -> None:
    assert safe_next("/incidents?x=1") == "/incidents?x=1"
    for bad in ("//evil.example", "https://evil.example", "/\\evil", "", None, "incidents"):
        assert safe_next(bad) == "/"
