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


async def test_runbooks_name_only_real_tools_and_are_resources(mcp_client: Client) -> None:
    tools = {t.name for t in (await mcp_client.list_tools()).tools}
    lib = RunbookLibrary.load()
    for name in lib.names():
        book = lib.get(name)
        assert book is not None
        for step in [*book.diagnose, *book.remediate, *book.verify]:
            assert step.tool is None or step.tool in tools, f"{name}: unknown tool {step.tool}"
    listed = {str(r.uri) for r in (await mcp_client.list_resources()).resources}
    assert {f"runbook://{n}" for n in lib.names()} <= listed
    text = await mcp_client.read_resource("runbook://oom-killed")
    assert "name: oom-killed" in text.contents[0].text  # type: ignore[union-attr]


def test_bad_runbooks_get_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("name: x\ntitle: [unclosed\n")
    with pytest.raises(RunbookError, match=r"x.yaml line \d+: not valid YAML"):
        parse_runbook(bad)
    bad.write_text("name: x\ntitle: t\ndescription: d\ndiagnose: []\nverify: [{do: v}]\nescalate_when: [h]\n")
    with pytest.raises(RunbookError, match=r"x\.yaml: diagnose: List should have at least 1 item"):
        parse_runbook(bad)
    bad.write_text(
        "name: y\ntitle: t\ndescription: d\ndiagnose: [{do: a}]\nverify: [{do: v}]\nescalate_when: [h]\n"
    )
    with pytest.raises(RunbookError, match="must equal the file name"):
        RunbookLibrary.load(tmp_path)
