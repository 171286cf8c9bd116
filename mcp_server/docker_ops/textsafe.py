"""Turn bytes from containers (logs, exec output) into text that is safe to show and to send on.

Container output can hold anything: invalid UTF-8, NUL bytes, terminal escape sequences that
recolour or rewrite a terminal. We decode UTF-8 with replacement characters, drop ANSI colour and
cursor sequences, and write the remaining control characters as visible `\\xNN` escapes.
"""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves) and OSC sequences (window titles, hyperlinks)
_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# every C0 control except TAB and LF, plus DEL and the C1 range
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(data: bytes) -> tuple[str, bool]:
    """Decode `data` safely. Returns (text, changed) where `changed` is True when bytes were
    replaced or escaped (the output was not plain UTF-8 text)."""
    cleaned = _ANSI.sub(b"", data)
    text = cleaned.decode("utf-8", errors="replace")
    escaped = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    invalid_utf8 = text.count("\ufffd") > cleaned.count(b"\xef\xbf\xbd")
    return escaped, invalid_utf8 or escaped != text or cleaned != data


def cut_utf8(data: bytes, limit: int) -> bytes:
    """The first `limit` bytes of `data`, not ending inside a UTF-8 character."""
    if len(data) <= limit:
        return data
    cut = data[:limit]
    # step back over continuation bytes (10xxxxxx) and the lead byte of a split character
    for back in range(1, min(4, len(cut)) + 1):
        byte = cut[-back]
        if byte & 0xC0 == 0x80:
            continue
        if byte & 0xC0 == 0xC0:
            needed = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
            if back < needed:
                return cut[:-back]
        break
    return cut
