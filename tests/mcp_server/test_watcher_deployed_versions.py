"""The watcher keeps each deployed version of a compose as a snapshot (Dokploy keeps no history), so
a deploy made in Dokploy itself, not through InfraGuardian, can still be rolled back: the version
before it is the snapshot the rollback tool writes back.

The Dokploy side is a small in-memory compose (the rows and file Dokploy would return); the
snapshot store and the rollback's choice of version are the real ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_server.dokploy import SnapshotStore
from mcp_server.dokploy.models import Compose, Deployment
from mcp_server.server.tools.rollback import previous_snapshot
from mcp_server.settings import Settings
from mcp_server.watcher.inputs import DokployInputs

pytestmark = [pytest.mark.anyio]
GOOD = "services:\n  api:\n    image: ig/busybox:test\n    command: [sleep, '3600']\n"
BAD = "services:\n  api:\n    image: ig/busybox:test\n    command: [sh, -c, 'exit 2']\n"


class OneCompose:
    """What Dokploy returns for one compose: its current file, and its deployment rows."""

    def __init__(self) -> None:
        self.file = GOOD
        self.reads = 0

    async def compose_one(self, compose_id: str) -> Compose:
        self.reads += 1
        return Compose(compose_id=compose_id, name="shop", app_name="shop-abc", compose_file=self.file)


def row(deployment_id: str, status: str, at: str) -> Deployment:
    return Deployment(deployment_id=deployment_id, status=status, created_at=at)  # type: ignore[arg-type]


async def test_a_deploy_made_in_dokploy_leaves_the_version_before_it_to_roll_back_to(tmp_path: Path) -> None:
    inputs = DokployInputs(Settings(state_dir=tmp_path))
    dokploy = OneCompose()
    first = [row("d1", "done", "2026-12-03T10:00:00Z")]
    try:
        # first seen: the deployed version is kept; seen again unchanged, Dokploy is not asked again
        await inputs.keep_deployed_version(dokploy, "c1", first)
        await inputs.keep_deployed_version(dokploy, "c1", first)
        assert dokploy.reads == 1
        # a user writes the bad file and deploys it in Dokploy: while it runs, nothing is kept
        dokploy.file = BAD
        running = [row("d2", "running", "2026-12-03T10:05:00Z"), *first]
        await inputs.keep_deployed_version(dokploy, "c1", running)
        assert dokploy.reads == 1
        done: list[Any] = [row("d2", "done", "2026-12-03T10:05:00Z"), *first]
        await inputs.keep_deployed_version(dokploy, "c1", done)
        assert dokploy.reads == 2
    finally:
        await inputs.aclose()
    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    try:
        kept = store.history("c1")
        assert [(s.compose_file, s.reason) for s in kept] == [(BAD, "deployed (d2)"), (GOOD, "deployed (d1)")]
        # the rollback tool goes back to the good file
        now = Compose(compose_id="c1", name="shop", app_name="shop-abc", compose_file=BAD)
        back = previous_snapshot(store, now)
        assert back is not None and back.compose_file == GOOD
    finally:
        store.close()


async def test_dokploy_json_rows_are_read_too(tmp_path: Path) -> None:
    inputs = DokployInputs(Settings(state_dir=tmp_path))
    dokploy = OneCompose()
    try:
        await inputs.keep_deployed_version(
            dokploy, "c1", [{"deploymentId": "d1", "status": "done", "createdAt": "2026-12-03T10:00:00Z"}]
        )
        await inputs.keep_deployed_version(dokploy, "c1", [{"deploymentId": "d9", "status": "error"}])
    finally:
        await inputs.aclose()
    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    try:
        assert [s.reason for s in store.history("c1")] == ["deployed (d1)"]
    finally:
        store.close()
