"""dokploy_call: queries are reads, mutations are admin + human, protected procedures never run,
bad names and input are caught before anything is sent, answers and audit rows are redacted."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import docker
import pytest

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine, make_container = fx.act_standin, fx.api, fx.engine, fx.make_container


@pytest.fixture
def compose_id(api: fx.StandInAPI) -> str:
    return api.create_compose("call", fx.compose_yaml(), env="API_TOKEN=tok-123456789")[0]


async def test_a_query_is_a_read_and_its_answer_is_redacted(
    make_settings: Callable[..., Settings], act_standin: Any, compose_id: str
) -> None:
    async with act_client(make_settings(act_standin, safety={"mode": "read-only"})) as client:
        done = await call(
            client, "dokploy_call", {"operation": "compose.one", "input": {"composeId": compose_id}}
        )
        rows = await audit_rows(client)
    assert done["kind"] == "query" and not done["truncated"] and done["result"]["composeId"] == compose_id
    text = json.dumps(done)
    assert "tok-123456789" not in text and "hunter2" not in text
    assert done["result"]["env"] == "API_TOKEN=[REDACTED]"
    assert [(r["action"], r["result"], r["target_key"]) for r in rows] == [
        ("read", "ok", f"dokploy_api:local/compose.one/{compose_id}")
    ]


async def test_a_mutation_needs_admin_mode_and_a_human(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI, compose_id: str
) -> None:
    args = {
        "operation": "compose.update",
        "input": {"composeId": compose_id, "name": "renamed", "env": "DB_PASSWORD=hunter2"},
    }
    async with act_client(make_settings(act_standin)) as client:
        refused = await call_error(client, "dokploy_call", args)
    assert "dokploy_mutation needs admin mode" in refused
    settings = make_settings(act_standin, safety={"mode": "admin"})
    asked: list[str] = []
    async with act_client(settings, human="decline", asked=asked) as client:
        declined = await call_error(client, "dokploy_call", args)
    assert "a human declined dokploy_mutation" in declined and api.compose(compose_id)["name"] == "call"
    async with act_client(settings, human="accept", asked=asked) as client:
        done = await call(client, "dokploy_call", args)
        rows = await audit_rows(client)
    assert done["kind"] == "mutation" and done["result"]["name"] == "renamed"
    assert api.compose(compose_id)["name"] == "renamed"
    assert asked[0].startswith(f"Call Dokploy operation compose.update for {compose_id}?")
    assert (
        "hunter2" not in "".join(asked)
        and "hunter2" not in json.dumps(rows)
        and "hunter2" not in json.dumps(done)
    )
    assert [(r["action"], r["result"]) for r in rows] == [
        ("dokploy_mutation", "refused"),
        ("dokploy_mutation", "refused"),
        ("dokploy_mutation", "ok"),
    ]


async def test_protected_procedures_are_refused_in_admin_mode(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    compose_id: str,
    engine: docker.DockerClient,
    make_container: Callable[..., Any],
) -> None:
    traefik = fx.protected_name(engine)
    make_container(traefik)
    async with act_client(make_settings(act_standin, safety={"mode": "admin"})) as client:
        reload = await call_error(client, "dokploy_call", {"operation": "settings.reloadServer", "input": {}})
        delete = await call_error(
            client,
            "dokploy_call",
            {"operation": "compose.delete", "input": {"composeId": compose_id, "deleteVolumes": True}},
        )
        restart = await call_error(
            client,
            "dokploy_call",
            {"operation": "docker.restartContainer", "input": {"containerId": traefik}},
        )
    assert "protected" in reload and "changes Dokploy itself" in reload
    assert "protected" in delete and "delete volumes" in delete
    assert "protected" in restart
    assert api.compose(compose_id)["composeId"] == compose_id


async def test_bad_names_and_input_are_caught_before_sending(
    make_settings: Callable[..., Settings], act_standin: Any
) -> None:
    async with act_client(make_settings(act_standin, safety={"mode": "admin"})) as client:
        typo = await call_error(client, "dokploy_call", {"operation": "compose.oen", "input": {}})
        missing = await call_error(client, "dokploy_call", {"operation": "compose.one", "input": {}})
        rows = await audit_rows(client)
    async with act_client(make_settings(None)) as client:
        no_dokploy = await call_error(client, "dokploy_call", {"operation": "project.all", "input": {}})
    assert "unknown Dokploy operation 'compose.oen'" in typo and "compose.one" in typo
    assert "invalid input for compose.one" in missing and "expected fields: composeId: string" in missing
    assert [(r["tool"], r["result"], r["allowed"]) for r in rows] == [("dokploy_call", "error", False)] * 2
    assert "Dokploy is not configured" in no_dokploy
