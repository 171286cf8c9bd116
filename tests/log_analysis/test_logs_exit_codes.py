"""Exit codes and signals explained."""

from __future__ import annotations

import pytest

from mcp_server.log_analysis.exit_codes import exit_table, explain_exit, signal_name


@pytest.mark.parametrize(
    ("code", "signal", "words"),
    [
        (0, None, "successfully"),
        (1, None, "general error"),
        (2, None, "Go program that panicked"),
        (125, None, "Docker could not run"),
        (126, None, "could not be executed"),
        (127, None, "not found"),
        (130, "SIGINT", "Ctrl-C"),
        (134, "SIGABRT", "abort"),
        (139, "SIGSEGV", "Segmentation fault"),
        (143, "SIGTERM", "graceful stop"),
        (255, None, "out-of-range"),
        (129, "SIGHUP", "128 + 1"),
        (159, "SIGSYS", "128 + 31"),
        (42, None, "its own error code 42"),
        (-1, None, "not a process exit status"),
    ],
)
def test_explain_exit(code: int, signal: str | None, words: str) -> None:
    explained = explain_exit(code)
    assert explained.code == code
    assert explained.signal == signal
    assert words in explained.meaning
    assert explained.next_step
    assert explained.is_failure == (code != 0)


def test_137_depends_on_oom_killed() -> None:
    oom = explain_exit(137, oom_killed=True)
    killed = explain_exit(137, oom_killed=False)
    unknown = explain_exit(137, oom_killed=None)
    assert all(e.signal == "SIGKILL" for e in (oom, killed, unknown))
    assert "OOM killer" in oom.meaning and "memory limit" in oom.meaning
    assert "not by the OOM killer" in killed.meaning and "docker kill" in killed.meaning
    assert "SIGTERM" in killed.next_step
    assert "OOMKilled" in unknown.next_step
    assert len({oom.meaning, killed.meaning, unknown.meaning}) == 3


def test_oom_flag_is_mentioned_for_other_codes() -> None:
    assert "OOMKilled=true" in explain_exit(1, oom_killed=True).meaning
    assert "OOMKilled" not in explain_exit(1, oom_killed=False).meaning


def test_signal_names_and_table() -> None:
    assert signal_name(9) == "SIGKILL"
    assert signal_name(15) == "SIGTERM"
    assert signal_name(99) is None
    codes = [row.code for row in exit_table()]
    for code in (0, 1, 2, 125, 126, 127, 130, 134, 137, 139, 143, 255):
        assert code in codes
    assert codes.count(137) == 2
