"""The wire layer against a real local HTTP server that answers like Dokploy, or like a broken proxy."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import anyio
import pytest
from starlette.requests import Request
from starlette.responses import Response

from mcp_server.dokploy import errors as e
from mcp_server.dokploy.transport import DokployTransport, TokenBucket
from tests.conftest import ScriptedServer, free_port


def jresp(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def transport(url: str, **kw: object) -> DokployTransport:
    kw.setdefault("backoff_initial_s", 0.01)
    kw.setdefault("backoff_max_s", 0.02)
    return DokployTransport(url, "k" * 64, **kw)  # type: ignore[arg-type]


def run(coro_fn):  # small helper: run an async test body
    return anyio.run(coro_fn)


def test_get_sends_query_and_key(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(jresp([{"ok": 1}]))

    async def body() -> object:
        t = transport(scripted_server.url)
        try:
            return await t.request("deployment.readLogs", "GET", {"deploymentId": "d1", "tail": 5})
        finally:
            await t.aclose()

    assert run(body) == [{"ok": 1}]
    req = scripted_server.received[0]
    assert req["method"] == "GET" and req["path"] == "/api/deployment.readLogs"
    assert req["query"] == "deploymentId=d1&tail=5"
    assert req["headers"]["x-api-key"] == "k" * 64
    assert "content-type" not in req["headers"]


def test_post_sends_json_and_empty_object(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(Response(b"", status_code=200, media_type="application/json"), jresp(True))

    async def body() -> tuple[object, object]:
        t = transport(scripted_server.url)
        try:
            a = await t.request("application.deploy", "POST", {"applicationId": "a"})
            b = await t.request("settings.cleanAll", "POST", None)
            return a, b
        finally:
            await t.aclose()

    assert run(body) == (None, True)  # empty 200 body = the procedure returned nothing
    first, second = scripted_server.received
    assert first["headers"]["content-type"] == "application/json"
    assert json.loads(first["body"]) == {"applicationId": "a"}
    assert second["body"] == b"{}"


@pytest.mark.parametrize(
    ("status", "payload", "error", "needle"),
    [
        (401, {"message": "Unauthorized"}, e.UnauthorizedError, "rateLimitEnabled"),
        (403, {"message": "Forbidden", "code": "FORBIDDEN"}, e.ForbiddenError, "Forbidden"),
        (
            404,
            {"message": "Compose not found", "code": "NOT_FOUND", "data": {"path": "compose.one"}},
            e.NotFoundError,
            "Compose not found",
        ),
        (
            404,
            {"message": "Not found", "code": "NOT_FOUND", "data": {"code": "NOT_FOUND", "httpStatus": 404}},
            e.NotFoundError,
            "does not serve that operation",
        ),
        (
            409,
            {"message": "Service with this 'AppName' already exists", "code": "CONFLICT"},
            e.ConflictError,
            "AppName",
        ),
        (
            400,
            {
                "message": "Input validation failed",
                "issues": [{"code": "invalid_type", "path": ["name"], "message": "expected string"}],
            },
            e.ValidationError,
            "name: expected string",
        ),
        (
            500,
            {"message": "Command execution failed: No such container", "code": "INTERNAL_SERVER_ERROR"},
            e.ServerError,
            "No such container",
        ),
    ],
)
def test_dokploy_errors_map_to_the_hierarchy(
    scripted_server: ScriptedServer, status: int, payload: dict, error: type, needle: str
) -> None:
    scripted_server.answer(jresp(payload, status))

    async def body() -> None:
        t = transport(scripted_server.url)
        try:
            await t.request("compose.one", "POST", {})
        finally:
            await t.aclose()

    with pytest.raises(error) as exc:
        run(body)
    assert needle in str(exc.value)
    assert exc.value.status == status
    assert "\n" not in str(exc.value)


def test_get_retries_on_502_503_504_then_succeeds(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(
        Response("<html><title>502 Bad Gateway</title></html>", status_code=502, media_type="text/html"),
        Response("busy", status_code=503),
        jresp({"status": "ok"}),
    )

    async def body() -> tuple[object, int]:
        t = transport(scripted_server.url, max_retries=3)
        try:
            return await t.request("settings.health", "GET"), t.stats.retries["settings.health"]
        finally:
            await t.aclose()

    assert run(body) == ({"status": "ok"}, 2)
    assert len(scripted_server.received) == 3


def test_mutation_is_never_repeated_on_a_gateway_error(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(
        Response(
            "<html><head><title>502 Bad Gateway</title></head></html>",
            status_code=502,
            media_type="text/html",
        ),
        jresp({"success": True}),
    )

    async def body() -> None:
        t = transport(scripted_server.url, max_retries=3)
        try:
            await t.request("compose.deploy", "POST", {"composeId": "c"})
        finally:
            await t.aclose()

    with pytest.raises(e.ServerError, match="502 Bad Gateway"):
        run(body)
    assert len(scripted_server.received) == 1  # the deploy may have gone through: not repeated


def test_retries_run_out_with_the_last_error(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(*[Response("down", status_code=503) for _ in range(3)])

    async def body() -> None:
        t = transport(scripted_server.url, max_retries=2)
        try:
            await t.request("project.all", "GET")
        finally:
            await t.aclose()

    with pytest.raises(e.ServerError):
        run(body)
    assert len(scripted_server.received) == 3


def test_unreachable_is_retried_and_explained() -> None:
    port = free_port()  # nothing listens here

    async def body() -> DokployTransport:
        t = transport(f"http://127.0.0.1:{port}", max_retries=2)
        try:
            await t.request("compose.deploy", "POST", {"composeId": "c"})
        finally:
            await t.aclose()
        return t

    with pytest.raises(e.UnreachableError, match="check DOKPLOY_URL"):
        run(body)


def test_html_page_with_200_is_not_taken_for_data(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(Response("<!doctype html><title>Dokploy</title>", media_type="text/html"))

    async def body() -> None:
        t = transport(scripted_server.url)
        try:
            await t.request("project.all", "GET")
        finally:
            await t.aclose()

    with pytest.raises(e.ServerError, match=r"not JSON.*is DOKPLOY_URL the Dokploy panel"):
        run(body)


def test_read_timeout_on_get_is_retried_then_reported(scripted_server: ScriptedServer) -> None:
    async def slow(_: Request) -> Response:
        await anyio.sleep(0.5)
        return jresp({})

    scripted_server.answer(slow, slow)

    async def body() -> None:
        t = transport(scripted_server.url, timeout_s=0.1, max_retries=1)
        try:
            await t.request("project.all", "GET")
        finally:
            await t.aclose()

    with pytest.raises(e.DokployTimeoutError):
        run(body)
    assert len(scripted_server.received) == 2


def test_call_counters(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(jresp([]), jresp([]), jresp({"message": "x"}, 500))

    async def body() -> dict:
        t = transport(scripted_server.url, max_retries=0)
        try:
            await t.request("project.all", "GET")
            await t.request("project.all", "GET")
            with pytest.raises(e.ServerError):
                await t.request("compose.one", "GET", {"composeId": "x"})
            return t.stats.snapshot()
        finally:
            await t.aclose()

    stats = run(body)
    assert stats["project.all"]["calls"] == 2 and stats["project.all"]["errors"] == 0
    assert stats["compose.one"] == {**stats["compose.one"], "calls": 1, "errors": 1}


class FakeTime:
    """A clock that moves only when the bucket sleeps, and records every sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_token_bucket_lets_a_burst_through_then_spaces_calls() -> None:
    fake = FakeTime()
    bucket = TokenBucket(10.0, 20, clock=fake.clock, sleep=fake.sleep)

    async def body() -> None:
        before = len(fake.sleeps)
        for _ in range(20):
            await bucket.acquire()
        assert len(fake.sleeps) == before  # the burst went through without waiting
        for _ in range(5):
            await bucket.acquire()

    run(body)
    assert fake.sleeps == pytest.approx([0.1] * 5)  # then 10 per second
    fake.now += 60.0  # an idle minute refills the bucket to its burst, not beyond
    run(body)
    assert fake.sleeps == pytest.approx([0.1] * 10)


def test_token_bucket_refills_while_calls_are_spread_out() -> None:
    fake = FakeTime()
    bucket = TokenBucket(10.0, 2, clock=fake.clock, sleep=fake.sleep)

    async def body() -> None:
        for _ in range(50):
            await bucket.acquire()
            fake.now += 0.1  # one call every 100 ms never waits at 10/s

    run(body)
    assert fake.sleeps == []
    with pytest.raises(ValueError, match="burst >= 1"):
        TokenBucket(10.0, 0)


def test_sequential_calls_are_not_spaced_by_the_default_limit(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(*[jresp([]) for _ in range(15)])
    waits: list[float] = []

    async def body() -> None:
        t = transport(scripted_server.url)  # the defaults: 10/s sustained, burst 20
        t._limiter._sleep = _recording_sleep(waits)
        try:
            for _ in range(15):
                await t.request("project.all", "GET")
        finally:
            await t.aclose()

    run(body)
    assert waits == [] and len(scripted_server.received) == 15


def _recording_sleep(waits: list[float]) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await anyio.sleep(seconds)

    return sleep
