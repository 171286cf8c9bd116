"""Exited detector: a real container that exits non-zero and stays down, a real `docker stop` that
is not reported; a reload signal does not hide a crash, a clean exit is not reported (event logic)."""

from __future__ import annotations

from datetime import timedelta

import anyio
import docker
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream

from mcp_server.detectors import DetectorEngine, ManualClock, Severity, SignalChange
from mcp_server.docker_ops.host import DockerHost

from .helpers import T0, fast_settings, logic_engine, make_event, start, unique

pytestmark = pytest.mark.anyio


async def test_a_reload_signal_does_not_hide_a_crash(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = logic_engine(offline_host, clock, enabled=["exited"])
    await engine.handle_event(make_event("kill", T0, signal="SIGHUP"))
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=1), exit_code=3))
    [sig] = engine.active_signals()
    assert sig.kind == "exited" and sig.evidence["exit_code"] == 3
    assert sig.runbook == "exited-nonzero"
    # the engine can't be asked: the detector still reports from the event, and says so
    assert sig.evidence["last_log_lines"][0].startswith("(logs unavailable")


async def test_clean_exit_is_not_reported(offline_host: DockerHost) -> None:
    engine = logic_engine(offline_host, ManualClock(T0), enabled=["exited"])
    await engine.handle_event(make_event("die", T0, exit_code=0))
    assert engine.active_signals() == []


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_a_container_exiting_non_zero_but_not_one_that_was_stopped(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    failed, stopped = unique("fail"), unique("stopped")
    async with DetectorEngine(host, fast_settings(enabled=["exited"])) as engine:
        await engine.wait_connected()
        # sleep as PID 1 ignores SIGTERM: docker stop ends it with SIGKILL (exit 137), as asked
        sleeper = await start(docker_client, stopped, ["sleep", "3600"])
        await anyio.to_thread.run_sync(lambda: sleeper.stop(timeout=0))
        await start(docker_client, failed, ["sh", "-c", "echo disk quota exceeded; exit 3"])
        sig = await engine.wait_for_signal(
            lambda s: s.kind == "exited" and s.target.container_name == failed, 30
        )
        assert sig.runbook == "exited-nonzero" and sig.severity == Severity.critical
        assert sig.evidence["exit_code"] == 3 and sig.evidence["oom_killed"] is False
        assert sig.evidence["restart_policy"] == "no"
        assert sig.evidence["last_log_lines"] == ["stdout: disk quota exceeded"]
        assert f"container {failed} exited with code 3" in sig.summary and "stays down" in sig.summary
        # events are handled in order: the stop came first and was judged a requested stop
        assert not [s for s in engine.active_signals() if s.target.container_name == stopped]


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_the_signal_is_published_before_its_evidence(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    failed, restarted = unique("first"), unique("again")
    async with DetectorEngine(host, fast_settings(enabled=["exited"])) as engine:
        await engine.wait_connected()
        async with engine.subscribe() as changes:
            await start(docker_client, failed, ["sh", "-c", "echo cannot open config; exit 4"])
            raised = await next_change_of(changes, failed)
            # published from the event alone: no logs yet, the restart policy not read yet
            assert raised.change == "raised" and raised.signal.target.container_name == failed
            assert raised.signal.evidence["evidence_pending"] is True
            assert "last_log_lines" not in raised.signal.evidence and raised.signal.evidence["exit_code"] == 4
            assert "reading its restart policy" in raised.signal.summary
            # then completed in place: same signal, logs and restart policy added
            done = await engine.wait_for_signal(lambda s: s.id == raised.signal.id, 30)
            assert "evidence_pending" not in done.evidence and done.first_seen == raised.signal.first_seen
            assert done.evidence["last_log_lines"] == ["stdout: cannot open config"]
            assert done.severity == Severity.critical and "stays down" in done.summary

            # Docker restarts this one: raised critical at once, lowered to a warning by the update
            await start(
                docker_client, restarted, ["sh", "-c", "sleep 1; exit 5"], restart_policy={"Name": "always"}
            )
            first = await next_change_of(changes, restarted)
            second = await next_change_of(changes, restarted)
    assert (first.change, first.signal.severity) == ("raised", Severity.critical)
    assert first.signal.target.container_name == restarted
    assert (second.change, second.signal.severity) == ("updated", Severity.warning)
    assert second.signal.id == first.signal.id and "evidence_pending" not in second.signal.evidence
    assert "restart policy always restarts it" in second.signal.summary


async def next_change_of(changes: MemoryObjectReceiveStream[SignalChange], container: str) -> SignalChange:
    """The next change about `container` (the engine also replays earlier tests' events)."""
    with anyio.fail_after(30):
        async for change in changes:
            if change.signal.target.container_name == container:
                return change
    raise AssertionError(f"the change stream ended before a change about {container}")
