"""Cheap inputs of the hung detector: which containers to watch, and their log lines read from the
json-file log on disk instead of through the engine.

Reading every container's logs through the engine every 30 s made the watcher and dockerd busy on
a host with hundreds of idle containers. So the detector only looks at containers that opted in
(label `infraguardian.hung.after`) or look like queue workers, and where the engine's json-file
log is readable here (the server runs on the engine's host) it reads only the bytes written since
its last look; an unchanged file size costs one `stat`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mcp_server.docker_ops.models import COMPOSE_SERVICE, SWARM_SERVICE_NAME
from mcp_server.docker_ops.timeutil import parse_age, parse_docker_time

HUNG_LABEL = "infraguardian.hung.after"
"""`10m`, `1h`, `600` (seconds): check this container and flag it after that long silent and idle;
`true`: check it with the learned usual gap; `false`/`off`: never check it."""

WORKER_WORDS = ("worker", "celery", "sidekiq", "consumer", "queue", "job")
"""A word starting with one of these marks a worker (`workers`, `jobs`); `rq` must be a whole word."""
_OFF = frozenset({"0", "false", "no", "off", "never"})
_ON = frozenset({"1", "true", "yes", "on"})
LOG_READ_CAP = 128 * 1024


@dataclass(frozen=True)
class HungOptIn:
    """Whether a container is checked, and its own silence threshold when it set one."""

    checked: bool
    after_s: float | None = None
    reason: str = ""


def _words(text: str) -> set[str]:
    cleaned = "".join(ch if ch.isalnum() else " " for ch in text.lower())
    return set(cleaned.split())


def looks_like_worker(name: str, image: str, command: str, labels: Mapping[str, str]) -> bool:
    """True when a name, image, command or compose/swarm service has a worker word: `shop-worker-1`,
    `celery -A app worker`, `rq worker`, `bundle exec sidekiq`, `order-consumer`, `jobs`."""
    texts = [name, image.rsplit("/", 1)[-1].split(":", 1)[0], command]
    texts += [labels.get(COMPOSE_SERVICE, ""), labels.get(SWARM_SERVICE_NAME, "")]
    words = set().union(*(_words(t) for t in texts))
    return "rq" in words or any(w.startswith(prefix) for w in words for prefix in WORKER_WORDS)


def hung_opt_in(labels: Mapping[str, str], scope: str, *, worker_like: bool) -> HungOptIn:
    """Is this container checked by the hung detector under `scope` (opted_in / workers / all)?"""
    raw = str(labels.get(HUNG_LABEL, "")).strip().lower()
    if raw in _OFF:
        return HungOptIn(False, reason=f"{HUNG_LABEL}={raw}")
    if raw in _ON:
        return HungOptIn(True, reason=f"{HUNG_LABEL}={raw}")
    if raw:
        try:
            age = parse_age(raw, what=HUNG_LABEL)
            seconds = age.total_seconds() if age is not None else float(raw)
        except ValueError:
            return HungOptIn(scope != "opted_in", reason=f"{HUNG_LABEL}={raw!r} is not an age like 10m")
        return HungOptIn(seconds > 0, after_s=seconds if seconds > 0 else None, reason=f"{HUNG_LABEL}={raw}")
    if scope == "all":
        return HungOptIn(True, reason="hung_scope=all")
    if scope == "workers" and worker_like:
        return HungOptIn(True, reason="looks like a worker")
    return HungOptIn(False)


@dataclass
class LogFileCursor:
    """Where the last read of one json-file log stopped."""

    path: str
    inode: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class FileLine:
    timestamp: datetime
    text: str


def read_new_lines(cursor: LogFileCursor, cap: int = LOG_READ_CAP) -> tuple[list[FileLine], bool] | None:
    """The complete lines appended since the cursor (at most the last `cap` bytes of them), and
    whether older new lines were skipped to respect the cap. None when the file can't be read.
    A rotated file (new inode, or shorter than the cursor) is read from its start."""
    try:
        with open(cursor.path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            start = cursor.offset
            if cursor.inode != stat.st_ino or stat.st_size < start:
                start = 0
            if stat.st_size == start:
                cursor.inode = stat.st_ino
                return [], False
            clipped = stat.st_size - start > cap
            if clipped:
                start = stat.st_size - cap
            handle.seek(start)
            data = handle.read(stat.st_size - start)
    except OSError:
        return None
    end = data.rfind(b"\n") + 1  # a line still being written is read next time
    body = data[:end]
    if clipped:
        body = body[body.find(b"\n") + 1 :]  # the first line was cut by the cap
    cursor.inode = stat.st_ino
    cursor.offset = start + end
    lines: list[FileLine] = []
    for raw in body.splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # not a json-file entry: skip it rather than guess
        stamp = parse_docker_time(str(entry.get("time") or ""))
        if stamp is not None:
            lines.append(FileLine(stamp, str(entry.get("log", "")).rstrip("\r\n")))
    return lines, clipped


def readable_log_path(log_path: str | None) -> str | None:
    """The json-file log path when this process can read it, else None (remote engine, other
    logging driver, no permission)."""
    if not log_path or not log_path.endswith("-json.log"):
        return None
    return log_path if os.access(log_path, os.R_OK) else None
