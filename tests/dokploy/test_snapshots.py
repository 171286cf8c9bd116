"""The SQLite compose snapshot store that makes compose rollback possible."""

from __future__ import annotations

import stat
from pathlib import Path

from mcp_server.dokploy.snapshots import SnapshotStore


def test_take_dedupe_history_and_keep(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "state" / "snapshots.sqlite3", keep=3)
    a = store.take("c1", "web-abc123", "services: {a: {image: x}}", "A=1", reason="before deploy")
    again = store.take("c1", "web-abc123", "services: {a: {image: x}}", "A=1", reason="before update")
    assert again.id == a.id  # same content: no new row
    b = store.take("c1", "web-abc123", "services: {a: {image: y}}", "A=1", reason="before update")
    assert b.id > a.id and store.latest("c1") == b
    for n in range(5):
        store.take("c1", "web-abc123", f"v{n}", None, reason="r")
    hist = store.history("c1")
    assert len(hist) == 3 and [h.compose_file for h in hist] == ["v4", "v3", "v2"]
    assert store.history("other") == [] and store.latest("other") is None
    assert store.get(a.id) is None  # pruned
    store.close()


def test_file_is_private_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "snapshots.sqlite3"
    store = SnapshotStore(path)
    snap = store.take("c9", "api-x1y2z3", "services: {}", "DB_PASSWORD=s3cret", reason="before deploy")
    store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the env inside holds secrets
    reopened = SnapshotStore(path)
    assert reopened.latest("c9") == snap
    reopened.close()
