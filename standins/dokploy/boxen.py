"""The framed summary Dokploy writes into every compose deployment log (npm `boxen`, 80 columns,
double border, padding left/right 1 and bottom 1), reproduced character for character."""

from __future__ import annotations

import unicodedata

WIDTH = 80
_INNER = WIDTH - 2 - 2  # borders and left/right padding


def string_width(text: str) -> int:
    """Terminal columns of `text`: wide/fullwidth characters (✅, 🐳) take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or char in ("\u200d", "\ufe0f", "\ufe0e"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _wrap(line: str, limit: int) -> list[str]:
    """Greedy word wrap on spaces (wrap-ansi with hard: true); over-long words are cut."""
    if string_width(line) <= limit:
        return [line]
    out: list[str] = []
    current = ""
    for word in line.split(" "):
        while string_width(word) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(word[:limit])
            word = word[limit:]
        candidate = f"{current} {word}" if current else word
        if string_width(candidate) <= limit:
            current = candidate
        else:
            out.append(current)
            current = word
    out.append(current)
    return out


def boxen(content: str) -> str:
    """The box around `content`, without a trailing newline."""
    rows: list[str] = []
    for line in content.split("\n"):
        rows.extend(_wrap(line, _INNER))
    rows.append("")  # padding bottom 1
    body = [f"║ {row}{' ' * (_INNER - string_width(row))} ║" for row in rows]
    return "\n".join(["╔" + "═" * (WIDTH - 2) + "╗", *body, "╚" + "═" * (WIDTH - 2) + "╝"])


def compose_summary_box(
    app_name: str, command: str, source_type: str, compose_type: str, mounts: int = 0
) -> str:
    """The box of getBuildComposeCommand (`command` without the leading `docker `)."""
    content = (
        f"\nApp Name: {app_name}\nBuild Compose 🐳\nDetected: {mounts} mounts 📂\n"
        f"Command: docker {command}\nSource Type: docker {source_type} ✅\nCompose Type: {compose_type} ✅"
    )
    return boxen(content)
