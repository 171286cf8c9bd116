"""Variable interpolation exactly like Docker Compose v2 (compose-go `template` package).

Supported forms, where VAR matches `[_a-zA-Z][_a-zA-Z0-9]*`:

    $VAR  ${VAR}        value of VAR, blank (plus a warning) when unset
    ${VAR:-default}     default when VAR is unset or empty
    ${VAR-default}      default when VAR is unset
    ${VAR:?message}     error when VAR is unset or empty
    ${VAR?message}      error when VAR is unset
    ${VAR:+alt}         alt when VAR is set and not empty, else blank
    ${VAR+alt}          alt when VAR is set, else blank
    $$                  a literal `$`

Defaults, alternatives and messages may themselves contain `${...}`. A `$` followed by anything
else (a digit, a space, end of text) is kept as is; `${` followed by something that is not one of
the forms above is an error ("invalid interpolation format"), as in Compose.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from mcp_server.compose_graph.errors import InterpolationError

# Same pattern as compose-go: Python's `re` and Go's RE2 both pick the leftmost, greedy-first
# match here, so the spans are identical (the braced form deliberately runs to the last `}`;
# the real end is then found by counting braces, see _first_closing_brace).
_PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)"
    r"|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))"
)

# Separator -> what it does. Order only matters for documentation; the one that occurs first
# in the expression wins (compose-go sorts by position).
_SEPARATORS = (":?", "?", ":-", "-", ":+", "+")

Lookup = Callable[[str], str | None]
# Defaults inside defaults (`${A:-${B:-…}}`) deeper than this are refused rather than recursed into.
_MAX_NESTING = 50


def _first_closing_brace(text: str, start: int = 0) -> int:
    """Index of the `}` closing the `${` at `start`, counting nested `${`; -1 if the line ends first.

    (Compose's pattern cannot cross a line, so neither does the search: scanning stays
    proportional to the expression, never to the rest of a long text.)
    """
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == "\n":
            return -1
        if char == "}":
            depth -= 1
            if depth == 0:
                return i
        if char == "$" and text.startswith("${", i):
            depth += 1
            i += 1
        i += 1
    return -1


def _pick_separator(expression: str) -> str | None:
    found = [(expression.find(sep), sep) for sep in _SEPARATORS if sep in expression]
    if not found:
        return None
    return min(found)[1]


class _Substituter:
    """One interpolation pass; remembers which variables were used while unset."""

    def __init__(self, lookup: Lookup, template: str) -> None:
        self.lookup = lookup
        self.template = template
        self.missing: list[str] = []

    def run(self, text: str, depth: int = 0) -> str:
        """Replace every expression in `text`, left to right, in one pass.

        Same result as compose-go's `pattern.ReplaceAllStringFunc`, which matches greedily up to the
        last `}` of the line and then cuts at the balanced `}`: here the match is limited to the
        balanced expression from the start, so a long line with many `${…}` stays linear.
        """
        if depth > _MAX_NESTING:
            raise InterpolationError(
                f"interpolation in {self.template[:80]!r} nests ${{...}} more than {_MAX_NESTING} levels deep; "
                "use fewer nested defaults"
            )
        out: list[str] = []
        pos = 0
        while (start := text.find("$", pos)) >= 0:
            out.append(text[pos:start])
            end = len(text)
            if text.startswith("${", start):
                closing = _first_closing_brace(text, start)
                if closing > -1:
                    end = closing + 1
                elif (line_end := text.find("\n", start)) >= 0:
                    end = line_end
            match = _PATTERN.match(text, start, end)
            if match is None:  # `$1`, `$ `, a trailing `$`: kept as is
                out.append("$")
                pos = start + 1
                continue
            out.append(self._replace(match.group(0), depth))
            pos = match.end()
        out.append(text[pos:])
        return "".join(out)

    def _replace(self, whole: str, depth: int) -> str:
        separator = _pick_separator(whole)
        rest = ""
        closing = _first_closing_brace(whole)
        if closing > -1:
            rest = whole[closing + 1 :]
            whole = whole[: closing + 1]
        groups = _PATTERN.match(whole)
        if groups is None:  # the truncated text no longer parses: compose reports the template
            raise self._invalid()
        if groups.group("escaped"):
            return "$"
        name = groups.group("named")
        braced = False
        if not name:
            name = groups.group("braced")
            braced = True
        if not name:
            raise self._invalid()
        if braced and separator is not None and separator in name:
            return self._apply(name, separator, depth) + self.run(rest, depth)
        value = self.lookup(name)
        if value is None:
            self.missing.append(name)
            return ""
        return value

    def _invalid(self) -> InterpolationError:
        return InterpolationError(
            f"invalid interpolation format in {self.template!r}: escape a literal $ as $$"
        )

    def _apply(self, expression: str, separator: str, depth: int) -> str:
        name, _, argument = expression.partition(separator)
        value = self.lookup(name)
        if separator in (":?", "?"):
            message = self.run(argument, depth + 1)
            if value is None or (separator == ":?" and value == ""):
                reason = f": {message}" if message else ""
                raise InterpolationError(
                    f'required variable "{name}" is missing a value{reason}', variable=name
                )
            return value
        argument = self.run(argument, depth + 1)
        if separator == ":-":
            return value if value else argument
        if separator == "-":
            return argument if value is None else value
        if separator == ":+":
            return argument if value else (value or "")
        # "+": alternative whenever the variable is set, even to ""
        return argument if value is not None else ""


def substitute(text: str, env: Mapping[str, str] | Lookup, missing: list[str] | None = None) -> str:
    """Interpolate `text` with variables from `env` (a mapping or a name -> value|None function).

    Unset variables used without a default become "" and their names are appended to
    `missing` when given. Raises InterpolationError (without a line number: the caller knows
    where the text came from) for a malformed `${...}` or a missing required variable.
    """
    if "$" not in text:
        return text
    lookup: Lookup = env.get if isinstance(env, Mapping) else env
    run = _Substituter(lookup, text)
    result = run.run(text)
    if missing is not None:
        missing.extend(run.missing)
    return result
