"""OOM detector: a real OOM kill under a 32 MiB limit, and the oom + die 137 event logic."""

from __future__ import annotations

from datetime import timedelta

import anyio
import docker
import pytest

from mcp_server.detectors import DetectorEngine, ManualClock, Severity
from mcp_server.docker_ops.host import DockerHost

from .helpers import T0, MiB, fast_settings, logic_engine, make_event, start, unique

pytestmark = pytest.mark.anyio


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_oom_kill_under_a_32mb_limit(host: DockerHost, docker_client: docker.DockerClient) -> None:
    name = unique("oom")
    async with (
        DetectorEngine(host, fast_settings(enabled=["oom", "exited"])) as engine,
        engine.subscribe() as changes,
    ):
        await engine.wait_connected()
        # dd allocates a 64 MiB buffer and fills it: the kernel kills it at 32 MiB
        await start(
            docker_client,
            name,
            ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
            mem_limit="32m",
            memswap_limit="32m",
        )
        sig = await engine.wait_for_signal(
            lambda s: s.kind == "oom" and s.target.container_name == name and s.severity == Severity.critical,
            30,
        )
        assert sig.runbook == "oom-killed"
        assert sig.evidence["exit_code"] == 137 and sig.evidence["oom_killed"] is True
        assert sig.evidence["memory_limit_bytes"] == 32 * MiB
        assert "OOM-killed" in sig.summary and "32.0 MiB" in sig.summary
        # the same death is not reported again as a plain non-zero exit
        assert not [
            s for s in engine.active_signals() if s.kind == "exited" and s.target.container_name == name
        ]
        # it was published before its evidence was gathered (which completed it in place)
        with anyio.fail_after(5):
            first = await changes.receive()
            while first.signal.id != sig.id:  # the engine also replays earlier tests' events
                first = await changes.receive()
    assert first.change == "raised" and first.signal.id == sig.id
    assert first.signal.evidence["evidence_pending"] is True
    assert "memory_limit_bytes" not in first.signal.evidence


async def test_oom_event_then_die_137_is_one_critical_signal(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = logic_engine(offline_host, clock, enabled=["oom", "exited"])
    await engine.handle_event(make_event("oom", T0))
    [warning] = engine.active_signals()
    assert warning.severity == Severity.warning
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=1), exit_code=137))
    [sig] = engine.active_signals()  # exited stays quiet: exit 137 right after an oom is the OOM kill
    assert sig.id == warning.id and sig.severity == Severity.critical and sig.runbook == "oom-killed"
    assert "OOM" in sig.evidence["explanation"]["meaning"]


async def test_a_kill_is_dated_by_the_engine_on_our_clock_not_by_when_we_saw_it(
    offline_host: DockerHost,
) -> None:
    """Verifying a fix asks whether a kill happened after it: `occurred_at` is the engine's record
    of the kill (its clock 3 s ahead of ours here), while last_seen is when the watcher handled it."""
    clock = ManualClock(T0)
    engine = logic_engine(offline_host, clock, enabled=["oom", "exited"])
    engine.context.engine_clock_offset_s = 3.0
    await engine.handle_event(make_event("oom", T0 + timedelta(seconds=3)))
    [warning] = engine.active_signals()
    assert warning.occurred_at == T0 and warning.last_seen == T0
    clock.advance(5)  # the die is handled late (a busy watcher): the kill is still dated by the engine
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=3.5), exit_code=137))
    [sig] = engine.active_signals()
    assert sig.severity == Severity.critical
    assert sig.occurred_at == T0 + timedelta(seconds=0.5) and sig.last_seen == T0 + timedelta(seconds=5)
