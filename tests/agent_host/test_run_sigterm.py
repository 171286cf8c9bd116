"""`infraguardian-agent run` stops on SIGTERM (systemd, `docker stop`) as on Ctrl-C: cleanly, with
exit code 0, its MCP server child gone, nothing left half-done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_sigterm_stops_the_agent_cleanly(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "INFRAGUARDIAN_AGENT__STATE_DIR": str(tmp_path / "agent"),
        "INFRAGUARDIAN_STATE_DIR": str(tmp_path / "server"),
        "INFRAGUARDIAN_AGENT__DASHBOARD__PORT": "0",
        "INFRAGUARDIAN_AGENT__MEMORY__ENABLED": "false",
        # watch nothing of the shared engine: this test is about stopping
        "INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS": '{"io.infraguardian.test.none": "1"}',
    }
    err = tmp_path / "err"
    with err.open("wb") as sink:
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent_host", "run"], env=env, stdout=subprocess.DEVNULL, stderr=sink
        )
    try:
        deadline = time.monotonic() + 90
        while "dashboard: http" not in err.read_text() and time.monotonic() < deadline:
            assert agent.poll() is None, err.read_text()
            time.sleep(0.5)
        assert "dashboard: http" in err.read_text(), err.read_text()
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0, err.read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert "SIGTERM: stopping; unfinished incidents resume at the next start" in err.read_text()
