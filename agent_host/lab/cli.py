"""`infraguardian-agent lab list` and `lab run`: the incident lab's commands."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .loader import Scenario, ScenarioError, load_scenarios, select

if TYPE_CHECKING:
    from .scoring import ScenarioResult


def _load(scenario_dir: Path | None) -> list[Scenario]:
    try:
        return load_scenarios(scenario_dir)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("lab")
def lab() -> None:
    """The incident lab: real faults on the real engine, the agent's response scored."""


@lab.command("list")
@click.option(
    "--scenario-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: lab/scenarios."
)
def list_scenarios(scenario_dir: Path | None) -> None:
    """The scenarios, with their title and what they expect of the agent."""
    for scenario in _load(scenario_dir):
        click.echo(f"{scenario.name}: {scenario.spec.title}")
        click.echo(f"    expects: {scenario.spec.expects()}")


MODES = ("runbook", "scripted", "ollama", "restart-policy", "autoheal")
ALL_MODES = ("runbook", "scripted", "restart-policy", "autoheal")  # `all`: ollama only when asked


def chosen_modes(modes: tuple[str, ...]) -> list[str]:
    """The modes to run, in the order given, `all` expanded, each once (default: runbook)."""
    expanded = [m for mode in (modes or ("runbook",)) for m in (ALL_MODES if mode == "all" else (mode,))]
    return list(dict.fromkeys(expanded))


@lab.command("run")
@click.option("--scenario", "names", multiple=True, help="A scenario to run (repeat; default: all).")
@click.option(
    "--scenario-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: lab/scenarios."
)
@click.option(
    "--mode", "modes", multiple=True, type=click.Choice([*MODES, "all"]),
    help="Repeat for several (default: runbook). runbook: runbooks alone; scripted: the Ollama "
    "stand-in plays the model; ollama: the real model at $OLLAMA_HOST; restart-policy: Docker's "
    "restart policy alone (no agent); autoheal: restart what is unhealthy every 5 s (no agent); "
    "all: runbook, scripted, restart-policy and autoheal.",
)  # fmt: skip
@click.option("--runs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs of each scenario and mode (the report gives the pass rate and p50/p95).")  # fmt: skip
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
@click.option("--ci", is_flag=True, help="Only the fast subset CI runs on every push (`ci: true` specs).")
@click.option("--parallel", type=click.IntRange(min=1, max=8), default=1, show_default=True,
              help="Runs at a time, each in its own process (a full lab: 3 on 2 cores).")  # fmt: skip
@click.option("--compose", "compose_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Rehearse --fault on a disposable copy of this compose file (never the running stack).")  # fmt: skip
@click.option("--fault", help="With --compose: KIND:SERVICE, KIND one of oom, crash, hang, unhealthy, stop.")
def run(
    names: tuple[str, ...],
    scenario_dir: Path | None,
    modes: tuple[str, ...],
    runs: int,
    json_file: Path | None,
    ci: bool,
    parallel: int,
    compose_file: Path | None,
    fault: str | None,
) -> None:
    """Deploy each scenario through the Dokploy stand-in on the real engine, start the real server
    and agent (or only observe, for the baselines), inject the fault, score what happened, and tear
    it all down. Exits 1 if a run of the agent failed (a baseline's failures are what it is
    compared with, not an error; one that could not run is)."""
    order = chosen_modes(modes)
    if "ollama" in order and not os.environ.get("OLLAMA_HOST"):
        raise click.ClickException(
            "--mode ollama needs OLLAMA_HOST (e.g. http://127.0.0.1:11434); set it or use --mode scripted"
        )
    if (compose_file is None) != (fault is None):
        raise click.ClickException("--compose and --fault go together: --compose FILE --fault KIND:SERVICE")
    if compose_file is not None and (names or scenario_dir or ci):
        raise click.ClickException(
            "--compose rehearses your stack: leave out --scenario, --scenario-dir, --ci"
        )
    with tempfile.TemporaryDirectory(prefix="ig-rehearsal-") as tmp:  # the rehearsal's folder lives here
        if compose_file is not None:
            from .rehearsal import RehearsalError, rehearsal_scenario

            try:
                scenarios = [rehearsal_scenario(compose_file, str(fault), Path(tmp))]
            except RehearsalError as exc:
                raise click.ClickException(str(exc)) from None
            scenario_dir = scenarios[0].folder.parent
        else:
            try:
                scenarios = select(_load(scenario_dir), list(names))
            except ScenarioError as exc:
                raise click.ClickException(str(exc)) from None
            if ci:
                scenarios = [s for s in scenarios if s.spec.ci]
        results = run_all(scenarios, order, runs, parallel, scenario_dir)
    if json_file is not None:
        from .report import write_json

        write_json(results, json_file)
    from .report import AGENT_MODES, markdown_table

    click.echo(markdown_table(results))
    if compose_file is not None:
        for result in results:
            did = "; ".join(result.actions) or "no change"
            click.echo(f"what the agent did ({result.mode}): {did} — {result.outcome or result.error or ''}")
    # a baseline failing is what the agent is compared with; a baseline that could not run is an error
    if any(r.error or (r.mode in AGENT_MODES and not r.passed) for r in results):
        raise SystemExit(1)


def progress(scenario: str, what: str) -> None:
    click.echo(f"[{scenario}] {what}", err=True)


def run_all(
    scenarios: list[Scenario], order: list[str], runs: int, parallel: int, scenario_dir: Path | None
) -> list[ScenarioResult]:
    """Every scenario × mode × run, one after the other or `parallel` at a time in child processes."""
    if parallel > 1:
        from .parallel import Job, run_parallel

        jobs = [Job(s.name, mode) for s in scenarios for mode in order for _ in range(runs)]
        progress("lab", f"{len(jobs)} runs, {parallel} at a time")
        return run_parallel(jobs, parallel, scenario_dir)
    from .baselines import BASELINES, run_baseline
    from .harness import run_one

    results = []
    for scenario in scenarios:
        for mode in order:
            for index in range(1, runs + 1):
                if runs > 1 or len(order) > 1:
                    progress(scenario.name, f"mode {mode}" + (f", run {index}/{runs}" if runs > 1 else ""))
                if mode in BASELINES:
                    results.append(run_baseline(scenario, mode, progress))
                else:
                    results.append(run_one(scenario, mode, progress))
    return results
