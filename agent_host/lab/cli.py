"""`infraguardian-agent lab list` and `lab run`: the incident lab's commands."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .loader import Scenario, ScenarioError, load_scenarios, select


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
def run(
    names: tuple[str, ...],
    scenario_dir: Path | None,
    modes: tuple[str, ...],
    runs: int,
    json_file: Path | None,
) -> None:
    """Deploy each scenario through the Dokploy stand-in on the real engine, start the real server
    and agent (or only observe, for the baselines), inject the fault, score what happened, and tear
    it all down. Exits 1 if a run of the agent failed (a baseline's failures are what it is
    compared with, not an error; one that could not run is)."""
    from .baselines import BASELINES, run_baseline
    from .harness import run_one
    from .report import AGENT_MODES, markdown_table, write_json

    order = chosen_modes(modes)
    if "ollama" in order and not os.environ.get("OLLAMA_HOST"):
        raise click.ClickException(
            "--mode ollama needs OLLAMA_HOST (e.g. http://127.0.0.1:11434); set it or use --mode scripted"
        )
    try:
        scenarios = select(_load(scenario_dir), list(names))
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None

    def progress(scenario: str, what: str) -> None:
        click.echo(f"[{scenario}] {what}", err=True)

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
    if json_file is not None:
        write_json(results, json_file)
    click.echo(markdown_table(results))
    # a baseline failing is what the agent is compared with; a baseline that could not run is an error
    if any(r.error or (r.mode in AGENT_MODES and not r.passed) for r in results):
        raise SystemExit(1)
