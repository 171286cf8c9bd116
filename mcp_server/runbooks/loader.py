"""Loading runbooks: files in `runbooks/`, schema-checked, errors with file, line and reason.

A broken runbook fails the whole load (the server will not start on half a library): the message
names the file, the line of the offending field and what is wrong, e.g.
`oom-killed.yaml line 14: solutions.0.when.0: unknown fact 'exitcode'; known facts: …`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mcp_server.safe_yaml import YAMLLimitError, compose_yaml, load_yaml, read_yaml_file

from .model import Runbook

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "runbooks"


class RunbookError(ValueError):
    """A runbook file is not valid; the message names the file, the line and the field."""


class RunbookLibrary:
    """Every runbook of a folder by name, with its YAML text (served as `runbook://NAME`)."""

    def __init__(self, runbooks: dict[str, tuple[Runbook, str]]) -> None:
        self._runbooks = runbooks

    @classmethod
    def from_texts(cls, texts: dict[str, str]) -> RunbookLibrary:
        """A library from name → YAML text (e.g. read from the server's runbook:// resources)."""
        found = {}
        for name, text in sorted(texts.items()):
            book = parse_runbook_text(text, f"runbook://{name}")
            if book.name != name:
                raise RunbookError(f"runbook://{name}: name {book.name!r} must equal {name!r}")
            found[name] = (book, text)
        library = cls(found)
        library._check_follows()
        return library

    @classmethod
    def load(cls, directory: Path | None = None) -> RunbookLibrary:
        directory = Path(directory or DEFAULT_DIR)
        found: dict[str, tuple[Runbook, str]] = {}
        if not directory.is_dir():
            return cls(found)
        for path in sorted(directory.glob("*.yaml")):
            book = parse_runbook(path)
            if book.name != path.stem:
                raise RunbookError(f"{path.name}: name {book.name!r} must equal the file name {path.stem!r}")
            found[book.name] = (book, path.read_text(encoding="utf-8"))
        library = cls(found)
        library._check_follows()
        return library

    def _check_follows(self) -> None:
        for name, (book, _) in self._runbooks.items():
            for solution in book.solutions:
                if solution.follow and solution.follow not in self._runbooks:
                    raise RunbookError(
                        f"{name}.yaml: solution {solution.id!r} follows unknown runbook {solution.follow!r}"
                    )

    def names(self) -> list[str]:
        return sorted(self._runbooks)

    def get(self, name: str) -> Runbook | None:
        entry = self._runbooks.get(name)
        return entry[0] if entry else None

    def text(self, name: str) -> str | None:
        entry = self._runbooks.get(name)
        return entry[1] if entry else None

    def for_signal(self, kind: str) -> list[Runbook]:
        return [book for book, _ in self._runbooks.values() if kind in book.signals]


def parse_runbook(path: Path) -> Runbook:
    """One runbook file, validated; `RunbookError` says where and what is wrong."""
    try:
        text = read_yaml_file(path, what=f"runbook {path.name}")
    except YAMLLimitError as exc:
        raise RunbookError(str(exc)) from None
    except UnicodeDecodeError:
        raise RunbookError(f"{path.name}: not UTF-8 text") from None
    return parse_runbook_text(text, path.name)


def parse_runbook_text(text: str, source: str) -> Runbook:
    """A runbook from its YAML text (`source` names it in errors, e.g. the file or resource)."""
    return parse_yaml_model(text, source, Runbook, RunbookError, what="runbook")


M = TypeVar("M", bound=BaseModel)


def parse_yaml_model(text: str, source: str, model: type[M], error: type[Exception], *, what: str) -> M:
    """`model` from YAML text, or `error` naming the source, the line and the field that is wrong
    (shared by runbooks and the lab's scenario specs)."""
    try:
        data = load_yaml(text, what=f"{what} {source}")
    except YAMLLimitError as exc:
        raise error(str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise error(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        line = line_of(text, loc)
        where = f" line {line}" if line else ""
        msg = err["msg"].removeprefix("Value error, ")
        raise error(f"{source}{where}: {'.'.join(map(str, loc)) or 'top level'}: {msg}") from None


def line_of(text: str, loc: list[Any]) -> int | None:
    """The 1-based line of the deepest node on `loc` that exists in the YAML text."""
    try:
        node = compose_yaml(text, what="runbook")
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part or (part == "in_" and key.value == "in"):
                    child = value if not isinstance(value, yaml.ScalarNode) else key
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line
