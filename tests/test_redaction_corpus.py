"""The canary corpus (tests/data/canaries.yaml) through both redaction entry points.

Every secret shape must lose its canaries and keep the names around them; every clean case must
come back unchanged. The text cases also go through `redact()` as a string field and as a list of
log lines (how signals carry `last_log_lines`), the structured cases as JSON-like values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_server.redaction import redact, redact_lines, redact_text

CORPUS_FILE = Path(__file__).parent / "data" / "canaries.yaml"
CORPUS: dict[str, list[dict[str, Any]]] = yaml.safe_load(CORPUS_FILE.read_text())


def _ids(section: str) -> list[str]:
    return [case["id"] for case in CORPUS[section]]


def all_canaries() -> list[str]:
    """Every canary value of the corpus (text and structured cases)."""
    return [c for section in ("secrets", "structured") for case in CORPUS[section] for c in case["canaries"]]


def corpus_log_lines() -> list[str]:
    """Every text case, secret and clean, as the lines a container would print."""
    return [
        line
        for section in ("secrets", "clean")
        for case in CORPUS[section]
        for line in case["text"].split("\n")
    ]


def leaks(output: str, case: dict[str, Any]) -> list[str]:
    return [c for c in case["canaries"] if c in output]


def test_corpus_is_well_formed() -> None:
    canaries = all_canaries()
    assert len(canaries) == len(set(canaries)), "canary values must be unique"
    assert all("CANARY" in c for c in canaries)
    for case in CORPUS["secrets"]:
        for canary in case["canaries"]:
            assert canary in case["text"], (case["id"], canary)
    for case in CORPUS["clean"] + CORPUS["clean_structured"]:
        assert "CANARY" not in json.dumps(case), case["id"]


@pytest.mark.parametrize("case", CORPUS["secrets"], ids=_ids("secrets"))
def test_text_shape_loses_its_canaries_and_keeps_names(case: dict[str, Any]) -> None:
    out = redact_text(case["text"])
    assert not leaks(out, case), out
    assert "CANARY" not in out, out
    for kept in case["keep"]:
        assert kept in out, (kept, out)
    assert out.count("\n") == case["text"].count("\n")  # line breaks stay (redact_lines relies on it)
    assert redact_text(out) == out  # idempotent: redacting twice changes nothing


@pytest.mark.parametrize("case", CORPUS["secrets"], ids=_ids("secrets"))
def test_text_shape_through_structured_redact(case: dict[str, Any]) -> None:
    as_field = json.dumps(redact({"message": case["text"]}))
    as_lines = json.dumps(redact({"last_log_lines": case["text"].split("\n")}))
    assert not leaks(json.loads(as_field)["message"], case), as_field
    assert not leaks("\n".join(json.loads(as_lines)["last_log_lines"]), case), as_lines


@pytest.mark.parametrize("case", CORPUS["structured"], ids=_ids("structured"))
def test_structured_shape_loses_its_canaries(case: dict[str, Any]) -> None:
    out = json.dumps(redact(case["value"]))
    assert not leaks(out, case), out
    for kept in case["keep"]:
        assert kept in out, (kept, out)


@pytest.mark.parametrize("case", CORPUS["clean"], ids=_ids("clean"))
def test_clean_text_is_unchanged(case: dict[str, Any]) -> None:
    assert redact_text(case["text"]) == case["text"]
    assert redact({"message": case["text"]}) == {"message": case["text"]}
    lines = case["text"].split("\n")
    assert redact_lines(lines) == lines


@pytest.mark.parametrize("case", CORPUS["clean_structured"], ids=_ids("clean_structured"))
def test_clean_structured_is_unchanged(case: dict[str, Any]) -> None:
    assert redact(case["value"]) == case["value"]


def test_the_whole_corpus_as_one_log() -> None:
    """All shapes in one text, as a container would print them: none leaks, and each clean line
    is still there word for word."""
    lines = corpus_log_lines()
    for out in (redact_text("\n".join(lines)), "\n".join(redact_lines(lines))):
        assert "CANARY" not in out
        for case in CORPUS["clean"]:
            if case["id"] != "compose-services":  # YAML shapes mean something else inside a log
                assert case["text"] in out, case["id"]
