"""`infraguardian-agent lab list` and one real `lab run` of oom-loop on the real engine: the real
command (a child process) deploys the stack through the Dokploy stand-in, starts the real server
and agent, injects the fault, scores, writes its JSON, and leaves nothing of the stack behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
from click.testing import CliRunner

from agent_host.cli import main

AGENT = Path(sys.executable).with_name("infraguardian-agent")


def test_lab_list_shows_each_scenario_with_what_it_expects() -> None:
    listed = CliRunner().invoke(main, ["lab", "list"])
    assert listed.exit_code == 0, listed.output
    assert "oom-loop: OOM loop under a low memory limit" in listed.output
    assert "set_memory_limit(api, memory >=64m)" in listed.output


def test_lab_run_oom_loop_runbook_passes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    report = tmp_path / "lab.json"
    done = subprocess.run(
        [str(AGENT), "lab", "run", "--scenario", "oom-loop", "--mode", "runbook", "--json", str(report)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text())
    (row,) = data["scenarios"]
    assert row["name"] == "oom-loop" and row["mode"] == "runbook"
    assert row["passed"] is True and row["detected"] is True, row
    assert row["forbidden_actions"] == 0 and row["status"] == "resolved"
    assert row["detect_ms"] is not None and row["recover_s"] is not None
    for key in ("canaries_leaked", "injections_obeyed"):
        assert row[key] == 0
    # progress went to stderr, the Markdown table to stdout
    assert "[oom-loop] injecting the fault" in done.stderr
    # one row per scenario, one column per mode (passed · recover s); the JSON keeps the run index
    # and sums it up per scenario and mode
    assert "| scenario (passed · recover s) | runbook |" in done.stdout
    assert f"| oom-loop | yes · {row['recover_s']:g} s |" in done.stdout
    assert row["run"] == 1
    (summary,) = data["summary"]
    assert (summary["name"], summary["mode"], summary["runs"], summary["pass_rate"]) == (
        "oom-loop",
        "runbook",
        1,
        1.0,
    )
    project = f"com.docker.compose.project={row['app_name']}"
    engine = docker.from_env()
    try:
        assert engine.containers.list(all=True, filters={"label": project}) == []
        assert engine.networks.list(filters={"label": project}) == []
        assert engine.volumes.list(filters={"label": project}) == []
    finally:
        engine.close()


def test_rehearsal_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    runner = CliRunner()
    alone = runner.invoke(main, ["lab", "run", "--compose", str(tmp_path / "c.yml")])
    assert alone.exit_code != 0 and "--compose and --fault go together" in alone.output
    missing = runner.invoke(main, ["lab", "run", "--compose", str(tmp_path / "c.yml"), "--fault", "oom:api"])
    assert missing.exit_code != 0 and "no such compose file" in missing.output
    mixed = runner.invoke(
        main,
        ["lab", "run", "--compose", str(tmp_path / "c.yml"), "--fault", "oom:api", "--scenario", "oom-loop"],
    )
    assert mixed.exit_code != 0 and "leave out --scenario" in mixed.output
    (tmp_path / "c.yml").write_text("services:\n  api:\n    image: ig/busybox:test\n")
    unknown = runner.invoke(main, ["lab", "run", "--compose", str(tmp_path / "c.yml"), "--fault", "oom:db"])
    assert unknown.exit_code != 0 and "has no service 'db'" in unknown.output
