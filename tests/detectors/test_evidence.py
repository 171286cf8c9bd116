"""How evidence reads (framework helpers several detectors share): exit codes in words, human
sizes and durations."""

from __future__ import annotations

import pytest

from mcp_server.detectors.evidence import explain_exit_code, short_exit_label
from mcp_server.detectors.fmt import human_bytes, human_duration

pytestmark = pytest.mark.anyio


def test_exit_code_words() -> None:
    assert short_exit_label(1) == "general error"
    assert short_exit_label(137, True) == "OOM kill"
    assert short_exit_label(143) == "killed by SIGTERM"
    assert "not found" in explain_exit_code(127)["meaning"]


def test_human_formatting() -> None:
    assert human_bytes(28 * 1024 * 1024) == "28.0 MiB"
    assert human_duration(30) == "~30 s" and human_duration(600) == "~10 min"
    assert human_duration(0.25) == "~0.2 s" and human_duration(5400) == "~1.5 h"
