"""Start and stop a Dokploy stand-in: `async with StandIn() as s`, or `s.start()` / `s.stop()` from sync code.

The server is uvicorn on a pre-bound socket (port 0 = a free port), so `url` is known at once.
`teardown()` removes every compose project, swarm service, network and volume the instance created
(for tests); a normal stop leaves them running, like stopping Dokploy leaves your apps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Coroutine, Generator
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from .app import DokployApp
from .compose_runner import down_project, remove_stack
from .routers.databases import start_database_service
from .state import DB_KINDS, Row
from .world import DEFAULT_OPENAPI_PATH, DOKPLOY_VERSION, Rejection, StandInConfig, World

T = TypeVar("T")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without signal handling: the host process (pytest, a tool) keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class StandIn:
    """A local HTTP server that behaves like Dokploy v0.30.2 (see the package docstring)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_dir: str | Path | None = None,
        openapi_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        version: str = DOKPLOY_VERSION,
        service_labels: dict[str, str] | None = None,
        handle_signals: bool = False,
    ) -> None:
        self.api_key = api_key or secrets.token_urlsafe(32)
        self._own_base_dir = base_dir is None
        base = Path(base_dir) if base_dir is not None else Path(tempfile.mkdtemp(prefix="dokploy-standin-"))
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Nagle + the client's delayed ACK add ~40 ms to every small response; Node (and so Dokploy)
        # disables Nagle, so must we (accepted sockets inherit the option on Linux)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((host, port))
        self._sock.listen(2048)  # accept into the backlog at once: `url` is usable before uvicorn is up
        self.host = host
        self.port = int(self._sock.getsockname()[1])
        config = StandInConfig(
            api_key=self.api_key,
            base_dir=base,
            openapi_path=Path(openapi_path) if openapi_path else DEFAULT_OPENAPI_PATH,
            version=version,
            public_url=self.url,
            service_labels=dict(service_labels or {}),
        )
        self.world = World(config)
        self._handle_signals = handle_signals
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._expected_rejections: int | None = 0
        self._expect_unimplemented = False

    # -- addresses ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:41234` (the API is under `/api`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        """Headers that authenticate a client (`x-api-key`)."""
        return {"x-api-key": self.api_key}

    @property
    def base_dir(self) -> Path:
        return self.world.config.base_dir

    # -- rejection bookkeeping (for the pytest fixture) ----------------------------------------
    @property
    def rejections(self) -> list[Rejection]:
        """Requests real Dokploy would have refused (bad path, method, content type, input...)."""
        return list(self.world.rejections)

    def expect_rejections(self, count: int | None = None) -> None:
        """Declare that this test sends bad requests on purpose (exactly `count`, or any number)."""
        self._expected_rejections = count

    def expect_unimplemented(self) -> None:
        """Declare that this test calls procedures the stand-in does not implement (501)."""
        self._expect_unimplemented = True

    def problems(self) -> list[str]:
        """What the pytest fixture reports at teardown: unexpected rejections, 501s, stand-in crashes."""
        out: list[str] = []
        found = self.world.rejections
        expected = self._expected_rejections
        if expected == 0 and found:
            out += [f"request real Dokploy would reject: {r.describe()}" for r in found]
        elif expected is not None and expected != 0 and len(found) != expected:
            out.append(
                f"expected {expected} rejected requests, got {len(found)}: "
                + "; ".join(r.describe() for r in found)
            )
        if self.world.unimplemented and not self._expect_unimplemented:
            out += [f"procedure not implemented by the stand-in: {name}" for name in self.world.unimplemented]
        out += [f"stand-in crashed in {error}" for error in self.world.procedure_errors]
        return out

    # -- async lifecycle -----------------------------------------------------------------
    def _make_server(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self._asgi(),
            lifespan="on",
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=True,
        )
        return uvicorn.Server(config) if self._handle_signals else _EmbeddedServer(config)

    def _asgi(self) -> DokployApp:
        return DokployApp(self.world)

    async def astart(self) -> StandIn:
        """Serve on the running event loop; returns once requests are accepted."""
        self._loop = asyncio.get_running_loop()
        self._server = self._make_server()
        self._task = self._loop.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("dokploy stand-in stopped during start-up")
            await asyncio.sleep(0.005)
        return self

    async def astop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._task = None

    async def __aenter__(self) -> StandIn:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()

    async def serve_forever(self) -> None:
        """Run until the process gets SIGINT/SIGTERM (the CLI)."""
        self._loop = asyncio.get_running_loop()
        self._server = self._make_server()
        await self._server.serve(sockets=[self._sock])

    # -- thread lifecycle (sync callers) ----------------------------------------------------
    def start(self, timeout: float = 10.0) -> StandIn:
        """Serve from a background thread; returns once requests are accepted."""
        self._thread = threading.Thread(target=self._thread_main, name="dokploy-standin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not (self._server is not None and self._server.started):
            if self._thread_error is not None or not self._thread.is_alive():
                raise RuntimeError(f"dokploy stand-in failed to start: {self._thread_error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dokploy stand-in did not start within {timeout}s")
            time.sleep(0.005)
        return self

    def _thread_main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._server = self._make_server()
            await self._server.serve(sockets=[self._sock])

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start()
            self._thread_error = exc

    def stop(self, timeout: float = 30.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 300.0) -> T:
        """Run a coroutine on the server's loop from another thread."""
        if self._loop is None or self._thread is None:
            coro.close()
            raise RuntimeError("stand-in not started with start(); use the async method instead")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- helpers for tests ---------------------------------------------------------------
    async def aseed_database(
        self,
        kind: str,
        *,
        image: str = "ig/busybox:test",
        command: str = "sleep 3600",
        name: str | None = None,
        environment_id: str | None = None,
    ) -> Row:
        """Create a database row and its running swarm service, as if `<kind>.deploy` had pulled online."""
        if kind not in DB_KINDS:
            raise ValueError(f"unknown database kind {kind!r}; expected one of {', '.join(DB_KINDS)}")
        db = self.world.db
        if environment_id is None:
            _, env = db.add_project(f"seed-{kind}", None, "")
            environment_id = env["environmentId"]
        row = db.add_database(
            kind,
            {
                "name": name or f"seed-{kind}",
                "appName": name or f"seed-{kind}",
                "environmentId": environment_id,
                "dockerImage": image,
                "databaseName": "app",
                "databaseUser": "app",
                "databasePassword": "secret123",
                "databaseRootPassword": "rootsecret123",
            },
        )
        row["command"] = command
        row["stopGracePeriodSwarm"] = 1_000_000_000  # busybox ignores SIGTERM; keep stops quick
        await start_database_service(self.world, kind, row)
        return dict(row)

    def seed_database(self, kind: str, **kwargs: Any) -> Row:
        """Sync form of `aseed_database` (stand-in started with `start()`)."""
        return self._run(self.aseed_database(kind, **kwargs))

    async def await_idle(self) -> None:
        """Until the deployment queue is empty."""
        if self.world.queue is not None:
            await self.world.queue.wait_idle()

    def wait_idle(self, timeout: float = 300.0) -> None:
        self._run(self.await_idle(), timeout)

    # -- teardown ----------------------------------------------------------------------
    async def ateardown(self) -> None:
        """Remove every Docker object this instance created, and its base dir if it made one."""
        world = self.world
        if not (world.compose_projects or world.swarm_services):
            world.close()
            if self._own_base_dir:
                shutil.rmtree(world.config.base_dir, ignore_errors=True)
            return
        for app_name in sorted(world.compose_projects):
            await down_project(world, app_name, volumes=True, stop_timeout=0)
            await world.in_thread(_remove_project_leftovers, world, app_name)
            await world.in_thread(remove_stack, world, app_name)
            await world.in_thread(_remove_network, world, app_name)
        await world.in_thread(_remove_services, world, sorted(world.swarm_services))
        world.compose_projects.clear()
        world.swarm_services.clear()
        world.close()
        if self._own_base_dir:
            shutil.rmtree(world.config.base_dir, ignore_errors=True)

    def teardown(self) -> None:
        """Sync teardown; call after `stop()` (it runs its own event loop)."""
        asyncio.run(self.ateardown())
        with contextlib.suppress(OSError):
            self._sock.close()

    @contextlib.contextmanager
    def serving(self) -> Generator[StandIn, None, None]:
        """Started for the block; then stopped and torn down (every stack it deployed removed)."""
        self.start()
        try:
            yield self
        finally:
            self.stop()
            self.teardown()


def _remove_project_leftovers(world: World, app_name: str) -> None:
    """What `compose down` left of a project: a container the engine failed to stop ("tried to kill
    container, but did not receive an exit event") survives `down`; force-remove it, then the
    project's volumes and networks. Raises if a container or volume is still there after 30 s, so a leak is never silent."""
    import docker.errors

    client = world.docker()
    label = f"com.docker.compose.project={app_name}"
    deadline = time.monotonic() + 30
    while True:
        left = client.containers.list(all=True, filters={"label": label})
        for container in left:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True, v=True)
        volumes = client.volumes.list(filters={"label": label})
        for volume in volumes:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                volume.remove(force=True)
        if not left and not volumes:
            for network in client.networks.list(filters={"label": label}):
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    network.remove()
            return
        if time.monotonic() > deadline:
            names = [c.name for c in left] + [v.name for v in volumes]
            raise RuntimeError(f"could not remove what is left of {app_name}: {', '.join(names)}")
        time.sleep(0.5)


def _remove_network(world: World, name: str) -> None:
    import docker.errors

    for network in world.docker().networks.list(names=[name]):
        if network.name == name:
            with contextlib.suppress(docker.errors.APIError):
                network.remove()


def _remove_services(world: World, names: list[str]) -> None:
    """`service rm`, then force-remove leftover task containers and the data volumes."""
    import docker.errors

    client = world.docker()
    for name in names:
        with contextlib.suppress(docker.errors.NotFound):
            client.services.get(name).remove()
    deadline = time.monotonic() + 30
    for name in names:
        # Swarm removes a service's tasks asynchronously, and a task that was starting when the
        # service went away can still create its container (and with it the data volume) after a
        # first look. So: clear task containers until two looks in a row find none, then the volume.
        label = f"com.docker.swarm.service.name={name}"
        quiet_looks = 0
        while quiet_looks < 2 and time.monotonic() < deadline:
            containers = client.containers.list(all=True, filters={"label": label})
            quiet_looks = 0 if containers else quiet_looks + 1
            for container in containers:
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    container.remove(force=True)
            time.sleep(0.2)
        while True:
            try:
                client.volumes.get(f"{name}-data").remove(force=True)
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
