"""deployment_history counts only the kept compose versions a rollback can go back to: the watcher
keeps the running version too (so a deploy made in Dokploy can be undone), and that one is no
rollback point. Counting it made `rollback_available` true for every freshly deployed stack, and
the crash-loop runbook would have proposed a rollback with nothing to roll back to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client

from mcp_server.dokploy import DokployClient, SnapshotStore, deploy_and_wait, snapshot_compose
from mcp_server.server import build_server
from standins.dokploy.server import StandIn

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


def stack(version: str) -> str:
    api = {"image": "ig/busybox:test", "command": ["sh", "-c", f"echo {version}; exec sleep 3600"],
           "init": True, "labels": {"ig.test": "history-points"}}  # fmt: skip
    return yaml.safe_dump({"services": {"api": api}}, sort_keys=False)


async def test_only_a_version_other_than_the_running_one_is_a_rollback_point(
    dokploy_standin: StandIn, make_settings: Any
) -> None:
    settings = make_settings(dokploy_standin)
    async with await DokployClient.connect(dokploy_standin.url, dokploy_standin.api_key) as dk:
        _, env = await dk.project_create("historypoints")
        created = await dk.call(
            "compose.create", name="points", appName="points", environmentId=env.environment_id,
            sourceType="raw", composeFile=stack("v1"),
        )  # fmt: skip
        compose_id, app = created["composeId"], created["appName"]
        assert (await deploy_and_wait(dk, "compose", compose_id, poll_s=0.2)).ok
        # the watcher's snapshot of the running version
        store = SnapshotStore(Path(settings.state_dir) / "snapshots.sqlite3")
        try:
            await snapshot_compose(dk, store, compose_id, reason="deployed (d1)")
            server = build_server(settings, run_detectors=False)
            async with Client(server, raise_exceptions=True) as client:
                first = await client.call_tool("deployment_history", {"app_name": app})
                assert first.structured_content["snapshots"] == 0  # type: ignore[index]
                # v2 is written in Dokploy (as a user would): v1 is now a version to go back to
                await dk.compose_update(compose_id, composeFile=stack("v2"))
                second = await client.call_tool("deployment_history", {"app_name": app})
                assert second.structured_content["snapshots"] == 1  # type: ignore[index]
        finally:
            store.close()
