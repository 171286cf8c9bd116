"""Evidence helpers shared by the container detectors: the last log lines and what an exit code means."""

from __future__ import annotations

import importlib
import signal as signal_module
from typing import Any

from mcp_server.docker_ops.containers import container_logs
from mcp_server.docker_ops.host import DockerHost, DockerOpsError

_SHORT: dict[int, str] = {
    0: "clean exit",
    1: "general error",
    2: "misuse or panic",
    125: "docker could not run it",
    126: "command not executable",
    127: "command not found",
    255: "fatal error / exit -1",
}


def short_exit_label(code: int, oom_killed: bool | None = None) -> str:
    """A few words for a summary line: `general error`, `SIGKILL`, `OOM kill`."""
    if code == 137 and oom_killed:
        return "OOM kill"
    if code in _SHORT:
        return _SHORT[code]
    if 129 <= code <= 192:
        try:
            return f"killed by {signal_module.Signals(code - 128).name}"
        except ValueError:
            return f"killed by signal {code - 128}"
    return "application error code"


def explain_exit_code(code: int, oom_killed: bool | None = None) -> dict[str, Any]:
    """{meaning, next_step, signal} for an exit code. Uses log_analysis.exit_codes when present."""
    try:
        module = importlib.import_module("mcp_server.log_analysis.exit_codes")
        explanation = module.explain_exit(code, oom_killed)
        return {
            "meaning": str(explanation.meaning),
            "next_step": str(explanation.next_step),
            "signal": explanation.signal,
        }
    except (ImportError, AttributeError):
        # the log_analysis package is optional: fall back to the short label
        return {
            "meaning": f"exit code {code}: {short_exit_label(code, oom_killed)}",
            "next_step": "read the last log lines of the container",
            "signal": None,
        }


async def last_log_lines(host: DockerHost, container: str, lines: int) -> list[str]:
    """The last `lines` log lines (`stream: text`), or one line saying why there are none."""
    if lines <= 0:
        return []
    try:
        logs = await container_logs(host, container, tail=lines, max_bytes=8 * 1024)
    except DockerOpsError as exc:
        return [f"(logs unavailable: {exc})"]
    return [f"{line.stream}: {line.text}" for line in logs.lines[-lines:]]
