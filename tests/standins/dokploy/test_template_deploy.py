"""A real Dokploy template deployed through the stand-in's HTTP API lands on the engine as written.

`activepieces` (3 services, depends_on service_healthy, restart policies, health checks, named
volumes, ${VAR} interpolation) with every image swapped for the local busybox, which runs a command
that keeps it up. The template has no memory limits: the test adds `mem_limit: 64m` to check it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
import yaml

from standins.dokploy.server import StandIn
from tests.conftest import SHARED

from .scenario import TEST_LABEL, slow_file

pytestmark = pytest.mark.docker

TEMPLATES = Path(os.environ.get("DOKPLOY_TEMPLATES") or SHARED / "corpora" / "dokploy-templates")


def busybox_version(text: str) -> str:
    data = yaml.safe_load(text)
    for name, service in data["services"].items():
        service["image"] = "ig/busybox:test"
        service["command"] = "httpd -f -p 8080" if name == "activepieces" else 'sh -c "sleep 3600"'
        service["init"] = True
        service["mem_limit"] = "64m"
        service["labels"] = {"ig.test": TEST_LABEL}
        if "healthcheck" in service:  # the images' own probes (pg_isready, redis-cli) are not in busybox
            service["healthcheck"].update({"test": ["CMD-SHELL", "true"], "interval": "1s", "timeout": "1s"})
    return str(yaml.safe_dump(data, sort_keys=False))


def test_template_deploys_with_labels_limits_health_and_restart(
    api: httpx.Client, dokploy_standin: StandIn
) -> None:
    source = (TEMPLATES / "activepieces" / "docker-compose.yml").read_text()
    env = api.post("/api/project.create", json={"name": "templates"}).json()["environment"]["environmentId"]
    compose = api.post(
        "/api/compose.create",
        json={
            "name": "activepieces",
            "appName": "igstandin-ap",
            "environmentId": env,
            "sourceType": "raw",
            "composeFile": busybox_version(source),
        },
    ).json()
    cid, app_name = compose["composeId"], compose["appName"]
    api.post(
        "/api/compose.update", json={"composeId": cid, "env": "AP_API_KEY=k-123\nAP_HOST=ap.example.test"}
    )
    api.post("/api/compose.deploy", json={"composeId": cid})
    dokploy_standin.wait_idle()
    [row] = api.get("/api/deployment.allByCompose", params={"composeId": cid}).json()
    log = api.get(
        "/api/deployment.readLogs", params={"deploymentId": row["deploymentId"], "tail": 500}
    ).json()
    assert row["status"] == "done", log
    assert log.index(f"{app_name}-postgres-1  Healthy") < log.index(f"{app_name}-activepieces-1  Started")
    assert log.index(f"{app_name}-redis-1  Healthy") < log.index(f"{app_name}-activepieces-1  Started")

    client = docker.from_env()
    try:
        found = client.containers.list(filters={"label": f"com.docker.compose.project={app_name}"})
        by_service: dict[str, Any] = {c.labels["com.docker.compose.service"]: c.attrs for c in found}
        assert set(by_service) == {"activepieces", "postgres", "redis"}
        for name, attrs in by_service.items():
            assert attrs["State"]["Status"] == "running", name
            assert attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
            assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
            assert attrs["Config"]["Labels"]["ig.test"] == TEST_LABEL
        for name in ("postgres", "redis"):
            health = by_service[name]["Config"]["Healthcheck"]
            assert (health["Test"], health["Interval"], health["Retries"]) == (
                ["CMD-SHELL", "true"],
                10**9,
                3,
            )
        main = by_service["activepieces"]["Config"]
        assert main["Cmd"] == ["httpd", "-f", "-p", "8080"]
        assert "AP_API_KEY=k-123" in main["Env"] and "AP_FRONTEND_URL=https://ap.example.test" in main["Env"]
        volumes = {
            v.name for v in client.volumes.list(filters={"label": f"com.docker.compose.project={app_name}"})
        }
        assert volumes == {f"{app_name}_postgres_data", f"{app_name}_redis_data"}
    finally:
        client.close()

    assert api.get("/api/compose.loadServices", params={"composeId": cid}).json() == [
        "activepieces",
        "postgres",
        "redis",
    ]
    listed = api.get(
        "/api/docker.getContainersByAppNameMatch", params={"appName": app_name, "appType": "docker-compose"}
    ).json()
    assert sorted(c["state"] for c in listed) == ["running", "running", "running"]


def test_teardown_removes_everything_the_standin_created() -> None:
    standin = StandIn(service_labels={"ig.test": TEST_LABEL}).start()
    client = docker.from_env()
    try:
        with httpx.Client(base_url=standin.url, headers=standin.headers, timeout=120) as api:
            env = api.post("/api/project.create", json={"name": "td"}).json()["environment"]["environmentId"]
            compose = api.post(
                "/api/compose.create",
                json={
                    "name": "igstandin-td",
                    "appName": "igstandin-td",
                    "environmentId": env,
                    "sourceType": "raw",
                    "composeFile": slow_file(0, "td"),
                },
            ).json()
            api.post(
                "/api/compose.update", json={"composeId": compose["composeId"], "isolatedDeployment": True}
            )
            api.post("/api/compose.deploy", json={"composeId": compose["composeId"]})
            standin.wait_idle()
            database = standin.seed_database("redis")
        app_name = compose["appName"]
        assert client.containers.list(filters={"label": f"com.docker.compose.project={app_name}"})
        assert client.networks.list(names=[app_name])
        # what `compose down` leaves (here: a container and a volume of the project it does not
        # know; in a lab run, a container the engine failed to kill) is swept too
        project = {"com.docker.compose.project": app_name}
        client.containers.create(
            "ig/busybox:test", ["sleep", "3600"], labels={**project, "ig.test": TEST_LABEL}
        )
        client.volumes.create(labels=project)
    finally:
        standin.stop()
        standin.teardown()
    try:
        assert (
            client.containers.list(all=True, filters={"label": f"com.docker.compose.project={app_name}"})
            == []
        )
        assert client.volumes.list(filters={"label": f"com.docker.compose.project={app_name}"}) == []
        assert [n for n in client.networks.list(names=[app_name]) if n.name == app_name] == []
        assert client.services.list(filters={"name": database["appName"]}) == []
        assert [v for v in client.volumes.list(filters={"name": database["appName"]})] == []
        assert not standin.base_dir.exists()
    finally:
        client.close()
