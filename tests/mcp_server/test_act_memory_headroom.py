"""set_memory_limit and the host's headroom, on the real engine: the dry run shows what a raise
leaves the host; a raise that would eat the host's reserve is refused (dry run and real call) with
the numbers, nothing changes, and the audit keeps the host's figures. How the agent reads such a
refusal: tests/agent_host/test_memory_headroom_agent.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker
import pytest

from mcp_server.settings import Settings
from tests.docker_ops.tcp_forward import tcp_to_docker_socket
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error, memory_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine
MIB = 1024**2
HUGE_RESERVE = 2**40  # 1 TiB: no test machine has that much available


@pytest.fixture
def shop(api: fx.StandInAPI) -> tuple[str, str]:
    """A fresh compose per test: db has a 32 MiB limit, api none."""
    return api.deployed_compose("headroom")


async def test_the_dry_run_shows_the_hosts_headroom(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    _, app = shop
    async with act_client(make_settings(act_standin)) as client:
        plan = await call(
            client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "48m", "dry_run": True}
        )
        [row] = await audit_rows(client)
    assert plan["host_available"] is not None and plan["host_available"].endswith(("MiB", "GiB"))
    assert plan["host_headroom"].startswith(
        f"the host has {plan['host_available']} available; raising by 16 MiB"
    )
    assert "above the 512 MiB reserve" in plan["host_headroom"] or "GiB reserve" in plan["host_headroom"]
    assert plan["host_limits_granted"] is not None and "running containers" in plan["host_limits_granted"]
    total = int(engine.info()["MemTotal"])
    assert row["arguments"]["host_total_bytes"] == total
    assert 0 < row["arguments"]["host_available_bytes"] <= total
    assert row["arguments"]["container_count"] == 1 and row["result"] == "dry_run"


async def test_a_raise_that_would_eat_the_reserve_is_refused_and_nothing_changes(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    compose_id, app = shop
    before = api.compose(compose_id)["composeFile"]
    settings = make_settings(act_standin, safety={"memory_headroom_reserve_bytes": HUGE_RESERVE})
    args = {"app_name": app, "service": "db", "memory": "48m"}
    async with act_client(settings) as client:
        planned = await call_error(client, "set_memory_limit", {**args, "dry_run": True})
        refused = await call_error(client, "set_memory_limit", args)
        rows = await audit_rows(client)
    for text in (planned, refused):
        assert "refused by policy: refused: the host has " in text, text
        assert "raising by 16 MiB would leave " in text and "below the 1024 GiB reserve" in text
        assert text.endswith("escalate to a human or free memory first")
    assert memory_of(engine, f"{app}-db-1") == 32 * MIB
    assert api.compose(compose_id)["composeFile"] == before
    assert [(r["result"], r["code"], r["dry_run"]) for r in rows] == [
        ("refused", "bounds", True),
        ("refused", "bounds", False),
    ]
    assert all(r["arguments"]["host_available_bytes"] > 0 for r in rows)


async def test_admin_mode_is_refused_too(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    _, app = shop
    settings = make_settings(
        act_standin, safety={"mode": "admin", "memory_headroom_reserve_bytes": HUGE_RESERVE}
    )
    async with act_client(settings) as client:
        refused = await call_error(
            client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "256m"}
        )
    assert "below the 1024 GiB reserve" in refused
    assert memory_of(engine, f"{app}-db-1") == 32 * MIB


async def test_a_raise_that_fits_is_made_and_reports_the_headroom(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    _, app = shop
    async with act_client(make_settings(act_standin)) as client:
        done = await call(client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "48m"})
    assert done["ok"] and memory_of(engine, f"{app}-db-1") == 48 * MIB
    assert "raising by 16 MiB leaves" in done["host_headroom"] and "reserve" in done["host_headroom"]


async def test_an_engine_over_tcp_is_not_checked_and_says_so(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    """The same engine reached over TCP, as a remote one is: its machine's free memory cannot be
    read here, so even a huge reserve does not refuse, and the result says the check was not made."""
    _, app = shop
    with tcp_to_docker_socket() as url:
        settings = make_settings(
            act_standin, docker_host=url, safety={"memory_headroom_reserve_bytes": HUGE_RESERVE}
        )
        async with act_client(settings) as client:
            done = await call(client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "48m"})
            [row] = await audit_rows(client)
    assert done["ok"] and memory_of(engine, f"{app}-db-1") == 48 * MIB
    assert done["host_available"] is None
    assert done["host_headroom"].startswith("host headroom unknown (remote engine)")
    assert row["arguments"]["host_available_bytes"] is None
    assert row["arguments"]["host_total_bytes"] == int(engine.info()["MemTotal"])
