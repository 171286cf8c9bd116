"""The webhook routes /hooks/alertmanager and /hooks/uptime-kuma, in-process behind GuardedApp (the same
wrapper `serve --transport streamable-http` uses): the recorded requests, auth, limits, audit rows."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from mcp_server.hooks.inbox import AlertInbox, StoredAlert
from mcp_server.hooks.models import MAX_BODY_BYTES
from mcp_server.hooks.routes import HooksApp
from mcp_server.hooks.settings import HookSettings
from mcp_server.safety.audit import AuditEntry, AuditLog
from mcp_server.safety.db import Database
from mcp_server.server.http_exposure import transport_security
from mcp_server.server.transports import GuardedApp
from mcp_server.settings import SettingsError, load_settings
from tests.hooks.recordings import ALERTMANAGER, UPTIME_KUMA, Recorded, case, load, request_files

TOKEN = "hooks-test-token-0123456789"
USER, PASSWORD = "amuser", "am-password-42"
BASE = "http://127.0.0.1:8765"
# The recordings' Host headers: the recording listeners' addresses, allowed like a proxy's domain would be.
RECORDED_HOSTS = ["127.0.0.1:19555", "127.0.0.1:19556"]


class Stack:
    """GuardedApp(fake MCP app, hooks app) and an httpx client over it, with the real alert inbox and
    audit log in a tmp state dir; `stored()` and `audit()` read them back."""

    def __init__(
        self,
        tmp_path: Path,
        open_inbox: Callable[[Path], Any] | None = None,
        mcp_token: str | None = TOKEN,
        **hooks: Any,
    ) -> None:
        self.settings = load_settings(state_dir=tmp_path / "state", hooks=HookSettings(**hooks))
        self.opened: list[Any] = []

        def opener(state_dir: Path) -> Any:
            self.opened.append((open_inbox or AlertInbox.in_state_dir)(state_dir))
            return self.opened[-1]

        self.hooks = HooksApp(self.settings, mcp_token=mcp_token, open_inbox=opener)
        security = transport_security("127.0.0.1", "127.0.0.1", 8765, RECORDED_HOSTS)
        self.app = GuardedApp(_fake_mcp, mcp_token or "unused-token-0123456789", security, self.hooks)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=BASE, timeout=30
        )

    def stored(self) -> list[StoredAlert]:
        reader = AlertInbox.in_state_dir(Path(self.settings.state_dir))
        try:
            return reader.recent("local", limit=1000)
        finally:
            reader.close()

    def audit(self, **filters: Any) -> list[AuditEntry]:
        path = Path(self.settings.state_dir) / "safety.sqlite3"
        if not path.is_file():  # opened on the first audited request only
            return []
        db = Database(path, readonly=True)
        try:
            return AuditLog(db).query(limit=1000, **filters)
        finally:
            db.close()


async def _fake_mcp(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for the SDK's app: answers 200 'mcp' to whatever GuardedApp lets through."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"mcp"})


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    made: list[Stack] = []

    def make(**kwargs: Any) -> Stack:
        made.append(Stack(tmp_path / str(len(made)), **kwargs))
        return made[-1]

    yield make
    for one in made:
        one.hooks.close()


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def replay_request(recorded: Recorded, route: str) -> tuple[str, list[tuple[str, str]]]:
    """The recorded request aimed at `route`: its query kept, our secrets in place of `<SECRET>`, and
    `?token=` added when it carried no credential (senders that set no header use the URL)."""
    ours = {
        "Bearer <SECRET>": f"Bearer {TOKEN}",
        "Basic <SECRET>": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    }
    headers = [(name, ours.get(value, value)) for name, value in recorded.headers]
    query = recorded.query
    if recorded.header("Authorization") is None:
        query = f"token={TOKEN}" + (f"&{query}" if query else "")
    return f"{route}?{query}" if query else route, headers


async def chunks(body: bytes, size: int = 700) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def send_recorded(s: Stack, recorded: Recorded, route: str) -> httpx.Response:
    url, headers = replay_request(recorded, route)
    chunked = recorded.header("Transfer-Encoding") == "chunked"  # Uptime Kuma's form-data: no Content-Length
    content: Any = chunks(recorded.body) if chunked else recorded.body
    return await s.client.request(recorded.method, url, headers=headers, content=content or None)


# -- the recordings ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_recorded_request_is_accepted_as_sent(stack: Callable[..., Stack]) -> None:
    s = stack(basic_user=USER, basic_password=PASSWORD, allow_query_token=True)
    failures, tests, changed, answered = [], 0, 0, 0
    for tool_dir, route in ((ALERTMANAGER, "/hooks/alertmanager"), (UPTIME_KUMA, "/hooks/uptime-kuma")):
        for path in request_files(tool_dir):
            recorded = load(path)
            response = await send_recorded(s, recorded, route)
            if response.status_code != 200:
                failures.append(f"{recorded.name}: {response.status_code} {response.text}")
                continue
            answer = response.json()
            assert answer["status"] == "ok"
            if "note" in answer:
                tests += 1
                assert "Testing" in recorded.record["body_raw"] + recorded.path
            else:
                answered += 1
                changed += bool(answer["accepted"] or answer["stale"] or answer["resolved_by_absence"])
    assert not failures, "\n".join(failures)
    assert answered + tests == len(request_files(ALERTMANAGER)) + len(request_files(UPTIME_KUMA)) > 250
    assert 0 < changed < answered  # repeats and retries of the recordings are duplicates
    assert tests >= 5  # each Kuma notification's Test button (json, form-data, custom, get, headers …)
    stored = s.stored()
    assert {a.alert.source for a in stored} == {"alertmanager", "uptime-kuma"}
    assert {a.resolved_by for a in stored} >= {"sender", None}
    # one audit row per request that changed the inbox, none for duplicates or tests
    rows = s.audit(action="receive_alerts")
    assert len(rows) == changed and all(r.allowed and r.result == "ok" for r in rows)
    assert {r.tool for r in rows} == {"hooks/alertmanager", "hooks/uptime-kuma"}
    assert all(r.target_key == "host:local" and r.client == "127.0.0.1" for r in rows)


@pytest.mark.anyio
async def test_target_labels_reach_the_alerts(stack: Callable[..., Stack]) -> None:
    s = stack(target_labels="scenario, item")
    response = await s.client.post(
        "/hooks/alertmanager", content=case(ALERTMANAGER, "firing").body, headers=bearer()
    )
    assert response.status_code == 200, response.text
    [stored] = s.stored()
    hints = stored.alert.target_hints
    assert "scenario" in hints, hints


# -- refusals ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_missing_or_wrong_credentials_are_401_and_audited(stack: Callable[..., Stack]) -> None:
    s = stack(basic_user=USER, basic_password=PASSWORD)
    body = case(ALERTMANAGER, "firing").body
    wrong_basic = "Basic " + base64.b64encode(f"{USER}:nope".encode()).decode()
    for auth in (None, "Bearer wrong-token-0123456789", wrong_basic, TOKEN):
        headers = {"Content-Type": "application/json"} | ({"Authorization": auth} if auth else {})
        response = await s.client.post("/hooks/alertmanager", content=body, headers=headers)
        assert response.status_code == 401, (auth, response.text)
        assert response.headers["www-authenticate"] == (
            'Bearer realm="infraguardian-hooks", Basic realm="infraguardian-hooks"'
        )
        assert response.json()["error"] == "unauthorized"
        assert TOKEN not in response.text and "\n" not in response.json()["error_description"]
    # the token in the URL is refused unless allowed
    query = await s.client.post(f"/hooks/alertmanager?token={TOKEN}", content=body)
    assert query.status_code == 401
    assert s.opened == [] and s.stored() == []
    rows = s.audit(tool="hooks/alertmanager")
    assert len(rows) == 5
    assert all(not r.allowed and r.code == "unauthorized" and r.result == "refused" for r in rows)
    assert all(
        TOKEN not in r.model_dump_json() and "MonTestValueHigh" not in r.model_dump_json() for r in rows
    )


@pytest.mark.anyio
async def test_without_any_credential_everything_is_refused(stack: Callable[..., Stack]) -> None:
    s = stack(mcp_token=None)
    get = case(UPTIME_KUMA, "http_down__get")
    response = await s.client.get(f"/hooks/uptime-kuma?{get.query}", headers={"Authorization": "Bearer "})
    assert response.status_code == 401
    assert "no webhook credential is configured" in response.json()["error_description"]


@pytest.mark.anyio
async def test_bad_payloads_are_400_with_one_line_and_audited(stack: Callable[..., Stack]) -> None:
    s = stack()
    secretish = b'{"version": "4", "alerts": [ BROKEN-BODY-TEXT'
    response = await s.client.post(
        "/hooks/alertmanager", content=secretish, headers={**bearer(), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] == "bad_payload" and "not JSON" in answer["error_description"]
    kuma = await s.client.post("/hooks/uptime-kuma", json={"heartbeat": 5}, headers=bearer())
    assert kuma.status_code == 400 and kuma.json()["error"] == "bad_payload"
    rows = s.audit()
    assert [r.code for r in rows] == ["bad_payload", "bad_payload"]
    assert rows[1].reason == answer["error_description"] and rows[1].tool == "hooks/alertmanager"
    assert all("BROKEN-BODY-TEXT" not in r.model_dump_json() for r in rows)
    assert rows[1].arguments == {
        "method": "POST",
        "content_type": "application/json",
        "body_bytes": len(secretish),
    }


@pytest.mark.anyio
async def test_wrong_method_is_405_with_allow_and_other_media_types_415(stack: Callable[..., Stack]) -> None:
    s = stack()
    get = await s.client.get("/hooks/alertmanager", headers=bearer())
    assert get.status_code == 405 and get.headers["allow"] == "POST"
    put = await s.client.put("/hooks/uptime-kuma", content=b"{}", headers=bearer())
    assert put.status_code == 405 and put.headers["allow"] == "GET, POST"
    assert s.audit() == []  # a wrong method is not a webhook request: no row
    for route, content_type in (
        ("/hooks/alertmanager", "text/plain"),
        ("/hooks/uptime-kuma", "application/xml"),
    ):
        response = await s.client.post(
            route, content=b"{}", headers={**bearer(), "Content-Type": content_type}
        )
        assert response.status_code == 415, response.text
        assert response.json()["error"] == "unsupported_media_type"
    assert [r.code for r in s.audit()] == ["unsupported_media_type"] * 2
    unknown = await s.client.post("/hooks/nagios", content=b"{}", headers=bearer())
    assert unknown.status_code == 404


@pytest.mark.anyio
async def test_oversized_chunked_body_is_413_before_the_rest_is_read(stack: Callable[..., Stack]) -> None:
    s = stack()
    chunk = b"x" * 65536
    pulled = 0

    async def endless() -> dict[str, Any]:  # a sender that would never stop
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def capture(message: Any) -> None:
        sent.append(message)

    headers = [
        (b"host", b"127.0.0.1:8765"),
        (b"authorization", f"Bearer {TOKEN}".encode()),
        (b"content-type", b"multipart/form-data; boundary=--------------------------1234"),
        (b"transfer-encoding", b"chunked"),
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/hooks/uptime-kuma",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
    }
    await s.app(scope, endless, capture)
    assert sent[0]["status"] == 413
    assert pulled == MAX_BODY_BYTES // len(chunk) + 1  # stopped at the first chunk over the cap
    assert json.loads(sent[1]["body"])["error"] == "too_large"
    # a declared Content-Length over the cap: refused before any chunk is read
    pulled, sent = 0, []
    declared = [*headers[:3], (b"content-length", str(MAX_BODY_BYTES + 1).encode())]
    await s.app({**scope, "headers": declared}, endless, capture)
    assert sent[0]["status"] == 413 and pulled == 0
    assert [r.code for r in s.audit()] == ["too_large", "too_large"]


# -- duplicates, store failures ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_duplicates_are_200_without_a_second_audit_row(stack: Callable[..., Stack]) -> None:
    s = stack(allow_query_token=True)
    firing = case(ALERTMANAGER, "firing")
    first = await send_recorded(s, firing, "/hooks/alertmanager")
    again = await send_recorded(s, case(ALERTMANAGER, "repeat"), "/hooks/alertmanager")
    retry = await send_recorded(s, firing, "/hooks/alertmanager")
    assert first.json() == {
        "status": "ok",
        "accepted": 1,
        "duplicates": 0,
        "stale": 0,
        "resolved_by_absence": 0,
    }
    for repeated in (again, retry):
        assert repeated.status_code == 200, repeated.text
        assert repeated.json()["duplicates"] == 1 and repeated.json()["accepted"] == 0
    rows = s.audit()
    assert len(rows) == 1 and rows[0].code == "accepted"
    assert rows[0].summary == "1 new, 0 duplicates, 0 stale, 0 resolved by absence"
    assert rows[0].arguments["alerts"] == [f"firing MonTestValueHigh ({s.stored()[0].alert.key})"]
    assert rows[0].arguments["alert_count"] == 1


@pytest.mark.anyio
async def test_store_failure_is_503_and_audited(stack: Callable[..., Stack]) -> None:
    def broken(_state_dir: Path) -> Any:
        raise OSError("disk full")

    s = stack(open_inbox=broken, allow_query_token=True)
    response = await send_recorded(s, case(ALERTMANAGER, "firing"), "/hooks/alertmanager")
    assert response.status_code == 503
    assert response.json()["error"] == "store_unavailable" and "disk full" in response.text
    [row] = s.audit()
    assert row.result == "error" and row.code == "store_failed" and row.allowed


# -- the wrapper around /mcp is unchanged -----------------------------------------------------------


@pytest.mark.anyio
async def test_mcp_still_needs_its_bearer_and_hooks_still_need_an_allowed_host(
    stack: Callable[..., Stack],
) -> None:
    s = stack(token="a-separate-hook-token-0123")
    assert (await s.client.post("/mcp", content=b"{}")).status_code == 401
    assert (
        await s.client.post(
            "/mcp", content=b"{}", headers={"Authorization": "Bearer a-separate-hook-token-0123"}
        )
    ).status_code == 401
    ok = await s.client.post("/mcp", content=b"{}", headers=bearer())
    assert ok.status_code == 200 and ok.text == "mcp"
    assert (await s.client.get("/healthz")).json() == {"status": "ok"}
    body = case(ALERTMANAGER, "firing").body
    foreign = await s.client.post(
        "/hooks/alertmanager", content=body, headers={"Host": "evil.example", **bearer()}
    )
    assert foreign.status_code == 421
    origin = await s.client.post(
        "/hooks/alertmanager", content=body, headers={"Origin": "http://evil.example", **bearer()}
    )
    assert origin.status_code == 403
    # a hook token of its own replaces the MCP token on /hooks/
    assert (await s.client.post("/hooks/alertmanager", content=body, headers=bearer())).status_code == 401
    hook = await s.client.post(
        "/hooks/alertmanager", content=body, headers={"Authorization": "Bearer a-separate-hook-token-0123"}
    )
    assert hook.status_code == 200, hook.text
    assert len(s.opened) == 1  # opened once, on the first stored request
    s.hooks.close()
    with pytest.raises(sqlite3.ProgrammingError):
        s.opened[0].firing("local")


# -- settings ---------------------------------------------------------------------------------------


def test_hook_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INFRAGUARDIAN_HOOKS__TOKEN", "env-hook-token-0123456789")
    monkeypatch.setenv("INFRAGUARDIAN_HOOKS__TARGET_LABELS", "app,team")
    monkeypatch.setenv("INFRAGUARDIAN_HOOKS__ALLOW_QUERY_TOKEN", "true")
    hooks = load_settings(state_dir=tmp_path).hooks
    assert hooks.bearer_token("mcp-token") == "env-hook-token-0123456789"
    assert hooks.target_labels == ["app", "team"] and hooks.allow_query_token
    assert HookSettings().bearer_token("mcp-token") == "mcp-token"
    monkeypatch.setenv("INFRAGUARDIAN_HOOKS__TOKEN", "short")
    with pytest.raises(SettingsError, match=r"^invalid setting INFRAGUARDIAN_HOOKS__TOKEN: shorter than 16"):
        load_settings(state_dir=tmp_path)
    monkeypatch.delenv("INFRAGUARDIAN_HOOKS__TOKEN")
    monkeypatch.setenv("INFRAGUARDIAN_HOOKS__BASIC_USER", "amuser")
    with pytest.raises(SettingsError, match="basic_user and basic_password go together") as raised:
        load_settings(state_dir=tmp_path)
    assert "\n" not in str(raised.value)
