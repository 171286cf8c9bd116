"""What one `restart_service` call costs: Docker Engine API requests, Dokploy calls, time.

Each round builds a fresh server (`build_server`, detectors off, fresh state dir so budgets start
empty) with an in-process `mcp.Client` and makes ONE `restart_service` call. Counted:
- Docker: every HTTP request the server's own Docker client sends to the engine (method + path,
  ids and names replaced by placeholders). Requests of the Dokploy stand-in, which runs in this
  process and talks to the same engine, are not counted: only clients made by `DockerHost` are.
- Dokploy: the client's per-operation counters (`DokployClient.stats()`).

Scenarios:
1. `dokploy`: a two-service compose deployed by the Dokploy stand-in (as the act tests do),
   restart `service=api`.
2. `plain-service`: no Dokploy; a container labelled as compose project `bench-plain`, service
   `web`, restart `service=web`.
3. `plain-container`: the same container named with `container=`.

The count depends on how many containers the engine holds (a whole-host listing inspects each),
so that number is printed too.

Run: uv run python bench/bench_restart_cost.py [--rounds N]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import docker
import docker.errors
import requests
from docker.api.client import APIClient
from mcp import Client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mcp_server.docker_ops.host import DockerHost  # noqa: E402
from mcp_server.dokploy import DokployClient  # noqa: E402
from mcp_server.server import build_server  # noqa: E402
from mcp_server.settings import Settings  # noqa: E402

try:  # the stand-in is moving to a top-level package (issue 13)
    from standins.dokploy.server import StandIn  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - before the move
    from mcp_server.dokploy_standin.server import StandIn  # type: ignore[no-redef,import-not-found,unused-ignore]

OPENAPI_FILE = REPO.parent / "shared" / "dokploy" / "openapi.json"
BUSYBOX = "ig/busybox:test"
LABELS = {"ig.test": "bench-restart"}
NO_BACKOFF = {"max_actions": 3, "window_s": 1800}

# --- counting -------------------------------------------------------------------------------

_counts: collections.Counter[str] = collections.Counter()
_counts_lock = threading.Lock()
_dokploy_clients: list[DokployClient] = []
_ID = re.compile(r"^[0-9a-f]{12,64}$")


def normalise(method: str, url: str) -> str:
    """`POST /containers/{name}/restart`: API version dropped, names and ids as placeholders."""
    path = requests.utils.urlparse(url).path
    path = re.sub(r"^/v\d+\.\d+", "", path)
    parts = path.split("/")
    for i, part in enumerate(parts):
        if i > 0 and parts[i - 1] in ("containers", "services", "tasks", "networks", "images") and part:
            if part not in ("json", "create", "prune"):
                parts[i] = "{name}"
        elif _ID.match(part):
            parts[i] = "{id}"
    return f"{method} {'/'.join(parts)}"


def install_counters() -> None:
    """Count requests of clients made by DockerHost (marked), and remember Dokploy clients."""
    original_send = requests.Session.send
    original_new_client = DockerHost.new_client
    original_from_settings = DokployClient.from_settings.__func__  # type: ignore[attr-defined]

    def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        if getattr(self, "_ig_counted", False):
            with _counts_lock:
                _counts[normalise(request.method, request.url)] += 1
        return original_send(self, request, **kwargs)

    def new_client(self: DockerHost, *, timeout: float | None = None) -> docker.DockerClient:
        client = original_new_client(self, timeout=timeout)
        client.api._ig_counted = True  # type: ignore[attr-defined]
        # creating the client asked for the API version before the mark: count it too
        with _counts_lock:
            _counts["GET /version (client start)"] += 1
        return client

    async def from_settings(cls: type[DokployClient], settings: Settings) -> DokployClient:
        client = await original_from_settings(cls, settings)
        _dokploy_clients.append(client)
        return client

    APIClient.send = send  # type: ignore[method-assign,assignment]
    DockerHost.new_client = new_client  # type: ignore[method-assign]
    DokployClient.from_settings = classmethod(from_settings)  # type: ignore[method-assign,assignment]


def dokploy_calls() -> collections.Counter[str]:
    total: collections.Counter[str] = collections.Counter()
    for client in _dokploy_clients:
        for op, row in client.stats.items():
            total[op] += int(row.get("calls", 0))
    return total


# --- scenarios ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def dokploy_compose() -> AsyncIterator[tuple[StandIn, str]]:
    """A stand-in and a deployed two-service compose (db, api), as tests/mcp_server/act_fixtures."""
    import httpx
    import yaml

    standin = StandIn(service_labels=LABELS)
    standin.start()
    http = httpx.AsyncClient(base_url=standin.url, headers=standin.headers, timeout=120)
    try:
        env = (await http.post("/api/project.create", json={"name": "bench-restart"})).json()
        env_id = env["environment"]["environmentId"]
        service = {"image": BUSYBOX, "command": ["sh", "-c", "sleep 3600"], "init": True, "labels": LABELS}
        text = yaml.safe_dump({"services": {"db": service, "api": {**service, "depends_on": ["db"]}}})
        row = (
            await http.post(
                "/api/compose.create",
                json={
                    "name": "restart",
                    "appName": f"bench-restart-{secrets.token_hex(3)}",
                    "environmentId": env_id,
                    "sourceType": "raw",
                    "composeType": "docker-compose",
                    "composeFile": text,
                },
            )
        ).json()
        (await http.post("/api/compose.deploy", json={"composeId": row["composeId"]})).raise_for_status()
        await anyio.to_thread.run_sync(standin.wait_idle)
        yield standin, row["appName"]
    finally:
        await http.aclose()
        standin.stop()
        await standin.ateardown()


@contextlib.contextmanager
def plain_container(engine: docker.DockerClient) -> Iterator[str]:
    name = f"bench-plain-web-{secrets.token_hex(3)}"
    labels = {**LABELS, "com.docker.compose.project": "bench-plain", "com.docker.compose.service": "web"}
    container = engine.containers.run(
        BUSYBOX, ["sh", "-c", "sleep 3600"], name=name, labels=labels, detach=True, init=True
    )
    try:
        yield name
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def settings_for(state: Path, standin: StandIn | None) -> Settings:
    values: dict[str, Any] = {
        "state_dir": state,
        "dokploy_openapi_file": OPENAPI_FILE,
        "safety": {"budgets": {"restart": NO_BACKOFF}},
    }
    if standin is not None:
        values.update(dokploy_url=standin.url, dokploy_api_key=standin.api_key)
    return Settings(**values)


@dataclasses.dataclass
class Run:
    """One restart_service call: its time, what it sent, and how many containers the engine held."""

    seconds: float
    docker: collections.Counter[str]
    dokploy: collections.Counter[str]
    containers_on_engine: int


async def one_restart(engine: docker.DockerClient, settings: Settings, args: dict[str, Any]) -> Run:
    """One restart_service call on a fresh server (its Dokploy client connects during the call)."""
    server = build_server(settings, run_detectors=False)
    async with Client(server, raise_exceptions=True) as client:
        containers = len(engine.containers.list(all=True, ignore_removed=True))
        _counts.clear()
        _dokploy_clients.clear()
        started = time.perf_counter()
        result = await client.call_tool("restart_service", args)
        run = Run(time.perf_counter() - started, collections.Counter(_counts), dokploy_calls(), containers)
    if result.is_error or not (result.structured_content or {}).get("ok"):
        raise SystemExit(f"restart_service failed: {result.content}")
    return run


def report(name: str, runs: list[Run]) -> None:
    times = [r.seconds for r in runs]
    last = runs[-1]
    print(
        f"\n## {name}\nengine holds {last.containers_on_engine} containers; {len(runs)} rounds, "
        f"time p50 {statistics.median(times):.2f} s (max {max(times):.2f} s)"
    )
    print(f"Docker requests: {sum(last.docker.values())}   Dokploy calls: {sum(last.dokploy.values())}")
    for key, n in sorted(last.docker.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:4d}  {key}")
    for key, n in sorted(last.dokploy.items()):
        print(f"  {n:4d}  dokploy {key}")


async def rounds_of(
    engine: docker.DockerClient, rounds: int, standin: StandIn | None, args: dict[str, Any]
) -> list[Run]:
    runs = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(await one_restart(engine, settings_for(Path(tmp), standin), args))
    return runs


async def main(rounds: int) -> None:
    install_counters()
    engine = docker.from_env()
    try:
        async with dokploy_compose() as (standin, app_name):
            args = {"app_name": app_name, "service": "api"}
            report(
                "dokploy (compose deployed by the stand-in, service=api)",
                await rounds_of(engine, rounds, standin, args),
            )
        with plain_container(engine) as name:
            args = {"app_name": "bench-plain", "service": "web"}
            report(
                "plain-service (no Dokploy, labelled container, service=web)",
                await rounds_of(engine, rounds, None, args),
            )
            args = {"app_name": "bench-plain", "container": name}
            report(
                "plain-container (no Dokploy, container=<name>)", await rounds_of(engine, rounds, None, args)
            )
    finally:
        engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    anyio.run(main, parser.parse_args().rounds)
