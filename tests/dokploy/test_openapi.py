"""The operation table read from Dokploy's real OpenAPI document, and its zod-compatible validation."""

from __future__ import annotations

import json
import math

import pytest

from mcp_server.dokploy.openapi import (
    OpenApiDocumentError,
    OperationTable,
    UnknownOperationError,
    coerce_query,
    encode_query,
)
from tests.conftest import CAPTURES, OPENAPI_FILE


@pytest.fixture(scope="module")
def table() -> OperationTable:
    return OperationTable.from_file(OPENAPI_FILE)


def test_every_operation_is_in_the_table(table: OperationTable) -> None:
    doc = json.loads(OPENAPI_FILE.read_text())
    assert len(table) == 597 == sum(len(v) for v in doc["paths"].values())
    assert table.get("compose.one").method == "GET"
    assert table.get("compose.deploy").method == "POST"
    assert table.get("COMPOSE.ONE").name == "compose.one"  # the adapter's path match is case-insensitive
    assert not table.get("application.dropDeployment").json_body  # multipart only


def test_unknown_operation_suggests_close_names(table: OperationTable) -> None:
    with pytest.raises(UnknownOperationError) as exc:
        table.get("compose.onee")
    assert "compose.one" in exc.value.suggestions
    assert "did you mean" in str(exc.value)


def _validation_captures() -> list[tuple[str, dict]]:
    out = []
    for f in sorted(CAPTURES.glob("*.json")):
        d = json.loads(f.read_text())
        body = (d.get("response") or {}).get("body")
        if isinstance(body, dict) and body.get("issues") and d["request"]["path"].startswith("/api/"):
            out.append((f.name, d))
    return out


@pytest.mark.parametrize(
    ("name", "capture"), _validation_captures(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_validation_matches_real_dokploy_issues(table: OperationTable, name: str, capture: dict) -> None:
    """For every captured zod rejection, our validation finds the same issues (code, path, expected)."""
    req = capture["request"]
    op = table.get(req["path"].removeprefix("/api/"))
    if req["method"] == "GET":
        raw = {k: v if isinstance(v, list) else [v] for k, v in (req.get("query") or {}).items()}
        data = coerce_query(op, raw)
    else:
        data = req["body"] if isinstance(req["body"], dict) else {}
    ours = [i.as_zod() for i in table.validate(op.name, data)]
    theirs = capture["response"]["body"]["issues"]
    assert [(i["code"], i["path"], i.get("expected")) for i in ours] == [
        (i["code"], i["path"], i.get("expected")) for i in theirs
    ]
    for mine, real in zip(ours, theirs, strict=True):
        assert set(mine) == set(real), f"{name}: issue keys differ"


def test_valid_input_has_no_issues(table: OperationTable) -> None:
    assert table.validate("compose.deploy", {"composeId": "abc", "title": "t"}) == []
    assert table.validate("project.all", None) == []
    assert table.validate("deployment.readLogs", {"deploymentId": "d", "tail": 50}) == []


def test_query_coercion_mirrors_the_adapter(table: OperationTable) -> None:
    op = table.get("deployment.readLogs")
    assert coerce_query(op, {"deploymentId": ["x"], "tail": ["20"], "junk": ["1"]}) == {
        "deploymentId": "x",
        "tail": 20,
    }
    assert math.isnan(coerce_query(op, {"tail": ["abc"]})["tail"])
    assert coerce_query(table.get("project.one"), {"projectId": [""]}) == {}  # empty value = absent


def test_query_encoding_leaves_false_out() -> None:
    # Dokploy coerces query booleans with JS Boolean(): the string "false" would arrive as true.
    assert encode_query({"a": False, "b": True, "c": None, "d": [1, 2], "e": 2.0}) == [
        ("b", "true"),
        ("d", "1"),
        ("d", "2"),
        ("e", "2"),
    ]


def test_bad_documents_are_refused(tmp_path) -> None:
    with pytest.raises(OpenApiDocumentError, match="not found"):
        OperationTable.from_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("<html>")
    with pytest.raises(OpenApiDocumentError, match="not readable JSON"):
        OperationTable.from_file(bad)
    bad.write_text('{"openapi": "3.1.0"}')
    with pytest.raises(OpenApiDocumentError, match="no 'paths'"):
        OperationTable.from_file(bad)


def test_known_divergences_from_the_document_follow_the_server(table: OperationTable) -> None:
    # The document marks deleteVolumes required; the real server answers 404 (not 400) without it.
    assert table.validate("compose.delete", {"composeId": "x"}) == []
    strict = OperationTable.from_document(json.loads(OPENAPI_FILE.read_text()), corrections=())
    assert [i.path for i in strict.validate("compose.delete", {"composeId": "x"})] == [("deleteVolumes",)]
