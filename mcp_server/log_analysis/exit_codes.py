"""What a container's exit code means, and what to look at next.

Docker reports the main process's exit status (State.ExitCode) and whether the kernel OOM killer
hit the container (State.OOMKilled). Codes above 128 mean "killed by signal code-128" (the shell
convention Docker follows). `explain_exit(137, oom_killed=True)` and `explain_exit(137, False)`
differ: the first is the memory limit, the second someone sent SIGKILL (docker kill, or docker
stop after the grace period when the process ignored SIGTERM).
"""

from __future__ import annotations

import signal

from pydantic import BaseModel, Field


class ExitExplanation(BaseModel):
    """Meaning of one exit code for an operator."""

    code: int
    signal: str | None = Field(default=None, description="Signal name when the process was killed by one")
    meaning: str = Field(description="What happened, in one or two sentences")
    next_step: str = Field(description="The most useful next thing to check or do")
    is_failure: bool = Field(description="False only for a clean exit")


# code -> (meaning, next step). 137 and 128+n are built in explain_exit.
_TABLE: dict[int, tuple[str, str]] = {
    0: (
        "The process finished successfully (exit 0).",
        "A long-running service should not exit: check that its command runs in the foreground "
        "(no daemonizing) and what the restart policy is.",
    ),
    1: (
        "The application failed with a general error (exit 1).",
        "Read the first error and the last lines of the log; the cause is almost always printed there.",
    ),
    2: (
        "Misuse or bad arguments (exit 2): a shell/CLI usage error, or a Go program that panicked.",
        "Look for 'panic:' or a usage message in the log; check the command and its arguments.",
    ),
    125: (
        "Docker could not run the container (exit 125): the error is in docker run/create itself, "
        "not in the application.",
        "Check the container configuration: invalid flags, unknown network, volume or device errors "
        "(see the daemon's error message).",
    ),
    126: (
        "The command was found but could not be executed (exit 126): not executable, permission "
        "denied, or a directory.",
        "Check the entrypoint's file mode (chmod +x), the user it runs as, and mount options such as noexec.",
    ),
    127: (
        "The command was not found (exit 127): a typo in the entrypoint or command, a binary missing "
        "from the image, or a script whose interpreter (#! line) is missing.",
        "Run the image's entrypoint by hand (docker run --entrypoint sh IMAGE -c 'command -v CMD'); "
        "check PATH and Windows line endings in scripts.",
    ),
    128: (
        "Exit 128: an invalid argument to exit, or a program that chose this code.",
        "Read the last lines of the log to see what the program did before exiting.",
    ),
    255: (
        "Exit 255: the process exited with -1 or an out-of-range status (often a fatal error "
        "from a runtime, an SSH failure, or an entrypoint error).",
        "Read the last lines of the log; check the entrypoint script and its error handling.",
    ),
}

# Signals with their own advice (number -> (meaning, next step)).
_SIGNALS: dict[int, tuple[str, str]] = {
    1: (
        "Hang-up (SIGHUP): the controlling terminal closed or a reload was requested.",
        "Check whether something sent SIGHUP and whether the program handles it as reload.",
    ),
    2: (
        "Interrupted (SIGINT), like Ctrl-C.",
        "Someone or something interrupted the process; usually intentional.",
    ),
    3: (
        "Quit (SIGQUIT): asked to stop with a core/thread dump.",
        "Look for the thread or goroutine dump in the log.",
    ),
    4: (
        "Illegal instruction (SIGILL): the binary uses CPU instructions this machine lacks, or the "
        "program is corrupt.",
        "Check the image's CPU architecture/features (e.g. built for AVX2 or for another platform).",
    ),
    6: (
        "Aborted (SIGABRT): the program aborted itself: failed assertion, detected memory corruption, "
        "or a fatal runtime error (e.g. Node 'JavaScript heap out of memory').",
        "Read the last lines of the log for the assertion or fatal error; for heap errors raise the "
        "heap limit or fix the leak.",
    ),
    7: (
        "Bus error (SIGBUS): bad memory access, often a truncated memory-mapped file or full /dev/shm.",
        "Check shm_size and disk space of mounted volumes.",
    ),
    8: (
        "Floating-point exception (SIGFPE), e.g. integer division by zero in native code.",
        "Look for the crashing code path in the log; it is a program bug.",
    ),
    11: (
        "Segmentation fault (SIGSEGV): the process crashed accessing invalid memory, usually in "
        "native code (C extension, bad native library, musl/glibc mismatch, stack overflow).",
        "Look at the last lines for the crashing module; try another image/library version; "
        "check native dependencies match the base image.",
    ),
    13: (
        "Broken pipe (SIGPIPE): wrote to a pipe or socket whose reader went away.",
        "Check the process it was writing to (a piped command or a closed connection).",
    ),
    14: (
        "Alarm (SIGALRM): a timer the program set fired without a handler.",
        "Check timeouts configured in the program.",
    ),
    15: (
        "Terminated (SIGTERM): a graceful stop was requested, normally by docker stop, a redeploy, "
        "or a scale-down.",
        "Usually expected during deploys; if not, find out who stopped it (docker events, Dokploy "
        "deployment history).",
    ),
}


def signal_name(number: int) -> str | None:
    """ "SIGKILL" for 9, etc. (Linux numbering), or None if unknown."""
    try:
        return signal.Signals(number).name
    except ValueError:
        if 34 <= number <= 64:
            return f"SIGRTMIN+{number - 34}"
        return None


def _explain_137(oom_killed: bool | None) -> ExitExplanation:
    if oom_killed:
        return ExitExplanation(
            code=137,
            signal="SIGKILL",
            meaning="Killed by the kernel OOM killer (exit 137, OOMKilled=true): the container reached "
            "its memory limit (or the host ran out of memory).",
            next_step="Compare memory usage with the limit (docker stats, deploy.resources.limits.memory); "
            "raise the limit or fix the leak / lower the cache and worker count.",
            is_failure=True,
        )
    if oom_killed is False:
        return ExitExplanation(
            code=137,
            signal="SIGKILL",
            meaning="Killed with SIGKILL from outside, not by the OOM killer (exit 137, OOMKilled=false): "
            "docker kill, or docker stop/redeploy after the grace period because the process did not "
            "exit on SIGTERM.",
            next_step="Check who stopped it (docker events, deployment history); if it was a stop, make the "
            "process handle SIGTERM (exec form entrypoint, no shell wrapper) or raise stop_grace_period. "
            "A host-wide OOM kill also looks like this: check the kernel log (dmesg).",
            is_failure=True,
        )
    return ExitExplanation(
        code=137,
        signal="SIGKILL",
        meaning="Killed with SIGKILL (exit 137): either the OOM killer (memory limit reached) or a kill "
        "from outside (docker kill, or docker stop after the grace period).",
        next_step="Read State.OOMKilled of the container (docker inspect): true means raise the memory "
        "limit or fix the leak; false means find who stopped it and make the process handle SIGTERM.",
        is_failure=True,
    )


def explain_exit(code: int, oom_killed: bool | None = None) -> ExitExplanation:
    """Meaning and next step for a container exit code; `oom_killed` is Docker's State.OOMKilled."""
    if code == 137:
        return _explain_137(oom_killed)
    oom_hint = (
        " Docker also reports OOMKilled=true: memory pressure was involved, check the memory limit."
        if oom_killed
        else ""
    )
    if code in _TABLE:
        meaning, next_step = _TABLE[code]
        return ExitExplanation(
            code=code, meaning=meaning + oom_hint, next_step=next_step, is_failure=code != 0
        )
    if 129 <= code <= 192:
        number = code - 128
        name = signal_name(number)
        label = name or f"signal {number}"
        meaning, next_step = _SIGNALS.get(
            number,
            (
                f"Killed by {label} (exit {code} = 128 + {number}).",
                "Find what sent the signal (docker events, the orchestrator, the program itself).",
            ),
        )
        return ExitExplanation(
            code=code,
            signal=name,
            meaning=f"{meaning} (exit {code} = 128 + {number}, {label}).{oom_hint}",
            next_step=next_step,
            is_failure=True,
        )
    if code < 0 or code > 255:
        return ExitExplanation(
            code=code,
            meaning=f"Exit code {code} is not a process exit status (0-255): Docker reports this when the "
            "container never started or its state is unknown.",
            next_step="Inspect the container state and the daemon's error message "
            "(docker inspect, docker events).",
            is_failure=True,
        )
    return ExitExplanation(
        code=code,
        meaning=f"The application exited with its own error code {code}.{oom_hint}",
        next_step="Look up this code in the application's documentation and read the last lines of the log.",
        is_failure=True,
    )


def exit_table() -> list[ExitExplanation]:
    """The explained codes in one list (for documentation and tools)."""
    codes = [0, 1, 2, 125, 126, 127, 128, 129, 130, 131, 132, 134, 135, 136, 139, 141, 143, 255]
    rows = [explain_exit(code) for code in codes]
    rows.insert(rows.index(next(r for r in rows if r.code == 136)) + 1, explain_exit(137, True))
    rows.insert(rows.index(next(r for r in rows if r.code == 137)) + 1, explain_exit(137, False))
    return rows
