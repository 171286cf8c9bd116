"""Compose deployment lifecycle on the real engine, as the timeline captures show it."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import docker
import httpx
import pytest

from standins.dokploy.server import StandIn

from .replay import load_capture
from .scenario import UNHEALTHY_FILE, fast, slow_file

pytestmark = pytest.mark.docker

TWO_SERVICES = fast(
    'services:\n  db:\n    image: ig/busybox:test\n    command: sh -c "sleep 3600"\n    mem_limit: 64m\n'
    '    healthcheck:\n      test: ["CMD-SHELL", "true"]\n'
    "      interval: 1s\n      timeout: 1s\n      retries: 3\n"
    '  api:\n    image: ig/busybox:test\n    command: sh -c "sleep 3600"\n    mem_limit: 64m\n'
    "    depends_on:\n      db:\n        condition: service_healthy\n"
)
BROKEN_YAML = load_capture("compose.update--invalid-yaml")["request"]["body"]["composeFile"]
MISSING_IMAGE = TWO_SERVICES.replace(
    "  api:\n    image: ig/busybox:test", "  api:\n    image: ig/doesnotexist:nope"
)


def create_compose(api: httpx.Client, compose_file: str, name: str = "igstandin-tl") -> dict[str, Any]:
    env = api.post("/api/project.create", json={"name": "timeline"}).json()["environment"]["environmentId"]
    response = api.post(
        "/api/compose.create",
        json={
            "name": name,
            "appName": name,
            "environmentId": env,
            "sourceType": "raw",
            "composeFile": compose_file,
        },
    )
    assert response.status_code == 200, response.text
    row: dict[str, Any] = response.json()
    return row


def poll(fetch: Callable[[], Any], until: Callable[[Any], bool], limit: float = 180) -> list[Any]:
    """Everything `fetch` returned until `until` held (state polling, not a timing assertion)."""
    seen = []
    deadline = time.monotonic() + limit
    while True:
        value = fetch()
        seen.append(value)
        if until(value):
            return seen
        assert time.monotonic() < deadline, f"state never reached; last: {value}"
        time.sleep(0.05)


def deployments(api: httpx.Client, compose_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = api.get(
        "/api/deployment.allByCompose", params={"composeId": compose_id}
    ).json()
    return rows


def read_log(api: httpx.Client, deployment_id: str, tail: int = 1000) -> str:
    text: str = api.get(
        "/api/deployment.readLogs", params={"deploymentId": deployment_id, "tail": tail}
    ).json()
    return text


def containers(app_name: str) -> list[Any]:
    client = docker.from_env()
    try:
        return list(
            client.containers.list(all=True, filters={"label": f"com.docker.compose.project={app_name}"})
        )
    finally:
        client.close()


def test_deploy_returns_first_then_row_runs_then_done(api: httpx.Client) -> None:
    compose = create_compose(api, slow_file(2, "t"))
    cid = compose["composeId"]
    response = api.post("/api/compose.deploy", json={"composeId": cid})
    assert response.json() == {"success": True, "message": "Deployment queued", "composeId": cid}
    statuses = poll(
        lambda: api.get("/api/compose.one", params={"composeId": cid}).json()["composeStatus"],
        lambda s: s in ("done", "error"),
    )
    assert "running" in statuses and statuses[-1] == "done"
    [row] = deployments(api, cid)
    assert row["status"] == "done" and row["title"] == "Manual deployment" and row["description"] == ""
    assert row["errorMessage"] is None and row["finishedAt"] >= row["startedAt"] == row["createdAt"]
    log = read_log(api, row["deploymentId"])
    assert log.startswith("Initializing deployment\nFile 'docker-compose.yml' created: ✅\n╔")
    assert log.endswith(" Started\nDocker Compose Deployed: ✅\n")
    assert {c.labels["com.docker.compose.service"] for c in containers(compose["appName"])} == {"db", "api"}


def test_invalid_yaml_fails_at_once_with_the_parser_message(api: httpx.Client) -> None:
    compose = create_compose(api, BROKEN_YAML)
    api.post(
        "/api/compose.deploy",
        json={"composeId": compose["composeId"], "title": "broken yaml deploy", "description": "capture"},
    )
    [row] = poll(
        lambda: deployments(api, compose["composeId"]), lambda d: bool(d) and d[0]["status"] != "running"
    )[-1]
    assert (row["status"], row["title"], row["description"], row["errorMessage"]) == (
        "error",
        "broken yaml deploy",
        "capture",
        None,
    )
    log = read_log(api, row["deploymentId"])
    assert "╝\n❌ Has occurred an error: " in log and "at line 4, column 4:" in log
    assert log.endswith("\n\nError occurred ❌, check the logs for details.\n")
    assert (
        api.get("/api/compose.one", params={"composeId": compose["composeId"]}).json()["composeStatus"]
        == "error"
    )
    assert containers(compose["appName"]) == []


def test_missing_image_fails_with_dockers_output(api: httpx.Client) -> None:
    compose = create_compose(api, MISSING_IMAGE)
    api.post("/api/compose.deploy", json={"composeId": compose["composeId"]})
    row = poll(
        lambda: deployments(api, compose["composeId"]), lambda d: bool(d) and d[0]["status"] != "running"
    )[-1][0]
    assert row["status"] == "error" and row["errorMessage"] is None
    log = read_log(api, row["deploymentId"])
    assert " api Pulling" in log and "Error response from daemon" in log
    assert log.endswith("Error: ❌ Docker command failed\n\nError occurred ❌, check the logs for details.\n")


def test_three_queued_deploys_run_fifo_one_at_a_time(api: httpx.Client, dokploy_standin: StandIn) -> None:
    compose = create_compose(api, slow_file(2, "q"))
    cid = compose["composeId"]
    api.post("/api/compose.deploy", json={"composeId": cid, "title": "queued-1"})
    api.post("/api/compose.deploy", json={"composeId": cid, "title": "queued-2"})
    redeploy = api.post("/api/compose.redeploy", json={"composeId": cid, "title": "queued-3"}).json()
    assert redeploy["message"] == "Redeployment queued"
    queue = api.get("/api/deployment.queueList").json()
    assert [(j["data"]["titleLog"], j["state"]) for j in queue] == [
        ("queued-3", "waiting"),
        ("queued-2", "waiting"),
        ("queued-1", "active"),
    ]
    assert [j["data"]["type"] for j in queue] == ["redeploy", "deploy", "deploy"]
    dokploy_standin.wait_idle()
    rows = deployments(api, cid)
    assert [r["title"] for r in rows] == ["queued-3", "queued-2", "queued-1"]
    assert all(r["status"] == "done" for r in rows)
    oldest_first = list(reversed(rows))
    for earlier, later in itertools.pairwise(oldest_first):
        assert later["startedAt"] >= earlier["finishedAt"]
    assert api.get("/api/deployment.queueList").json() == []


def test_stop_and_start_change_status_and_containers(api: httpx.Client, dokploy_standin: StandIn) -> None:
    compose = create_compose(api, TWO_SERVICES)
    cid = compose["composeId"]
    api.post("/api/compose.deploy", json={"composeId": cid})
    dokploy_standin.wait_idle()
    assert api.post("/api/compose.stop", json={"composeId": cid}).json() is True
    assert api.get("/api/compose.one", params={"composeId": cid}).json()["composeStatus"] == "idle"
    assert {c.status for c in containers(compose["appName"])} == {"exited"}
    assert api.post("/api/compose.start", json={"composeId": cid}).json() is True
    assert api.get("/api/compose.one", params={"composeId": cid}).json()["composeStatus"] == "done"
    assert {c.status for c in containers(compose["appName"])} == {"running"}


def test_redeploy_reuses_containers_and_is_titled_rebuild(
    api: httpx.Client, dokploy_standin: StandIn
) -> None:
    compose = create_compose(api, TWO_SERVICES)
    cid = compose["composeId"]
    api.post("/api/compose.deploy", json={"composeId": cid})
    dokploy_standin.wait_idle()
    before = {c.id for c in containers(compose["appName"])}
    api.post("/api/compose.redeploy", json={"composeId": cid})
    dokploy_standin.wait_idle()
    newest = deployments(api, cid)[0]
    assert (newest["title"], newest["status"]) == ("Rebuild deployment", "done")
    assert {c.id for c in containers(compose["appName"])} == before
    assert " Container " in read_log(api, newest["deploymentId"]) and "Running" in read_log(
        api, newest["deploymentId"]
    )


@pytest.mark.dokploy_rejections
def test_never_deployed_stop_and_start_fail_like_dokploy(api: httpx.Client) -> None:
    compose = create_compose(api, TWO_SERVICES)
    for proc in ("compose.stop", "compose.start"):
        response = api.post(f"/api/{proc}", json={"composeId": compose["composeId"]})
        assert response.status_code == 500
        assert response.json()["message"] == "Command execution failed: spawn /bin/sh ENOENT"


def test_only_the_ten_newest_deployments_are_kept(api: httpx.Client, dokploy_standin: StandIn) -> None:
    compose = create_compose(api, BROKEN_YAML)
    for n in range(12):
        api.post("/api/compose.deploy", json={"composeId": compose["composeId"], "title": f"d{n}"})
    dokploy_standin.wait_idle()
    rows = deployments(api, compose["composeId"])
    assert [r["title"] for r in rows] == [f"d{n}" for n in range(11, 1, -1)]


def test_unhealthy_dependency_fails_and_leaves_containers(
    api: httpx.Client, dokploy_standin: StandIn
) -> None:
    compose = create_compose(api, UNHEALTHY_FILE)
    api.post("/api/compose.deploy", json={"composeId": compose["composeId"]})
    dokploy_standin.wait_idle()
    row = deployments(api, compose["composeId"])[0]
    log = read_log(api, row["deploymentId"])
    assert row["status"] == "error"
    assert f"dependency failed to start: container {compose['appName']}-db-1 is unhealthy" in log
    assert {c.labels["com.docker.compose.service"] for c in containers(compose["appName"])} == {"db", "api"}


def test_deploy_log_and_files_match_capture(api: httpx.Client, dokploy_standin: StandIn) -> None:
    capture = load_capture("deployment.logfile--deploy-ok")
    source = load_capture("compose.update--composeFile")["request"]["body"]["composeFile"]
    compose = create_compose(api, source, name="capdemo")
    api.post("/api/compose.deploy", json={"composeId": compose["composeId"]})
    dokploy_standin.wait_idle()
    row = deployments(api, compose["composeId"])[0]
    expected_log = capture["content"].replace("capdemo-qiqp6p", compose["appName"])
    assert read_log(api, row["deploymentId"]) == expected_log
    assert row["logPath"].startswith(
        str(dokploy_standin.base_dir / "logs" / compose["appName"] / compose["appName"])
    )
    code = dokploy_standin.base_dir / "compose" / compose["appName"] / "code"
    assert (code / "docker-compose.yml").read_text() == capture["written_files"]["docker-compose.yml"]
    env = (code / ".env").read_text()
    assert env.startswith(f'APP_NAME="{compose["appName"]}"\nCOMPOSE_PROJECT_NAME="{compose["appName"]}"\n')


def test_domain_labels_reach_the_container(api: httpx.Client, dokploy_standin: StandIn) -> None:
    compose = create_compose(api, TWO_SERVICES)
    domain = api.post(
        "/api/domain.create",
        json={
            "host": "api.capdemo.localhost",
            "port": 8080,
            "https": False,
            "certificateType": "none",
            "composeId": compose["composeId"],
            "serviceName": "api",
            "domainType": "compose",
            "path": "/",
        },
    ).json()
    api.post("/api/compose.deploy", json={"composeId": compose["composeId"]})
    dokploy_standin.wait_idle()
    [api_container] = [
        c for c in containers(compose["appName"]) if c.labels["com.docker.compose.service"] == "api"
    ]
    captured = load_capture("docker-inspect--compose-container-api-with-domain")["docker_inspect"][0]
    key = f"capdemo-qiqp6p-{captured_key(captured)}"
    mine = f"{compose['appName']}-{domain['uniqueConfigKey']}"
    expected = {
        k.replace(key, mine): v.replace(key, mine)
        for k, v in captured["Config"]["Labels"].items()
        if k.startswith("traefik.")
    }
    assert {k: v for k, v in api_container.labels.items() if k.startswith("traefik.")} == expected
    assert set(api_container.attrs["NetworkSettings"]["Networks"]) == {
        "dokploy-network",
        f"{compose['appName']}_default",
    }


def captured_key(inspect: dict[str, Any]) -> str:
    rule = next(k for k in inspect["Config"]["Labels"] if k.endswith(".rule"))
    return rule.split("capdemo-qiqp6p-")[1].split("-web")[0]
