"""The container event stream, including "events stream survives a dockerd restart".

The restart test never touches the shared engine: it starts a second, private dockerd (own
socket, data root, exec root, pid file, and its own network namespace via `unshare --net`, so
its bridge and iptables handling can't disturb the host's docker0), restarts THAT one, and
removes it completely afterwards. Needs root and `dockerd` + `unshare` on PATH (as in CI).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import docker
import docker.errors
import pytest

from mcp_server.docker_ops.events import ContainerEvent, ContainerEventStream, EventItem, StreamNotice
from mcp_server.docker_ops.host import DockerHost

from .dockerops_helpers import LABELS, TEST_IMAGE, run_container, unique

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

STEP_TIMEOUT = 60.0  # generous: only a hang fails this, never slowness


class PrivateDockerd:
    """A throwaway dockerd with all state under /tmp/ig-dockerops-<random>/."""

    def __init__(self) -> None:
        self.root = Path(f"/tmp/ig-dockerops-{secrets.token_hex(4)}")
        self.socket = self.root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.log_path = self.root / "dockerd.log"
        self.namespace = self.root.name  # containerd namespace, in case a system containerd is shared
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        return [
            "unshare",
            "--net",
            "--",
            "dockerd",
            "--host",
            self.url,
            "--data-root",
            str(self.root / "root"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "docker.pid"),
            "--bridge",
            "none",
            "--iptables=false",
            "--ip-masq=false",
            "--containerd-namespace",
            self.namespace,
            "--containerd-plugins-namespace",
            f"{self.namespace}-plugins",
        ]

    def start(self) -> None:
        missing = [tool for tool in ("dockerd", "unshare") if shutil.which(tool) is None]
        assert not missing, f"this test needs {missing} on PATH (and root) to run a private dockerd"
        self.root.mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"private dockerd exited with {self.proc.returncode}: {self.log_tail()}")
            if self.socket.exists() and self._answers():
                return
            if time.monotonic() > deadline:
                pytest.fail(f"private dockerd did not come up: {self.log_tail()}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        client = docker.DockerClient(base_url=self.url, version="1.41", timeout=5)
        try:
            return bool(client.ping())
        except (docker.errors.DockerException, OSError):
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM, like `systemctl stop docker`, and wait for a clean exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STEP_TIMEOUT)

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=60)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else "(no log)"

    def destroy(self) -> None:
        """Stop the daemon, end its leftover children (by pid), unmount and delete every file."""
        self.stop()
        for pid_dir in Path("/proc").iterdir():
            if not pid_dir.name.isdigit():
                continue
            try:
                cmdline = (pid_dir / "cmdline").read_bytes()
            except OSError:
                continue  # the process ended while we looked
            if str(self.root).encode() in cmdline:
                os.kill(int(pid_dir.name), signal.SIGKILL)
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(str(self.root))), reverse=True):
            subprocess.run(["umount", "-l", mount], check=True)
        shutil.rmtree(self.root)
        if Path("/run/containerd/containerd.sock").exists() and shutil.which("ctr"):
            # the daemon used the system containerd: drop the namespaces it created there
            for namespace in (f"{self.namespace}-plugins", self.namespace):
                subprocess.run(["ctr", "namespaces", "remove", namespace], capture_output=True, check=False)


@pytest.fixture
def private_dockerd(docker_client: docker.DockerClient) -> Iterator[PrivateDockerd]:
    daemon = PrivateDockerd()
    try:
        daemon.start()
        image_tar = b"".join(docker_client.images.get(TEST_IMAGE).save(named=True))
        private = daemon.client()
        private.images.load(image_tar)
        private.close()
        yield daemon
    finally:
        daemon.destroy()
    assert not daemon.root.exists()


def run_and_remove(client: docker.DockerClient, name: str) -> str:
    """Run `true` to completion and remove it: events start, die, destroy. Returns the id."""
    container = client.containers.run(
        TEST_IMAGE, ["true"], name=name, labels=LABELS, network_mode="none", detach=True
    )
    container.wait(timeout=STEP_TIMEOUT)
    container.remove()
    return container.id or ""


async def next_item(it: AsyncGenerator[EventItem, None]) -> EventItem:
    with anyio.fail_after(STEP_TIMEOUT):
        return await anext(it)


async def next_events(it: AsyncGenerator[EventItem, None], count: int) -> list[tuple[str, str]]:
    items = [await next_item(it) for _ in range(count)]
    assert all(isinstance(i, ContainerEvent) for i in items), items
    return [(i.action, i.container_id) for i in items if isinstance(i, ContainerEvent)]


def lifecycle(container_id: str) -> list[tuple[str, str]]:
    return [("start", container_id), ("die", container_id), ("destroy", container_id)]


async def test_events_stream_survives_a_dockerd_restart(private_dockerd: PrivateDockerd) -> None:
    daemon = private_dockerd
    stream = ContainerEventStream(DockerHost(daemon.url), backoff_initial=0.2, backoff_max=1.0)
    it = aiter(stream)
    client = daemon.client()
    try:
        connected = await next_item(it)
        assert isinstance(connected, StreamNotice) and connected.kind == "connected"
        before = await anyio.to_thread.run_sync(run_and_remove, client, "ig-dockerops-ev-before")
        assert await next_events(it, 3) == lifecycle(before)

        # 1) the consumer keeps reading while dockerd stops: it sees the disconnect at once, then
        #    the stream retries with backoff until dockerd is back
        await anyio.to_thread.run_sync(daemon.stop)
        disconnected = await next_item(it)
        assert isinstance(disconnected, StreamNotice) and disconnected.kind == "disconnected"
        assert disconnected.resumed_since is not None
        async with anyio.create_task_group() as tg:
            received: list[EventItem] = []

            async def read_one() -> None:
                received.append(await next_item(it))

            tg.start_soon(read_one)
            with anyio.fail_after(STEP_TIMEOUT):
                while True:  # wait for two failed attempts, with a backoff between them
                    if stream.failed_attempts >= 2:
                        break
                    await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(daemon.start)
        [reconnected] = received
        assert isinstance(reconnected, StreamNotice) and reconnected.kind == "reconnected"
        assert reconnected.failed_attempts >= 2 and reconnected.reason
        client = daemon.client()
        after = await anyio.to_thread.run_sync(run_and_remove, client, "ig-dockerops-ev-after")
        after_events = [await next_item(it) for _ in range(3)]
        assert [
            (e.action, e.container_id) for e in after_events if isinstance(e, ContainerEvent)
        ] == lifecycle(after)

        # 2) the consumer pauses across a restart: what happened meanwhile is replayed from the
        #    last delivered event's time, with nothing delivered twice
        await anyio.to_thread.run_sync(daemon.stop)
        await anyio.to_thread.run_sync(daemon.start)
        client = daemon.client()
        during = await anyio.to_thread.run_sync(run_and_remove, client, "ig-dockerops-ev-during")
        disconnected = await next_item(it)
        assert isinstance(disconnected, StreamNotice) and disconnected.kind == "disconnected"
        reconnected = await next_item(it)
        assert isinstance(reconnected, StreamNotice) and reconnected.kind == "reconnected"
        last_delivered = after_events[-1]
        assert isinstance(last_delivered, ContainerEvent)
        assert reconnected.resumed_since == last_delivered.time
        replayed = [await next_item(it) for _ in range(3)]
        assert [(e.action, e.container_id) for e in replayed if isinstance(e, ContainerEvent)] == lifecycle(
            during
        )
        # they happened before the stream reconnected: only `since` can have brought them back
        assert all(isinstance(e, ContainerEvent) and e.time < reconnected.at for e in replayed)

        live = await anyio.to_thread.run_sync(run_and_remove, client, "ig-dockerops-ev-live")
        assert await next_events(it, 3) == lifecycle(live)
    finally:
        await it.aclose()
        client.close()


async def test_oom_and_health_events_on_the_shared_engine(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    stream = ContainerEventStream(host)
    it = aiter(stream)
    oom_name, sick_name = unique("ev-oom"), unique("ev-sick")
    try:
        assert (await next_item(it)).kind == "connected"
        oom = await anyio.to_thread.run_sync(
            lambda: run_container(
                docker_client, oom_name, ["tail", "/dev/zero"], mem_limit="32m", memswap_limit="32m"
            )
        )
        await anyio.to_thread.run_sync(
            lambda: run_container(
                docker_client,
                sick_name,
                ["sleep", "3600"],
                init=True,
                healthcheck={
                    "test": ["CMD", "false"],
                    "interval": 500_000_000,
                    "timeout": 1_000_000_000,
                    "retries": 1,
                },
            )
        )
        mine: dict[str, list[ContainerEvent]] = {oom_name: [], sick_name: []}
        while not (
            any(e.action == "die" for e in mine[oom_name])
            and any(e.action == "health_status" for e in mine[sick_name])
        ):
            item = await next_item(it)
            # other sessions use this engine too: keep only these containers' events
            if isinstance(item, ContainerEvent) and item.container_name in mine:
                mine[item.container_name].append(item)
        oom_actions = [e.action for e in mine[oom_name]]
        assert oom_actions[0] == "start" and oom_actions[-1] == "die" and "oom" in oom_actions
        died = mine[oom_name][-1]
        assert died.exit_code == 137 and died.attributes["ig.test"] == "dockerops"
        assert died.container_id == oom.id
        health = next(e for e in mine[sick_name] if e.action == "health_status")
        assert health.health_status == "unhealthy"
    finally:
        await it.aclose()
        for name in (oom_name, sick_name):
            await anyio.to_thread.run_sync(lambda n=name: docker_client.containers.get(n).remove(force=True))


async def test_a_slow_consumer_resyncs_without_losing_or_repeating_events(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    stream = ContainerEventStream(host, max_backlog=3)
    it = aiter(stream)
    names = [unique("ev-slow"), unique("ev-slow")]
    try:
        assert (await next_item(it)).kind == "connected"
        # six events arrive while nobody reads: the three-slot backlog overflows
        ids = [await anyio.to_thread.run_sync(run_and_remove, docker_client, name) for name in names]
        seen: list[tuple[str, str]] = []
        notices: list[StreamNotice] = []
        while len(seen) < 6:
            item = await next_item(it)
            if isinstance(item, StreamNotice):
                notices.append(item)
            elif item.container_name in names:  # other sessions use this engine too
                seen.append((item.action, item.container_id))
        # exactly once and in order, although the backlog overflowed and the stream resynced
        assert seen == lifecycle(ids[0]) + lifecycle(ids[1])
        assert notices and notices[0].kind == "disconnected"
        assert notices[0].reason and "behind" in notices[0].reason
        # (with a tiny backlog a replay can overflow again, so there can be several rounds)
        assert [n.kind for n in notices[: len(notices) // 2 * 2]] == ["disconnected", "reconnected"] * (
            len(notices) // 2
        )
    finally:
        await it.aclose()
