"""Read `.env` files the way Docker Compose v2 does (compose-go `dotenv` package).

Rules, line by line:
- blank lines and lines starting with `#` are skipped; a leading `export ` is ignored;
- `KEY=value` or `KEY: value`; a bare `KEY` copies KEY from the outer environment if set;
- unquoted values end at the line end, lose a ` #comment` tail and trailing blanks, and are
  interpolated (`${OTHER}` sees keys defined earlier in the file, then the outer environment);
- 'single quoted' values are literal and may span lines;
- "double quoted" values understand \\n \\t \\" \\\\ \\$ escapes, may span lines, and are interpolated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mcp_server.compose_graph.errors import EnvFileError, InterpolationError
from mcp_server.compose_graph.interpolation import substitute

_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0\d{0,3})")
_ESCAPES = {"a": "\a", "b": "\b", "c": "\\c", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_EXPORT = re.compile(r"^export\s+")
# Spaces that do not end a line (compose-go isSpace).
_INLINE_SPACE = "\t\v\f\r \x85\xa0"


def _unescape(match: re.Match[str]) -> str:
    text = match.group(0)
    code = text[1:]
    if code == "$":
        return "$$"  # stays literal through the interpolation that follows
    if code in ('"', "\\"):
        return code
    if code.startswith("0"):
        # `\0ooo` is an octal byte; anything else loses the 0 and stays literal (compose-go quirk)
        digits = code[1:]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
            return chr(int(digits, 8))
        return "\\" + digits
    return _ESCAPES.get(code, text)


class _Parser:
    def __init__(self, text: str, outer: Mapping[str, str]) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.outer = outer
        self.values: dict[str, str] = {}

    def _lookup(self, name: str) -> str | None:
        if name in self.values:
            return self.values[name]
        return self.outer.get(name)

    def _expand(self, value: str) -> str:
        try:
            return substitute(value, self._lookup)
        except InterpolationError as exc:
            raise EnvFileError(exc.message, self.line) from None

    def _skip_to_statement(self) -> bool:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\n":
                self.line += 1
                self.pos += 1
            elif char.isspace():
                self.pos += 1
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return True
        return False

    def _read_key(self) -> tuple[str, bool]:
        """Return (key, inherited): inherited keys end at a newline with no value."""
        rest = _EXPORT.sub("", self.text[self.pos :], count=1)
        self.pos = len(self.text) - len(rest)
        while self.pos < len(self.text) and self.text[self.pos] in _INLINE_SPACE:
            self.pos += 1
        start = self.pos
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in "=:\n":
                key = text[start : self.pos].rstrip()
                self.pos += 1
                if char == "\n":
                    self.line += 1
                if " " in key:
                    raise EnvFileError("key cannot contain a space", self.line)
                return key, char == "\n"
            if not (char in _INLINE_SPACE or char in "_.-[]" or char.isalnum()):
                raise EnvFileError(f"unexpected character {char!r} in variable name", self.line)
            self.pos += 1
        # key at end of file without `=`: compose treats it like an inherited key
        return text[start:].rstrip(), True

    def _read_value(self) -> str:
        text = self.text
        while self.pos < len(text) and text[self.pos] in _INLINE_SPACE:
            self.pos += 1
        quote = text[self.pos] if self.pos < len(text) else ""
        if quote not in ("'", '"'):
            end = text.find("\n", self.pos)
            raw = text[self.pos :] if end < 0 else text[self.pos : end]
            self.pos = len(text) if end < 0 else end + 1
            value = raw.split(" #", 1)[0].rstrip()
            expanded = self._expand(value)
            self.line += 1
            return expanded
        start_line = self.line
        i = self.pos + 1
        while i < len(text):
            if text[i] == "\n":
                self.line += 1
            if text[i] == quote and text[i - 1] != "\\":
                value = text[self.pos + 1 : i]
                self.pos = i + 1
                if quote == '"':
                    return self._expand(_ESCAPE.sub(_unescape, value))
                return value
            i += 1
        first_line = text[self.pos :].split("\n", 1)[0]
        raise EnvFileError(f"unterminated quoted value {first_line}", start_line)

    def parse(self) -> dict[str, str]:
        while self._skip_to_statement():
            key, inherited = self._read_key()
            if not key:
                raise EnvFileError("zero length key", self.line)
            if inherited:
                if key in self.outer:
                    self.values[key] = self.outer[key]
                continue
            self.values[key] = self._read_value()
        return self.values


def parse_env_file(text: str, outer: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parse `.env` text into a dict; `outer` is the surrounding environment used for lookups.

    Raises EnvFileError (with the 1-based line) on malformed input.
    """
    return _Parser(text, outer or {}).parse()
