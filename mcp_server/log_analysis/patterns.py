"""Regular expressions and cheap checks that classify one log line.

- `find_candidates`: which lines could be an error or warning at all (a fast keyword scan over
  the whole text; everything else is only looked at again for the tail of the log);
- `line_severity`: "error", "warning" or None for one line, from its log level (many formats)
  or, for lines without a level, from well-known failure phrases;
- `strip_header`: remove the leading header (time, level, pid, logger) of a masked line (see
  masks.py) so that lines of one event look the same (headers.py learns a log's own header
  format; this is the fallback);
- `parse_access`: method, path template and status of an HTTP access-log line.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from typing import Literal

# Masking lives in masks.py; these names stay importable from here (`X as X` re-exports them).
from .masks import collapse_lists as collapse_lists
from .masks import digit_keys as digit_keys
from .masks import mask as mask
from .masks import mask_many as mask_many

Severity = Literal["error", "warning"]

# Lower-case keywords; a line containing none of them is neither an error nor a warning.
# Substring search over the whole text is far faster than a regex alternation in Python.
_CANDIDATE_KEYWORDS = (
    "error", "fatal", "crit", "panic", "severe", "emerg", "alert", "warn", "exception",
    "traceback", "unhandled", "fail", "refused", "denied", "timed out", "econn", "killed",
    " oom", "oomkill", "out of memory", "misconf", "segmentation", "core dumped", "no space left",
    "unable to", "cannot", "could not", "can't", ".rb:", "# ",
)  # fmt: skip
# HTTP 5xx in access logs ('"GET / HTTP/1.1" 502'), JSON ('"status":503') and logfmt ('status=500').
# Each pattern starts with a literal, which the regex engine searches fast (an alternation is slow).
_HTTP_5XX_RES = (re.compile(r'" 5\d\d\b'), re.compile(r'tatus"?\s*[:=]\s*"?5\d\d\b'))


# Lines are compared in a "shape" form: lower case, digits and a-f all turned into 0, so lines
# that differ only in numbers, hex ids, uuids or IPs share one shape and are checked once.
# Keywords get the same mapping, so a keyword in a line is always found in its shape.
_SHAPE_TABLE = bytes.maketrans(b"0123456789abcdef", b"0" * 16)
_ZERO_RUN_RE = re.compile(b"0{2,}")
_KEYWORD_SHAPES = tuple(keyword.encode().translate(_SHAPE_TABLE) for keyword in _CANDIDATE_KEYWORDS)


def shapes(texts: Sequence[str], collapse: bool = False) -> list[bytes]:
    """Coarse "shape" of each single-line text: lower case, digits and a-f turned into 0.

    `collapse=True` also turns runs of 0 into one, so "in 5ms" and "in 120ms" look the same.
    """
    if not texts:
        return []
    data = "\n".join(texts).encode("utf-8", errors="surrogatepass").lower().translate(_SHAPE_TABLE)
    if collapse:
        data = _ZERO_RUN_RE.sub(b"0", data)
    result = data.split(b"\n")
    if len(result) != len(texts):
        # A text held a line break after all: shape them one by one.
        result = [shapes([text.replace("\n", " ")], collapse)[0] for text in texts]
    return result


def _shapes_with_keywords(unique: list[bytes]) -> set[bytes]:
    """The shapes that contain a keyword."""
    if len(unique) < 2000:
        return {shape for shape in unique if any(keyword in shape for keyword in _KEYWORD_SHAPES)}
    # Many different lines: one C-level search per keyword over all shapes beats a Python loop.
    blob = b"\n".join(unique)
    starts = list(itertools.accumulate((len(shape) + 1 for shape in unique), initial=0))
    found: set[int] = set()
    for keyword in _KEYWORD_SHAPES:
        pos = blob.find(keyword)
        while pos != -1:
            index = bisect.bisect_right(starts, pos) - 1
            found.add(index)
            pos = blob.find(keyword, starts[index + 1])
    return {unique[index] for index in found}


def find_candidates(lines: Sequence[str]) -> list[int]:
    """Indices (sorted) of lines that may hold an error/warning keyword (case-insensitive).

    May return a few extra lines (the shape mapping is coarse); never misses one.
    """
    if not lines:
        return []
    line_shapes = shapes(lines)
    hits = _shapes_with_keywords(list(dict.fromkeys(line_shapes)))
    found = [index for index, shape in enumerate(line_shapes) if shape in hits] if hits else []
    text = "\n".join(lines)
    starts: list[int] = []
    found_set = set(found)
    for pattern in _HTTP_5XX_RES:
        # Status digits are erased in shapes; find these lines by position instead.
        for match in pattern.finditer(text):
            if not starts:
                starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
            found_set.add(bisect.bisect_right(starts, match.start()) - 1)
    return sorted(found_set) if len(found_set) != len(found) else found


_LEVELS: dict[str, Severity | None] = {
    **dict.fromkeys(["TRACE", "DEBUG", "DBG", "DBUG", "TRCE", "INFO", "INF", "NOTICE", "NOTE", "LOG"], None),
    **dict.fromkeys(["VERBOSE", "SILLY", "HTTP", "SYSTEM", "D", "I"], None),
    **dict.fromkeys(["WARN", "WARNING", "WRN", "W"], "warning"),
    **dict.fromkeys(["ERROR", "ERR", "EROR", "FAIL", "E", "F"], "error"),
    **dict.fromkeys(["FATAL", "FTL", "CRITICAL", "CRIT", "PANIC", "DPANIC", "SEVERE", "EMERG"], "error"),
    **dict.fromkeys(["EMERGENCY", "ALERT"], "error"),
}
# Level names as header fields ("INFO", "Info", "D"): upper-cased, without "HTTP", a common word.
LEVEL_NAMES = frozenset(_LEVELS) - {"HTTP"} | {"FAILURE"}
_PINO_LEVELS: dict[int, Severity | None] = {
    10: None,
    20: None,
    30: None,
    40: "warning",
    50: "error",
    60: "error",
}

# Where a level usually is, in the formats seen in Docker logs. First match by position wins.
_LEVEL_RE = re.compile(
    # Upper-case level word: Python logging, Spring, logback, Rust, PostgreSQL, Serilog ("[ERR]").
    r"\b(TRACE|DEBUG|DBG|INFO|INF|NOTICE|LOG|WARN|WARNING|WRN|ERROR|ERR|EROR|FATAL|FTL|CRITICAL|CRIT"
    r"|PANIC|SEVERE|EMERG|ALERT)\b"
    # Bracketed lower/mixed case: nginx error log, MySQL ("[Warning]", "[Note]"), Elixir.
    r"|\[(trace|debug|info|notice|note|warn|warning|error|err|fatal|crit|critical|alert|emerg|panic"
    r"|Note|Warning|System|Error|Info|Debug|Warn)\]"
    # key=value and JSON-ish: logfmt (Traefik, Go), "level":"error".
    r"|\b(?:level|lvl|severity|loglevel)\"?\s*[=:]\s*\"?([A-Za-z]+)"
    # Tab separated: zap console encoder.
    r"|(?:^|\t)(debug|info|warn|error|dpanic|panic|fatal)\t"
    # At line start: .NET console ("fail: "), winston ("error: ").
    r"|^(fail|crit|error|fatal|warn|warning|info|dbug|debug|trce|verbose|silly|http|notice):\s"
)
_KLOG_RE = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+ ")
_REDIS_RE = re.compile(r"\d+:[XCSM] \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d+ ([.\-*#]) ")

# Failure phrases for lines that carry no level (plain prints, shell scripts, crash output).
_ERROR_PHRASE_RE = re.compile(
    r"Traceback \(most recent|Exception|\w+Error\b|^(?:Error|ERROR|error|Fatal|FATAL|fatal)\b|panic:"
    r"|fatal error|Segmentation fault|core dumped|[Oo]ut of memory|\bOOM\b|OOMKilled|MISCONF"
    r"|[Cc]onnection refused|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EADDRINUSE|ENOTFOUND|EAI_AGAIN"
    r"|[Pp]ermission denied|No space left on device|[Aa]ddress already in use|[Tt]imed out|\bKilled\b"
    r"|[Ff]ailed|FAILED|[Uu]nable to|[Cc]annot |[Cc]ould not|[Cc]an't "
)
_REDIS_ERROR_RE = re.compile(r"(?i)\berror|fail|can't|cannot|unable|refused|denied|crashed|assertion")
_WARNING_PHRASE_RE = re.compile(r"\b[Ww]arn(?:ing)?\b|WARN|[Dd]eprecat")


def level_severity(line: str) -> tuple[bool, Severity | None]:
    """(has a level, severity of that level) for one line; looks at its first 200 characters."""
    head = line[:200]
    first = head[:1]
    match = _KLOG_RE.match(head) if first in ("I", "W", "E", "F") else None
    if match:
        return True, _LEVELS[match.group(1)]
    match = _REDIS_RE.match(head) if first.isdigit() else None
    if match:
        if match.group(1) != "#":
            return True, None
        # Redis writes warnings and errors alike with "#"; its warnings often say "WARNING".
        if line.startswith("WARNING", match.end()) or not _REDIS_ERROR_RE.search(line, match.end()):
            return True, "warning"
        return True, "error"
    match = _LEVEL_RE.search(head)
    if not match:
        return False, None
    word = next(group for group in match.groups() if group is not None)
    key = word.upper()
    if key in _LEVELS:
        return True, _LEVELS[key]
    if word.isdigit():
        return True, _PINO_LEVELS.get(int(word))
    return False, None


def line_severity(line: str) -> Severity | None:
    """ "error", "warning" or None for a single line (no JSON parsing here; see structured.py)."""
    has_level, severity = level_severity(line)
    if has_level:
        return severity
    if _ERROR_PHRASE_RE.search(line):
        return "error"
    if _WARNING_PHRASE_RE.search(line):
        return "warning"
    return None


def severity_of_level_name(name: str | int | None) -> tuple[bool, Severity | None]:
    """(known, severity) for a level value found in a structured record ("error", 50, "Warning")."""
    if name is None:
        return False, None
    if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
        value = int(name)
        if value in _PINO_LEVELS:
            return True, _PINO_LEVELS[value]
        return False, None
    key = name.strip().upper()
    if key in _LEVELS:
        return True, _LEVELS[key]
    return False, None


# A leading header, part by part: masked time/pid, [thread], (pid), separators, level, syslog
# "host proc[pid]:", logfmt level. Tried repeatedly at the start of a masked line.
_LEVEL_WORDS = (
    r"(?:TRACE|DEBUG|DBG|INFO|INF|NOTICE|NOTE|LOG|WARN|WARNING|WRN|ERROR|ERR|EROR|FATAL|FTL|CRITICAL"
    r"|CRIT|PANIC|SEVERE|EMERG|ALERT|FAILURE)"
)
_HEADER_PART_RE = re.compile(
    r"[ \t]*(?:<TS>|<NUM>:[XCSM]|<(?:NUM|IP|HEX|UUID|HOST)>(?:[:/-]?<(?:NUM|IP|HEX|UUID|HOST|TS)>)*:?"
    r"|\[[^\[\]]{0,120}(?:\[[^\[\]]{0,120}\][^\[\]]{0,120})*\]:?"
    r"|\([^()]{0,60}\):?|[-|:#*.]{1,3}|[\w.()/-]+\[<NUM>\]:|kernel:"
    r"|" + _LEVEL_WORDS + r":?|(?:level|lvl)=\S+)(?=[ \t]|$)"
)
# Syslog host before "proc[pid]:"; upper-case words before a level (BGL "RAS KERNEL INFO").
_HOST_RE = re.compile(r"[ \t]*[\w.-]+(?=[ \t]+(?:[\w.()/-]+\[<NUM>\]|kernel):)")
_CAPS_BEFORE_LEVEL_RE = re.compile(r"(?:[ \t]*[A-Z][A-Z0-9_]*){1,3}(?=[ \t]+" + _LEVEL_WORDS + r"\b)")
# A logger name after the header: "org.apache.App:", "app.db -", "c.e.App :".
_LOGGER_RE = re.compile(r"[ \t]*[A-Za-z_][\w$]*(?:\.[\w$]+)+(?:[ \t]?:|[ \t]+-)(?=[ \t])")
# Right after a level, a single word with a colon is a logger too ("ERROR api: timeout").
_LOGGER_AFTER_LEVEL_RE = re.compile(r"[ \t]*[A-Za-z_][\w$.-]*(?:[ \t]?:|[ \t]+-)(?=[ \t])")
_LEVEL_SET = frozenset(_LEVELS) | {"FAILURE", "trace", "debug", "info", "notice", "warn", "warning", "error"}


def strip_header(masked: str) -> str:
    """`masked` without its leading header (time, level, pid, thread, host, logger); never empty."""
    pos = 0
    saw_level = False
    for _ in range(12):
        match = (
            _HEADER_PART_RE.match(masked, pos)
            or _HOST_RE.match(masked, pos)
            or _CAPS_BEFORE_LEVEL_RE.match(masked, pos)
        )
        if match is None or match.end() == pos:
            break
        saw_level = saw_level or match.group(0).strip().rstrip(":") in _LEVEL_SET
        pos = match.end()
    logger = (_LOGGER_AFTER_LEVEL_RE if saw_level else _LOGGER_RE).match(masked, pos)
    if logger:
        pos = logger.end()
    rest = masked[pos:].strip()
    return rest or masked.strip()


# --- HTTP access logs ----------------------------------------------------------------------

_ACCESS_RE = re.compile(
    r"\"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|CONNECT|TRACE|PROPFIND|[A-Z]{3,10}) (\S+)"
    r"(?: HTTP/[\d.]+)?\" (\d{3})\b"
)
_PATH_SEGMENT_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"), "{uuid}"),
    (re.compile(r"^\d+$"), "{n}"),
    (re.compile(r"^[0-9a-fA-F]{8,}$"), "{hex}"),
    (re.compile(r"^(?=.*\d)[\w.~%+-]{16,}$"), "{id}"),
)


def path_template(path: str, max_segments: int = 8) -> str:
    """`/api/users/42?x=1` -> `/api/users/{n}`: ids in a URL path replaced, query dropped."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments = path.split("/")
    out: list[str] = []
    for segment in segments[: max_segments + 1]:
        for pattern, replacement in _PATH_SEGMENT_MASKS:
            if pattern.match(segment):
                segment = replacement
                break
        out.append(segment[:40])
    if len(segments) > max_segments + 1:
        out.append("…")
    return "/".join(out) or "/"


def parse_access(line: str) -> tuple[str, str, int] | None:
    """(method, path template, status) of an nginx/Traefik/uvicorn/Apache access-log line."""
    match = _ACCESS_RE.search(line)
    if not match:
        return None
    return match.group(1), path_template(match.group(2)), int(match.group(3))


def http_template(method: str, path: str, status: int) -> str:
    return f"HTTP {status} {method} {path}"


_PG_LINE_RE = re.compile(r"\b(?:ERROR|FATAL|PANIC|WARNING|LOG|DETAIL|HINT|STATEMENT):  ")
_MYSQL_LINE_RE = re.compile(r"\[(?:ERROR|Warning|Note|System)\] (?:\[MY-\d+\]|\[\w+\]|mysqld|InnoDB)")
_NGINX_ERROR_RE = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\d+: ")


def line_kind(line: str) -> str:
    """Which software wrote a single error line: postgres, mysql, redis, nginx, or log."""
    if _PG_LINE_RE.search(line):
        return "postgres"
    if _MYSQL_LINE_RE.search(line):
        return "mysql"
    if _REDIS_RE.match(line) or "OOM command not allowed" in line or "MISCONF " in line:
        return "redis"
    if _NGINX_ERROR_RE.match(line):
        return "nginx"
    return "log"
