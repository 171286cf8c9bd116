"""Settings: env names Dokploy's tools use, a YAML file, one clear line for bad values, no secret echo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mcp_server.settings import SettingsError, load_settings

SECRET = "sk-canary-0123456789abcdefghij"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DOKPLOY_URL", "DOKPLOY_API_KEY", "DOCKER_HOST", "INFRAGUARDIAN_CONFIG"):
        monkeypatch.delenv(var, raising=False)


def test_defaults_need_no_dokploy() -> None:
    s = load_settings()
    assert s.dokploy_url is None and not s.dokploy_configured
    assert s.docker_host.startswith("unix://")


def test_dokploy_names_and_secret_handling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOKPLOY_URL", "https://panel.example.com")
    monkeypatch.setenv("DOKPLOY_API_KEY", SECRET)
    s = load_settings()
    assert str(s.dokploy_url) == "https://panel.example.com/"
    assert s.dokploy_api_key is not None and s.dokploy_api_key.get_secret_value() == SECRET
    assert SECRET not in repr(s) and SECRET not in str(s.model_dump())


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DOKPLOY_URL": "not a url"}, "invalid setting DOKPLOY_URL"),
        ({"DOKPLOY_URL": "https://x.example.com/api"}, "without the trailing /api"),
        (
            {"INFRAGUARDIAN_DOKPLOY_TIMEOUT_S": "-3"},
            "invalid setting INFRAGUARDIAN_DOKPLOY_TIMEOUT_S: Input should be greater than 0",
        ),
        ({"DOCKER_HOST": "/var/run/docker.sock"}, "invalid setting DOCKER_HOST: must start with unix://"),
        (
            {"INFRAGUARDIAN_CONFIG": "/nonexistent/ig.yaml"},
            "INFRAGUARDIAN_CONFIG: config file /nonexistent/ig.yaml does not exist",
        ),
    ],
)
def test_bad_settings_give_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert expected in str(exc.value)
    assert "\n" not in str(exc.value)


def test_yaml_file_and_env_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "ig.yaml"
    cfg.write_text("dokploy_url: https://from-file.example.com\ndokploy_timeout_s: 7\n")
    monkeypatch.setenv("INFRAGUARDIAN_CONFIG", str(cfg))
    s = load_settings()
    assert str(s.dokploy_url) == "https://from-file.example.com/" and s.dokploy_timeout_s == 7
    monkeypatch.setenv("DOKPLOY_URL", "https://from-env.example.com")
    assert str(load_settings().dokploy_url) == "https://from-env.example.com/"  # env wins


def test_yaml_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "ig.yaml"
    monkeypatch.setenv("INFRAGUARDIAN_CONFIG", str(cfg))
    cfg.write_text("dokploy_timeout_s: [1\n")
    with pytest.raises(SettingsError, match="INFRAGUARDIAN_CONFIG: cannot read"):
        load_settings()
    cfg.write_text("dokploy_timout_s: 1\n")  # typo
    with pytest.raises(SettingsError, match="DOKPLOY_TIMOUT_S: Extra inputs are not permitted"):
        load_settings()


def test_cli_stops_on_bad_settings_without_echoing_the_secret() -> None:
    env = {"PATH": "/usr/bin:/bin", "DOKPLOY_URL": "ftp//bad", "DOKPLOY_API_KEY": SECRET, "HOME": "/tmp"}
    out = subprocess.run(
        [sys.executable, "-m", "mcp_server", "dokploy", "call", "project.all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("error: invalid setting DOKPLOY_URL")
    assert SECRET not in out.stderr + out.stdout
