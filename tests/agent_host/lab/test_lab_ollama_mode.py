"""`lab run --mode ollama` with OLLAMA_HOST set: the agent asks the model at that address (here
the Ollama stand-in, answering as gpt-oss would), and the row says the model decided. The real
command runs as a child process, so the only way it can reach the model is through OLLAMA_HOST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent_host.lab.harness import scripted_model
from agent_host.lab.loader import load_scenarios, select

AGENT = Path(sys.executable).with_name("infraguardian-agent")


def test_mode_ollama_asks_the_model_at_ollama_host_and_the_model_decides(tmp_path: Path) -> None:
    scenario = select(load_scenarios(), ["oom-loop"])[0]
    model = scripted_model(scenario)  # a stand-in answering with the scenario's scripted decision
    report = tmp_path / "lab.json"
    try:
        done = subprocess.run(
            [str(AGENT), "lab", "run", "--scenario", "oom-loop", "--mode", "ollama", "--json", str(report)],
            capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, "OLLAMA_HOST": model.url},
        )  # fmt: skip
        chats = model.chats
    finally:
        model.stop()
    assert report.is_file(), done.stdout + done.stderr
    row = json.loads(report.read_text())["scenarios"][0]
    assert row["mode"] == "ollama", row
    assert row["passed"] is True, (row["failures"], row["error"], done.stderr[-3000:])
    assert row["decided_by"] == "model" and row["tokens"] > 0, row
    assert any(action.startswith("set_memory_limit(api, ") for action in row["actions"]), row["actions"]
    # the model was asked about this incident, with the evidence in the request
    assert chats, "the agent never asked the model at OLLAMA_HOST"
    assert all(chat.body.get("model") == "gpt-oss:20b" for chat in chats)
    assert any("137" in json.dumps(chat.body) or "OOM" in json.dumps(chat.body) for chat in chats)
    assert "| scenario (passed · recover s) | ollama |" in done.stdout
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
