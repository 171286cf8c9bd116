"""Turn compose YAML text into plain Python data, remembering the line of every value.

Why not `yaml.safe_load`: it forgets line numbers, and it reads YAML 1.1 (`yes` -> True,
`10:30` -> 630) while Compose reads YAML 1.2. Here the text is composed into nodes
(`safe_yaml.compose_yaml`: size, nesting and alias expansion bounded), then built by hand:
- plain scalars follow the YAML 1.2 core schema (only true/false are booleans);
- merge keys (`<<: *anchor`, `<<: [*a, *b]`) are applied, explicit keys win;
- a key defined twice in one mapping is an error, as in Compose;
- every string value (not keys) is interpolated (`${VAR}` …) with the given environment;
- `Document.line(path)` gives the 1-based line of any value (of its key, for mapping entries),
  path like ("services", "web", "depends_on", 0).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml

from mcp_server.compose_graph.errors import ComposeYAMLError, InterpolationError
from mcp_server.compose_graph.interpolation import substitute
from mcp_server.safe_yaml import YAMLLimitError, compose_yaml

Path = tuple[str | int, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# Plain scalars Go's yaml.v3 (what Compose uses) turns into something other than a string.
_SPECIAL: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_YAML_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")
_UINT64_MAX = 2**64 - 1
_YAML11 = yaml.resolver.Resolver()


@dataclass
class Document:
    """A loaded compose file: `data` is plain dicts/lists/scalars after interpolation."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    unset_variables: list[tuple[str, int]] = field(default_factory=list)

    def line(self, path: Path) -> int | None:
        """1-based line of the value at `path`, or of its closest recorded parent."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) (or ParseUint): 0x / 0o / 0b prefixes, 0755 is octal."""
    if not _GO_INT.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    prefix = digits[:2].lower()
    if prefix in ("0x", "0o", "0b"):
        value = int(digits[2:], {"0x": 16, "0o": 8, "0b": 2}[prefix])
    elif len(digits) > 1 and digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    value *= sign
    return value if -(2**63) <= value <= _UINT64_MAX else None


def _plain_scalar(text: str) -> Any:
    """The value of an unquoted scalar as Go's yaml.v3 decodes it for Compose.

    Only true/false (three spellings) are booleans, `yes`/`on` stay strings; integers follow Go
    (`0755` octal, `0b101`, `1_000`); timestamps stay strings here (Compose rejects them in most
    places anyway).
    """
    if text in _SPECIAL:
        return _SPECIAL[text]
    first = text[0]
    if first == ".":
        return float(text) if _YAML_FLOAT.match(text) else text
    if not (first.isdigit() or first in "+-"):
        return text
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_FLOAT.match(plain):
        return float(plain)
    return text


def go_format(value: Any) -> str:
    """A scalar as Go's fmt %v prints it (how Compose turns numbers into strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    """fmt %v of a float64 (strconv 'g', shortest digits): exponent form when the decimal
    exponent is below -4 or at least 6, as in 1e+06 or 1.5e-07; plain digits otherwise."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign_bit, digit_tuple, exp = Decimal(repr(value)).normalize().as_tuple()
    sign = "-" if sign_bit else ""
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exp)  # where the decimal point sits in `digits`
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        tail = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    def __init__(self, env: Mapping[str, str], doc: Document) -> None:
        self.env = env
        self.doc = doc

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.doc.lines.setdefault(path, _line(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        raise ComposeYAMLError(f"unexpected YAML node {type(node).__name__}", _line(node))  # pragma: no cover

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        text = str(node.value)
        if not node.style:  # plain (None in PyYAML, "" in LibYAML): typed, unless an explicit !!str
            explicit_str = node.tag == _STR_TAG and _YAML11.resolve(yaml.ScalarNode, text, (True, False)) != (
                _STR_TAG
            )
            if not explicit_str:
                value = _plain_scalar(text)
                if not isinstance(value, str):
                    return value
        return self._interpolate(text, _line(node))

    def _interpolate(self, text: str, line: int) -> str:
        missing: list[str] = []
        try:
            result = substitute(text, self.env, missing)
        except InterpolationError as exc:
            raise InterpolationError(exc.message, line, variable=exc.variable) from None
        self.doc.unset_variables.extend((name, line) for name in missing)
        return result

    def _merge_sources(self, value: yaml.Node) -> list[yaml.MappingNode]:
        if isinstance(value, yaml.MappingNode):
            return [value]
        if isinstance(value, yaml.SequenceNode) and all(isinstance(v, yaml.MappingNode) for v in value.value):
            return list(value.value)
        raise ComposeYAMLError("merge key `<<` needs a mapping or a list of mappings", _line(value))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise ComposeYAMLError("mapping keys must be plain strings", _line(key_node))
            key = str(key_node.value)
            if key in seen:
                raise ComposeYAMLError(
                    f"mapping key {key!r} already defined at line {seen[key]}", _line(key_node)
                )
            seen[key] = _line(key_node)
            self.doc.lines.setdefault((*path, key), _line(key_node))
            result[key] = self.build(value_node, (*path, key))
        # Merged keys come after explicit ones so lines (setdefault) and values favour the
        # explicit key; among merge sources the earlier one wins.
        for merge in merges:
            for source in self._merge_sources(merge):
                for key, value in self._mapping(source, path).items():
                    result.setdefault(key, value)
        return result


def load_yaml(text: str, env: Mapping[str, str] | None = None) -> Document:
    """Parse and interpolate compose YAML. Raises ComposeYAMLError / InterpolationError with lines.

    An empty document gives `Document(data=None)`; checking the shape is the caller's job.
    """
    try:
        root = compose_yaml(text, what="the compose file")
    except YAMLLimitError as exc:
        raise ComposeYAMLError(str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        reason = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise ComposeYAMLError(f"invalid YAML: {reason}", line) from None
    except yaml.YAMLError as exc:  # e.g. bad encoding: no position available
        raise ComposeYAMLError(f"invalid YAML: {exc}") from None
    doc = Document(data=None)
    if root is None:
        return doc
    doc.data = _Builder(env or {}, doc).build(root, ())
    return doc
