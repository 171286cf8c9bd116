"""Run the real Docker Compose v2 (`docker compose config`) as an oracle for compose_graph tests.

The run happens in a fresh temp dir holding only the compose file (+ `.env` and any extra
files), with only PATH and HOME in the environment (as Dokploy runs it), so no variable from
the machine leaks into the result. `--profile "*"` enables every profile so no service is dropped.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_server.compose_graph.graph import ComposeGraph
from mcp_server.docker_ops.compose_binary import compose_command

PROJECT = "ig-graph-oracle"


@dataclass
class OracleRun:
    returncode: int
    data: dict[str, Any] | None
    stderr: str

    @property
    def error(self) -> str:
        """Last stderr line (compose prints the reason last)."""
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else ""


def compose_config(
    compose_text: str, env_text: str | None = None, extra_files: dict[str, str] | None = None
) -> OracleRun:
    """`docker compose -f docker-compose.yml config --format json` on this text."""
    with tempfile.TemporaryDirectory(prefix="ig-graph-") as tmp:
        root = Path(tmp)
        (root / "docker-compose.yml").write_text(compose_text, encoding="utf-8")
        if env_text is not None:
            (root / ".env").write_text(env_text, encoding="utf-8")
        for name, content in (extra_files or {}).items():
            (root / name).write_text(content, encoding="utf-8")
        argv = [*compose_command(), "-f", "docker-compose.yml", "-p", PROJECT, "--profile", "*"]
        proc = subprocess.run(
            [*argv, "config", "--format", "json"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            # like Dokploy's `env -i PATH=… HOME=… docker compose`: HOME holds the CLI plugin
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", tmp)},
            check=False,
        )
    data = json.loads(proc.stdout) if proc.returncode == 0 else None
    return OracleRun(proc.returncode, data, proc.stderr)


def oracle_dependencies(data: dict[str, Any]) -> dict[str, dict[str, tuple[str, bool, bool]]]:
    """service -> {dependency: (condition, required, restart)} from `config` output.

    Compose has already folded links, volumes_from and `service:x` namespaces into depends_on.
    """
    return {
        name: {
            dep: (spec["condition"], spec.get("required", True), spec.get("restart", False))
            for dep, spec in (svc.get("depends_on") or {}).items()
        }
        for name, svc in data["services"].items()
    }


def my_dependencies(graph: ComposeGraph) -> dict[str, dict[str, tuple[str, bool, bool]]]:
    """The same shape from ComposeGraph."""
    return {
        name: {d.service: (d.condition, d.required, d.restart) for d in graph.explicit_dependencies(name)}
        for name in graph.services
    }


def oracle_environment(data: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    """service -> environment; `config` re-escapes `$` as `$$` in its output, undone here."""
    return {
        name: {
            key: value.replace("$$", "$") if isinstance(value, str) else value
            for key, value in (svc.get("environment") or {}).items()
        }
        for name, svc in data["services"].items()
    }
