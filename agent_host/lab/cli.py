"""`infraguardian-agent lab list` and `lab run`: the incident lab's commands."""

from __future__ import annotations

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


@lab.command("run")
@click.option("--scenario", "names", multiple=True, help="A scenario to run (repeat; default: all).")
@click.option(
    "--scenario-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: lab/scenarios."
)
@click.option("--mode", type=click.Choice(["runbook", "scripted"]), default="runbook", show_default=True,
              help="runbook: runbooks alone; scripted: the Ollama stand-in plays the model.")  # fmt: skip
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
def run(names: tuple[str, ...], scenario_dir: Path | None, mode: str, json_file: Path | None) -> None:
    """Deploy each scenario through the Dokploy stand-in on the real engine, start the real server
    and agent, inject the fault, score what happened, and tear it all down. Exits 1 if any failed."""
    from .harness import run_one
    from .report import markdown_table, write_json

    try:
        scenarios = select(_load(scenario_dir), list(names))
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None

    def progress(scenario: str, what: str) -> None:
        click.echo(f"[{scenario}] {what}", err=True)

    results = [run_one(scenario, mode, progress) for scenario in scenarios]
    if json_file is not None:
        write_json(results, json_file)
    click.echo(markdown_table(results))
    if not all(r.passed for r in results):
        raise SystemExit(1)
