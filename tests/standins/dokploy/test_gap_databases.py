"""Databases: `stop` before any deploy, the row `remove` returns, each kind's not-found message.

Issue 13: one client script run against a real Dokploy v0.30.2 and against the stand-in differed
here; each test states what the real server answered (shapes from `shared/dokploy/` captures and
REFERENCE.md).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from standins.dokploy.state import DB_KINDS

from .test_services import environment

# -- databases: stop before any deploy, remove's row, not-found messages --------------------

NESTED = ("environment", "mounts", "backups", "server")
NOT_FOUND = {kind: f"{kind.capitalize()} not found" for kind in DB_KINDS} | {"mysql": "MySql not found"}


def create_database(api: httpx.Client, kind: str) -> dict[str, Any]:
    data = {"name": f"{kind}-gap", "environmentId": environment(api), "databasePassword": "secret123"}
    if kind in ("postgres", "mysql", "mariadb"):
        data["databaseName"] = "app"
    if kind != "redis":
        data["databaseUser"] = "app"
    created = api.post(f"/api/{kind}.create", json=data)
    assert created.status_code == 200, created.text
    row: dict[str, Any] = created.json()
    return row


@pytest.mark.parametrize("kind", DB_KINDS)
def test_stop_never_deployed_is_200_and_remove_returns_the_nested_row(api: httpx.Client, kind: str) -> None:
    row = create_database(api, kind)
    key = {f"{kind}Id": row[f"{kind}Id"]}
    stopped = api.post(f"/api/{kind}.stop", json=key)
    assert stopped.status_code == 200, stopped.text  # Dokploy swallows `service … not found`
    assert stopped.json()[f"{kind}Id"] == row[f"{kind}Id"] and all(k in stopped.json() for k in NESTED)
    assert api.get(f"/api/{kind}.one", params=key).json()["applicationStatus"] == "idle"

    removed = api.post(f"/api/{kind}.remove", json=key).json()
    assert removed["appName"] == row["appName"]
    assert (removed["server"], removed["backups"]) == (None, [])
    assert (
        removed["environment"]["environmentId"] == row["environmentId"]
        and "project" in removed["environment"]
    )
    assert [m["volumeName"] for m in removed["mounts"]] == [f"{row['appName']}-data"]

    gone = api.get(f"/api/{kind}.one", params=key)
    assert (gone.status_code, gone.json()["message"]) == (404, NOT_FOUND[kind])
