"""Runbooks: YAML files in `runbooks/`, schema-checked, served as `runbook://{name}` resources.

A runbook says, for one kind of incident, what to look at, what to try (tool calls the safety
policy will check again), how to verify, and when to stop and call a human. The agent host follows
them when no model is reachable, and gives them to the model as context when one is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcp_server.safe_yaml import YAMLLimitError, load_yaml, read_yaml_file

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "runbooks"


class RunbookError(ValueError):
    """A runbook file is not valid; the message names the file and the field."""


class RunbookStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    do: str = Field(min_length=1, description="what to do, in one sentence")
    tool: str | None = Field(default=None, description="MCP tool to call, if any")
    args: dict[str, object] = Field(
        default_factory=dict, description="arguments; {service} etc. are filled in"
    )
    when: str | None = Field(default=None, description="condition for this step, in words")
    mutating: bool = False


class Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    signals: list[str] = Field(default_factory=list, description="detector kinds this runbook answers")
    severity: Literal["info", "warning", "critical"] = "warning"
    diagnose: list[RunbookStep] = Field(min_length=1)
    remediate: list[RunbookStep] = Field(default_factory=list)
    verify: list[RunbookStep] = Field(min_length=1)
    escalate_when: list[str] = Field(min_length=1, description="stop and ask a human when any holds")


class RunbookLibrary:
    def __init__(self, runbooks: dict[str, tuple[Runbook, str]]) -> None:
        self._runbooks = runbooks

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
        return cls(found)

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
    try:
        data = load_yaml(read_yaml_file(path, what=f"runbook {path.name}"), what=f"runbook {path.name}")
    except YAMLLimitError as exc:
        raise RunbookError(str(exc)) from None
    except UnicodeDecodeError:
        raise RunbookError(f"{path.name}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise RunbookError(f"{path.name}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        return Runbook.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise RunbookError(f"{path.name}: {loc or 'top level'}: {err['msg']}") from None
