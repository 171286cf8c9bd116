"""set_memory_limit undoing its own raise on the real engine, in the default operate mode: after a
raise 32m → 64m, setting 32m again is revert_memory and allowed (the container's limit and the
compose file in Dokploy are back to 32m), while any other lowering stays refused: a limit changed
by hand since the raise, a value other than the old one, or no raise at all. The policy itself:
tests/safety/test_memory_revert.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker
import pytest

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error, memory_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine
MIB = 1024**2


@pytest.fixture
def shop(api: fx.StandInAPI) -> tuple[str, str]:
    """A fresh compose per test: db has a 32 MiB limit (mem_limit: 32m), api none."""
    return api.deployed_compose("revert")


def set_by_hand(engine: docker.DockerClient, container: str, limit: int) -> None:
    """A `docker update` nobody audited, keeping the container's swap allowance."""
    found = engine.containers.get(container)
    swap = int(found.attrs["HostConfig"]["MemorySwap"])
    found.update(mem_limit=limit, memswap_limit=max(swap, limit))


async def test_the_server_undoes_its_own_raise_and_nothing_else(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    compose_id, app = shop
    db = f"{app}-db-1"
    before = api.compose(compose_id)["composeFile"]
    assert "mem_limit: 32m" in before
    args = {"app_name": app, "service": "db"}
    async with act_client(make_settings(act_standin)) as client:
        raised = await call(client, "set_memory_limit", {**args, "memory": "64m"})
        assert raised["action"] == "raise_memory" and memory_of(engine, db) == 64 * MIB
        assert api.compose(compose_id)["composeFile"] == before.replace("mem_limit: 32m", "mem_limit: 64m")

        set_by_hand(engine, db, 48 * MIB)
        changed = await call_error(client, "set_memory_limit", {**args, "memory": "32m"})
        set_by_hand(engine, db, 64 * MIB)
        other_value = await call_error(client, "set_memory_limit", {**args, "memory": "16m"})
        plan = await call(client, "set_memory_limit", {**args, "memory": "32m", "dry_run": True})
        undone = await call(client, "set_memory_limit", {**args, "memory": "32m"})
        assert memory_of(engine, db) == 32 * MIB
        set_by_hand(engine, db, 64 * MIB)  # back up by hand: the undo is spent, this is no raise of ours
        twice = await call_error(client, "set_memory_limit", {**args, "memory": "32m"})
        set_by_hand(engine, db, 32 * MIB)
        rows = await audit_rows(client)

    assert "the limit of db is 48 MiB now, not the 64 MiB that this server's last raise of db" in changed
    assert "it was changed since" in changed and "lower_memory, which needs admin mode" in changed
    assert "is undone only by restoring exactly 32 MiB, not 16 MiB" in other_value
    assert plan["action"] == "revert_memory" and plan["dry_run"]
    assert "-    mem_limit: 64m\n" in plan["compose_diff"] and "+    mem_limit: 32m\n" in plan["compose_diff"]
    assert undone["action"] == "revert_memory" and undone["ok"] and undone["persisted"]
    assert undone["undoes"].startswith("undoes this server's raise of db from 32 MiB to 64 MiB at ")
    assert undone["policy"].startswith(f"allowed: revert_memory of compose service db of project {app}")
    assert "memory budget 2 of 3 used" in undone["policy"]  # counted, and no backoff wait after the raise
    [row] = undone["containers"]
    assert (row["old_limit"], row["new_limit"], row["ok"]) == ("64 MiB", "32 MiB", True)
    # the compose file in Dokploy holds the old limit again, the rest of the file untouched
    assert api.compose(compose_id)["composeFile"] == before
    assert "the last memory change of db by this server was revert_memory" in twice
    real = [(r["action"], r["result"]) for r in rows if r["tool"] == "set_memory_limit" and not r["dry_run"]]
    assert real == [
        ("raise_memory", "ok"),
        ("revert_memory", "refused"),  # changed by hand since
        ("revert_memory", "refused"),  # 16m is not the old limit
        ("revert_memory", "ok"),
        ("revert_memory", "refused"),  # already undone
    ]


async def test_lowering_what_this_server_never_raised_is_refused(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    compose_id, app = shop
    before = api.compose(compose_id)["composeFile"]
    async with act_client(make_settings(act_standin)) as client:
        refused = await call_error(
            client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "16m"}
        )
        [row] = await audit_rows(client)
    assert refused.endswith(
        "refused by policy: refused: no raise of db from 16 MiB to 32 MiB by this server in the last 24 h "
        "to undo; any other lowering is lower_memory, which needs admin mode and a human. Do not retry: "
        "escalate to a human"
    )
    assert (row["action"], row["code"], row["result"]) == ("revert_memory", "mode", "refused")
    assert memory_of(engine, f"{app}-db-1") == 32 * MIB
    assert api.compose(compose_id)["composeFile"] == before


async def test_admin_mode_still_asks_a_human_for_a_lowering_that_is_no_undo(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    """In admin mode the same 16m is lower_memory (a human confirms); only an undo skips the human."""
    _, app = shop
    settings = make_settings(act_standin, safety={"mode": "admin"})
    asked: list[str] = []
    args = {"app_name": app, "service": "db"}
    async with act_client(settings, human="decline", asked=asked) as client:
        declined = await call_error(client, "set_memory_limit", {**args, "memory": "16m"})
        await call(client, "set_memory_limit", {**args, "memory": "64m"})
        undone = await call(client, "set_memory_limit", {**args, "memory": "32m"})
    assert "a human declined lower_memory" in declined and len(asked) == 1
    assert undone["action"] == "revert_memory" and memory_of(engine, f"{app}-db-1") == 32 * MIB
