"""`docker.*` views the stand-in got wrong: swarm task lists (were 501) and event fields.

Issue 13: one client script run against a real Dokploy v0.30.2 and against the stand-in differed
here; each test states what the real server answered (shapes from `shared/dokploy/` captures and
REFERENCE.md).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import httpx
import pytest

from standins.dokploy.swarm_tasks import ROW_KEYS_SERVICE, ROW_KEYS_STACK, _parse_like_dokploy, human_duration

from .test_services import docker_app

TEST_LABELS = {"ig.test": "dokploy-standin"}


def wait_for(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return found


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


# -- docker.getServiceContainersByAppName / getStackContainersByAppName (were 501) -------------


def test_dokploy_parsing_keeps_the_trimmed_last_error() -> None:
    lines = [
        "CONTAINER ID : t2 | Name: app.1 | State: Running | Node: vm | CurrentState: Running 4 seconds ago | Error: ",
        'CONTAINER ID : t1 | Name: app.1 | State: Shutdown | Node: vm | CurrentState: Failed 9 seconds ago | Error: "boom"',
        "CONTAINER ID : t0 | Name: app.1 | State: Shutdown | Node: vm | CurrentState: Shutdown 1 minutes ago | Error: ",
    ]
    rows = _parse_like_dokploy(lines, ROW_KEYS_SERVICE)
    assert [list(r) for r in rows] == [list(ROW_KEYS_SERVICE)] * 3
    assert [r["error"] for r in rows] == ["", '"boom"', "Error:"]  # only the last line lost its space
    assert [r["state"] for r in rows] == ["running", "shutdown", "shutdown"]
    assert _parse_like_dokploy([], ROW_KEYS_STACK) == []


def test_human_duration_is_go_units() -> None:
    cases = [(0.4, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute")]
    cases += [(600, "10 minutes"), (3600, "About an hour"), (5 * 3600, "5 hours"), (3 * 86400, "3 days")]
    assert [human_duration(s) for s, _ in cases] == [text for _, text in cases]


def test_unknown_app_names_list_no_tasks(api: httpx.Client) -> None:
    for procedure in ("getServiceContainersByAppName", "getStackContainersByAppName"):
        response = api.get(f"/api/docker.{procedure}", params={"appName": "no-such-app-xyz"})
        assert (response.status_code, response.json()) == (200, [])


@pytest.mark.docker
def test_service_tasks_of_an_application_like_docker_service_ps(
    api: httpx.Client, engine: docker.DockerClient
) -> None:
    app = docker_app(api)
    reload = {"applicationId": app["applicationId"], "appName": app["appName"]}
    assert api.post("/api/application.reload", json=reload).json() is True

    def running() -> list[dict[str, str]]:
        rows: list[dict[str, str]] = api.get(
            "/api/docker.getServiceContainersByAppName", params={"appName": app["appName"]}
        ).json()
        return rows if rows and rows[0]["currentState"].startswith("Running") else []

    [row] = wait_for(running, "the service's task to run")
    task = engine.api.tasks(filters={"service": app["appName"]})[0]
    node = engine.api.inspect_node(task["NodeID"])["Description"]["Hostname"]
    assert list(row) == list(ROW_KEYS_SERVICE)
    assert row["containerId"] == task["ID"]  # `docker service ps --no-trunc` prints task ids
    assert (row["name"], row["state"], row["node"], row["error"]) == (
        f"{app['appName']}.1",
        "running",
        node,
        "Error:",
    )
    assert row["currentState"].endswith(" ago")

    assert api.post("/api/application.stop", json={"applicationId": app["applicationId"]}).status_code == 200
    api.post("/api/application.start", json={"applicationId": app["applicationId"]})

    def history() -> list[dict[str, str]]:
        rows: list[dict[str, str]] = api.get(
            "/api/docker.getServiceContainersByAppName", params={"appName": app["appName"]}
        ).json()
        return rows if len(rows) == 2 and rows[0]["currentState"].startswith("Running") else []

    newest, older = wait_for(history, "a second task after stop/start")
    assert newest["name"] == older["name"] == f"{app['appName']}.1"  # one slot, newest first
    desired = {t["ID"]: t["DesiredState"] for t in engine.api.tasks(filters={"service": app["appName"]})}
    assert (newest["state"], older["state"]) == ("running", desired[older["containerId"]])
    assert older["state"] in ("shutdown", "remove")  # scaled to 0: the engine's word for it
    assert (newest["error"], older["error"]) == ("", "Error:")


@pytest.mark.docker
def test_stack_tasks_like_docker_stack_ps(api: httpx.Client, engine: docker.DockerClient) -> None:
    namespace = f"igstandin-stack-{secrets.token_hex(3)}"  # fresh: a removed stack's tasks linger
    service = engine.services.create(
        "ig/busybox:test",
        command=["sleep", "3600"],
        name=f"{namespace}_web",
        labels={"com.docker.stack.namespace": namespace, **TEST_LABELS},
        container_labels={"com.docker.stack.namespace": namespace, **TEST_LABELS},
    )
    try:

        def running() -> list[dict[str, str]]:
            rows: list[dict[str, str]] = api.get(
                "/api/docker.getStackContainersByAppName", params={"appName": namespace}
            ).json()
            return rows if rows and rows[0]["currentState"].startswith("Running") else []

        [row] = wait_for(running, "the stack's task to run")
        assert list(row) == list(ROW_KEYS_STACK)  # stack rows put node before currentState
        assert (row["name"], row["state"], row["error"]) == (f"{namespace}_web.1", "running", "Error:")
        assert len(row["containerId"]) == 25  # a swarm task id
    finally:
        service.remove()


# -- docker.getEvents: Docker's own top-level fields ----------------------------------------


@pytest.mark.docker
def test_container_events_carry_status_id_from(api: httpx.Client, engine: docker.DockerClient) -> None:
    container = engine.containers.create("ig/busybox:test", ["true"], labels=TEST_LABELS)
    try:
        container.start()
        container.wait(timeout=30)
    finally:
        container.remove(force=True)
    time.sleep(1.1)  # the stand-in reads events up to the last whole second
    events = api.get("/api/docker.getEvents").json()["events"]
    mine = [e for e in events if e["Type"] == "container" and e["Actor"]["ID"] == container.id]
    assert {e["Action"] for e in mine} >= {"create", "start", "die", "destroy"}
    for event in mine:
        assert list(event)[:5] == ["status", "id", "from", "Type", "Action"]  # Docker's JSON order
        assert (event["status"], event["id"], event["from"]) == (
            event["Action"],
            container.id,
            "ig/busybox:test",
        )
    others = [e for e in events if e["Type"] in ("network", "volume")]
    assert all("status" not in e for e in others)
