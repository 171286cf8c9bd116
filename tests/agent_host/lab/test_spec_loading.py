"""Scenario folders: the shipped ones load, and a broken spec names its file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent_host.lab.loader import DEFAULT_DIR, ScenarioError, load_scenario, load_scenarios, select


def copy_of_oom_loop(tmp_path: Path) -> Path:
    folder = tmp_path / "oom-loop"
    shutil.copytree(DEFAULT_DIR / "oom-loop", folder)
    return folder


def test_the_shipped_scenarios_load_and_oom_loop_expects_a_raise() -> None:
    scenarios = {s.name: s for s in load_scenarios()}
    spec = scenarios["oom-loop"].spec
    assert spec.expected_actions[0].tool == "set_memory_limit"
    assert spec.expected_actions[0].arguments == {"memory": ">=64m"}
    assert scenarios["oom-loop"].fault.name == "fault.sh"


def test_a_missing_field_names_the_file_the_line_and_the_field(tmp_path: Path) -> None:
    folder = copy_of_oom_loop(tmp_path)
    spec = folder / "scenario.yaml"
    text = spec.read_text()
    assert "  - tool: set_memory_limit\n" in text
    spec.write_text(text.replace("  - tool: set_memory_limit\n", "  - tol: set_memory_limit\n"))
    line = 1 + spec.read_text().splitlines().index("  - tol: set_memory_limit")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(folder)
    message = str(caught.value)
    assert message.startswith(f"{spec} line {line}: expected_actions.0."), message


def test_a_wrong_type_names_its_line(tmp_path: Path) -> None:
    folder = copy_of_oom_loop(tmp_path)
    spec = folder / "scenario.yaml"
    text = spec.read_text().replace("time_limit_s: 100", "time_limit_s: soon")
    spec.write_text(text)
    line = 1 + text.splitlines().index("time_limit_s: soon")
    with pytest.raises(ScenarioError, match=rf"scenario.yaml line {line}: time_limit_s: "):
        load_scenario(folder)


def test_an_empty_forbidden_rule_is_refused(tmp_path: Path) -> None:
    folder = copy_of_oom_loop(tmp_path)
    spec = folder / "scenario.yaml"
    spec.write_text(spec.read_text().replace("  - {action: prune, why: no prune}", "  - {why: nothing}"))
    with pytest.raises(ScenarioError, match=r"forbidden_actions.0: a forbidden action needs at least one"):
        load_scenario(folder)


def test_invalid_yaml_names_its_line(tmp_path: Path) -> None:
    folder = copy_of_oom_loop(tmp_path)
    (folder / "scenario.yaml").write_text("name: oom-loop\ntitle: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"scenario.yaml line \d+: not valid YAML"):
        load_scenario(folder)


def test_the_folder_needs_a_fault_injector_and_its_own_name(tmp_path: Path) -> None:
    folder = copy_of_oom_loop(tmp_path)
    (folder / "fault.sh").unlink()
    with pytest.raises(ScenarioError, match="needs exactly one fault injector"):
        load_scenario(folder)
    renamed = tmp_path / "other"
    shutil.copytree(DEFAULT_DIR / "oom-loop", renamed)
    with pytest.raises(ScenarioError, match="must equal the folder name 'other'"):
        load_scenario(renamed)


def test_an_unknown_scenario_name_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match=r"unknown scenario nope; known: .*oom-loop"):
        select(load_scenarios(), ["nope"])


def append_to_spec(folder: Path, text: str) -> Path:
    spec = folder / "scenario.yaml"
    spec.write_text(spec.read_text() + text)
    return spec


def test_an_owner_step_needs_an_approval_and_an_existing_script(tmp_path: Path) -> None:
    folder = copy_of_oom_loop(tmp_path)
    append_to_spec(folder, "owner_step: owner.sh\n")
    with pytest.raises(ScenarioError, match=r"owner_step runs after an approval: set `approval: approve`"):
        load_scenario(folder)
    append_to_spec(folder, "approval: approve\n")
    with pytest.raises(ScenarioError, match=r"owner_step 'owner.sh' is not a file of"):
        load_scenario(folder)
    (folder / "owner.sh").write_text("true\n")
    assert load_scenario(folder).spec.approval == "approve"


def test_a_short_canary_and_a_missing_extra_compose_are_refused(tmp_path: Path) -> None:
    folder = copy_of_oom_loop(tmp_path)
    spec = append_to_spec(folder, "canaries: [secret]\n")
    with pytest.raises(ScenarioError, match=r"canaries: .*at least 12 characters"):
        load_scenario(folder)
    spec.write_text(
        spec.read_text().replace(
            "canaries: [secret]\n", "extra_stacks: [{name: other, compose: other.yml}]\n"
        )
    )
    with pytest.raises(ScenarioError, match=r"extra stack other: no compose file 'other.yml'"):
        load_scenario(folder)
    (folder / "other.yml").write_text("services:\n  web:\n    image: ig/busybox:test\n")
    loaded = load_scenario(folder)
    assert "web:" in loaded.extra_composes["other"] and loaded.spec.extra_stacks[0].signals == []


def test_an_unknown_agent_setting_is_refused_before_anything_is_deployed(tmp_path: Path) -> None:
    from agent_host.lab.harness import agent_settings

    folder = copy_of_oom_loop(tmp_path)
    append_to_spec(folder, "agent: {flap: {cooldown_s: 0, no_such: 1}}\n")
    with pytest.raises(ValueError, match="no_such"):
        agent_settings(load_scenario(folder), tmp_path, None)
