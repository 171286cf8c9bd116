"""Applications and databases as swarm services `<appName>` on the real engine."""

from __future__ import annotations

import re
import time
from typing import Any

import docker
import httpx
import pytest

from standins.dokploy.server import StandIn
from standins.dokploy.state import DB_KINDS

from .replay import load_capture

pytestmark = pytest.mark.docker


def environment(api: httpx.Client) -> str:
    env: str = api.post("/api/project.create", json={"name": "svc"}).json()["environment"]["environmentId"]
    return env


def docker_app(
    api: httpx.Client, command: str | None = "sleep 3600", memory: str | None = "67108864"
) -> dict[str, Any]:
    app: dict[str, Any] = api.post(
        "/api/application.create",
        json={"name": "capsvc", "appName": "igstandin-svc", "environmentId": environment(api)},
    ).json()
    assert (
        api.post(
            "/api/application.saveDockerProvider",
            json={
                "applicationId": app["applicationId"],
                "dockerImage": "ig/busybox:test",
                "username": None,
                "password": None,
                "registryUrl": None,
            },
        ).json()
        is True
    )
    if command or memory:
        update = {"applicationId": app["applicationId"], "command": command, "memoryLimit": memory}
        assert api.post("/api/application.update", json=update).json() is True
    return app


def service_spec(name: str) -> dict[str, Any]:
    client = docker.from_env()
    try:
        spec: dict[str, Any] = client.api.inspect_service(name)["Spec"]
        return spec
    finally:
        client.close()


def normalized(spec: dict[str, Any]) -> dict[str, Any]:
    """A Spec without what differs between hosts: name, test labels, the network's id."""
    out = {k: v for k, v in spec.items() if k not in ("Name", "Labels")}
    out["TaskTemplate"] = {**spec["TaskTemplate"], "Networks": len(spec["TaskTemplate"]["Networks"])}
    return out


@pytest.mark.parametrize(
    ("capture", "command", "memory"),
    [
        ("docker-inspect--application-service", "sleep 3600", "67108864"),
        ("docker-inspect--application-service-created-by-reload", None, None),
    ],
)
def test_application_service_spec_matches_capture(
    api: httpx.Client, capture: str, command: str | None, memory: str | None
) -> None:
    app = docker_app(api, command, memory)
    reload = {"applicationId": app["applicationId"], "appName": app["appName"]}
    assert api.post("/api/application.reload", json=reload).json() is True
    captured = load_capture(capture)["docker_service_inspect"][0]["Spec"]
    assert normalized(service_spec(app["appName"])) == normalized(captured)
    one = api.get("/api/application.one", params={"applicationId": app["applicationId"]}).json()
    assert one["applicationStatus"] == "done"


def test_application_deploy_fails_at_pull_offline_and_redeploy_runs(
    api: httpx.Client, dokploy_standin: StandIn
) -> None:
    app = docker_app(api)
    assert api.post("/api/application.deploy", json={"applicationId": app["applicationId"]}).content == b""
    dokploy_standin.wait_idle()
    [failed] = api.get("/api/deployment.all", params={"applicationId": app["applicationId"]}).json()
    log = api.get("/api/deployment.readLogs", params={"deploymentId": failed["deploymentId"]}).json()
    assert failed["status"] == "error" and failed["title"] == "Manual deployment"
    assert log.startswith("Initializing deployment\nPulling ig/busybox:test\nError response from daemon: ")
    assert log.endswith("\n❌ Pulling image failed\n\nError occurred ❌, check the logs for details.\n")
    assert api.post("/api/application.redeploy", json={"applicationId": app["applicationId"]}).content == b""
    dokploy_standin.wait_idle()
    rebuilt = api.get("/api/deployment.all", params={"applicationId": app["applicationId"]}).json()[0]
    assert (rebuilt["title"], rebuilt["status"]) == ("Rebuild deployment", "done")
    assert service_spec(app["appName"])["TaskTemplate"]["ContainerSpec"]["Command"] == ["sleep", "3600"]


def test_application_stop_start_scale_and_return_the_row_before(api: httpx.Client) -> None:
    app = docker_app(api)
    api.post(
        "/api/application.reload", json={"applicationId": app["applicationId"], "appName": app["appName"]}
    )
    stopped = api.post("/api/application.stop", json={"applicationId": app["applicationId"]}).json()
    assert stopped["applicationStatus"] == "done" and "environment" in stopped
    assert service_spec(app["appName"])["Mode"]["Replicated"]["Replicas"] == 0
    one = api.get("/api/application.one", params={"applicationId": app["applicationId"]}).json()
    assert one["applicationStatus"] == "idle"
    started = api.post("/api/application.start", json={"applicationId": app["applicationId"]}).json()
    assert started["applicationStatus"] == "idle"
    assert service_spec(app["appName"])["Mode"]["Replicated"]["Replicas"] == 1


def test_application_read_logs_and_delete(api: httpx.Client) -> None:
    app = docker_app(api, command=None, memory=None)
    api.post(
        "/api/application.update",
        json={
            "applicationId": app["applicationId"],
            "command": "sh -c",
            "args": ["echo hello-app; sleep 3600"],
        },
    )
    api.post(
        "/api/application.reload", json={"applicationId": app["applicationId"], "appName": app["appName"]}
    )
    deadline = time.monotonic() + 60
    while "hello-app" not in (
        text := api.get("/api/application.readLogs", params={"applicationId": app["applicationId"]}).json()
    ):
        assert time.monotonic() < deadline, f"service never logged; last: {text!r}"
        time.sleep(0.3)
    assert text.split(" ", 1)[0].endswith("Z")  # --timestamps
    deleted = api.post("/api/application.delete", json={"applicationId": app["applicationId"]}).json()
    assert deleted["appName"] == app["appName"]
    client = docker.from_env()
    try:
        assert client.services.list(filters={"name": app["appName"]}) == []
    finally:
        client.close()
    gone = api.get("/api/application.one", params={"applicationId": app["applicationId"]})
    assert (gone.status_code, gone.json()["message"]) == (404, "Application not found")


def test_application_start_before_any_deploy_is_the_real_500(api: httpx.Client) -> None:
    app = docker_app(api)
    response = api.post("/api/application.start", json={"applicationId": app["applicationId"]})
    assert response.status_code == 500
    name = app["appName"]
    assert response.json()["message"] == (
        f"Command execution failed: Command failed: docker service scale {name}=1 \n"
        f"{name}: Error response from daemon: service {name} not found\n"
    )


def test_rollback_without_a_registry_is_the_real_400(api: httpx.Client) -> None:
    response = api.post("/api/rollback.rollback", json={"rollbackId": "doesnotexist123456789"})
    assert response.status_code == 400
    assert response.json()["message"] == "Error input: Rolling back"
    assert response.json()["data"]["path"] == "rollback.rollback"


def test_seeded_database_lifecycle(api: httpx.Client, dokploy_standin: StandIn) -> None:
    row = dokploy_standin.seed_database("postgres", command="sleep 3600")
    name, pid = row["appName"], row["postgresId"]
    spec = service_spec(name)
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Args"] == ["-c", "sleep 3600"]
    assert "POSTGRES_USER=app" in container["Env"]
    assert container["Mounts"] == [
        {"Type": "volume", "Source": f"{name}-data", "Target": "/var/lib/postgresql/data"}
    ]
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"
    one = api.get("/api/postgres.one", params={"postgresId": pid}).json()
    assert one["applicationStatus"] == "done" and one["mounts"][0]["volumeName"] == f"{name}-data"
    assert api.post("/api/postgres.stop", json={"postgresId": pid}).json()["applicationStatus"] == "done"
    assert service_spec(name)["Mode"]["Replicated"]["Replicas"] == 0
    assert api.post("/api/postgres.start", json={"postgresId": pid}).json()["applicationStatus"] == "idle"
    assert service_spec(name)["Mode"]["Replicated"]["Replicas"] == 1
    assert api.post("/api/postgres.reload", json={"postgresId": pid, "appName": name}).json() is True
    services = api.get("/api/overview.services").json()
    assert [(s["type"], s["status"]) for s in services] == [("postgres", "done")]
    assert api.post("/api/postgres.remove", json={"postgresId": pid}).json()["appName"] == name
    gone = api.get("/api/postgres.one", params={"postgresId": pid})
    assert (gone.status_code, gone.json()["message"]) == (404, "Postgres not found")


@pytest.mark.parametrize("kind", DB_KINDS)
def test_database_deploy_pulls_and_fails_offline(api: httpx.Client, kind: str) -> None:
    data = {
        "name": f"{kind}-db",
        "environmentId": environment(api),
        "dockerImage": "ig/busybox:test",
        "databaseName": "app",
        "databaseUser": "app",
        "databasePassword": "secret123",
    }
    schema_keys = {"postgres", "mysql", "mariadb"}
    if kind not in schema_keys:
        data.pop("databaseName")
    if kind == "redis":
        data.pop("databaseUser")
    created = api.post(f"/api/{kind}.create", json=data)
    assert created.status_code == 200, created.text
    row = created.json()
    assert re.fullmatch(rf"{kind}-[a-z0-9 -]+-[a-z0-9]{{6}}", row["appName"])  # no appName given: generated
    assert row["applicationStatus"] == "idle"
    response = api.post(f"/api/{kind}.deploy", json={f"{kind}Id": row[f"{kind}Id"]})
    assert response.status_code == 500
    assert response.json()["message"].startswith(f"Error on deploy {kind}Error: Error response from daemon")
    one = api.get(f"/api/{kind}.one", params={f"{kind}Id": row[f"{kind}Id"]}).json()
    assert one["applicationStatus"] == "error"
