"""A compose file as a round-trip document: ruamel.yaml's model of it, and the file's own text.

Why both: ruamel.yaml reads a file into maps that remember, for every key, the line and column of
the key and its value, the comments, the quoting and the anchors. A change is decided on that model
(which key, in which mapping, added or replaced), then carried to the original text at the positions
ruamel recorded, so every byte the change does not touch stays as it was (ruamel's own dump would
normalise indentation, trailing spaces and the final newline in about a third of real templates).
When the layout does not allow an in-place edit (a flow-style `{...}` service, a value over several
lines), `dump` writes the whole model instead: comments, order, quoting and anchors are kept, the
layout is ruamel's.

The text goes through `mcp_server.safe_yaml` first, so a file over the size limit or an alias bomb is
refused before ruamel builds anything.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError as RuamelYAMLError

from mcp_server.safe_yaml import compose_yaml

# YAML 1.2 (ruamel's default) counts lines at "\n", "\r\n" and a lone "\r".
_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


class EditError(Exception):
    """The compose file can't take the change (the message says why and what to do)."""


class LayoutError(EditError):
    """The file's layout can't be edited in place; `dump` of the edited model still can."""


def _round_trip_yaml() -> YAML:
    parser = YAML(typ="rt")
    parser.preserve_quotes = True
    parser.allow_duplicate_keys = True  # like PyYAML and the rest of this project: the first one counts
    parser.width = 1 << 30  # never fold a long line when dumping
    return parser


def load(text: str, what: str = "the compose file") -> Any:
    """The round-trip model of `text` (CommentedMap for a mapping, None when empty).

    Size, nesting and aliases are checked by safe_yaml before ruamel reads anything. Raises
    EditError("<what> is not valid YAML: …") for invalid YAML or a file over those limits.
    """
    try:
        compose_yaml(text, what=what)
    except yaml.YAMLError as exc:
        raise EditError(f"{what} is not valid YAML: {exc}") from None
    try:
        return _round_trip_yaml().load(text)
    except RuamelYAMLError as exc:
        raise EditError(f"{what} is not valid YAML: {exc}") from None


def dump(model: Any) -> str:
    """The whole model as YAML text (comments, key order, quoting and anchors kept)."""
    out = io.StringIO()
    _round_trip_yaml().dump(model, out)
    return out.getvalue()


def own_items(mapping: CommentedMap) -> dict[Any, Any]:
    """The keys written in `mapping` itself, not those it takes from a `<<:` merge."""
    return dict(mapping.non_merged_items())


def is_block_mapping(node: Any) -> bool:
    return isinstance(node, CommentedMap) and not node.fa.flow_style()


@dataclass(frozen=True)
class Replace:
    """Put `text` where `mapping[key]`'s single-line scalar value is written."""

    mapping: CommentedMap
    key: str
    text: str


@dataclass(frozen=True)
class AddFirst:
    """Add `keys[0]: …keys[-1]: value` (one key per line, nested) as the first entry of `mapping`."""

    mapping: CommentedMap
    keys: tuple[str, ...]
    value: str


Edit = Replace | AddFirst


def apply(text: str, edits: Iterable[Edit]) -> str:
    """`text` with each edit made at the position ruamel recorded; nothing else changes.

    Raises LayoutError when a position does not hold what the model says (flow style, a value over
    several lines, a key that shares its line with other syntax): then dump the model instead.
    """
    lines = _LINE_END.split(text)
    placed = sorted((_place(lines, edit) for edit in edits), key=lambda p: (p[0], p[1]), reverse=True)
    for line, column, end, new in placed:
        if end is None:  # whole lines before `line`
            lines[line:line] = [new]
        else:
            lines[line] = lines[line][:column] + new + lines[line][end:]
    return "".join(lines)


def _place(lines: list[str], edit: Edit) -> tuple[int, int, int | None, str]:
    """(line, column, end column or None for an insertion of whole lines, new text)."""
    if isinstance(edit, Replace):
        return _place_replace(lines, edit)
    mapping = edit.mapping
    if not is_block_mapping(mapping) or not len(mapping):
        raise LayoutError("the mapping to add to is not a block mapping")
    line, column = mapping.lc.line, mapping.lc.col
    if line >= len(lines) or lines[line][:column].strip():
        raise LayoutError("unexpected layout before the mapping's first key")
    indent = lines[line][:column]
    last = len(edit.keys) - 1
    new = "".join(
        f"{indent}{'  ' * i}{key}:{' ' + edit.value if i == last else ''}\n"
        for i, key in enumerate(edit.keys)
    )
    return line, column, None, new


def _place_replace(lines: list[str], edit: Replace) -> tuple[int, int, int, str]:
    mapping, key = edit.mapping, edit.key
    line, column = mapping.lc.value(key)
    written = _written_at(lines[line] if line < len(lines) else "", column, mapping[key])
    if written is None:
        raise LayoutError(f"{key}'s value is not a single-line plain or quoted value")
    return line, column, column + len(written), edit.text


def _written_at(row: str, column: int, value: Any) -> str | None:
    """The source of scalar `value` starting at `row[column]`, when it is all on this line."""
    rest = row[column:]
    if rest[:1] == "'":  # single quotes: '' is an escaped quote
        found = re.match(r"'(?:[^'\r\n]|'')*'", rest)
    elif rest[:1] == '"':  # double quotes: backslash escapes
        found = re.match(r'"(?:[^"\\\r\n]|\\.)*"', rest)
    else:
        plain = "" if isinstance(value, bool) or value is None else str(value)
        after = rest[len(plain) : len(plain) + 1]
        return (
            plain
            if plain and rest.startswith(plain) and after in ("", " ", "\t", ",", "}", "]", "\r", "\n")
            else None
        )
    return found.group(0) if found else None
