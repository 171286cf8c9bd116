"""Unit checks of interpolation and .env reading (the oracle tests cover fidelity to Compose)."""

from __future__ import annotations

import pytest

from mcp_server.compose_graph.dotenv import parse_env_file
from mcp_server.compose_graph.errors import EnvFileError, InterpolationError
from mcp_server.compose_graph.interpolation import substitute

ENV = {"HOST": "db", "EMPTY": "", "PORT": "5432"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${HOST}:${PORT}", "db:5432"),
        ("$HOST", "db"),
        ("${NOPE:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${NOPE-fallback}", "fallback"),
        ("${HOST:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${NOPE+alt}", ""),
        ("$$HOST", "$HOST"),
        ("cost: 5$", "cost: 5$"),
        ("${NOPE:-${HOST:-x}}", "db"),
        ("no dollars", "no dollars"),
    ],
)
def test_forms(text: str, expected: str) -> None:
    assert substitute(text, ENV) == expected


def test_unset_variables_are_reported_once_per_use() -> None:
    missing: list[str] = []
    assert substitute("${A}-$B-${A:-d}-${HOST}", ENV, missing) == "--d-db"
    assert missing == ["A", "B"]


@pytest.mark.parametrize(
    ("text", "variable", "reason"),
    [("${NOPE:?set NOPE}", "NOPE", "set NOPE"), ("${EMPTY:?}", "EMPTY", ""), ("${NOPE?}", "NOPE", "")],
)
def test_required_variables(text: str, variable: str, reason: str) -> None:
    with pytest.raises(InterpolationError) as info:
        substitute(text, ENV)
    assert info.value.variable == variable
    assert str(info.value) == f'required variable "{variable}" is missing a value' + (
        f": {reason}" if reason else ""
    )


def test_required_accepts_empty_when_only_set_is_required() -> None:
    assert substitute("${EMPTY?must be set}", ENV) == ""


@pytest.mark.parametrize("text", ["${}", "${1ABC}", "${A B}", "${HOST"])
def test_malformed_expressions_are_errors(text: str) -> None:
    with pytest.raises(InterpolationError, match="invalid interpolation format"):
        substitute(text, ENV)


def test_dotenv_basics() -> None:
    text = "# c\nA=1\nexport B = two words # note\nC='lit $A'\nD=\"${A}-\\n\"\nE=${A}${B:+!}\n"
    assert parse_env_file(text) == {"A": "1", "B": "two words", "C": "lit $A", "D": "1-\n", "E": "1!"}


def test_dotenv_outer_environment_is_used_for_lookups_and_bare_keys() -> None:
    assert parse_env_file("A=${OUTER}\nOUTER\nMISSING\n", {"OUTER": "o"}) == {"A": "o", "OUTER": "o"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("A=1\nB='never closed\n", 2, "unterminated quoted value"),
        ("A=1\n\nB$=2\n", 3, "unexpected character '$'"),
        ("A=1\nB=${X:?needed}\n", 2, 'required variable "X"'),
    ],
)
def test_dotenv_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(EnvFileError) as info:
        parse_env_file(text)
    assert info.value.line == line
    assert message in str(info.value)
