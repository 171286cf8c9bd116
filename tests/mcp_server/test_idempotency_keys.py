"""Idempotency keys through a real MCP client session, on the real engine: a changing call sent
twice with the same key (request `_meta`) acts once; the repeat gets the recorded answer."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import anyio
import docker
import pytest
from mcp import Client, types

from mcp_server.safety import Safety
from mcp_server.safety.idempotency import Claim, arguments_hash
from mcp_server.server.idempotent_calls import IDEMPOTENCY_KEY_META, REPLAYED_META, UNKNOWN_OUTCOME
from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, started_at

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine, make_container = fx.act_standin, fx.api, fx.engine, fx.make_container


@pytest.fixture(scope="module")
def shop(api: fx.StandInAPI) -> str:
    return api.deployed_compose("idem")[1]


def keyed(key: str) -> dict[str, Any]:
    return {IDEMPOTENCY_KEY_META: key}


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


def key_rows(settings: Settings) -> list[dict[str, Any]]:
    with sqlite3.connect(settings.state_dir / settings.safety.db_filename) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM idempotency_keys ORDER BY started_ts")]


def no_backoff(make_settings: Callable[..., Settings], standin: Any, **safety: Any) -> Settings:
    return make_settings(standin, safety={"budgets": {"restart": fx.NO_BACKOFF}, **safety})


async def test_a_repeated_key_restarts_once_and_replays_the_recorded_answer(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = no_backoff(make_settings, act_standin)
    name, args = f"{shop}-api-1", {"app_name": shop, "service": "api"}
    before = started_at(engine, name)
    async with act_client(settings) as client:
        first = await client.call_tool("restart_service", args, meta=keyed("inc-1:step-1"))
        after_first = started_at(engine, name)
        again = await client.call_tool("restart_service", args, meta=keyed("inc-1:step-1"))
        after_again = started_at(engine, name)
        # the budget counted one restart: the next, under a new key, is the second of 3
        other = await client.call_tool("restart_service", args, meta=keyed("inc-1:step-2"))
        rows = await audit_rows(client)
    assert not first.is_error and not again.is_error and first.structured_content and again.structured_content
    assert after_first != before and after_again == after_first
    assert "replayed" not in first.structured_content
    assert again.structured_content == {**first.structured_content, "replayed": True}
    assert '"replayed": true' in text_of(again)
    assert again.meta is not None and again.meta[REPLAYED_META] is True
    assert (
        other.structured_content is not None and "restart budget 2 of 3" in other.structured_content["policy"]
    )
    assert [(r["action"], r["result"], r["code"]) for r in rows] == [
        ("restart", "ok", "allowed"),
        ("replay", "ok", "replayed"),
        ("restart", "ok", "allowed"),
    ]
    [one, two] = key_rows(settings)
    assert (one["key"], one["state"], one["tool"]) == ("inc-1:step-1", "finished", "restart_service")
    assert one["arguments_hash"] == arguments_hash("restart_service", args) and one["decision_id"]
    assert one["audit_result"] == "ok" and two["key"] == "inc-1:step-2"


async def test_the_same_key_with_other_arguments_is_refused_and_acts_not(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = no_backoff(make_settings, act_standin)
    async with act_client(settings) as client:
        await client.call_tool("restart_service", {"app_name": shop, "service": "api"}, meta=keyed("k-2"))
        before = started_at(engine, f"{shop}-db-1")
        refused = await client.call_tool(
            "restart_service", {"app_name": shop, "service": "db"}, meta=keyed("k-2")
        )
        other_tool = await client.call_tool(
            "stop_compose", {"app_name": shop, "dry_run": False}, meta=keyed("k-2")
        )
    assert refused.is_error and other_tool.is_error
    assert "idempotency key k-2 was already used" in text_of(refused) and "with other arguments" in text_of(
        refused
    )
    assert "nothing was done" in text_of(refused) and "restart_service" in text_of(other_tool)
    assert started_at(engine, f"{shop}-db-1") == before


async def test_a_key_left_mid_action_by_a_killed_server_answers_unknown_and_acts_not(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = no_backoff(make_settings, act_standin)
    args = {"app_name": shop, "service": "api"}
    # what a server killed after the policy allowed the restart leaves: the key `authorized`, held
    # by a claim no running call has
    dead = Safety(settings.safety, settings.state_dir)
    dead.idempotency.claim(
        "inc-3:step-1",
        tool="restart_service",
        arguments_hash=arguments_hash("restart_service", args),
        client="agent",
        claim_id="killed-server",
        now=time.time(),
        is_running=lambda _: False,
    )
    dead.db.transaction(lambda conn: conn.execute("UPDATE idempotency_keys SET state = 'authorized'"))
    dead.close()
    before = started_at(engine, f"{shop}-api-1")
    async with act_client(settings) as client:
        unknown = await client.call_tool("restart_service", args, meta=keyed("inc-3:step-1"))
        again = await client.call_tool("restart_service", args, meta=keyed("inc-3:step-1"))
    assert started_at(engine, f"{shop}-api-1") == before
    for answer in (unknown, again):
        assert answer.is_error and answer.structured_content is not None
        assert answer.structured_content["outcome"] == UNKNOWN_OUTCOME
        assert answer.structured_content["replayed"] is True
        assert "check the target before retrying with a new key" in text_of(answer)


async def test_a_key_only_started_by_a_killed_server_is_taken_over_and_acts_once(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = no_backoff(make_settings, act_standin)
    args = {"app_name": shop, "service": "db"}
    dead = Safety(settings.safety, settings.state_dir)  # killed before the policy allowed anything
    dead.idempotency.claim(
        "inc-4:step-1",
        tool="restart_service",
        arguments_hash=arguments_hash("restart_service", args),
        client="agent",
        claim_id="killed-server",
        now=time.time(),
        is_running=lambda _: False,
    )
    dead.close()
    before = started_at(engine, f"{shop}-db-1")
    async with act_client(settings) as client:
        done = await client.call_tool("restart_service", args, meta=keyed("inc-4:step-1"))
        middle = started_at(engine, f"{shop}-db-1")
        again = await client.call_tool("restart_service", args, meta=keyed("inc-4:step-1"))
    assert not done.is_error and middle != before and started_at(engine, f"{shop}-db-1") == middle
    assert again.structured_content is not None and again.structured_content["replayed"] is True


async def test_concurrent_calls_with_one_key_restart_once(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = no_backoff(make_settings, act_standin)
    args = {"app_name": shop, "service": "api"}
    before = started_at(engine, f"{shop}-api-1")
    answers: list[types.CallToolResult] = []
    async with act_client(settings) as client:

        async def send() -> None:
            answers.append(await client.call_tool("restart_service", args, meta=keyed("inc-5:step-1")))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(send)
        rows = await audit_rows(client)
    assert started_at(engine, f"{shop}-api-1") != before
    assert [r["action"] for r in rows].count("restart") == 1
    assert [r["action"] for r in rows].count("replay") == 2
    structured = [a.structured_content for a in answers]
    assert all(s is not None for s in structured)
    assert sorted(bool(s and s.get("replayed")) for s in structured) == [False, True, True]


async def test_a_recorded_docker_failure_is_replayed_not_retried(
    make_settings: Callable[..., Settings], act_standin: Any, engine: docker.DockerClient
) -> None:
    # a container whose command does not exist: every start fails on the engine
    name = f"{fx.PREFIX}-broken-{time.monotonic_ns() % 10**6}"
    broken = engine.containers.create(fx.BUSYBOX, ["/no/such/command"], name=name, labels=fx.LABELS)
    try:
        settings = no_backoff(make_settings, act_standin)
        args = {"app_name": name, "container": name}
        async with act_client(settings) as client:
            failed = await client.call_tool("restart_service", args, meta=keyed("inc-6:step-1"))
            again = await client.call_tool("restart_service", args, meta=keyed("inc-6:step-1"))
            rows = await audit_rows(client)
    finally:
        broken.remove(force=True)
    assert failed.structured_content is not None and failed.structured_content["ok"] is False
    assert again.structured_content == {**failed.structured_content, "replayed": True}
    assert [(r["action"], r["result"]) for r in rows] == [("restart", "error"), ("replay", "error")]


async def test_refusals_keep_no_key_and_keys_expire(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    args = {"app_name": shop, "service": "api"}
    read_only = make_settings(act_standin, safety={"mode": "read-only"})
    async with act_client(read_only) as client:
        refused = await client.call_tool("restart_service", args, meta=keyed("inc-7:step-1"))
    assert refused.is_error and "read-only" in text_of(refused) and key_rows(read_only) == []
    # the same state dir in operate mode: the refused key is free, and it expires after its TTL
    settings = no_backoff(make_settings, act_standin, idempotency_key_ttl_s=1)
    before = started_at(engine, f"{shop}-api-1")
    async with act_client(settings) as client:
        await client.call_tool("restart_service", args, meta=keyed("inc-7:step-1"))
        first = started_at(engine, f"{shop}-api-1")
        await anyio.sleep(1.2)
        again = await client.call_tool("restart_service", args, meta=keyed("inc-7:step-1"))
    assert before != first != started_at(engine, f"{shop}-api-1")
    assert again.structured_content is not None and "replayed" not in again.structured_content


async def test_reads_and_dry_runs_ignore_keys_and_bad_keys_are_refused(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = no_backoff(make_settings, act_standin)
    before = started_at(engine, f"{shop}-api-1")
    async with act_client(settings) as client:
        reads = [
            await client.call_tool("service_status", {"app_name": shop, "service": "api"}, meta=keyed("r-1"))
            for _ in range(2)
        ]
        dry = await client.call_tool(
            "restart_service", {"app_name": shop, "service": "api", "dry_run": True}, meta=keyed("r-1")
        )
        bad = await client.call_tool(
            "restart_service", {"app_name": shop, "service": "api"}, meta=keyed("no spaces allowed")
        )
        long = await client.call_tool(
            "restart_service", {"app_name": shop, "service": "api"}, meta=keyed("k" * 129)
        )
    assert all(
        not r.is_error and r.structured_content and "replayed" not in r.structured_content for r in reads
    )
    assert not dry.is_error and dry.structured_content and dry.structured_content["dry_run"] is True
    for answer in (bad, long):
        assert answer.is_error and "must be 1-128 characters" in text_of(answer)
    assert key_rows(settings) == [] and started_at(engine, f"{shop}-api-1") == before


async def test_keys_work_on_the_legacy_protocol_too(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = no_backoff(make_settings, act_standin)
    args = {"app_name": shop, "service": "db"}
    async with Client(fx.build_server(settings, run_detectors=False), mode="legacy") as client:
        first = await client.call_tool("restart_service", args, meta=keyed("inc-9:step-1"))
        middle = started_at(engine, f"{shop}-db-1")
        again = await client.call_tool("restart_service", args, meta=keyed("inc-9:step-1"))
    assert not first.is_error and started_at(engine, f"{shop}-db-1") == middle
    assert again.structured_content == {**(first.structured_content or {}), "replayed": True}


async def test_a_confirmed_change_keeps_its_key_through_the_question_and_is_not_asked_again(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI, engine: docker.DockerClient
) -> None:
    # protocol 2026-07-28: the first call answers with the question (input required), the client
    # asks its human and retries with the answer and the same _meta; the retry acts, once
    app = api.deployed_compose("idem-stop")[1]
    asked: list[str] = []

    async def human(_: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})

    settings = make_settings(act_standin)
    server = fx.build_server(settings, run_detectors=False)
    async with Client(server, elicitation_callback=human) as client:
        assert client.protocol_version == "2026-07-28"
        stopped = await client.call_tool("stop_compose", {"app_name": app}, meta=keyed("inc-10:step-1"))
        finished = [engine.containers.get(f"{app}-{s}-1").attrs["State"]["FinishedAt"] for s in ("api", "db")]
        again = await client.call_tool("stop_compose", {"app_name": app}, meta=keyed("inc-10:step-1"))
        rows = await audit_rows(client)
    assert not stopped.is_error and len(asked) == 1
    assert [fx.state(engine, f"{app}-{s}-1") for s in ("api", "db")] == ["exited", "exited"]
    assert [
        engine.containers.get(f"{app}-{s}-1").attrs["State"]["FinishedAt"] for s in ("api", "db")
    ] == finished
    assert again.structured_content == {**(stopped.structured_content or {}), "replayed": True}
    assert [(r["action"], r["code"]) for r in rows if r["tool"] == "stop_compose"] == [
        ("stop", "awaiting_confirmation"),
        ("stop", "allowed"),
        ("replay", "replayed"),
    ]


async def test_a_recorded_error_answer_is_replayed_as_an_error(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = no_backoff(make_settings, act_standin)
    args = {"app_name": shop, "service": "api"}
    # what a restart that failed after the policy allowed it (a Docker error) leaves behind
    first = Safety(settings.safety, settings.state_dir)
    first.idempotency.claim(
        "inc-11:step-1",
        tool="restart_service",
        arguments_hash=arguments_hash("restart_service", args),
        client="agent",
        claim_id="first",
        now=time.time(),
        is_running=lambda _: False,
    )
    first.db.transaction(lambda conn: conn.execute("UPDATE idempotency_keys SET state = 'acted'"))
    error = {
        "content": [{"type": "text", "text": "Docker engine error: restart api failed"}],
        "isError": True,
    }
    first.idempotency.finish(Claim("inc-11:step-1", "first"), error, is_error=True, now=time.time())
    first.close()
    before = started_at(engine, f"{shop}-api-1")
    async with act_client(settings) as client:
        again = await client.call_tool("restart_service", args, meta=keyed("inc-11:step-1"))
        rows = await audit_rows(client)
    assert again.is_error and started_at(engine, f"{shop}-api-1") == before
    assert text_of(again).startswith("replayed, not run again (first call with this idempotency key at ")
    assert text_of(again).endswith("): Docker engine error: restart api failed")
    assert again.meta is not None and again.meta[REPLAYED_META] is True
    assert [(r["action"], r["result"]) for r in rows] == [("replay", "error")]
