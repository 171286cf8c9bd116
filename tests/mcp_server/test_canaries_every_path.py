"""Every output path over the canary corpus, on a real stack (issue 12, item 3).

A compose stack deployed through the Dokploy stand-in on the real engine carries canary secrets in
its environment, its Dokploy env, its health-check commands (`curl -u admin:<canary>`), command
flags (`--requirepass <canary>`), labels and logs (two processes print every line of
tests/data/canaries.yaml). Then every tool (taken from the server's own list, so a new tool cannot
be forgotten), every resource and resource template, every prompt, error paths that echo their
input or name something unknown, the human confirmation text, and the CLI commands run against it.
No canary may come back, in structured content or in text: every canary contains "CANARY".
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
import yaml
from mcp import Client

from mcp_server.redaction import MASK
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import OPENAPI_FILE, free_port
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client
from tests.test_redaction_corpus import corpus_log

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine

# Canaries of the stack itself (the corpus brings its own in the logs).
ENV_PW = "CANARY-e2e-env-5b1f"
APP_KEY = "base64:CANARYe2eAppKey9c4d0123456789abcdef="
DB_URL_PW = "CANARY-e2e-dburl-77aa"
DOKPLOY_ENV = "CANARY-e2e-dkenv-3c2e"
HEALTH_PW = "CANARY-e2e-hc-91d0"
PROBE_PW = "CANARY-e2e-probe-4e7f"
REQUIREPASS = "CANARY-e2e-rp-0a6b"
REQUIREPASS_ARG = "CANARY-e2e-rplist-8d2c"
LABEL_TOKEN = "CANARY-e2e-label-12fe"
BASICAUTH = "CANARY-e2e-basic-6f3a"
ARGUMENT = "CANARY-e2e-arg-2b9c"  # in hostile arguments, always in a secret's shape (`password=…`)

CANARY_TOKEN = re.compile(r"[\w+/=-]*CANARY[\w+/=-]*")
# The corpus as a log, decoded by the container so the compose file does not carry it verbatim.
LOG_B64 = base64.b64encode(("\n".join(corpus_log()) + "\n").encode()).decode()
LABELS = {
    **fx.LABELS,
    "com.example.api-token": LABEL_TOKEN,
    "traefik.http.middlewares.canaries.basicauth.users": f"admin:$$apr1$${BASICAUTH}",
}


def stack() -> str:
    """api: healthy, prints the corpus; cache: unhealthy, its probe prints a curl -u command, it
    runs with --requirepass; worker: prints the corpus and exits 3 (an `exited` signal)."""
    common = {"image": fx.BUSYBOX, "init": True, "labels": LABELS}
    services = {
        "api": {
            **common,
            "command": ["sh", "-c", f"echo {LOG_B64} | base64 -d; exec sleep 3600"],
            "environment": {
                "DB_PASSWORD": ENV_PW,
                "APP_KEY": APP_KEY,
                "DATABASE_URL": f"mysql://root:{DB_URL_PW}@db/x",
            },
            "healthcheck": {
                "test": [
                    "CMD-SHELL",
                    f"curl -fsS -u admin:{HEALTH_PW} http://localhost/ || true",
                ],
                "interval": "1s",
                "retries": 3,
            },
        },
        "cache": {
            **common,
            "command": [
                "sh",
                "-c",
                f"echo cache starting --requirepass {REQUIREPASS}; exec sleep 3600",
                "cache-server",
                "--requirepass",
                REQUIREPASS_ARG,
            ],
            "healthcheck": {
                "test": [
                    "CMD-SHELL",
                    f"echo probe: curl -u admin:{PROBE_PW} http://localhost/health; exit 1",
                ],
                "interval": "1s",
                "retries": 1,
            },
        },
        "worker": {**common, "command": ["sh", "-c", f"echo {LOG_B64} | base64 -d; exit 3"]},
    }
    return yaml.safe_dump({"services": services}, sort_keys=False, width=100_000)


class Deployed:
    """The stack on the engine: ids and names the calls need."""

    def __init__(self, compose_id: str, app: str, containers: dict[str, str], deployment_id: str) -> None:
        self.compose_id = compose_id
        self.app = app
        self.containers = containers  # service -> container name
        self.deployment_id = deployment_id


@pytest.fixture(scope="module")
def deployed(api: fx.StandInAPI, engine: docker.DockerClient) -> Iterator[Deployed]:
    compose_id, app = api.deployed_compose(
        "canaries", stack(), env=f"SECRET_KEY={DOKPLOY_ENV}\nAPP_KEY={APP_KEY}\nPLAIN_SETTING={DOKPLOY_ENV}x"
    )
    found = engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={app}"})
    containers = {c.labels["com.docker.compose.service"]: c.name for c in found}
    assert set(containers) == {"api", "cache", "worker"}, containers
    [newest, *_] = api.get("deployment.allByCompose", composeId=compose_id)
    yield Deployed(compose_id, app, containers, newest["deploymentId"])


@pytest.fixture
def settings(make_settings: Callable[..., Settings], act_standin: Any) -> Settings:
    return make_settings(act_standin)


class Outputs:
    """Everything the server or the CLI answered, labelled by where it came from."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.seen.append((where, text))

    def add_result(self, where: str, result: Any) -> None:
        """A tool, resource or prompt result: structured content and every text block."""
        self.add(where, json.dumps(result.model_dump(mode="json", by_alias=True), ensure_ascii=False))

    def leaks(self) -> list[str]:
        """Where a canary came back, with each distinct canary and what stood before it."""
        found = []
        for where, text in self.seen:
            for canary in dict.fromkeys(CANARY_TOKEN.findall(text)):
                at = text.find(canary)
                found.append(f"{where}: …{text[max(0, at - 60) : at]}{canary}")
        return found


async def call_tool(client: Client, out: Outputs, tool: str, args: dict[str, Any]) -> Any:
    """Call a tool whatever happens; an exception's text is an output too."""
    try:
        result = await client.call_tool(tool, args)
    except Exception as exc:  # the error text a client sees is what is checked
        out.add(f"{tool}({args}) raised", f"{type(exc).__name__}: {exc}")
        return None
    out.add_result(f"{tool}({json.dumps(args)[:120]})", result)
    return result


def tool_calls(d: Deployed) -> dict[str, list[dict[str, Any]]]:
    """Arguments for every tool: normal calls (act tools as dry runs), error paths that echo a
    hostile argument shaped like a secret, and unknown names (their errors list what exists)."""
    app, api_c = d.app, d.containers["api"]
    secret_arg = f"password={ARGUMENT}"
    url_arg = f"mysql://root:{ARGUMENT}@db/x"
    return {
        "list_inventory": [{}],
        "active_signals": [{}, {"app_name": app}, {"app_name": secret_arg}],
        "service_status": [{"app_name": app}, {"app_name": app, "service": "cache"},
                           {"app_name": app, "service": "nope"}, {"app_name": app, "service": secret_arg}],
        "compose_health": [{"app_name": app}, {"app_name": url_arg}],
        "compose_graph": [{"app_name": app, "include_file": True}, {"app_name": app, "service": "api"},
                          {"app_name": "nope"}, {"app_name": secret_arg}],
        "read_logs": [{"app_name": app, "service": "api"}, {"app_name": app, "service": "worker"},
                      {"app_name": app, "service": "api", "mode": "raw", "tail": 300},
                      {"container": d.containers["worker"], "mode": "raw", "tail": 300},
                      {"container": "nope"}, {"container": secret_arg},
                      {"app_name": app, "service": "api", "since": f"token {ARGUMENT}"}],
        "container_stats": [{"app_name": app, "service": "api"}, {"container": url_arg}],
        "recent_events": [{"minutes": 30, "app_name": app}],
        "stats_history": [{"app_name": app, "service": "api"}, {"app_name": secret_arg}],
        "deployment_history": [{"app_name": app}, {"app_name": "nope"}, {"app_name": secret_arg}],
        "deployment_log": [{"deployment_id": d.deployment_id}, {"deployment_id": secret_arg}],
        "disk_usage": [{}],
        "check_domain": [{"host": "localhost", "https": False, "connect_to": f"127.0.0.1:{free_port()}"},
                         {"host": url_arg}, {"host": "localhost", "path": f"/?token={ARGUMENT}"}],
        "dokploy_call": [
            {"operation": "compose.one", "input": {"composeId": d.compose_id}},
            {"operation": "compose.getConvertedCompose", "input": {"composeId": d.compose_id}},
            {"operation": "compose.loadServices", "input": {"composeId": d.compose_id, "type": "cache"}},
            {"operation": "compose.readLogs",
             "input": {"composeId": d.compose_id, "containerId": api_c, "tail": 300, "since": "all"}},
            {"operation": "deployment.readLogs", "input": {"deploymentId": d.deployment_id}},
            {"operation": "docker.getConfig", "input": {"containerId": api_c}},
            {"operation": "compose.onee", "input": {"composeId": secret_arg}},
            {"operation": "compose.one", "input": {"composeId": secret_arg}},
        ],
        "exec_diagnostic": [{"container": d.containers["cache"], "command": "ps aux"},
                            {"container": api_c, "command": f"echo {secret_arg}"}],
        "deploy": [{"app_name": app, "dry_run": True}, {"app_name": secret_arg, "dry_run": True}],
        "restart_service": [{"app_name": app, "service": "api", "dry_run": True}],
        "rollback": [{"app_name": app, "dry_run": True}],
        "set_memory_limit": [{"app_name": app, "service": "api", "memory": "64m", "dry_run": True},
                             {"app_name": app, "service": "api", "memory": secret_arg, "dry_run": True}],
        "start_compose": [{"app_name": app, "dry_run": True}],
        "stop_compose": [{"app_name": app, "dry_run": True}],
        "prune": [{"what": ["containers"], "dry_run": True, "label": f"com.docker.compose.project={app}"},
                  {"what": ["containers"], "dry_run": True, "label": secret_arg}],
    }  # fmt: skip


async def wait_for_signals(client: Client, app: str) -> list[dict[str, Any]]:
    """The detectors' signals on this stack once the unhealthy probe and the exit are seen."""
    signals: list[dict[str, Any]] = []
    with anyio.fail_after(90):
        while {s["kind"] for s in signals} < {"unhealthy", "exited"}:
            await anyio.sleep(0.5)
            result = await client.call_tool("active_signals", {"app_name": app})
            signals = (result.structured_content or {}).get("signals", [])
    return signals


@contextlib.asynccontextmanager
async def watching(settings: Settings, app: str) -> AsyncIterator[Client]:
    """A client of a server whose detectors already see the stack's unhealthy probe and exit."""
    async with Client(build_server(settings, run_detectors=True), raise_exceptions=True) as client:
        signals = await wait_for_signals(client, app)
        assert any(s["kind"] == "exited" and s["evidence"] for s in signals)
        yield client


async def test_every_tool_keeps_the_canaries_in(settings: Settings, deployed: Deployed) -> None:
    out = Outputs()
    calls = tool_calls(deployed)
    async with watching(settings, deployed.app) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert not tools - set(calls), f"tools without a canary check: {sorted(tools - set(calls))}"
        for tool, arg_sets in calls.items():
            for args in arg_sets:
                await call_tool(client, out, tool, args)
    # the secrets were there and were masked (the checks below are not vacuous)
    for where in ("active_signals({}", 'read_logs({"app_name"', 'dokploy_call({"operation": "compose.one"'):
        assert any(w.startswith(where) and MASK in text for w, text in out.seen), where
    assert len(out.seen) > 40
    assert not out.leaks(), "canaries leaked:\n" + "\n".join(out.leaks())


async def test_every_resource_and_prompt_keeps_the_canaries_in(
    settings: Settings, deployed: Deployed
) -> None:
    out = Outputs()
    async with watching(settings, deployed.app) as client:
        await call_tool(
            client, out, "read_logs", {"app_name": deployed.app, "service": "api"}
        )  # an audit row
        resources = [str(r.uri) for r in (await client.list_resources()).resources]
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        filled = {
            "runbook://{name}": ["runbook://unhealthy"],
            "dokploy://compose/{compose_id}/file": [f"dokploy://compose/{deployed.compose_id}/file"],
        }
        assert not set(templates) - set(filled), f"templates without a check: {set(templates) - set(filled)}"
        for uri in [*resources, *[u for t in templates for u in filled[t]]]:
            out.add_result(uri, await client.read_resource(uri))
        prompt_args = {"app_name": deployed.app, "service": "api", "incident": f"token={ARGUMENT} leaked"}
        for prompt in (await client.list_prompts()).prompts:
            wanted = {a.name: prompt_args[a.name] for a in prompt.arguments or []}
            out.add_result(f"prompt {prompt.name}", await client.get_prompt(prompt.name, wanted))
    signals = next(text for where, text in out.seen if where == "infraguardian://signals")
    assert "unhealthy" in signals and MASK in signals
    assert not out.leaks(), "canaries leaked:\n" + "\n".join(out.leaks())


async def test_resource_and_prompt_errors_keep_the_canaries_in(
    settings: Settings, deployed: Deployed
) -> None:
    """Unknown names and hostile arguments: the error a client sees may name what exists, never a
    secret it was sent. (These errors leave as JSON-RPC errors, not as results, so whatever cleans
    results must clean them too.)"""
    out = Outputs()
    async with Client(build_server(settings, run_detectors=False), raise_exceptions=True) as client:
        for uri in (
            "runbook://nope",
            f"runbook://token={ARGUMENT}",
            "dokploy://compose/nope/file",
            f"dokploy://compose/password={ARGUMENT}/file",
        ):
            try:
                out.add_result(uri, await client.read_resource(uri))
            except Exception as exc:  # the error text a client sees is what is checked
                out.add(f"{uri} raised", f"{type(exc).__name__}: {exc}")
        for prompt in (await client.list_prompts()).prompts:
            try:
                await client.get_prompt(prompt.name, {"app_name": f"password={ARGUMENT}"})
            except Exception as exc:  # a missing argument: the error text is checked
                out.add(f"prompt {prompt.name} without arguments raised", f"{type(exc).__name__}: {exc}")
    assert len(out.seen) == 7
    assert not out.leaks(), "canaries leaked:\n" + "\n".join(out.leaks())


async def test_admin_exec_and_the_confirmation_text_keep_the_canaries_in(
    make_settings: Callable[..., Settings], act_standin: Any, deployed: Deployed
) -> None:
    """`ps aux` shows the cache process's --requirepass; the human is asked with the target's
    details. Neither may show a canary."""
    out = Outputs()
    asked: list[str] = []
    settings = make_settings(act_standin, safety={"mode": "admin"})
    async with act_client(settings, human="accept", asked=asked) as client:
        result = await call_tool(
            client, out, "exec_diagnostic", {"container": deployed.containers["cache"], "command": "ps aux"}
        )
        assert result is not None and not result.is_error, result
        assert "cache-server" in json.dumps(result.structured_content)  # the command line is shown
    out.add("confirmation asked", "\n".join(asked))
    assert asked and not out.leaks(), "canaries leaked:\n" + "\n".join(out.leaks())


def run_cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=180,
        check=False,
    )


def test_cli_commands_keep_the_canaries_in(
    act_standin: Any, api: fx.StandInAPI, engine: docker.DockerClient, deployed: Deployed, tmp_path: Path
) -> None:
    env = {
        "DOKPLOY_URL": act_standin.url,
        "DOKPLOY_API_KEY": act_standin.api_key,
        "INFRAGUARDIAN_STATE_DIR": str(tmp_path / "state"),
        "INFRAGUARDIAN_DOKPLOY_OPENAPI_FILE": str(OPENAPI_FILE),
    }
    logs = engine.containers.get(deployed.containers["worker"]).logs(timestamps=True).decode()
    assert "CANARY" in logs  # the container really printed the corpus
    (tmp_path / "worker.log").write_text(logs)
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text(api.compose(deployed.compose_id)["composeFile"])
    api_id = engine.containers.get(deployed.containers["api"]).id
    out = Outputs()
    commands = [
        ["status"],
        ["status", "--json"],
        ["digest", str(tmp_path / "worker.log")],
        ["digest", "--json", str(tmp_path / "worker.log")],
        ["graph", str(compose_file)],
        ["graph", "--json", str(compose_file)],
        ["dokploy", "call", "compose.one", f"composeId={deployed.compose_id}"],
        ["dokploy", "call", "compose.getConvertedCompose", f"composeId={deployed.compose_id}"],
        ["dokploy", "call", "docker.getConfig", f"containerId={api_id}"],
        ["dokploy", "call", "compose.one", f"composeId=password={ARGUMENT}"],
    ]
    for command in commands:
        done = run_cli(*command, env=env)
        out.add(" ".join(command[:3]) + " (stdout)", done.stdout)
        out.add(" ".join(command[:3]) + " (stderr)", done.stderr)
    piped = run_cli("digest", "-", env=env, stdin=logs)
    out.add("digest - (stdin)", piped.stdout + piped.stderr)
    status = out.seen[0][1]
    assert deployed.app in status and deployed.containers["cache"] in status  # names are shown
    # --reveal still shows the secrets: the same call without it is a real check
    revealed = run_cli(
        "dokploy", "call", "compose.one", f"composeId={deployed.compose_id}", "--reveal", env=env
    )
    assert DOKPLOY_ENV in revealed.stdout
    assert not out.leaks(), "canaries leaked:\n" + "\n".join(out.leaks())
