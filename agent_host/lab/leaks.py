"""Looking for planted secrets (canaries) in everything our processes wrote during a lab run.

A scenario plants canary values in its containers' environment and logs. None may come out of
InfraGuardian: not in tool results or incident records (the agent's and the server's state files,
SQLite write-ahead logs included), not in notifications (the lines the agent's console prints), not
in the logs of the server and agent (their stderr, captured for the run), not in what was sent to
the model (the Ollama stand-in's recorded requests). The search is byte-wise over every file, so a
canary kept in any encoding our stores use (JSON, msgpack, pickle of text) is found.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

MAX_FILE_BYTES = 256 * 1024 * 1024  # a state file larger than this is read in part (and said so)

# Stores that hold the operator's own configuration on purpose, not an output: the server keeps each
# deployed compose byte for byte (secrets included, as Dokploy's own database does) so that a
# rollback restores exactly what ran. They are not searched, but must be readable by their owner
# alone (0600, as the server creates them); anything read out of them passes the redaction of the
# path it leaves by, and that is searched.
PRIVATE_STORES = ("snapshots.sqlite3",)


@contextlib.contextmanager
def captured_stderr(path: Path) -> Iterator[TextIO]:
    """File descriptor 2 goes to `path` for the block: the server spawned in it (which inherits it)
    and the agent's log handlers write there. `sys.stderr` stays on the terminal, so the lab's
    progress lines are still seen; the stream yielded is that terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    terminal = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    previous = sys.stderr
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
    sys.stderr = terminal
    try:
        yield terminal
    finally:
        sys.stderr = previous
        terminal.flush()
        os.dup2(saved, 2)
        os.close(saved)
        terminal.close()


def _read(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES)


def files_under(roots: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found += sorted(p for p in root.rglob("*") if p.is_file())
    return found


def find_canaries(
    canaries: list[str], roots: Iterable[Path], texts: dict[str, str] | None = None
) -> list[str]:
    """One line per (canary, place) where a canary was found: files under `roots`, and `texts`
    (name → text, e.g. the requests sent to the model). The canary itself is never in the line."""
    if not canaries:
        return []
    needles = [(index, canary.encode()) for index, canary in enumerate(canaries, 1)]
    found: list[str] = []
    root_list = list(roots)
    for path in files_under(root_list):
        if path.name.startswith(PRIVATE_STORES):
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                found.append(f"{path.name} holds configuration but is readable by others ({mode:o})")
            continue
        try:
            data = _read(path)
        except OSError as exc:
            found.append(f"could not read {path.name} to look for canaries: {exc.strerror}")
            continue
        place = _relative(path, root_list)
        found += [f"canary #{index} in {place}" for index, needle in needles if needle in data]
    for name, text in (texts or {}).items():
        found += [f"canary #{index} in {name}" for index, needle in needles if needle.decode() in text]
    return found


def _relative(path: Path, roots: list[Path]) -> str:
    for root in roots:
        with contextlib.suppress(ValueError):
            return str(path.relative_to(root.parent))
    return path.name
