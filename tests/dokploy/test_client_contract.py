"""Contract tests: the real Dokploy client against the Dokploy stand-in (and so the real engine).

Every typed method is exercised here, with a sample of generic calls, every error class the
stand-in can produce, retries and deploy_and_wait. The stand-in validates each request against
Dokploy's OpenAPI document and fails the test on one real Dokploy would reject.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
import docker
import pytest
import yaml

from mcp_server.dokploy import (
    DeployProgress,
    DokployClient,
    DokployTimeoutError,
    NotFoundError,
    ServerError,
    SnapshotStore,
    UnauthorizedError,
    UnreachableError,
    ValidationError,
    deploy_and_wait,
    snapshot_compose,
)
from standins.dokploy.server import StandIn
from tests.conftest import SHARED, free_port

pytestmark = pytest.mark.anyio
LABEL = {"ig.test": "dokploy-client"}
BUSYBOX = "ig/busybox:test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(dokploy_standin: StandIn, tmp_path: Path) -> AsyncIterator[DokployClient]:
    c = await DokployClient.connect(
        dokploy_standin.url, dokploy_standin.api_key, cache_dir=tmp_path / "openapi", backoff_initial_s=0.01
    )
    try:
        yield c
    finally:
        await c.aclose()


def small_compose(cmd: str = "sleep 3600") -> str:
    return yaml.safe_dump(
        {
            "services": {
                "db": {
                    "image": BUSYBOX,
                    "command": ["sh", "-c", cmd],
                    "init": True,
                    "mem_limit": "32m",
                    "labels": LABEL,
                    "healthcheck": {"test": ["CMD-SHELL", "true"], "interval": "1s", "retries": 3},
                },
                "api": {
                    "image": BUSYBOX,
                    "command": ["sh", "-c", cmd],
                    "init": True,
                    "labels": LABEL,
                    "depends_on": {"db": {"condition": "service_healthy"}},
                    "environment": {"DATABASE_URL": "postgres://app:pw@db:5432/app"},
                },
            }
        },
        sort_keys=False,
    )


async def new_compose(client: DokployClient, name: str, compose_file: str) -> dict:
    _, env = await client.project_create(f"proj-{name}")
    return await client.call(
        "compose.create",
        name=name,
        appName=name,
        environmentId=env.environment_id,
        sourceType="raw",
        composeType="docker-compose",
        composeFile=compose_file,
    )


async def test_operation_table_comes_from_the_panel_and_is_cached(
    dokploy_standin: StandIn, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    async with await DokployClient.connect(
        dokploy_standin.url, dokploy_standin.api_key, cache_dir=cache
    ) as first:
        assert len(first.operations) == 597
        assert first.stats["settings.getOpenApiDocument"]["calls"] == 1
    assert [p.name for p in cache.iterdir()] == ["v0.30.2.json"]
    async with await DokployClient.connect(
        dokploy_standin.url, dokploy_standin.api_key, cache_dir=cache
    ) as second:
        assert "settings.getOpenApiDocument" not in second.stats  # read from the per-version cache
        assert await second.version() == "v0.30.2"


async def test_platform_reads(client: DokployClient) -> None:
    assert await client.health() == {"status": "ok"}
    assert await client.servers() == []
    project, env = await client.project_create("inventory", description="contract")
    assert env.name == "production" and env.is_default
    assert project.project_id in [p.project_id for p in await client.project_all()]
    one = await client.project_one(project.project_id)
    assert one.name == "inventory" and one.environments[0].environment_id == env.environment_id
    assert (await client.environment_one(env.environment_id)).project_id == project.project_id
    envs = await client.environments_by_project(project.project_id)
    assert [e.name for e in envs] == ["production"]
    assert await client.environments_by_project("unknownproject0000000") == []  # Dokploy: [] not 404
    assert await client.docker_containers() is not None  # the placeholder row is dropped
    health = await client.docker_server_health()
    assert "containers" in health and "resources" in health
    events = await client.docker_events(minutes=5)
    assert isinstance(events.events, list) and events.fetched_at
    assert (await client.validate_domain("app.example.invalid"))["isValid"] is False


@pytest.mark.docker
async def test_compose_lifecycle_through_the_client(client: DokployClient) -> None:
    created = await new_compose(client, "shop", small_compose())
    cid, app = created["composeId"], created["appName"]
    assert app.startswith("shop-") and len(app) == len("shop-") + 6
    assert await client.compose_load_services(cid, "fetch") == ["db", "api"]

    steps: list[DeployProgress] = []
    result = await deploy_and_wait(
        client, "compose", cid, title="contract", poll_s=0.2, on_progress=steps.append
    )
    assert result.ok and result.deployment.status == "done" and result.log_tail is None
    assert steps[0].phase == "queued" and steps[-1].phase == "finished"
    assert result.deployment.title == "contract"

    compose = await client.compose_one(cid)
    assert compose.compose_status == "done" and compose.app_name == app
    rows = await client.deployments_by_compose(cid)
    assert rows[0].deployment_id == result.deployment.deployment_id
    log = await client.deployment_logs(rows[0].deployment_id, tail=200)
    assert "docker compose" in log or "Docker Compose" in log

    containers = {c["name"]: c for c in await client.docker_containers_by_app(app, "docker-compose")}
    api_name = f"{app}-api-1"
    assert set(containers) == {f"{app}-db-1", api_name}
    inspect = await client.docker_container_config(api_name)
    assert inspect is not None and inspect["Config"]["Labels"]["com.docker.compose.project"] == app
    assert await client.docker_container_config("nosuchcontainer") is None  # Dokploy: empty 200
    assert isinstance(await client.compose_read_logs(cid, api_name, tail=10), str)
    await client.docker_restart_container(api_name)
    overview = {s.app_name: s for s in await client.overview_services()}
    assert overview[app].type == "compose" and overview[app].status == "done"
    assert await client.deployment_queue() == []
    assert await client.domains_by_compose(cid) == []

    assert await client.compose_stop(cid) is True
    assert (await client.compose_one(cid)).compose_status == "idle"
    assert await client.compose_start(cid) is True
    redeploy = await deploy_and_wait(client, "compose", cid, redeploy=True, poll_s=0.2)
    assert redeploy.ok and redeploy.deployment.title == "Rebuild deployment"
    assert len(await client.deployments_by_compose(cid)) == 2
    await client.call("compose.delete", composeId=cid, deleteVolumes=False)


@pytest.mark.docker
async def test_failed_deploy_returns_the_log_tail_and_snapshot_rolls_back(
    client: DokployClient, tmp_path: Path
) -> None:
    created = await new_compose(client, "web", small_compose())
    cid = created["composeId"]
    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    assert (await deploy_and_wait(client, "compose", cid, poll_s=0.2)).ok

    good = await snapshot_compose(client, store, cid, reason="before update")
    updated = await client.compose_update(cid, composeFile="services:\n  api: [broken\n")
    assert updated is not None and "broken" in updated.compose_file
    failed = await deploy_and_wait(client, "compose", cid, poll_s=0.2)
    assert not failed.ok and failed.deployment.status == "error"
    assert failed.log_tail and "Error occurred" in failed.log_tail
    assert (await client.compose_one(cid)).compose_status == "error"

    # compose rollback, which Dokploy lacks: put the snapshotted file back and redeploy
    await client.compose_update(cid, composeFile=good.compose_file, env=good.env or "")
    back = await deploy_and_wait(client, "compose", cid, redeploy=True, poll_s=0.2)
    assert back.ok and (await client.compose_one(cid)).compose_file == good.compose_file
    assert await client.compose_update("doesnotexist000000000", name="x") is None  # Dokploy: empty 200
    store.close()
    await client.call("compose.delete", composeId=cid, deleteVolumes=False)


@pytest.mark.docker
async def test_real_template_deploys_through_the_client_with_labels(client: DokployClient) -> None:
    source = yaml.safe_load(
        (SHARED / "corpora" / "dokploy-templates" / "bookstack" / "docker-compose.yml").read_text()
    )
    for name, svc in source["services"].items():
        svc.update(
            image=BUSYBOX, command=["sh", "-c", "sleep 3600"], init=True, labels=LABEL, mem_limit="48m"
        )
        svc.pop("ports", None)
        assert name in ("bookstack", "bookstack-db")
    created = await new_compose(client, "bookstack", yaml.safe_dump(source, sort_keys=False))
    cid, app = created["composeId"], created["appName"]
    await client.compose_update(
        cid, env="DOMAIN=books.example.test\nDB_PASSWORD=s3cret-canary\nAPP_KEY=base64:abc"
    )
    result = await deploy_and_wait(client, "compose", cid, poll_s=0.2)
    assert result.ok, result.log_tail
    engine = docker.from_env()
    try:
        found = engine.containers.list(filters={"label": f"com.docker.compose.project={app}"})
        by_service = {c.labels["com.docker.compose.service"]: c for c in found}
        assert set(by_service) == {"bookstack", "bookstack-db"}
        app_c = by_service["bookstack"]
        assert app_c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert app_c.attrs["HostConfig"]["Memory"] == 48 * 1024 * 1024
        assert "DB_HOST=bookstack-db" in app_c.attrs["Config"]["Env"]
        assert "APP_URL=http://books.example.test" in app_c.attrs["Config"]["Env"]
    finally:
        engine.close()
    await client.call("compose.delete", composeId=cid, deleteVolumes=True)


@pytest.mark.docker
async def test_application_lifecycle(client: DokployClient, dokploy_standin: StandIn) -> None:
    _, env = await client.project_create("apps")
    app = await client.call("application.create", name="worker", environmentId=env.environment_id)
    aid, app_name = app["applicationId"], app["appName"]
    await client.call(
        "application.saveDockerProvider",
        applicationId=aid,
        dockerImage=BUSYBOX,
        username=None,
        password=None,
        registryUrl=None,
    )
    assert await client.application_update(aid, command="sleep 3600", memoryLimit="33554432") is True
    assert await client.application_reload(aid, app_name) is True  # creates the swarm service, no pull
    one = await client.application_one(aid)
    assert one.docker_image == BUSYBOX and one.memory_limit == "33554432"
    stopped = await client.application_stop(aid)  # the row as it was before the stop
    assert stopped.application_id == aid and stopped.application_status == "done"
    assert (await client.application_one(aid)).application_status == "idle"
    started = await client.application_start(aid)
    assert started.application_id == aid and started.application_status == "idle"

    failed = await deploy_and_wait(client, "application", aid, poll_s=0.2)  # docker pull: offline
    assert not failed.ok and failed.log_tail
    redeployed = await deploy_and_wait(client, "application", aid, redeploy=True, poll_s=0.2)
    assert redeployed.ok
    assert [d.status for d in await client.deployments_by_application(aid)][:2] == ["done", "error"]
    assert isinstance(await client.application_read_logs(aid, tail=5), str)
    assert await client.domains_by_application(aid) == []
    points = await client.rollback_points(aid)
    assert len(points) == 2 and all(p["rollback"] is None for p in points)  # no rollback registry offline
    with pytest.raises(ValidationError):  # Dokploy wraps rollback's "not found" as 400
        await client.rollback("norollback0000000000")
    await client.call("application.delete", applicationId=aid)


@pytest.mark.docker
async def test_databases(client: DokployClient, dokploy_standin: StandIn) -> None:
    row = await anyio.to_thread.run_sync(
        lambda: dokploy_standin.seed_database("postgres", name="pg-contract")
    )
    pid = row["postgresId"]
    db = await client.database_one("postgres", pid)
    assert db.app_name.startswith("pg-contract-") and db.id_for("postgres") == pid and db.kind == "postgres"
    stopped = await client.database_stop("postgres", pid)  # Dokploy's answer: the row before the stop
    assert (stopped.kind, stopped.id_for("postgres"), stopped.application_status) == ("postgres", pid, "done")
    assert (await client.database_one("postgres", pid)).application_status == "idle"
    started = await client.database_start("postgres", pid)
    assert (started.id_for("postgres"), started.application_status) == (pid, "idle")
    assert (await client.database_one("postgres", pid)).application_status == "done"
    assert await client.database_reload("postgres", pid, db.app_name) is True
    with pytest.raises(NotFoundError, match="not found"):
        await client.database_one("redis", "doesnotexist000000000")


@pytest.mark.dokploy_rejections  # the wrong key is refused on purpose
async def test_errors_from_the_server(client: DokployClient, dokploy_standin: StandIn) -> None:
    with pytest.raises(NotFoundError, match="Compose not found"):
        await client.compose_one("doesnotexist000000000")
    with pytest.raises(ServerError, match="No such container"):
        await client.docker_restart_container("no-such-container")
    async with await DokployClient.connect(
        dokploy_standin.url, "wrong-key", openapi_file=SHARED / "dokploy" / "openapi.json"
    ) as bad:
        with pytest.raises(UnauthorizedError, match="rateLimitEnabled"):
            await bad.project_all()


async def test_bad_input_is_refused_before_sending(client: DokployClient) -> None:
    before = sum(v["calls"] for v in client.stats.values())
    with pytest.raises(ValidationError, match=r"unknown Dokploy operation 'compose\.onee'.*compose\.one"):
        await client.call("compose.onee", composeId="x")
    with pytest.raises(
        ValidationError, match=r"name: Invalid input: expected string, received number.*expected fields"
    ):
        await client.call("project.create", name=123)
    with pytest.raises(
        ValidationError, match=r"composeId: Invalid input: expected string, received undefined"
    ):
        await client.call("compose.deploy", {})
    with pytest.raises(ValidationError, match="multipart"):
        await client.call("application.dropDeployment", applicationId="a")
    assert sum(v["calls"] for v in client.stats.values()) == before  # nothing was sent


@pytest.mark.dokploy_rejections
async def test_server_side_validation_is_reported_with_issues(client: DokployClient) -> None:
    # bypass the client's own check to see Dokploy's answer to bad input
    with pytest.raises(ValidationError) as exc:
        await client.transport.request("project.create", "POST", {"name": 5})
    assert exc.value.issues[0]["path"] == ["name"] and exc.value.status == 400


@pytest.mark.docker
async def test_deploy_and_wait_times_out_with_a_clear_error(client: DokployClient) -> None:
    created = await new_compose(client, "slow", small_compose())
    with pytest.raises(DokployTimeoutError, match="after 0s"):
        await deploy_and_wait(client, "compose", created["composeId"], timeout_s=0.0, poll_s=0.05)
    await client.call("compose.delete", composeId=created["composeId"], deleteVolumes=False)


async def test_unreachable_dokploy(tmp_path: Path) -> None:
    with pytest.raises(UnreachableError, match="check DOKPLOY_URL"):
        await DokployClient.connect(
            f"http://127.0.0.1:{free_port()}", "k", max_retries=1, backoff_initial_s=0.01
        )
