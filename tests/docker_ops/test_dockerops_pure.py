"""docker_ops logic that needs no engine: time parsing, text safety, stats maths, df summaries,
the exec allowlist, action guards, inventory grouping and event de-duplication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from docker.models.containers import Container

from mcp_server.docker_ops.actions import _check_action, parse_memory_limit, parse_size, plan_swap
from mcp_server.docker_ops.disk import parse_df_output, summarize_system_df
from mcp_server.docker_ops.events import ContainerEventStream, parse_event
from mcp_server.docker_ops.exec_allowlist import check_command
from mcp_server.docker_ops.host import (
    ActionRefused,
    DockerHost,
    DockerUnavailable,
    InvalidArgument,
    InvalidDockerUrl,
    translate_error,
)
from mcp_server.docker_ops.inventory import RawInventory, build_inventory
from mcp_server.docker_ops.models import refs_from_overview
from mcp_server.docker_ops.prune import _label_filters, _plan_build_cache
from mcp_server.docker_ops.stats import compute_stats, cpu_percent, memory_without_cache
from mcp_server.docker_ops.textsafe import cut_utf8, safe_text
from mcp_server.docker_ops.timeutil import docker_time_to_ns, parse_docker_time, to_api_time

# --- time ---------------------------------------------------------------------------------------


def test_engine_times_parse_with_nanoseconds_and_never() -> None:
    parsed = parse_docker_time("2026-11-25T09:09:24.747604297Z")
    assert parsed == datetime(2026, 11, 25, 9, 9, 24, 747604, tzinfo=UTC)
    assert parse_docker_time("0001-01-01T00:00:00Z") is None
    assert parse_docker_time("") is None
    assert docker_time_to_ns("2026-11-25T09:09:24.747604297Z") % 1_000_000_000 == 747604297


def test_api_time_accepts_datetimes_seconds_iso_and_ages() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert to_api_time(datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)) == "1767268800.500000000"
    assert to_api_time(1767268800) == "1767268800.000000000"
    assert to_api_time("15m", now=now) == to_api_time(now - timedelta(minutes=15))
    assert to_api_time("2026-01-01T12:00:00Z") == "1767268800.000000000"
    with pytest.raises(ValueError, match="15m"):
        to_api_time("yesterday-ish")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("99999999999999h", "since '99999999999999h' is more than 366 days back; send an age like '30s'"),
        ("367d", "since '367d' is more than 366 days back"),
        ("1e400", "can't read since '1e400': use an age like '15m'"),
        (float("inf"), "since inf is not a UNIX time between 1970 and 9999"),
        (float("nan"), "since nan is not a UNIX time between 1970 and 9999"),
        (datetime(1960, 1, 1, tzinfo=UTC), "since 1960-01-01T00:00:00+00:00 is before 1970"),
    ],
)
def test_api_time_refuses_what_would_overflow(value: object, message: str) -> None:
    """These raised OverflowError (a bare "Error executing tool" for the model) or went to Docker."""
    with pytest.raises(ValueError) as caught:
        to_api_time(value, what="since")  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
    assert to_api_time("366d", what="since")  # the bound itself is fine


# --- text safety --------------------------------------------------------------------------------


def test_safe_text_replaces_invalid_utf8_escapes_controls_and_strips_colours() -> None:
    text, changed = safe_text(b"ok \x1b[31mred\x1b[0m nul\x00 bad\xff\xfe tab\tend")
    assert changed
    assert text == "ok red nul\\x00 bad\ufffd\ufffd tab\tend"
    plain, changed_plain = safe_text("héllo ✓".encode())
    assert (plain, changed_plain) == ("héllo ✓", False)


def test_cut_utf8_never_splits_a_character() -> None:
    data = "aé✓".encode()  # 1 + 2 + 3 bytes
    assert cut_utf8(data, 2) == b"a"
    assert cut_utf8(data, 3) == "aé".encode()
    assert cut_utf8(data, 5) == "aé".encode()
    assert cut_utf8(data, 6) == data


# --- stats maths (same formulas as the docker CLI) ----------------------------------------------

CGROUP_V1_SAMPLE: dict[str, Any] = {
    "read": "2026-11-25T09:09:24.747604297Z",
    "pids_stats": {"current": 3},
    "blkio_stats": {
        "io_service_bytes_recursive": [
            {"major": 254, "minor": 0, "op": "Read", "value": 4096},
            {"major": 254, "minor": 0, "op": "Write", "value": 8192},
            {"major": 254, "minor": 0, "op": "Sync", "value": 12288},
            {"major": 254, "minor": 0, "op": "Total", "value": 12288},
        ]
    },
    "cpu_stats": {
        "cpu_usage": {"total_usage": 300_000_000, "percpu_usage": [1, 2]},
        "system_cpu_usage": 4_000_000_000,
        "online_cpus": 2,
    },
    "precpu_stats": {"cpu_usage": {"total_usage": 100_000_000}, "system_cpu_usage": 2_000_000_000},
    "memory_stats": {
        "usage": 10_000_000,
        "stats": {"cache": 3_000_000, "total_inactive_file": 2_000_000, "inactive_file": 1},
        "limit": 64 * 1024 * 1024,
    },
    "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 10}, "eth1": {"rx_bytes": 5, "tx_bytes": 1}},
}


def test_stats_cgroup_v1_like_docker_cli() -> None:
    stats = compute_stats(CGROUP_V1_SAMPLE, name="c", container_id="id", running=True)
    # cpu: (200e6 / 2e9) * 2 cpus * 100 = 20 %
    assert stats.cpu_percent == 20.0
    assert stats.online_cpus == 2
    # v1 subtracts total_inactive_file when present (not `cache`, not `inactive_file`)
    assert stats.memory_usage_bytes == 8_000_000
    assert stats.memory_cache_bytes == 2_000_000
    assert stats.cgroup_version == "v1"
    assert stats.memory_percent == round(8_000_000 / (64 * 1024 * 1024) * 100, 2)
    assert (stats.network_rx_bytes, stats.network_tx_bytes) == (105, 11)
    assert (stats.block_read_bytes, stats.block_write_bytes) == (4096, 8192)
    assert stats.pids == 3


def test_stats_memory_variants() -> None:
    # old engines: cgroup v1 without total_inactive_file -> `cache`
    assert memory_without_cache({"usage": 100, "stats": {"cache": 30}}) == (70, 30, "v1")
    # cgroup v2: inactive_file
    assert memory_without_cache({"usage": 100, "stats": {"inactive_file": 40, "anon": 60}}) == (60, 40, "v2")
    # cache larger than usage: the CLI shows raw usage
    assert memory_without_cache({"usage": 100, "stats": {"inactive_file": 400}}) == (100, 0, "v2")
    assert memory_without_cache({}) == (0, 0, "unknown")


def test_cpu_percent_is_zero_without_a_baseline_and_counts_percpu_when_online_missing() -> None:
    assert cpu_percent({"cpu_stats": {"cpu_usage": {"total_usage": 5}, "system_cpu_usage": 10}}) == (0.0, 0)
    sample = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 20, "percpu_usage": [1, 1, 1, 1]},
            "system_cpu_usage": 100,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 10}, "system_cpu_usage": 50},
    }
    assert cpu_percent(sample) == (80.0, 4)


# --- disk -------------------------------------------------------------------------------------


def test_system_df_summary_matches_docker_cli_rules() -> None:
    raw = {
        "LayersSize": 1000,
        "Images": [
            {"Id": "a", "Size": 600, "SharedSize": 100, "Containers": 1},
            {"Id": "b", "Size": 400, "SharedSize": 100, "Containers": 0},
        ],
        "Containers": [{"SizeRw": 10, "State": "running"}, {"SizeRw": 7, "State": "exited"}],
        "Volumes": [
            {"Name": "big", "Driver": "local", "UsageData": {"Size": 500, "RefCount": 0}},
            {"Name": "used", "Driver": "local", "UsageData": {"Size": 50, "RefCount": 2}},
            {"Name": "remote", "Driver": "nfs", "UsageData": {"Size": -1, "RefCount": 0}},
        ],
        "BuildCache": [
            {"ID": "x", "Size": 30, "InUse": False, "Shared": False},
            {"ID": "y", "Size": 20, "InUse": True, "Shared": False},
            {"ID": "z", "Size": 99, "InUse": False, "Shared": True},
        ],
    }
    kinds, largest = summarize_system_df(raw)
    by_kind = {k.kind: k for k in kinds}
    assert (by_kind["images"].size_bytes, by_kind["images"].reclaimable_bytes) == (1000, 500)
    assert by_kind["images"].active_count == 1
    assert (by_kind["containers"].size_bytes, by_kind["containers"].reclaimable_bytes) == (17, 7)
    assert (by_kind["volumes"].size_bytes, by_kind["volumes"].reclaimable_bytes) == (550, 500)
    assert (by_kind["build_cache"].size_bytes, by_kind["build_cache"].reclaimable_bytes) == (50, 30)
    assert [v.name for v in largest][:2] == ["big", "used"]
    assert largest[-1].size_bytes is None


def test_df_output_parses_posix_format_and_wrapped_device_names() -> None:
    header = "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
    text = header + "/dev/vda 1000 400 500 45% /var/lib/docker\n"
    fs = parse_df_output(text, "/var/lib/docker")
    assert (fs.total_bytes, fs.used_bytes, fs.free_bytes) == (1024000, 409600, 512000)
    assert fs.used_percent == round(400 / 900 * 100, 1)
    wrapped = header + "/dev/mapper/very-long-name\n 10 4 6 40% /\n"
    assert parse_df_output(wrapped, "/").total_bytes == 10240


# --- exec allowlist ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    ["df -h", ["ps"], "ps aux", "free -m", "cat /proc/meminfo", "uptime", "ls -la /var/log", "ls /"],
)
def test_allowlisted_commands_pass(command: Any) -> None:
    assert check_command(command)


@pytest.mark.parametrize(
    "command",
    [
        "env",
        "printenv",
        "cat /etc/shadow",
        "df -h; rm -rf /",
        "df -h && id",
        "ps | sh",
        "ls $(id)",
        ["df", "-h;", "id"],
        "ls ../..",
        "ls /var/../etc",
        "ls -la",
        "sh -c 'df -h'",
        "df  -h  -a",
    ],
)
def test_everything_else_is_refused_with_the_list(command: Any) -> None:
    with pytest.raises(ActionRefused) as refused:
        check_command(command)
    assert "df -h" in str(refused.value)


# --- action guards and sizes ------------------------------------------------------------------


def _fake_container(name: str, status: str = "running", labels: dict[str, str] | None = None) -> Container:
    return Container(
        attrs={
            "Id": "0" * 64,
            "Name": f"/{name}",
            "State": {"Status": status},
            "Config": {"Labels": labels or {}},
        }
    )


def test_action_guards_protect_dokploy_and_swarm_tasks() -> None:
    with pytest.raises(ActionRefused, match="reverse proxy"):
        _check_action(_fake_container("dokploy-traefik"), "stop", "SIGKILL", False)
    _check_action(_fake_container("dokploy-traefik"), "restart", "SIGKILL", False)
    _check_action(_fake_container("dokploy-traefik"), "stop", "SIGKILL", True)
    with pytest.raises(ActionRefused, match="Dokploy itself"):
        _check_action(
            _fake_container("dokploy.1.abc", labels={"com.docker.swarm.service.name": "dokploy"}),
            "kill",
            "SIGKILL",
            False,
        )
    with pytest.raises(ActionRefused, match="scale the service"):
        _check_action(
            _fake_container("app.1.x", labels={"com.docker.swarm.service.name": "app"}),
            "stop",
            "SIGKILL",
            False,
        )
    with pytest.raises(ActionRefused, match="not running"):
        _check_action(_fake_container("web", status="exited"), "kill", "SIGKILL", False)
    with pytest.raises(InvalidArgument, match="unknown action"):
        _check_action(_fake_container("web"), "rm", "SIGKILL", False)
    with pytest.raises(InvalidArgument, match="signal"):
        _check_action(_fake_container("web"), "kill", "SIGSEGV", False)


def test_sizes_and_swap_planning() -> None:
    assert parse_size("512m", "memory") == 512 * 1024 * 1024
    assert parse_size("1GiB", "memory") == 1024**3
    assert parse_size(1234, "memory") == 1234
    with pytest.raises(InvalidArgument, match="not a size"):
        parse_size("lots", "memory")
    assert parse_size("1.5g", "memory") == 1536 * 1024**2 and parse_size("256 MiB", "m") == 256 * 1024**2
    for bad, why in (
        ("1e309", "is not a size"),
        ("-1", "is negative"),
        ("nan", "is not a size"),
        ("2p", "1 PiB"),
    ):
        with pytest.raises(InvalidArgument, match=why):
            parse_size(bad, "memory")
    with pytest.raises(InvalidArgument, match="below the engine's minimum of 6 MiB; send at least '6m'"):
        parse_memory_limit("5m")
    with pytest.raises(InvalidArgument, match="more than 1 TiB"):
        parse_memory_limit("1025g")
    assert parse_memory_limit("1t") == 1024**4
    assert plan_swap(0, 0, 100) == 200  # no limit before: the engine's own default, 2 x memory
    assert plan_swap(100, 200, 300) == 400  # keeps the 100-byte swap allowance
    assert plan_swap(100, 100, 300) == 300  # no swap before, none after
    assert plan_swap(100, -1, 300) == -1  # unlimited swap stays unlimited


# --- host errors ------------------------------------------------------------------------------


def test_bad_urls_and_connection_errors_read_as_one_actionable_line() -> None:
    with pytest.raises(InvalidDockerUrl, match="unknown scheme"):
        DockerHost("ftp://host")
    with pytest.raises(InvalidDockerUrl, match="no host"):
        DockerHost("tcp://")
    error = translate_error(ConnectionRefusedError("refused"), "unix:///x.sock", "ping")
    assert isinstance(error, DockerUnavailable)
    assert "unix:///x.sock" in str(error) and "docker" in str(error) and "\n" not in str(error)


# --- inventory grouping -----------------------------------------------------------------------


def _container(name: str, labels: dict[str, str], status: str = "running") -> dict[str, Any]:
    return {
        "Id": name * 2,
        "Name": f"/{name}",
        "Config": {"Image": "img", "Labels": labels},
        "State": {"Status": status, "StartedAt": "2026-01-01T00:00:00Z", "ExitCode": 0},
        "RestartCount": 0,
    }


def _service(service_id: str, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "ID": service_id,
        "Spec": {
            "Name": name,
            "Labels": labels or {},
            "Mode": {"Replicated": {"Replicas": 1}},
            "TaskTemplate": {"ContainerSpec": {"Image": "img"}},
        },
    }


def test_inventory_groups_like_dokploy() -> None:
    raw = RawInventory(
        containers=[
            _container(
                "shop-abc-web-1",
                {"com.docker.compose.project": "shop-abc", "com.docker.compose.service": "web"},
            ),
            _container(
                "shop-abc-db-1",
                {"com.docker.compose.project": "shop-abc", "com.docker.compose.service": "db"},
            ),
            _container(
                "api-x1.1.t1", {"com.docker.swarm.service.name": "api-x1", "com.docker.swarm.task.id": "t1"}
            ),
            _container(
                "st-q_web.1.t2",
                {"com.docker.swarm.service.name": "st-q_web", "com.docker.stack.namespace": "st-q"},
            ),
            _container("dokploy-traefik", {}),
            _container("random", {}),
        ],
        swarm_active=True,
        services=[
            _service("s1", "api-x1"),
            _service("s2", "st-q_web", {"com.docker.stack.namespace": "st-q"}),
            _service("s3", "dokploy"),
        ],
        tasks=[
            {
                "ID": "t1",
                "ServiceID": "s1",
                "DesiredState": "running",
                "Status": {"State": "running"},
                "Slot": 1,
            }
        ],
    )
    refs = refs_from_overview(
        [
            {"appName": "shop-abc", "type": "compose", "id": "c1", "name": "Shop", "projectName": "P"},
            {
                "appName": "api-x1",
                "type": "application",
                "id": "a1",
                "name": "API",
                "environmentName": "production",
            },
            {"appName": "gone-zz", "type": "postgres", "id": "p1", "name": "DB"},
        ]
    )
    inv = build_inventory("unix:///x", raw, refs)
    groups = {(g.kind, g.app_name): g for g in inv.groups}
    assert set(groups) == {
        ("compose", "shop-abc"),
        ("swarm_service", "api-x1"),
        ("stack", "st-q"),
        ("dokploy_system", "dokploy"),
        ("dokploy_system", "dokploy-traefik"),
    }
    compose = groups[("compose", "shop-abc")]
    assert [s.name for s in compose.services] == ["db", "web"]
    assert compose.dokploy is not None and compose.dokploy.id == "c1" and compose.dokploy.project == "P"
    app = groups[("swarm_service", "api-x1")]
    assert app.dokploy is not None and app.dokploy.environment == "production"
    assert app.services[0].swarm_service is not None and app.services[0].swarm_service.tasks_running == 1
    assert [c.name for c in app.services[0].containers] == ["api-x1.1.t1"]
    stack = groups[("stack", "st-q")]
    assert [s.name for s in stack.services] == ["web"] and stack.containers_total == 1
    assert [c.name for c in inv.unmanaged] == ["random"]
    assert [r.app_name for r in inv.dokploy_refs_without_objects] == ["gone-zz"]


# --- events -----------------------------------------------------------------------------------


def _raw_event(action: str, time_nano: int, container_id: str = "c1", **attributes: str) -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": action,
        "Actor": {"ID": container_id, "Attributes": {"name": "web-1", "image": "img", **attributes}},
        "time": time_nano // 1_000_000_000,
        "timeNano": time_nano,
    }


def test_event_parsing_and_replay_deduplication() -> None:
    health = parse_event(_raw_event("health_status: unhealthy", 5))
    assert (health.action, health.health_status) == ("health_status", "unhealthy")
    died = parse_event(_raw_event("die", 7, exitCode="137", **{"com.docker.compose.project": "shop"}))
    assert (died.exit_code, died.compose_project) == (137, "shop")

    stream = ContainerEventStream(DockerHost("unix:///nonexistent.sock"))
    first = [
        stream._accept(_raw_event(a, t)) for a, t in [("start", 10), ("die", 20), ("exec_start: ls", 25)]
    ]
    assert [e.action if e else None for e in first] == ["start", "die", None]  # exec_* not watched
    assert stream._cursor_ns == 20
    # after a reconnect the engine replays from the cursor (inclusive): the die at 20 comes again
    replay = [stream._accept(_raw_event(a, t)) for a, t in [("die", 20), ("destroy", 30)]]
    assert [e.action if e else None for e in replay] == [None, "destroy"]
    assert stream._accept({"Type": "network", "Action": "connect", "timeNano": 40}) is None


def test_prune_helpers() -> None:
    assert _label_filters({"a": "b"}) == ["a=b"]
    assert _label_filters(["x"]) == ["x"]
    with pytest.raises(InvalidArgument):
        _label_filters("a=b")
    df = {
        "BuildCache": [
            {"ID": "keep-inuse", "InUse": True, "Size": 1},
            {"ID": "frontend", "InUse": False, "Type": "frontend", "Size": 2},
            {"ID": "regular", "InUse": False, "Type": "regular", "Size": 3},
        ]
    }
    assert [c.id for c in _plan_build_cache(df, build_all=False)] == ["regular"]
    assert [c.id for c in _plan_build_cache(df, build_all=True)] == ["frontend", "regular"]
