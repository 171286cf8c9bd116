"""No file reads outside what Dokploy owns (issue 12, item 4), through the MCP server.

- compose_graph reads a compose file from Dokploy's API, or from `<base>/compose/<app>/code`; a
  container label naming a planted file, /etc/shadow, /proc/self/environ, a `..` escape or a
  symlink out is refused and nothing of the file comes back;
- dokploy_call refuses the Dokploy queries that return files or secrets unless the server runs in
  admin mode, sends nothing to Dokploy when it refuses, and redacts what they return in admin mode.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from docker.models.containers import Container
from starlette.responses import Response

from mcp_server.settings import Settings
from standins.dokploy.server import StandIn
from tests.conftest import ScriptedServer
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine, make_container = fx.act_standin, fx.api, fx.engine, fx.make_container

PLANTED_CANARY = "planted-canary-9b4e2d"
ENV_CANARY = "planted-env-canary-61c0"
DISK_CANARY = "disk-pw-canary-2f7a"
CONFIG_FILES = "com.docker.compose.project.config_files"
WHERE = "Compose files are read only from Dokploy's API or from under"


def planted_compose() -> str:
    return yaml.safe_dump(
        {"services": {"thief": {"image": fx.BUSYBOX, "environment": {"LOOT": PLANTED_CANARY}}}}
    )


@pytest.fixture
def dokploy_dir(tmp_path: Path) -> Path:
    """A Dokploy base directory (empty), and a planted compose file and .env outside it."""
    base = tmp_path / "dokploy"
    base.mkdir()
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "docker-compose.yml").write_text(planted_compose())
    (planted / ".env").write_text(f"LOOT={ENV_CANARY}\n")
    return base


def code_dir_of(base: Path, app: str) -> Path:
    return base.resolve() / "compose" / app / "code"


def labelled(make_container: Callable[..., Container], app: str, config_files: str) -> None:
    """A running container that says it belongs to compose project `app`, deployed from `config_files`."""
    make_container(
        labels={
            "com.docker.compose.project": app,
            "com.docker.compose.service": "web",
            CONFIG_FILES: config_files,
        }
    )


def hostile_label(base: Path, app: str, case: str) -> str:
    """The config_files label of each attack; symlinks and escapes are planted inside `base`."""
    code = code_dir_of(base, app)
    code.mkdir(parents=True)
    planted = base.parent / "planted"
    if case == "planted file":
        return str(planted / "docker-compose.yml")
    if case == "dotdot escape":
        return f"{code}/../../../../planted/docker-compose.yml"
    if case == "symlink out":
        (code / "docker-compose.yml").symlink_to(planted / "docker-compose.yml")
        return str(code / "docker-compose.yml")
    if case == "env symlink out":  # a good compose file whose .env links out
        (code / "docker-compose.yml").write_text("services:\n  web:\n    image: ${LOOT}\n")
        (code / ".env").symlink_to(planted / ".env")
        return str(code / "docker-compose.yml")
    return case  # an absolute path elsewhere: /etc/shadow, /proc/self/environ


@pytest.mark.parametrize(
    "case",
    ["planted file", "/etc/shadow", "/proc/self/environ", "dotdot escape", "symlink out", "env symlink out"],
)
async def test_compose_graph_refuses_files_a_label_names_outside_dokploy(
    make_settings: Callable[..., Settings],
    make_container: Callable[..., Container],
    dokploy_dir: Path,
    case: str,
) -> None:
    app = f"{fx.PREFIX}-files-{secrets.token_hex(3)}"
    labelled(make_container, app, hostile_label(dokploy_dir, app, case))
    settings = make_settings(None, dokploy_base_dir=dokploy_dir, safety={"mode": "read-only"})
    async with act_client(settings) as client:
        refused = await call_error(client, "compose_graph", {"app_name": app, "include_file": True})
    code = code_dir_of(dokploy_dir, app)
    assert "refused to read " in refused and f"{WHERE} {code}" in refused, refused
    assert "\n" not in refused
    for canary in (PLANTED_CANARY, ENV_CANARY, "root:"):
        assert canary not in refused


async def test_compose_graph_reads_a_deployed_file_under_dokploys_directory(
    make_settings: Callable[..., Settings], make_container: Callable[..., Container], dokploy_dir: Path
) -> None:
    app = f"{fx.PREFIX}-files-{secrets.token_hex(3)}"
    code = dokploy_dir / "compose" / app / "code"
    code.mkdir(parents=True)
    compose = {
        "services": {
            "db": {"image": "postgres:16", "environment": {"POSTGRES_PASSWORD": "${DB_PW}"}},
            "web": {"image": fx.BUSYBOX, "depends_on": ["db"], "environment": {"PW": DISK_CANARY}},
        }
    }
    (code / "docker-compose.yml").write_text(yaml.safe_dump(compose))
    (code / ".env").write_text(f"DB_PW={DISK_CANARY}\n")
    labelled(make_container, app, str(code / "docker-compose.yml"))
    async with act_client(make_settings(None, dokploy_base_dir=dokploy_dir)) as client:
        graph = await call(client, "compose_graph", {"app_name": app, "include_file": True})
    assert graph["source"] == f"deployed file {code.resolve() / 'docker-compose.yml'}"
    assert graph["start_order"] == ["db", "web"] and "POSTGRES_PASSWORD" in graph["compose_file"]
    assert DISK_CANARY not in json.dumps(graph)


async def test_a_compose_deployed_through_dokploy_still_works(
    make_settings: Callable[..., Settings], act_standin: StandIn, api: fx.StandInAPI
) -> None:
    """Through Dokploy's API, and from the disk by the label Compose really wrote (Dokploy down),
    as long as the base directory is the one Dokploy (here the stand-in) deploys under."""
    compose_id, app = api.deployed_compose(f"files-{secrets.token_hex(3)}")
    base = act_standin.base_dir
    async with act_client(make_settings(act_standin, dokploy_base_dir=base)) as client:
        via_api = await call(client, "compose_graph", {"app_name": app, "include_file": True})
        resource = await client.read_resource(f"dokploy://compose/{compose_id}/file")
    async with act_client(make_settings(None, dokploy_base_dir=base)) as client:
        via_disk = await call(client, "compose_graph", {"app_name": app, "include_file": True})
    async with act_client(make_settings(None, dokploy_base_dir=base.parent / "elsewhere")) as client:
        refused = await call_error(client, "compose_graph", {"app_name": app})
    assert via_api["source"] == "dokploy" and via_api["start_order"] == ["db", "api"]
    deployed = base.resolve() / "compose" / app / "code" / "docker-compose.yml"
    assert via_disk["source"] == f"deployed file {deployed}" and via_disk["start_order"] == ["db", "api"]
    text = resource.contents[0].text  # type: ignore[union-attr]
    assert "keep this comment" in text
    for shown in (json.dumps(via_api), json.dumps(via_disk), text):
        assert "hunter2" not in shown  # the compose file's DATABASE_URL password
    assert f"refused to read '{deployed}'" in refused and WHERE in refused


# -- dokploy_call: file and secret readers ------------------------------------------------------

FILE_CANARY = "canary-file-pw-3c9d71"
SENSITIVE_CALLS = [
    ("docker.readContainerFile", {"containerId": "shop-web-1", "path": "/app/.env"}),
    ("dockerVolume.readVolumeFile", {"volumeName": "shop_data", "path": "config/app.env"}),
    ("settings.readTraefikFile", {"path": "/etc/dokploy/traefik/dynamic/acme.json"}),
    ("settings.readTraefikEnv", {}),
]


def scripted_settings(make_settings: Callable[..., Settings], server: ScriptedServer, mode: str) -> Settings:
    return make_settings(None, dokploy_url=server.url, dokploy_api_key="k" * 32, safety={"mode": mode})


@pytest.mark.parametrize(("operation", "input_"), SENSITIVE_CALLS)
async def test_file_and_secret_readers_need_admin_mode(
    make_settings: Callable[..., Settings], scripted_server: ScriptedServer, operation: str, input_: Any
) -> None:
    args = {"operation": operation, "input": input_}
    for mode in ("read-only", "operate"):
        async with act_client(scripted_settings(make_settings, scripted_server, mode)) as client:
            refused = await call_error(client, "dokploy_call", args)
            rows = await audit_rows(client)
        assert f"read_sensitive needs admin mode but this server runs in {mode} mode" in refused
        assert ("read_sensitive", "refused") in [(r["action"], r["result"]) for r in rows]
    assert scripted_server.received == []  # refused before anything was sent to Dokploy

    content = f"DB_PASSWORD={FILE_CANARY}\nCF_DNS_API_TOKEN={FILE_CANARY}\nLOG_LEVEL=info\n"
    scripted_server.answer(Response(json.dumps(content), media_type="application/json"))
    async with act_client(scripted_settings(make_settings, scripted_server, "admin")) as client:
        done = await call(client, "dokploy_call", args)
        rows = await audit_rows(client)
    assert [r["path"] for r in scripted_server.received] == [f"/api/{operation}"]
    assert done["kind"] == "sensitive_query" and "LOG_LEVEL=info" in done["result"]
    assert FILE_CANARY not in json.dumps(done) and FILE_CANARY not in json.dumps(rows)
    # the audit log (one state directory for the three servers): two refusals, then the read
    audited = [(r["action"], r["result"]) for r in rows if r["action"] == "read_sensitive"]
    assert audited == [("read_sensitive", "refused"), ("read_sensitive", "refused"), ("read_sensitive", "ok")]


async def test_a_secret_reader_through_the_stand_in(
    make_settings: Callable[..., Settings], act_standin: StandIn
) -> None:
    """settings.getWebServerSettings carries Dokploy's SSH private key: a GET, yet admin only.
    Plain queries stay reads in every mode."""
    args: dict[str, Any] = {"operation": "settings.getWebServerSettings", "input": {}}
    async with act_client(make_settings(act_standin, safety={"mode": "operate"})) as client:
        refused = await call_error(client, "dokploy_call", args)
        plain = await call(client, "dokploy_call", {"operation": "project.all", "input": {}})
    async with act_client(make_settings(act_standin, safety={"mode": "admin"})) as client:
        done = await call(client, "dokploy_call", args)
    assert "read_sensitive needs admin mode" in refused
    assert plain["kind"] == "query"
    assert done["kind"] == "sensitive_query" and "sshPrivateKey" in done["result"]
