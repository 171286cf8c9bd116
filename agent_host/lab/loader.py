"""Loading scenario folders: `scenario.yaml` validated, errors with file, line and field.

Line numbers come from the same helper the runbook loader uses (mcp_server/runbooks/loader.py), so
a broken scenario reads like a broken runbook:
`lab/scenarios/oom-loop/scenario.yaml line 12: expected_actions.0.tool: Field required`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mcp_server.runbooks.loader import parse_yaml_model
from mcp_server.safe_yaml import YAMLLimitError, load_yaml

from .spec import ScenarioSpec

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "lab" / "scenarios"
FAULT_FILES = ("fault.sh", "fault.py")


class ScenarioError(ValueError):
    """A scenario folder is not valid; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Scenario:
    spec: ScenarioSpec
    folder: Path
    compose_text: str
    fault: Path
    extra_composes: dict[str, str] = field(default_factory=dict)  # extra stack name → compose text

    @property
    def name(self) -> str:
        return self.spec.name


def parse_spec(text: str, source: str) -> ScenarioSpec:
    """A spec from the YAML text of `scenario.yaml` (`source` names the file in errors)."""
    return parse_yaml_model(text, source, ScenarioSpec, ScenarioError, what="scenario")


def load_scenario(folder: Path) -> Scenario:
    """One scenario folder, checked: its spec, its compose file and its fault injector."""
    spec_path = folder / "scenario.yaml"
    if not spec_path.is_file():
        raise ScenarioError(
            f"{folder}: no scenario.yaml; a scenario folder holds scenario.yaml, compose.yml, fault.sh"
        )
    spec = parse_spec(spec_path.read_text(encoding="utf-8"), str(spec_path))
    if spec.name != folder.name:
        raise ScenarioError(f"{spec_path}: name {spec.name!r} must equal the folder name {folder.name!r}")
    compose_path = folder / "compose.yml"
    if not compose_path.is_file():
        raise ScenarioError(f"{folder}: no compose.yml; write the scenario's stack there")
    compose_text = read_compose(compose_path)
    faults = [folder / name for name in FAULT_FILES if (folder / name).is_file()]
    if len(faults) != 1:
        raise ScenarioError(f"{folder}: needs exactly one fault injector, fault.sh or fault.py")
    if spec.owner_step and not (folder / spec.owner_step).is_file():
        raise ScenarioError(f"{spec_path}: owner_step {spec.owner_step!r} is not a file of {folder}")
    extra = {}
    for stack in spec.extra_stacks:
        path = folder / stack.compose
        if not path.is_file():
            raise ScenarioError(f"{spec_path}: extra stack {stack.name}: no compose file {stack.compose!r}")
        extra[stack.name] = read_compose(path)
    return Scenario(
        spec=spec, folder=folder, compose_text=compose_text, fault=faults[0], extra_composes=extra
    )


def read_compose(compose_path: Path) -> str:
    """A compose file's text, checked to be YAML with at least one service."""
    compose_text = compose_path.read_text(encoding="utf-8")
    try:
        compose = load_yaml(compose_text, what=f"compose {compose_path}")
    except (yaml.YAMLError, YAMLLimitError) as exc:
        raise ScenarioError(f"{compose_path}: not valid YAML ({exc})") from None
    if (
        not isinstance(compose, dict)
        or not isinstance(compose.get("services"), dict)
        or not compose["services"]
    ):
        raise ScenarioError(f"{compose_path}: needs a `services:` mapping with at least one service")
    return compose_text


def load_scenarios(directory: Path | None = None) -> list[Scenario]:
    """Every scenario folder under `directory` (default: lab/scenarios), sorted by name."""
    directory = Path(directory or DEFAULT_DIR)
    if not directory.is_dir():
        raise ScenarioError(f"{directory}: no such scenario folder; pass --scenario-dir DIR")
    return [load_scenario(sub) for sub in sorted(directory.iterdir()) if sub.is_dir()]


def select(scenarios: list[Scenario], names: list[str]) -> list[Scenario]:
    """The scenarios named (all of them when `names` is empty); an unknown name is an error."""
    if not names:
        return scenarios
    known = {s.name: s for s in scenarios}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ScenarioError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [known[n] for n in names]
