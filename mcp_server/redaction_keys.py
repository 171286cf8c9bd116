"""Private-key material in text, whole or cut off, masked line by line (the line count stays).

Three shapes: a whole `-----BEGIN … PRIVATE KEY-----` … `-----END …-----` block (also inside a
JSON string with `\\n` escapes); a block whose BEGIN line a log tail cut off (base64 lines right
before an `-----END … PRIVATE KEY-----` line) or whose END line is missing; and a run of two or
more full-length base64 lines (64, 70 or 76 characters, the PEM/OpenSSH/PGP widths) with no marker
at all. Timestamps and stream names in front of the lines (`LOG_PREFIX`) are kept. Hex digests
(one case only) are not base64 key material and stay.
"""

from __future__ import annotations

import re

from mcp_server.redaction_names import MASK

TIMESTAMP = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
# What log readers put in front of a line: timestamps (the reader's, the engine's, the program's;
# `-` when there is none) and a stream name: `2026-03-01T10:00:00.1+00:00 stdout <line>`.
LOG_PREFIX = rf"(?:(?:{TIMESTAMP}|-)[ \t]+(?:(?:stdout|stderr)[ \t]+)?){{0,3}}"
_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY[A-Z ]{0,20}-----")
_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY[A-Z ]{0,20}-----")
# BEGIN … END on one line: a key inside a JSON string (`"-----BEGIN …-----\nMIIE…\n-----END …"`)
_ONE_LINE_KEY = re.compile(
    r"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY[A-Z ]{0,20}-----)(?:(?!-----(?:END|BEGIN) )[^\n])*?(-----END [A-Z0-9 ]{0,40}PRIVATE KEY[A-Z ]{0,20}-----)"
)
# One line of a key body, after an optional Docker timestamp: base64, or a PEM header line.
_BODY_LINE = re.compile(
    rf"^([ \t]*{LOG_PREFIX})([A-Za-z0-9+/]{{4,}}={{0,2}}|(?:Proc-Type|DEK-Info|Comment):[^\n]*)[ \t]*$"
)
_FULL_WIDTH_LINE = re.compile(
    rf"(?m)^[ \t]*{LOG_PREFIX}[A-Za-z0-9+/]{{64}}(?:[A-Za-z0-9+/]{{6}}){{0,2}}={{0,2}}[ \t]*$"
)
# the start of such a line, searched from its newline (a literal start keeps the search fast)
_FULL_WIDTH_HINT = re.compile(rf"\n[ \t]*{LOG_PREFIX}[A-Za-z0-9+/]{{64}}")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")
_DIGIT_OR_SYMBOL = re.compile(r"[0-9+/=]")


def _looks_random(body: str) -> bool:
    """Base64 of key bytes mixes upper and lower case; words and hex digests do not."""
    return bool(_UPPER.search(body) and _LOWER.search(body))


def _body(line: str, *, short_ok: bool = False) -> re.Match[str] | None:
    """The match of a key-body line, or None. Lines shorter than 16 characters count only where
    the block's last (short) line is expected (`short_ok`), and only when they look encoded."""
    match = _BODY_LINE.match(line)
    if match is None or match.group(2).startswith(("Proc-Type", "DEK-Info", "Comment")):
        return match
    body = match.group(2)
    if len(body) >= 16 and _looks_random(body):
        return match
    if short_ok and _DIGIT_OR_SYMBOL.search(body) and (_UPPER.search(body) or _LOWER.search(body)):
        return match
    return None


def _masked(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}"


def mask_private_keys(text: str) -> str:
    """Mask key bodies: whole blocks, blocks without their BEGIN or END line, unmarked runs."""
    if "PRIVATE KEY" in text:
        text = _mask_marked_blocks(text)
    if _FULL_WIDTH_HINT.search(text) or _FULL_WIDTH_HINT.match("\n" + text[:200]):
        text = _mask_unmarked_runs(text)
    return text


def _mask_marked_blocks(text: str) -> str:
    text = _ONE_LINE_KEY.sub(rf"\1{MASK}\2", text)
    lines = text.split("\n")
    inside = False
    for i, line in enumerate(lines):
        begin, end = _BEGIN.search(line), _END.search(line)
        if begin and not end:
            inside = True
            continue
        if end:
            if not inside and not begin:  # the BEGIN line was cut off: mask the body lines right above
                j, short_ok = i - 1, True
                while j >= 0 and (match := _body(lines[j], short_ok=short_ok)):
                    lines[j] = _masked(match)
                    j, short_ok = j - 1, False
            inside = False
            continue
        if inside:
            match = _body(line, short_ok=True)
            if match is None and line.strip():
                inside = False  # the END line was cut off and the log goes on
            elif match is not None:
                lines[i] = _masked(match)
    return "\n".join(lines)


def _mask_unmarked_runs(text: str) -> str:
    """Two or more adjacent full-width base64 lines (and the short line that ends the block)."""
    lines = text.split("\n")
    run: list[int] = []
    for i, line in enumerate([*lines, ""]):
        body = _BODY_LINE.match(line) if i < len(lines) and _FULL_WIDTH_LINE.match(line) else None
        if body is not None and _looks_random(body.group(2)):
            run.append(i)
            continue
        if len(run) >= 2:
            for j in run:
                lines[j] = _masked(_BODY_LINE.match(lines[j]))  # type: ignore[arg-type]
            if i < len(lines) and (match := _body(lines[i], short_ok=True)):
                lines[i] = _masked(match)
        run = []
    return "\n".join(lines)
