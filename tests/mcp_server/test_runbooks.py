"""Runbooks: every file is valid, names match, every tool they name exists, every detector's runbook exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mcp_server.detectors import detector_classes
from mcp_server.runbooks import RunbookError, RunbookLibrary, parse_runbook

pytestmark = pytest.mark.anyio


def test_library_loads_and_covers_every_detector() -> None:
    lib = RunbookLibrary.load()
    assert len(lib.names()) >= 10
    for name, cls in detector_classes().items():
        runbook = getattr(cls, "runbook", None)
        assert runbook in lib.names(), f"detector {name} suggests missing runbook {runbook!r}"
    assert lib.for_signal("oom")[0].name == "oom-killed"


async def test_runbooks_call_real_tools_with_real_arguments(mcp_client: Client) -> None:
    """Every tool call of every runbook names a tool of the server, passes only arguments that tool
    takes, and gives every argument it requires; the runbooks are resources."""
    schemas = {t.name: t.input_schema for t in (await mcp_client.list_tools()).tools}
    lib = RunbookLibrary.load()
    calls = 0
    for name in lib.names():
        book = lib.get(name)
        assert book is not None
        for call in book.tool_calls():
            calls += 1
            assert call.tool in schemas, f"{name}: unknown tool {call.tool}"
            properties = set(schemas[call.tool].get("properties", {}))
            assert set(call.arguments) <= properties, (
                f"{name}: {call.tool} takes no {set(call.arguments) - properties}"
            )
            missing = set(schemas[call.tool].get("required", [])) - set(call.arguments)
            assert not missing, f"{name}: {call.tool} needs {missing}"
    assert calls >= 30
    listed = {str(r.uri) for r in (await mcp_client.list_resources()).resources}
    assert {f"runbook://{n}" for n in lib.names()} <= listed
    # served as written (redaction must not corrupt them: the agent host parses what it reads)
    served = {}
    for name in lib.names():
        read = await mcp_client.read_resource(f"runbook://{name}")
        served[name] = read.contents[0].text  # type: ignore[union-attr]
        assert served[name] == lib.text(name), name
    assert RunbookLibrary.from_texts(served).names() == lib.names()


def test_dry_run_first_only_on_tools_that_have_a_dry_run() -> None:
    dry_run_tools = {"set_memory_limit", "rollback", "prune", "restart_service", "deploy", "start_compose"}
    lib = RunbookLibrary.load()
    for name in lib.names():
        book = lib.get(name)
        assert book is not None
        for solution in book.solutions:
            for action in solution.actions:
                if action.dry_run_first:
                    assert action.tool in dry_run_tools, f"{name}/{solution.id}: {action.tool} has no dry run"


_VALID = """name: x
title: t
description: d
trigger: {signals: [oom]}
context:
  - {id: status, do: look, tool: service_status, arguments: {app_name: "{app_name}"}}
solutions:
  - id: fix
    title: fix it
    when:
      - {fact: oom_killed, equals: true}
    confidence: 0.8
    risk: low
    actions:
      - {do: raise, tool: set_memory_limit, arguments: {memory: "{facts.proposed_memory}"}}
verify: {window_s: 60, checks: [{check: running}]}
escalate_when: [ask]
"""


def test_a_valid_runbook_parses(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(_VALID)
    book = parse_runbook(path)
    assert book.signals == ["oom"]
    assert book.escalate_when[0].reason == "ask"
    assert book.solutions[0].threshold == 0.7  # the default


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "fact: oom_killed, equals: true",
            "fact: oomkilled, equals: true",
            r"line 11: solutions.0.when.0: unknown fact 'oomkilled'",
        ),
        (
            "fact: oom_killed, equals: true",
            "fact: oom_killed, at_least: 3",
            r"line 11: .*'at_least' does not apply to 'oom_killed', which is a bool",
        ),
        (
            "fact: oom_killed, equals: true",
            "fact: exit_code, equals: true",
            r"line 11: .*'exit_code' is a number; equals: True can never match",
        ),
        ("fact: oom_killed, equals: true", "fact: oom_killed", r"line 11: .*needs exactly one test"),
        (
            '"{facts.proposed_memory}"',
            '"{facts.proposed_mem}"',
            r"line 15: solutions.0.actions.0.arguments: unknown fact 'proposed_mem'",
        ),
        ('"{app_name}"', '"{appname}"', r"line 6: context.0.arguments: unknown placeholder \{appname\}"),
        ("risk: low", "risk: none", r"line 13: solutions.0.risk: Input should be 'low', 'medium' or 'high'"),
        (
            "confidence: 0.8",
            "confidence: 1.8",
            r"line 12: solutions.0.confidence: Input should be less than or equal to 1",
        ),
        (
            "{check: running}",
            "{check: memory_below_percent}",
            r"line 16: verify.checks.0: memory_below_percent needs percent",
        ),
        (
            "    risk: low\n",
            "    risk: low\n    follow: other\n",
            r"solutions.0: a solution has either actions or follow",
        ),
        (
            "escalate_when: [ask]",
            "escalate_when: []",
            r"line 17: escalate_when: List should have at least 1 item",
        ),
    ],
)
def test_bad_runbooks_say_file_line_and_reason(tmp_path: Path, old: str, new: str, expected: str) -> None:
    old, new = old.replace("\\n", "\n"), new.replace("\\n", "\n")
    assert old in _VALID
    path = tmp_path / "x.yaml"
    path.write_text(_VALID.replace(old, new, 1))
    with pytest.raises(
        RunbookError, match=r"^x\.yaml " + expected if expected.startswith("line") else expected
    ):
        parse_runbook(path)


def test_follow_must_name_a_runbook_of_the_library(tmp_path: Path) -> None:
    text = _VALID.replace(
        '    actions:\n      - {do: raise, tool: set_memory_limit, arguments: {memory: "{facts.proposed_memory}"}}\n',
        "    follow: nowhere\n",
    )
    assert "follow: nowhere" in text
    (tmp_path / "x.yaml").write_text(text)
    with pytest.raises(RunbookError, match="follows unknown runbook 'nowhere'"):
        RunbookLibrary.load(tmp_path)


def test_bad_yaml_and_wrong_names_get_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("name: x\ntitle: [unclosed\n")
    with pytest.raises(RunbookError, match=r"x.yaml line \d+: not valid YAML"):
        parse_runbook(bad)
    bad.write_text(_VALID.replace("name: x", "name: y"))
    with pytest.raises(RunbookError, match="must equal the file name"):
        RunbookLibrary.load(tmp_path)
