"""Learn the header (prefix) format of one log from a sample of its lines, and strip it.

A log written by one program puts the same kinds of fields before every message: a date, a
time, a level, a pid, a host, `[thread]`, `component:`. Fixed patterns cannot know them all
(`20171223-22:15:29:606|Step_LSC|30002312|msg`, `134681 node-246 unix.hw state 1077804742 1 msg`),
so the format is learned instead:

1. each masked sample line (times, numbers, ids already <TS>, <NUM>, ...) is cut into fields:
   whitespace- or `|`-separated tokens, with `[...]`, `(...)` and `proc[pid]:` kept whole;
2. each field gets a kind: T time, V value (holds a <NUM>-like mask), L level word,
   B bracketed, C ends with ":" (component, logger, `proc[pid]:`), P punctuation (`-`, `|`),
   W plain word (M: a word in some lines, a value in others, like a host name);
3. position by position, the kind shared by most lines (>= 80% of the sample) is part of the
   header, until no kind dominates or after the first C (a component with a colon ends it);
4. the header ends at its last field that is not a word (W or M): words are kept for the message,
   so an event word ("Component", "Received") never becomes a header field.

Lines whose first fields have the learned kinds lose exactly that prefix; other lines (a
stack trace, another program's output) fall back to `patterns.strip_header`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .patterns import LEVEL_NAMES, strip_header

# One field: a bracket group (one level of nesting), `proc[pid]` with an optional ` (addr)` and
# colon (macOS syslog), a parenthesised group, a lone "|", or a run without whitespace and "|".
_FIELD_RE = re.compile(
    r"\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]:?"
    r"|[^\s|\[]+\[[^\[\]\s]*\](?: \([^()]*\))?:?"
    r"|\([^()]*\):?"
    r"|\|"
    r"|[^\s|]+"
)
_SPACE_RE = re.compile(r"[ \t]*")
_PUNCTUATION = frozenset("-|#*:.>=,;")
MAX_FIELDS = 12
MAX_EXTRA_WORDS = 2
MIN_SAMPLE = 8
DOMINANT_SHARE = 0.8
MIN_COVERAGE = 0.5


def _kind(field: str) -> str:
    """The kind of one masked header field (see the module docstring)."""
    if "<TS>" in field:
        return "T"
    first = field[0]
    if first == "[":
        return "B"
    if all(char in _PUNCTUATION for char in field):
        return "P"
    if field.rstrip(":,").upper() in LEVEL_NAMES and (len(field.rstrip(":,")) > 1 or field[0].isupper()):
        return "L"
    if field.endswith(":") and len(field) > 1:
        return "C"
    if "<" in field and ">" in field:
        return "V"
    return "W"


def fields(masked: str, limit: int = MAX_FIELDS) -> list[tuple[str, int]]:
    """The first `limit` fields of a masked line as (kind, end offset)."""
    out: list[tuple[str, int]] = []
    pos = _SPACE_RE.match(masked).end()  # type: ignore[union-attr]  # [ \t]* always matches
    while len(out) < limit:
        match = _FIELD_RE.match(masked, pos)
        if match is None:
            break
        out.append((_kind(match.group(0)), match.end()))
        pos = _SPACE_RE.match(masked, match.end()).end()  # type: ignore[union-attr]
    return out


# Which kinds a line may show where a kind was learned: a word field's value may hold a digit
# (host "dn228", thread "worker-3") or be a level word ("error"), a time may be written unpadded
# ("0:9:33" masks to <NUM>).
# M is a field that is a word in some lines and a value in others (a host, a thread name).
_COMPATIBLE = {"W": "WVL", "V": "VWT", "M": "WVL", "T": "TV"}


def _compatible(learned: str, seen: str) -> bool:
    return seen in _COMPATIBLE.get(learned, learned)


def _dominant(counts: Counter[str], total: int) -> str | None:
    """The kind of one position if one kind, or words-or-values, or times-or-values, dominate."""
    kind, count = counts.most_common(1)[0]
    if count >= DOMINANT_SHARE * total:
        return kind
    if counts["W"] + counts["V"] >= DOMINANT_SHARE * total:
        return "M"
    if counts["T"] + counts["V"] >= DOMINANT_SHARE * total:
        return "T"
    return None


@dataclass(frozen=True)
class HeaderFormat:
    """The learned kinds of a log's header fields, e.g. ("T", "V", "W", "C")."""

    kinds: tuple[str, ...]

    def header_end(self, masked: str) -> int | None:
        """Where the header of one masked line ends, or None if the line does not have it.

        Before a delimiter field (P, C, B) up to `MAX_EXTRA_WORDS` extra words may come: a
        program name with a space, a "*64" marker.
        """
        found = fields(masked, len(self.kinds) + MAX_EXTRA_WORDS)
        index = extra = 0
        for kind in self.kinds:
            while index < len(found) and not _compatible(kind, found[index][0]):
                if kind not in "PCB" or found[index][0] not in "WV" or extra == MAX_EXTRA_WORDS:
                    return None
                index += 1
                extra += 1
            if index == len(found):
                return None
            index += 1
        return found[index - 1][1]

    def strip(self, masked: str) -> str:
        """The message part of one masked line; never empty."""
        end = self.header_end(masked)
        rest = masked[end:].strip() if end is not None else ""
        if rest:
            return strip_header(rest) if self.kinds[-1] == "L" else rest
        return strip_header(masked)


def learn_header(sample: Sequence[str]) -> HeaderFormat | None:
    """The header format shared by most of `sample` (masked lines), or None if there is none."""
    lines = [fields(line) for line in dict.fromkeys(sample) if line.strip()]
    if len(lines) < MIN_SAMPLE:
        return None
    kinds: list[str] = []
    matching = lines
    for position in range(MAX_FIELDS):
        counts = Counter(found[position][0] for found in matching if len(found) > position + 1)
        if not counts:
            break
        # Share of the whole sample, so that the header does not narrow down to one event.
        kind = _dominant(counts, len(lines))
        if kind is None:
            break
        kinds.append(kind)
        matching = [
            found for found in matching if len(found) > position + 1 and _compatible(kind, found[position][0])
        ]
        if kind == "C":
            break
    while kinds and kinds[-1] in "WM":
        kinds.pop()
    if not kinds or len(matching) < MIN_COVERAGE * len(lines):
        return None
    return HeaderFormat(tuple(kinds))
