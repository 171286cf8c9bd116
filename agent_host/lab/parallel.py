"""Running several scenario runs at once, each in its own `infraguardian-agent lab run` child process.

A run is mostly waiting (for a restart policy, a health check, a verification window), so a full
lab (every scenario in every mode) runs several at a time. Each child has its own stand-ins, its
own server and agent, and its own stderr capture (leaks.py redirects a process-wide descriptor, so
runs in one process could not overlap); its progress lines reach the terminal, its scores come back
as its JSON report. A child that dies without a report is a failed row saying why. Ctrl-C reaches
the children too (same process group): each tears its run down, and this waits for them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .scoring import ScenarioResult


@dataclass(frozen=True)
class Job:
    scenario: str
    mode: str


def child_command(job: Job, report: Path, scenario_dir: Path | None) -> list[str]:
    command = [sys.executable, "-m", "agent_host", "lab", "run", "--scenario", job.scenario,
               "--mode", job.mode, "--json", str(report)]  # fmt: skip
    if scenario_dir is not None:
        command += ["--scenario-dir", str(scenario_dir)]
    return command


def run_child(job: Job, scenario_dir: Path | None, timeout_s: float) -> ScenarioResult:
    """One run in a child process; its score from its JSON report."""
    with tempfile.TemporaryDirectory(prefix="ig-lab-job-") as tmp:
        report = Path(tmp) / "report.json"
        try:
            done = subprocess.run(
                child_command(job, report, scenario_dir), stdout=subprocess.DEVNULL,
                stderr=None, timeout=timeout_s, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return ScenarioResult(
                name=job.scenario, mode=job.mode, error=f"the run took longer than {timeout_s:g} s"
            )
        if not report.is_file():
            return ScenarioResult(
                name=job.scenario, mode=job.mode,
                error=f"the run exited {done.returncode} without a report (its error is above)",
            )  # fmt: skip
        rows = json.loads(report.read_text(encoding="utf-8"))["scenarios"]
        return ScenarioResult.model_validate(rows[0])  # extra keys (its run index) are ignored


def run_parallel(
    jobs: list[Job], parallel: int, scenario_dir: Path | None, timeout_s: float = 900
) -> list[ScenarioResult]:
    """Every job, at most `parallel` at a time; the results in the order of `jobs`."""
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="lab-job") as pool:
        return list(pool.map(lambda job: run_child(job, scenario_dir, timeout_s), jobs))
