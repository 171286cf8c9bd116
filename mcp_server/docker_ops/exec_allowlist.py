"""Run a read-only diagnostic command inside a container, and nothing else.

The command must match the allowlist exactly, argument for argument. There is no shell: `;`,
`&&`, pipes, redirections and `$()` are refused before anything runs. Commands that could leak
secrets (`env`, `cat` of arbitrary files, `printenv`) are not on the list. Output is capped in
size and the command gets a timeout.
"""

from __future__ import annotations

import re
import shlex
import threading
from collections.abc import Sequence

import docker
from pydantic import BaseModel, Field

from .host import ActionRefused, DockerHost, InvalidArgument, get_container
from .textsafe import cut_utf8, safe_text

PATH_ARG = "<path>"
ALLOWED_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("df", "-h"),
    ("ps",),
    ("ps", "aux"),
    ("free",),
    ("free", "-m"),
    ("cat", "/proc/meminfo"),
    ("cat", "/proc/loadavg"),
    ("uptime",),
    ("netstat", "-tlnp"),
    ("ss", "-tlnp"),
    ("ls", PATH_ARG),
    ("ls", "-la", PATH_ARG),
)
"""Exact argv lists. `<path>` stands for an absolute path without `..` (listing names only)."""

DEFAULT_TIME_LIMIT = 10.0
DEFAULT_MAX_BYTES = 64 * 1024
_SHELL_CHARS = re.compile(r"[;&|`$<>(){}\\\n\r*?!~]")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/@+=,:-]*$")


class ExecResult(BaseModel):
    """Output of one allowlisted command."""

    container: str
    argv: list[str]
    exit_code: int | None = Field(description="None when it timed out or was cut off while running")
    stdout: str
    stderr: str
    truncated: bool = Field(description="True when output went over max_bytes and was cut")
    timed_out: bool
    note: str | None = None


def allowed_commands_text() -> str:
    """The allowlist as one line, e.g. for error messages and tool descriptions."""
    return "; ".join(" ".join(argv) for argv in ALLOWED_COMMANDS)


def _matches(argv: list[str], pattern: tuple[str, ...]) -> bool:
    if len(argv) != len(pattern):
        return False
    for arg, expected in zip(argv, pattern, strict=True):
        if expected == PATH_ARG:
            if not _SAFE_PATH.match(arg) or ".." in arg.split("/"):
                return False
        elif arg != expected:
            return False
    return True


def check_command(command: str | Sequence[str]) -> list[str]:
    """The argv to run, or ActionRefused naming the allowed commands. A string is split like a
    shell would split words, but any shell syntax (`;`, `&&`, `|`, `$`, `>` …) is refused."""
    if isinstance(command, str):
        if _SHELL_CHARS.search(command):
            raise ActionRefused(
                f"refused {command!r}: no shell here, so ; && | $ > and similar are not allowed. "
                f"Allowed: {allowed_commands_text()}"
            )
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise InvalidArgument(f"can't split command {command!r}: {exc}") from None
    else:
        argv = [str(a) for a in command]
    if any(_matches(argv, pattern) for pattern in ALLOWED_COMMANDS):
        return argv
    raise ActionRefused(
        f"refused {' '.join(argv)!r}: only these read-only diagnostics may run: {allowed_commands_text()}"
    )


def _run_exec(
    client: docker.DockerClient, container_id: str, argv: list[str], timeout: float, max_bytes: int
) -> tuple[bytes, bytes, bool, bool, int | None]:
    api = client.api
    exec_id = api.exec_create(container_id, argv, stdout=True, stderr=True, tty=False)["Id"]
    stream = api.exec_start(exec_id, stream=True, demux=True)
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        stream.close()  # shuts the socket down, which ends the loop below

    timer = threading.Timer(timeout, on_timeout)
    timer.start()
    out, err = bytearray(), bytearray()
    truncated = False
    try:
        for stdout_chunk, stderr_chunk in stream:
            out += stdout_chunk or b""
            err += stderr_chunk or b""
            if len(out) + len(err) > max_bytes:
                truncated = True
                break
    finally:
        timer.cancel()
        if truncated:
            stream.close()
    exit_code = api.exec_inspect(exec_id).get("ExitCode")
    # keep stderr whole when it is small: it usually holds the reason a diagnostic failed
    err_bytes = cut_utf8(bytes(err), max_bytes)
    out_bytes = cut_utf8(bytes(out), max(max_bytes - len(err_bytes), 0))
    return out_bytes, err_bytes, truncated, timed_out.is_set(), exit_code


async def exec_diagnostic(
    host: DockerHost,
    name: str,
    command: str | Sequence[str],
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ExecResult:
    """Run one allowlisted read-only command (see ALLOWED_COMMANDS) in a running container.

    Args:
        command: "df -h" or ["df", "-h"]; anything not on the allowlist is refused.
        time_limit: seconds before the output is cut off (the process itself can't be killed
            through the Docker API; diagnostics on the list end quickly).
        max_bytes: cap on stdout + stderr.
    """
    argv = check_command(command)
    if time_limit <= 0 or max_bytes < 1:
        raise InvalidArgument("time_limit must be > 0 and max_bytes >= 1")

    def run(client: docker.DockerClient) -> ExecResult:
        container = get_container(client, name, host.base_url)
        if not (container.attrs.get("State") or {}).get("Running"):
            status = (container.attrs.get("State") or {}).get("Status", "unknown")
            raise ActionRefused(f"can't exec in {container.name}: it is not running (status {status})")
        out, err, truncated, timed_out, exit_code = _run_exec(
            client, container.id or name, argv, time_limit, max_bytes
        )
        notes = []
        if timed_out:
            notes.append(f"timed out after {time_limit:g}s; output so far is shown")
        if truncated:
            notes.append(f"output cut at {max_bytes} bytes")
        if exit_code is None and not timed_out:
            notes.append("the command was still running when reading stopped")
        if exit_code in (126, 127):
            notes.append(f"{argv[0]} is probably not installed (or not executable) in this image")
        return ExecResult(
            container=container.name,
            argv=argv,
            exit_code=None if timed_out else exit_code,
            stdout=safe_text(out)[0],
            stderr=safe_text(err)[0],
            truncated=truncated,
            timed_out=timed_out,
            note="; ".join(notes) or None,
        )

    return await host.run(run, what=f"exec {' '.join(argv)} in container {name}")
