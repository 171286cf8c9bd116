"""`infraguardian-mcp status` as a user runs it: what it loads, and its one-line errors.

`status` must start fast (issue 14: within 10x of `docker ps -a`), so on a unix:// engine it
reads the socket with the standard library and must not load docker-py, requests or PyYAML, with
or without its detector pass (which also must not load tenacity, the event stream's retry library).
It still honours the same settings (DOCKER_HOST, the config file) and fails with the same clear
line when the engine is not there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# docker-py and its HTTP stack (~0.2 s), PyYAML (~20 ms; only for a config file), the MCP SDK,
# tenacity (~50 ms; only when an event stream connects)
SLOW_TO_IMPORT = ("docker", "requests", "urllib3", "yaml", "mcp", "httpx", "tenacity")

RUN_AND_LIST_MODULES = """
import json, sys
from mcp_server.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "INFRAGUARDIAN_STATE_DIR": str(tmp_path),
        **extra,
    }


def _status(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", "status", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path, **env),
        timeout=120,
        check=False,
    )


@pytest.mark.docker
@pytest.mark.parametrize("args", [("--no-signals",), ()], ids=["no-signals", "with-signals"])
def test_status_loads_neither_docker_py_nor_yaml(tmp_path: Path, args: tuple[str, ...]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, "status", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
        check=False,
    )
    report = json.loads(out.stderr.strip().splitlines()[-1])
    assert report["code"] in (None, 0), out.stderr
    assert out.stdout.startswith("Docker engine unix:///var/run/docker.sock")
    loaded = set(report["modules"])
    assert not loaded & set(SLOW_TO_IMPORT), sorted(loaded & set(SLOW_TO_IMPORT))
    assert "mcp_server.docker_ops.engine_reader" in loaded
    if args:  # no detector pass and no Dokploy: no event loop either (anyio and its backend, ~0.1 s)
        assert "anyio" not in loaded and "mcp_server.detectors.base" not in loaded
    else:  # the detector pass ran and printed its verdict
        assert "mcp_server.detectors.engine" in loaded
        assert "\nsignals        " in out.stdout, out.stdout[-500:]


@pytest.mark.parametrize("args", [("--no-signals",), ()], ids=["no-signals", "with-signals"])
def test_a_missing_socket_is_one_clear_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = tmp_path / "docker.sock"
    out = _status(tmp_path, *args, DOCKER_HOST=f"unix://{missing}")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith(f"error: Docker engine at unix://{missing} is not reachable (")
    assert f"No such file or directory: '{missing}'" in out.stderr
    assert "Check that dockerd runs (`systemctl status docker`)" in out.stderr


def test_the_config_file_is_honoured_and_the_environment_wins(tmp_path: Path) -> None:
    from_file = tmp_path / "from-file.sock"
    from_env = tmp_path / "from-env.sock"
    config = tmp_path / "config.yaml"
    config.write_text(f"docker_host: unix://{from_file}\n")
    out = _status(tmp_path, "--no-signals", INFRAGUARDIAN_CONFIG=str(config))
    assert out.returncode == 1 and f"Docker engine at unix://{from_file} is not reachable" in out.stderr
    out = _status(
        tmp_path, "--no-signals", INFRAGUARDIAN_CONFIG=str(config), DOCKER_HOST=f"unix://{from_env}"
    )
    assert out.returncode == 1 and f"Docker engine at unix://{from_env} is not reachable" in out.stderr
    config.write_text("docker_host: [unclosed\n")
    broken = _status(tmp_path, "--no-signals", INFRAGUARDIAN_CONFIG=str(config))
    assert broken.returncode == 1 and broken.stderr.count("\n") == 1
    assert broken.stderr.startswith(f"error: INFRAGUARDIAN_CONFIG: cannot read {config}")


def test_the_collector_is_paused_while_status_runs_and_on_again_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`status` runs with the cyclic garbage collector paused (it rescanned the start-up's objects
    for 50-150 ms) and turns it back on when done, even when it fails."""
    import gc

    from mcp_server import status as status_module
    from mcp_server.cli import main
    from mcp_server.settings import SettingsError

    seen: list[bool] = []

    def settings_that_fail() -> None:
        seen.append(gc.isenabled())
        raise SettingsError("invalid setting INFRAGUARDIAN_X: for this test")

    monkeypatch.setattr(status_module, "load_settings", settings_that_fail)
    assert gc.isenabled()
    try:
        with pytest.raises(SystemExit) as stop:
            main(["status", "--no-signals"])
        assert stop.value.code == 1 and seen == [False]
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()  # give this test process's objects back to the collector
