"""Two watchers on one host and one state store (as two processes would be), on the real engine:
only the lease holder runs detectors, each signal is raised once, and the standby takes over when
the holder stops (given-up lease) or dies (expired lease) without raising anything again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import anyio
import docker
import pytest

from mcp_server.detectors import Signal
from mcp_server.settings import Settings
from mcp_server.watcher import LeaseTiming, SignalReader, SqliteSignalStore, Watcher, host_key
from tests.detectors.helpers import fast_settings, start, unique

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

FAST_LEASE = LeaseTiming(ttl_s=2.0, renew_every_s=0.3)


def watcher_settings(state_dir: Path) -> Settings:
    return Settings(state_dir=state_dir, detectors=fast_settings(enabled=["oom", "exited"]))


async def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    try:
        with anyio.fail_after(timeout_s):
            while not check():  # noqa: ASYNC110 - the state is in another task or process
                await anyio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}") from None


async def stored_signal(reader: SignalReader, name: str, timeout_s: float = 30) -> Signal:
    found: list[Signal] = []

    def seen() -> bool:
        found[:] = [s for s in reader.active_signals() if s.target.container_name == name]
        return bool(found)

    await wait_until(seen, timeout_s, f"a signal about {name}")
    return found[0]


async def test_two_watchers_fire_each_signal_once_and_the_standby_takes_over(
    tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    settings = watcher_settings(tmp_path / "state")
    stores = [SqliteSignalStore.in_state_dir(settings.state_dir) for _ in range(3)]
    first, second = (Watcher(settings, stores[i], timing=FAST_LEASE) for i in range(2))
    reader = SignalReader(stores[2], host_key(settings))
    name = unique("twice")
    try:
        async with anyio.create_task_group() as tg:
            first_scope = anyio.CancelScope()

            async def run_first() -> None:
                with first_scope:
                    await first.run()

            tg.start_soon(run_first)
            await wait_until(lambda: first.engine is not None, 10, "the first watcher to hold the lease")
            tg.start_soon(second.run)
            await wait_until(lambda: second.role == "standing by", 10, "the second watcher to stand by")
            assert first.engine is not None
            await first.engine.wait_connected()

            await start(docker_client, name, ["sh", "-c", "exit 7"])
            raised = await stored_signal(reader, name)
            assert raised.kind == "exited" and raised.evidence["exit_code"] == 7
            await anyio.sleep(3)  # both would have seen the die event and polled the exited container
            assert second.engine is None and second.role == "standing by"
            assert [c.change for c in reader.history(raised.id)] == ["raised"]
            assert reader.running()

            # the holder stops: it gives the lease up and the standby continues from the store
            first_scope.cancel()
            await wait_until(lambda: second.engine is not None, 5, "the standby to take over")
            lease = stores[2].current_lease(host_key(settings))
            assert lease is not None and lease.holder == second.holder
            assert second.engine is not None
            await second.engine.wait_connected()
            await anyio.sleep(3)  # the new engine replays the die event and polls the exited container
            assert [c.change for c in reader.history(raised.id)] == ["raised"]
            [still] = [s for s in reader.active_signals() if s.id == raised.id]
            assert still.first_seen == raised.first_seen and still.last_seen > raised.last_seen
            tg.cancel_scope.cancel()
        released = stores[2].current_lease(host_key(settings))  # the last watcher gave it up
        assert released is not None and released.holder == second.holder and not released.live(time.time())
    finally:
        for store in stores:
            store.close()


async def test_a_standby_takes_over_an_expired_lease_of_a_dead_holder(
    tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """A holder killed mid-watch leaves its lease and its signals; after the lease expires the
    standby takes over, keeps the signals and resolves them by the same rules."""
    settings = watcher_settings(tmp_path / "state")
    store = SqliteSignalStore.in_state_dir(settings.state_dir)
    reader = SignalReader(store, host_key(settings))
    name = unique("dead")
    try:
        # a watcher that will be "killed": no chance to give its lease up
        doomed = Watcher(settings, store, timing=FAST_LEASE)
        async with anyio.create_task_group() as tg:
            tg.start_soon(doomed.run)
            await wait_until(lambda: doomed.engine is not None, 10, "the doomed watcher to watch")
            assert doomed.engine is not None
            await doomed.engine.wait_connected()
            await start(docker_client, name, ["sh", "-c", "exit 3"])
            raised = await stored_signal(reader, name)
            # "kill" it: take the lease back for its holder id after it stops, as a dead process leaves it
            tg.cancel_scope.cancel()
        dead = store.acquire_lease(host_key(settings), doomed.holder, settings.docker_host, FAST_LEASE.ttl_s)

        heir = Watcher(settings, store, timing=FAST_LEASE)
        async with anyio.create_task_group() as tg:
            tg.start_soon(heir.run)
            await wait_until(lambda: heir.role == "standing by", 5, "the heir to stand by")
            assert heir.engine is None
            await wait_until(lambda: heir.engine is not None, FAST_LEASE.ttl_s + 5, "the heir to take over")
            lease = store.current_lease(host_key(settings))
            assert lease is not None and lease.holder == heir.holder and lease.acquired_at >= dead.expires_at
            await anyio.sleep(3)
            assert [c.change for c in reader.history(raised.id)] == ["raised"]
            [kept] = [s for s in reader.active_signals() if s.id == raised.id]
            assert kept.first_seen == raised.first_seen
            tg.cancel_scope.cancel()
    finally:
        store.close()
