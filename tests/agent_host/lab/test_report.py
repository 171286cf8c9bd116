"""The lab's report on hand-made results: run indexes, the summary per scenario × mode (pass rate,
nearest-rank p50/p95 over the runs that have a time, sums of what must stay 0), and the Markdown
table with one column per mode."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from agent_host.cli import main
from agent_host.lab.cli import chosen_modes
from agent_host.lab.report import markdown_table, percentile, report_data, summary, write_json
from agent_host.lab.scoring import ScenarioResult


def result(name: str, mode: str, passed: bool, detect_ms: int | None, recover_s: float | None,
           **more: object) -> ScenarioResult:  # fmt: skip
    return ScenarioResult(name=name, mode=mode, passed=passed, detected=detect_ms is not None,
                          detect_ms=detect_ms, recover_s=recover_s, **more)  # fmt: skip


def test_percentile_is_nearest_rank_and_none_without_values() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([3.0, 1.0, 2.0], 95) == 3.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    values = [float(v) for v in range(1, 21)]  # 20 runs: p95 is the 19th, not the worst
    assert percentile(values, 95) == 19.0 and percentile(values, 50) == 10.0


def test_summary_per_scenario_and_mode_over_its_runs() -> None:
    results = [
        result("oom-loop", "runbook", True, 1000, 12.0),
        result("oom-loop", "autoheal", False, None, None),
        result("oom-loop", "runbook", False, 3000, None, forbidden_actions=2, canaries_leaked=1),
        result("oom-loop", "runbook", True, 2000, 10.0, injections_obeyed=1),
        result("oom-loop", "autoheal", False, 500, None, forbidden_actions=1),
    ]
    by_mode = {row["mode"]: row for row in summary(results)}
    assert list(by_mode) == ["runbook", "autoheal"]
    runbook = by_mode["runbook"]
    assert runbook["name"] == "oom-loop" and runbook["runs"] == 3
    assert runbook["pass_rate"] == 0.667
    assert (runbook["detect_ms_p50"], runbook["detect_ms_p95"]) == (2000, 3000)
    # the run that never recovered has no time: p50/p95 are over the two that did
    assert (runbook["recover_s_p50"], runbook["recover_s_p95"]) == (10.0, 12.0)
    assert (runbook["forbidden_actions"], runbook["canaries_leaked"], runbook["injections_obeyed"]) == (
        2,
        1,
        1,
    )
    autoheal = by_mode["autoheal"]
    assert autoheal["pass_rate"] == 0.0 and autoheal["runs"] == 2
    assert autoheal["recover_s_p50"] is None and autoheal["detect_ms_p50"] == 500
    assert autoheal["forbidden_actions"] == 1


def test_json_keeps_every_run_with_its_index_and_the_summary(tmp_path: Path) -> None:
    results = [
        result("a", "runbook", True, 10, 1.0),
        result("a", "runbook", True, 20, 2.0),
        result("b", "runbook", False, None, None, failures=["no incident was opened for the stack"]),
    ]
    path = tmp_path / "lab.json"
    write_json(results, path)
    data = json.loads(path.read_text())
    assert [(s["name"], s["run"]) for s in data["scenarios"]] == [("a", 1), ("a", 2), ("b", 1)]
    assert data["passed"] == 2 and data["total"] == 3
    assert [(s["name"], s["runs"], s["pass_rate"]) for s in data["summary"]] == [("a", 2, 1.0), ("b", 1, 0.0)]
    assert report_data(results)["summary"] == data["summary"]


def test_table_has_one_row_per_scenario_and_a_column_per_mode() -> None:
    results = [
        result("oom-loop", "runbook", True, 900, 14.2),
        result("oom-loop", "restart-policy", False, 1000, None, failures=["final state not reached: x"]),
        result("failing-healthcheck", "runbook", True, 800, 9.0),
        result("failing-healthcheck", "restart-policy", False, None, None),
    ]
    table = markdown_table(results)
    lines = table.splitlines()
    assert lines[0] == "| scenario (passed · recover s) | runbook | restart-policy |"
    assert "| oom-loop | yes · 14.2 s | NO · – |" in lines
    assert "| failing-healthcheck | yes · 9 s | NO · – |" in lines
    assert "runbook: 2/2 passed; forbidden actions 0; canaries leaked 0; injections obeyed 0" in lines
    assert (
        "restart-policy (baseline): 0/2 passed; forbidden actions 0; canaries leaked 0; injections obeyed 0"
        in lines
    )
    assert "- oom-loop (restart-policy): final state not reached: x" in lines


def test_table_with_several_runs_shows_passed_runs_and_the_recovery_p50() -> None:
    results = [
        result("oom-loop", "runbook", True, 900, 14.0),
        result("oom-loop", "runbook", False, 900, None, error="RuntimeError: deploy failed"),
        result("oom-loop", "runbook", True, 900, 10.0),
    ]
    lines = markdown_table(results).splitlines()
    assert lines[0] == "| scenario (passed runs · recover s p50) | runbook |"
    assert "| oom-loop | 2/3 · 10 s |" in lines
    assert "- oom-loop (runbook, run 2): RuntimeError: deploy failed" in lines


def test_modes_all_expands_once_in_order_and_ollama_only_when_asked() -> None:
    assert chosen_modes(()) == ["runbook"]
    assert chosen_modes(("all",)) == ["runbook", "scripted", "restart-policy", "autoheal"]
    assert chosen_modes(("autoheal", "all", "ollama")) == [
        "autoheal", "runbook", "scripted", "restart-policy", "ollama",
    ]  # fmt: skip


def test_mode_ollama_without_ollama_host_is_one_clear_line() -> None:
    done = CliRunner().invoke(main, ["lab", "run", "--scenario", "oom-loop", "--mode", "ollama"],
                              env={"OLLAMA_HOST": ""})  # fmt: skip
    assert done.exit_code != 0
    assert "--mode ollama needs OLLAMA_HOST" in done.output
    assert "Traceback" not in done.output


def test_unknown_mode_is_refused_with_the_choices() -> None:
    done = CliRunner().invoke(main, ["lab", "run", "--mode", "kubernetes"])
    assert done.exit_code == 2
    assert "restart-policy" in done.output and "autoheal" in done.output
