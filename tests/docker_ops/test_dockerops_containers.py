"""Container details, logs, stats and disk usage on the real engine."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import docker
import pytest

from mcp_server.docker_ops.containers import container_details, container_logs
from mcp_server.docker_ops.disk import disk_usage
from mcp_server.docker_ops.host import ContainerNotFound, DockerHost, DockerUnavailable, InvalidArgument
from mcp_server.docker_ops.stats import container_stats

from .dockerops_helpers import TEST_IMAGE, run_container, unique, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

LOG_SCRIPT = r"""
echo first-line
echo to-stderr >&2
printf 'bin:\000\377\376\033[31mred\033[0m:end\n'
echo last-line
sleep 3600
"""


@pytest.fixture(scope="module")
def chatty(docker_client: docker.DockerClient) -> Iterator[str]:
    name = unique("logs")
    container = run_container(docker_client, name, ["sh", "-c", LOG_SCRIPT], init=True)
    try:
        wait_for(lambda: b"last-line" in container.logs(), what="log lines")
        yield name
    finally:
        container.remove(force=True)


async def test_oom_killed_container_details(host: DockerHost, docker_client: docker.DockerClient) -> None:
    name = unique("oom")
    # `tail /dev/zero` buffers an endless line; with 32 MiB and no swap the kernel kills it
    container = run_container(
        docker_client,
        name,
        ["tail", "/dev/zero"],
        mem_limit="32m",
        memswap_limit="32m",
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 1},
        pids_limit=50,
        nano_cpus=500_000_000,
        mem_reservation="16m",
    )
    try:

        def gave_up() -> bool:  # one OOM, one restart, a second OOM, then on-failure:1 stops
            container.reload()
            return container.attrs["State"]["Status"] == "exited" and container.attrs["RestartCount"] == 1

        wait_for(gave_up, timeout=20, what="the OOM container to exit after its one restart")
        details = await container_details(host, name)
        assert details.status == "exited" and not details.running
        assert details.restart_count == 1
        assert details.exit_code == 137
        assert details.oom_killed is True
        assert details.started_at is not None and details.finished_at is not None
        assert details.finished_at >= details.started_at
        assert details.limits.memory_bytes == 32 * 1024 * 1024
        assert details.limits.memory_swap_bytes == 32 * 1024 * 1024
        assert details.limits.memory_reservation_bytes == 16 * 1024 * 1024
        assert details.limits.nano_cpus == 500_000_000 and details.limits.cpus == 0.5
        assert details.limits.pids_limit == 50
        assert (details.restart_policy.name, details.restart_policy.maximum_retry_count) == ("on-failure", 1)
        assert details.image == TEST_IMAGE
        assert details.health is None and details.health_status is None
        assert details.command == ["tail", "/dev/zero"]
    finally:
        container.remove(force=True)


async def test_unknown_container_names_itself(host: DockerHost) -> None:
    missing = unique("missing")
    with pytest.raises(ContainerNotFound) as err:
        await container_details(host, missing)
    assert missing in str(err.value)
    with pytest.raises(ContainerNotFound, match=missing):
        await container_logs(host, missing)
    with pytest.raises(ContainerNotFound, match=missing):
        await container_stats(host, missing)


async def test_unreachable_engine_says_which_url_and_what_to_do() -> None:
    host = DockerHost("unix:///tmp/ig-dockerops-no-such-dir/docker.sock")
    with pytest.raises(DockerUnavailable) as err:
        await host.ping()
    message = str(err.value)
    assert "unix:///tmp/ig-dockerops-no-such-dir/docker.sock" in message and "dockerd" in message
    with pytest.raises(DockerUnavailable):
        await container_details(host, "anything")


async def test_logs_keep_streams_apart_and_handle_binary(host: DockerHost, chatty: str) -> None:
    logs = await container_logs(host, chatty, tail="all")
    # the engine copies stdout and stderr in parallel, so only the order within a stream is fixed
    stdout = [line.text for line in logs.lines if line.stream == "stdout"]
    stderr = [line.text for line in logs.lines if line.stream == "stderr"]
    assert stdout == ["first-line", "bin:\\x00\ufffd\ufffdred:end", "last-line"]
    assert stderr == ["to-stderr"]
    assert logs.had_binary and not logs.truncated and logs.note is None
    assert all(line.timestamp is not None for line in logs.lines)
    assert logs.returned_bytes == sum(len(line.text.encode()) for line in logs.lines)

    only_err = await container_logs(host, chatty, stdout=False)
    assert [(line.stream, line.text) for line in only_err.lines] == [("stderr", "to-stderr")]
    last_two = await container_logs(host, chatty, tail=2)  # the last two entries of the log file
    assert last_two.lines == logs.lines[-2:]
    assert (await container_logs(host, chatty, until=1)).lines == []  # a window in 1970
    assert len((await container_logs(host, chatty, since="1h")).lines) == 4
    capped = await container_logs(host, chatty, tail="all", max_bytes=12, stderr=False)
    assert [line.text for line in capped.lines] == ["last-line"]  # the newest line that fits
    assert capped.truncated and capped.dropped_lines == 2 and capped.note and "truncated" in capped.note
    with pytest.raises(InvalidArgument):
        await container_logs(host, chatty, tail=-5)
    with pytest.raises(InvalidArgument):
        await container_logs(host, chatty, since="last tuesday")


async def test_50mb_log_is_bounded_by_the_cap(host: DockerHost, docker_client: docker.DockerClient) -> None:
    name = unique("biglog")
    # 37 MiB of random bytes as base64: about 50 MB of 8000-character lines (long lines keep the
    # engine's own per-line work, and so the test, short)
    script = "dd if=/dev/urandom bs=1M count=37 2>/dev/null | base64 -w 8000; echo the-end"
    container = run_container(docker_client, name, ["sh", "-c", script])
    cap = 64 * 1024
    try:
        container.wait(timeout=120)
        # the whole log streams through (tail="all"); only the newest lines that fit are kept
        out = await container_logs(host, name, tail="all", max_bytes=cap)
        assert out.truncated and cap - 8000 < out.returned_bytes <= cap
        assert out.lines[-1].text == "the-end"
        assert all(len(line.text) == 8000 for line in out.lines[:-2])
        assert out.dropped_lines > 6000 and out.dropped_bytes > 50_000_000
        assert sum(len(line.text.encode()) for line in out.lines) == out.returned_bytes
    finally:
        container.remove(force=True)


async def test_a_giant_line_is_joined_and_cut_at_the_cap(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    name = unique("giantline")
    # one 3 MB line without a break: the engine stores it as 16 KiB pieces
    script = "echo before; (head -c 3000000 /dev/zero | tr '\\0' x; echo) >&2"
    container = run_container(docker_client, name, ["sh", "-c", script])
    cap = 64 * 1024
    try:
        container.wait(timeout=60)
        err = await container_logs(host, name, tail="all", max_bytes=cap, stdout=False)
        [giant] = err.lines
        assert giant.stream == "stderr" and set(giant.text) == {"x"} and len(giant.text) == cap
        assert err.truncated and err.dropped_lines == 0 and err.dropped_bytes == 3_000_000 - cap
        both = await container_logs(host, name, tail="all", max_bytes=4_000_000)
        assert sorted((line.stream, len(line.text)) for line in both.lines) == [
            ("stderr", 3_000_000),
            ("stdout", 6),
        ]
        assert not both.truncated
    finally:
        container.remove(force=True)


async def test_stats_are_sane(host: DockerHost, docker_client: docker.DockerClient) -> None:
    name = unique("stats")
    # keep ~8 MB resident: a shell variable holding 8 MB of text (`& wait` keeps the shell alive)
    script = "x=$(head -c 8000000 /dev/zero | tr '\\0' a); sleep 3600 & wait"
    container = run_container(docker_client, name, ["sh", "-c", script], mem_limit="64m", init=True)
    try:

        def usage() -> int:
            raw = docker_client.api.stats(container.id, stream=False, one_shot=True)
            return int(raw["memory_stats"].get("usage") or 0)

        wait_for(lambda: usage() > 8_000_000, what="memory use > 8 MB")
        stats = await container_stats(host, name)
        assert stats.running and stats.container == name
        assert stats.cgroup_version == "v1"  # this engine; v2 maths is covered by the pure tests
        assert stats.memory_limit_bytes == 64 * 1024 * 1024
        assert 8_000_000 < stats.memory_usage_bytes <= stats.memory_limit_bytes
        assert 0 < stats.memory_percent <= 100
        assert 0 <= stats.cpu_percent <= 100 * stats.online_cpus
        assert stats.online_cpus >= 1
        assert stats.pids is not None and stats.pids >= 2
        assert stats.network_rx_bytes == 0 and stats.network_tx_bytes == 0  # network_mode none
        assert stats.read_at is not None
        container.stop(timeout=0)
        stopped = await container_stats(host, name)
        assert not stopped.running and stopped.memory_usage_bytes == 0
    finally:
        container.remove(force=True)


async def test_disk_usage_local_and_through_a_helper_container(host: DockerHost) -> None:
    report = await disk_usage(host)
    assert report.docker_root_dir == "/var/lib/docker"
    assert report.filesystem is not None and report.filesystem.measured_by == "local"
    expected = shutil.disk_usage(report.docker_root_dir)
    assert report.filesystem.total_bytes == expected.total
    kinds = {k.kind: k for k in report.kinds}
    assert set(kinds) == {"images", "containers", "volumes", "build_cache"}
    assert kinds["images"].total_count >= 1 and kinds["images"].size_bytes > 0
    assert all(0 <= k.reclaimable_bytes <= max(k.size_bytes, k.reclaimable_bytes) for k in report.kinds)

    remote_style = await disk_usage(host, measure="df_container", df_image=TEST_IMAGE)
    assert remote_style.filesystem is not None and remote_style.filesystem.measured_by == "df_container"
    # same filesystem seen through df in a container: same size (df rounds to KiB)
    assert abs(remote_style.filesystem.total_bytes - expected.total) < 1024
    assert abs(remote_style.filesystem.free_bytes - expected.free) < expected.total * 0.02

    unknown = await disk_usage(host, measure="df_container")
    assert unknown.filesystem is None and "df_image" in unknown.notes[0]
