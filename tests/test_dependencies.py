"""Each part installs what it uses: the MCP server its own dependencies, the agent host the `agent` extra.

The server once carried chromadb and ollama, imported nowhere, which pulled onnxruntime, kubernetes and
grpc (about 360 MB of the virtual environment) into its image. These tests read the lock file through
`uv export`, walk the server's imports, and build a server-only environment from the lock to run it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import agent_host.cli
from agent_host.cli import AGENT_EXTRA_MODULES, missing_agent_extra, needs_agent_extra

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Heavy libraries of the agent host that the server must never load or install.
AGENT_ONLY_MODULES = (
    "chromadb",
    "ollama",
    "onnxruntime",
    "kubernetes",
    "grpc",
    "langgraph",
    "psycopg",
    "wordllama",
    "telegram",
    "jinja2",
)
AGENT_ONLY_DISTRIBUTIONS = (
    "chromadb",
    "ollama",
    "onnxruntime",
    "kubernetes",
    "grpcio",
    "langgraph",
    "psycopg",
    "wordllama",
    "python-telegram-bot",
    "jinja2",
)


def _uv() -> str:
    """The uv binary: `uv run` says where it is in $UV; otherwise the one on PATH."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is neither in $UV nor on PATH; run the tests with `uv run` after .ci/setup"
    return uv


def _normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (`PyYAML` == `pyyaml`, `pydantic_core` == `pydantic-core`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked_closure(*extra_args: str) -> set[str]:
    """Distribution names `uv export` installs from uv.lock without dev tools, for the given extras."""
    exported = subprocess.run(
        [_uv(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", *extra_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = set()
    for line in exported.splitlines():
        match = re.match(
            r"([A-Za-z0-9][A-Za-z0-9._-]*)==", line
        )  # `name==version ; marker`; comments skipped
        if match:
            names.add(_normalize(match.group(1)))
    return names


def _third_party_imports(package_dir: Path) -> dict[str, set[str]]:
    """Top-level module names `package_dir` imports anywhere (lazy imports in functions too) → files."""
    found: dict[str, set[str]] = {}
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top != package_dir.name:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


# --- what the server loads -------------------------------------------------------------------------

IMPORT_EVERY_SERVER_MODULE = """
import importlib, json, pkgutil, sys
import mcp_server
names = sorted(m.name for m in pkgutil.walk_packages(mcp_server.__path__, "mcp_server.")
               if not m.name.endswith(".__main__"))
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_importing_every_server_module_loads_none_of_the_agent_libraries() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_SERVER_MODULE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert "mcp_server.server.app" in report["imported"]
    assert "mcp_server.detectors.engine" in report["imported"]
    assert len(report["imported"]) > 80
    assert "mcp" in report["loaded"] and "docker" in report["loaded"]
    assert [m for m in AGENT_ONLY_MODULES if m in report["loaded"]] == []


# --- what each part installs, from uv.lock ---------------------------------------------------------


def test_server_closure_has_none_of_the_agent_libraries() -> None:
    server = _locked_closure()
    assert {"mcp", "docker", "pydantic", "starlette", "uvicorn", "bpe-openai"} <= server
    assert sorted(server & set(AGENT_ONLY_DISTRIBUTIONS)) == []


def test_agent_extra_closure_adds_the_agent_libraries_to_the_server() -> None:
    server = _locked_closure()
    agent = _locked_closure("--extra", "agent")
    assert server < agent
    assert {"chromadb", "ollama", "onnxruntime"} <= agent


def test_every_library_the_server_imports_is_in_the_server_closure() -> None:
    """Lazy imports count: `bpe_openai` (read_logs' token counts) was once a dev-only dependency."""
    server = _locked_closure()
    distributions = importlib.metadata.packages_distributions()
    imports = _third_party_imports(ROOT / "mcp_server")
    assert {"mcp", "docker", "bpe_openai"} <= imports.keys()
    outside = {
        module: sorted(files)
        for module, files in imports.items()
        if not any(_normalize(dist) in server for dist in distributions.get(module, []))
    }
    assert outside == {}, "imported by the server but not installed by [project] dependencies"


def test_pyproject_declares_each_part_and_its_console_script() -> None:
    project = PYPROJECT["project"]
    server_deps = {_normalize(re.split(r"[<>=!~ ;\[]", spec)[0]) for spec in project["dependencies"]}
    agent_deps = {
        _normalize(re.split(r"[<>=!~ ;\[]", spec)[0]) for spec in project["optional-dependencies"]["agent"]
    }
    agent_libraries = {
        "chromadb",
        "ollama",
        "langgraph",
        "psycopg",
        "wordllama",
        "python-telegram-bot",
        "jinja2",
    }
    assert agent_libraries | {"langgraph-checkpoint-sqlite", "langgraph-checkpoint-postgres"} <= agent_deps
    assert server_deps.isdisjoint(agent_libraries)
    distribution = {"telegram": "python-telegram-bot"}  # import name → what pip installs
    assert {_normalize(distribution.get(m, m)) for m in AGENT_EXTRA_MODULES} == agent_libraries
    assert project["scripts"]["infraguardian-mcp"] == "mcp_server.cli:main"
    assert project["scripts"]["infraguardian-agent"] == "agent_host.cli:main"
    installed = {ep.name: ep for ep in importlib.metadata.entry_points(group="console_scripts")}
    for script in ("infraguardian-mcp", "infraguardian-agent"):
        assert isinstance(installed[script].load(), click.Command)


# --- the agent host without its extra ----------------------------------------------------------------


def test_agent_extra_is_installed_for_the_tests() -> None:
    assert missing_agent_extra() == []


def test_agent_command_without_the_extra_stops_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[bool] = []

    @click.command()
    @needs_agent_extra
    def incident() -> None:
        ran.append(True)

    monkeypatch.setattr(agent_host.cli, "AGENT_EXTRA_MODULES", ("ollama", "ig_agent_library_not_installed"))
    result = CliRunner().invoke(incident, [])
    assert result.exit_code == 1
    assert ran == []
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "ig_agent_library_not_installed is not installed" in lines[0]
    assert "uv sync --extra agent" in lines[0] and "ollama" not in lines[0].split(": run")[0]

    monkeypatch.setattr(agent_host.cli, "AGENT_EXTRA_MODULES", ("ollama",))
    assert CliRunner().invoke(incident, []).exit_code == 0
    assert ran == [True]


# --- the server image's environment, built from the lock without Docker ------------------------------

RUN_THE_SERVER_ONLY_ENV = """
import importlib, importlib.util, json, pkgutil
import mcp_server
from mcp_server.log_analysis import count_tokens
for m in pkgutil.walk_packages(mcp_server.__path__, "mcp_server."):
    if not m.name.endswith(".__main__"):
        importlib.import_module(m.name)
print(json.dumps({"tokens": count_tokens("hello world"),
                  "present": [n for n in %r if importlib.util.find_spec(n) is not None]}))
"""


def test_server_only_environment_runs_the_server_and_lacks_the_agent_libraries(tmp_path: Path) -> None:
    """What the Dockerfile's `server` target runs (`uv sync --frozen --no-dev`), built here from uv.lock."""
    env_dir = tmp_path / "server-venv"
    environ = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(env_dir)}
    environ.pop("VIRTUAL_ENV", None)
    subprocess.run(
        # rebuilt from this tree: uv keys its cache of a local project's wheel on pyproject.toml only
        [
            _uv(),
            "sync",
            "--frozen",
            "--no-dev",
            "--no-editable",
            "--reinstall-package",
            "infraguardian",
            "--quiet",
        ],
        cwd=ROOT,
        env=environ,
        check=True,
        timeout=300,
    )
    python = env_dir / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", RUN_THE_SERVER_ONLY_ENV % ((*AGENT_ONLY_MODULES, "pytest"),)],
        cwd=tmp_path,  # not the checkout: the installed wheel, not the source tree, is imported
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report == {"tokens": 2, "present": []}
    for script in ("infraguardian-mcp", "infraguardian-agent"):
        version = subprocess.run(
            [str(env_dir / "bin" / script), "--version"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert "0.1.0" in version.stdout
