"""Group the lines of one error report into one block: stack traces and multi-line error records.

`detect_block(messages, i, floor)` looks at line i (a line that mentions an error) and, when a
multi-line report starts there, returns a `Block` spanning all of its lines:

- python   "Traceback (most recent call last):" + indented frames + exception line, including
           chained tracebacks ("During handling of the above exception…", "The above exception
           was the direct cause…") and exception groups;
- node     "Error: msg" + "    at …" frames (+ error properties, "[cause]", the "file:line / code /
           ^" prelude of an uncaught exception, "Node.js vX" trailer), unhandled rejections;
- java     "pkg.SomeException: msg" + "\\tat …" frames + "Caused by:" + "... N more";
- dotnet   "   at X.Y() in /src/f.cs:line 3" frames (same shape as node, named apart);
- go       "panic: …" / "fatal error: …" + "[signal …]" + goroutine dumps + "exit status 2";
- ruby     "f.rb:12:in 'm': msg (Class)" + "\\tfrom …" lines, and Rails "Class (msg):" + frames;
- postgres "ERROR:/FATAL:/PANIC:" + DETAIL/HINT/STATEMENT/CONTEXT/QUERY lines;
- redis    "=== REDIS BUG REPORT START" … "=== REDIS BUG REPORT END".

`trim_block(lines, kind, max_lines)` shortens a huge trace for a digest: it keeps the head, every
exception/"Caused by"/panic line and the innermost frames, and says how many lines it left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .patterns import Severity

MAX_BLOCK_LINES = 20_000

_PY_START = "Traceback (most recent call last):"
_PY_CHAIN = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_PY_EXCEPTION_RE = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$")
_RECORD_START_RE = re.compile(
    r"^(?:\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d|\[|\{|(?:DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL)\b)"
)

_EXCEPTION_HEAD_RE = re.compile(
    r"(?:^|[\s(\[:])(?:Uncaught\s+)?\[?(?:[a-z_$][\w$]*\.)*[A-Z][\w$]*(?:Error|Exception|Rejection(?:Warning)?|Throwable|Fault)\b"
    r"|^Exception in thread "
)
_AT_FRAME_RE = re.compile(r"^\s+at \S")
_JAVA_FRAME_RE = re.compile(r"^\s*at [^\s(]+\([^)]*\)\s*$")
_NODE_PRELUDE_RE = re.compile(r"^\S+:\d+$")
_CARET_RE = re.compile(r"^\s*\^+\s*$")

_GO_START_RE = re.compile(r"^(?:panic: |fatal error: |runtime: (?:out of memory|goroutine stack exceeds))")
_GO_LINE_RE = re.compile(
    r"^(?:goroutine \d+ |\[signal |\t|runtime stack:|created by |\s*panic: |panic\(|\.\.\.additional frames"
    r"|exit status \d+|r(?:ax|bx|cx|dx|di|si|bp|sp|8|9|1[0-5]|ip|flags)\s+0x|[cfg]s\s+0x|\[originating from"
    r"|\S+\(.*\)$|fatal error: |runtime: )"
)
_GO_FUNC_RE = re.compile(r"^\S+\(.*\)$")
_GO_ARGS_RE = re.compile(r"\([^()]*\)$")

_RUBY_HEAD_RE = re.compile(r"^(\S+\.rb:\d+:in [`'].*?['`]): (.*) \(([A-Z][\w:]*)\)\s*$")
_RUBY_CONT_RE = re.compile(r"^\s+(?:from \S+:\d+:in |\.\.\. \d+ levels\.\.\.)|^\s*\.\.\. \d+ levels\.\.\.")
_RAILS_HEAD_RE = re.compile(r"^([A-Z][\w:]*(?:Error|Exception|Invalid|NotFound)\b.*)$")
_RAILS_FRAME_RE = re.compile(r"^\s+\S+\.rb:\d+:in ")

_PG_HEAD_RE = re.compile(r"\b(ERROR|FATAL|PANIC|WARNING):  ")
_PG_CONT_RE = re.compile(r"\b(?:DETAIL|HINT|STATEMENT|CONTEXT|QUERY|LOCATION|WHERE):  ")


@dataclass
class Block:
    """Lines `start` (inclusive) to `end` (exclusive) form one error report of `kind`.

    `headline` is the line that names the error (exception line, panic message); `top_frame`
    the innermost code location, used to tell apart errors with the same message. `lines` is
    set only when the block's text is not a slice of the log (a stack inside a JSON record).
    """

    start: int
    end: int
    kind: str
    headline: str
    top_frame: str = ""
    severity: Severity = "error"
    root_cause: str | None = None
    lines: list[str] | None = None


def _indented(line: str) -> bool:
    return line[:1] in (" ", "\t")


def _python(messages: Sequence[str], i: int) -> Block | None:
    if not messages[i].rstrip().endswith(_PY_START):
        return None
    n = len(messages)
    j = i + 1
    exception_lines: list[int] = []
    while j < n and j - i < MAX_BLOCK_LINES:
        while j < n and _indented(messages[j]):
            j += 1
        if j < n and messages[j].strip() and _PY_EXCEPTION_RE.match(messages[j]):
            exception_lines.append(j)
            j += 1
            # Multi-line messages: indented lines, or a bare line followed by an indented one (pydantic).
            while j < n and j - exception_lines[-1] <= 30:
                line = messages[j]
                if (_indented(line) and line.strip()) or (
                    line.strip()
                    and not _RECORD_START_RE.match(line)
                    and j + 1 < n
                    and _indented(messages[j + 1])
                ):
                    j += 1
                else:
                    break
        # A chained traceback follows after an empty line and a fixed sentence.
        k = j
        while k < n and k - j < 2 and not messages[k].strip():
            k += 1
        if k + 1 < n and messages[k].strip() in _PY_CHAIN:
            m = k + 1
            while m < n and m - k < 3 and not messages[m].strip():
                m += 1
            if m < n and messages[m].rstrip().endswith(_PY_START):
                j = m + 1
                continue
        break
    block_lines = messages[i:j]
    if exception_lines:
        headline = messages[exception_lines[-1]].strip()
        root = messages[exception_lines[0]].strip() if len(exception_lines) > 1 else None
    else:
        group = next((line for line in block_lines if "ExceptionGroup:" in line), block_lines[-1])
        headline, root = group.strip(" |+-"), None
    frame = next((line.strip() for line in reversed(block_lines) if line.lstrip().startswith('File "')), "")
    return Block(i, j, "python", headline, frame, root_cause=root)


def _frames_follow(messages: Sequence[str], i: int) -> int | None:
    """Index of the first "at …" frame within 4 lines after i (message lines may come first)."""
    for j in range(i + 1, min(len(messages), i + 5)):
        line = messages[j]
        if line[:1] in (" ", "\t") and _AT_FRAME_RE.match(line):
            return j
        if not line.strip():
            return None
    return None


def _node_prelude_start(messages: Sequence[str], i: int, floor: int) -> int:
    """Start of the "file.js:10 / source line / ^^^ / (blank)" block Node prints before a crash."""
    for k in range(i - 1, max(floor, i - 6) - 1, -1):
        if _NODE_PRELUDE_RE.match(messages[k]):
            if any(_CARET_RE.match(messages[m]) for m in range(k + 1, i)):
                return k
            return i
    return i


def _at_frames(messages: Sequence[str], i: int, floor: int) -> Block | None:
    """Java, Node.js and .NET traces: a head line followed by indented "at …" frames."""
    line = messages[i]
    first_frame = _frames_follow(messages, i)
    node_properties = (
        line.rstrip().endswith("{")
        and i + 1 < len(messages)
        and _indented(messages[i + 1])
        and _EXCEPTION_HEAD_RE.search(line) is not None
    )
    if first_frame is None and not node_properties:
        return None
    if first_frame is not None and first_frame > i + 1 and not _EXCEPTION_HEAD_RE.search(line):
        return None
    n = len(messages)
    j = (first_frame if first_frame is not None else i) + 1
    last_cause: int | None = None
    while j < n and j - i < MAX_BLOCK_LINES:
        current = messages[j]
        stripped = current.strip()
        if _indented(current) and stripped:
            if stripped.startswith(("Caused by:", "[cause]:")):
                last_cause = j
            j += 1
        elif current.startswith(("Caused by:", "Suppressed:")):
            last_cause = j
            j += 1
        elif stripped in ("}", "]", "},", "}]") and j > i:
            j += 1
        elif last_cause == j - 1 and stripped and (follow := _frames_follow(messages, j - 1)) is not None:
            j = follow  # message lines of a "Caused by:" before its frames
        else:
            break
    # Node prints "Node.js v20.1.0" after an uncaught exception.
    k = j
    while k < n and k - j < 2 and not messages[k].strip():
        k += 1
    if k < n and messages[k].startswith("Node.js v"):
        j = k + 1
    frame_line = messages[first_frame] if first_frame is not None else ""
    if _JAVA_FRAME_RE.match(frame_line):
        kind = "java"
    elif ":line " in frame_line:
        kind = "dotnet"
    else:
        kind = "node"
    start = _node_prelude_start(messages, i, floor) if kind == "node" else i
    headline = line.strip()
    if headline.startswith("Exception in thread "):
        headline = headline.split('" ', 1)[-1]
    root = messages[last_cause].strip().removeprefix("Caused by: ") if last_cause is not None else None
    return Block(start, j, kind, headline, frame_line.strip(), root_cause=root)


def _go(messages: Sequence[str], i: int) -> Block | None:
    if not _GO_START_RE.match(messages[i]):
        return None
    n = len(messages)
    j = i + 1
    blanks = 0
    while j < n and j - i < MAX_BLOCK_LINES:
        line = messages[j]
        if not line.strip():
            blanks += 1
            if blanks > 2:
                break
        elif _GO_LINE_RE.match(line):
            blanks = 0
        else:
            break
        j += 1
    end = j - blanks
    top = ""
    in_goroutine = False
    for k in range(i + 1, end):
        line = messages[k]
        if line.startswith("goroutine "):
            if in_goroutine:
                break
            in_goroutine = True
        elif in_goroutine and _GO_FUNC_RE.match(line) and not line.startswith(("panic(", "runtime.")):
            top = _GO_ARGS_RE.sub("", line)
            break
    return Block(i, end, "go", messages[i].strip(), top)


def _ruby(messages: Sequence[str], i: int) -> Block | None:
    line = messages[i]
    n = len(messages)
    match = _RUBY_HEAD_RE.match(line)
    if match:
        j = i + 1
        while j < n and j - i < MAX_BLOCK_LINES and _RUBY_CONT_RE.match(messages[j]):
            j += 1
        headline = f"{match.group(3)}: {match.group(2)}"
        return Block(i, j, "ruby", headline, match.group(1))
    if _RAILS_HEAD_RE.match(line):
        k = i + 1
        while k < n and k - i < 3 and not messages[k].strip():
            k += 1
        if k < n and _RAILS_FRAME_RE.match(messages[k]):
            j = k
            while j < n and j - i < MAX_BLOCK_LINES and _RAILS_FRAME_RE.match(messages[j]):
                j += 1
            return Block(i, j, "ruby", line.strip().rstrip(":"), messages[k].strip())
    return None


def _postgres(messages: Sequence[str], i: int) -> Block | None:
    match = _PG_HEAD_RE.search(messages[i])
    if not match:
        return None
    n = len(messages)
    j = i + 1
    while j < n and j - i < 200 and (_PG_CONT_RE.search(messages[j]) or _indented(messages[j])):
        j += 1
    if j == i + 1:
        return None  # a one-line record is an ordinary error line
    severity: Severity = "warning" if match.group(1) == "WARNING" else "error"
    headline = messages[i][match.start() :].strip()
    return Block(i, j, "postgres", headline, severity=severity)


def _redis_crash(messages: Sequence[str], i: int) -> Block | None:
    if "REDIS BUG REPORT START" not in messages[i]:
        return None
    n = len(messages)
    j = i + 1
    headline = messages[i].strip()
    while j < n and j - i < 5000:
        line = messages[j]
        if "crashed by signal" in line or "ASSERTION FAILED" in line:
            headline = line.strip()
        j += 1
        if "REDIS BUG REPORT END" in line:
            break
    return Block(i, j, "redis", headline)


def detect_block(messages: Sequence[str], i: int, floor: int = 0) -> Block | None:
    """The multi-line error report starting at line i, or None. Lines before `floor` are taken."""
    line = messages[i]
    if "Traceback (most recent call last)" in line:
        return _python(messages, i)
    if line.startswith(("panic: ", "fatal error: ", "runtime: ")):
        return _go(messages, i)
    if "REDIS BUG REPORT START" in line:
        return _redis_crash(messages, i)
    if ".rb:" in line or _RAILS_HEAD_RE.match(line):
        block = _ruby(messages, i)
        if block is not None:
            return block
    if ":  " in line:
        block = _postgres(messages, i)
        if block is not None:
            return block
    return _at_frames(messages, i, floor)


def block_from_stack(index: int, headline: str, stack: str) -> Block:
    """A block for a stack trace carried inside one structured (JSON) line."""
    lines = [line for line in stack.rstrip("\n").split("\n")][:MAX_BLOCK_LINES]
    if any("Traceback (most recent call last)" in line for line in lines):
        kind = "python"
    elif any(line.startswith("goroutine ") for line in lines):
        kind = "go"
    elif any(_JAVA_FRAME_RE.match(line) for line in lines):
        kind = "java"
    elif any(_AT_FRAME_RE.match(line) for line in lines):
        kind = "node"
    else:
        kind = "stack"
    frame = next(
        (line.strip() for line in lines if _AT_FRAME_RE.match(line) or line.lstrip().startswith("File ")), ""
    )
    if lines and lines[0].strip() != headline.strip():
        lines = [headline, *lines]
    return Block(index, index + 1, kind, headline, frame, lines=lines)


_ANCHOR_RE = re.compile(
    r"^\s*(?:Traceback \(most recent|During handling of|The above exception|panic: |fatal error: |\[signal "
    r"|Caused by: |Suppressed: |\[cause\]: |Exception in thread|=== REDIS BUG|.*crashed by signal)"
)


def _scores(lines: Sequence[str], kind: str) -> list[float]:
    """Keep-priority per line (lower keeps first): anchors 0, innermost frames next, the rest last."""
    n = len(lines)
    score = [1e6 + i for i in range(n)]
    anchors = [i for i, line in enumerate(lines) if i == 0 or _ANCHOR_RE.match(line)]
    if kind == "python":
        anchors += [i for i, line in enumerate(lines) if line.strip() and not _indented(line)]
    for i in range(min(3, n)):
        score[i] = i * 0.5
    for a in set(anchors):
        score[a] = 0
    if kind == "go":
        goroutines = [i for i, line in enumerate(lines) if line.startswith("goroutine ")]
        first = goroutines[0] if goroutines else 0
        second = goroutines[1] if len(goroutines) > 1 else n
        for i in range(first, second):
            score[i] = min(score[i], i - first)
        for i in range(second, n):
            score[i] = min(score[i], 1000 + i - second)
        return score
    anchor_set = sorted(set(anchors))
    for index, a in enumerate(anchor_set):
        next_anchor = anchor_set[index + 1] if index + 1 < len(anchor_set) else n
        if kind == "python":
            # Innermost frames sit just above the exception line; outermost just below "Traceback".
            if _indented(lines[a]) or not lines[a].strip():
                continue
            for d in range(1, 60):
                i = a - d
                if i < 0 or i in anchors:
                    break
                score[i] = min(score[i], d)
            if lines[a].lstrip().startswith("Traceback"):
                for i in range(a + 1, next_anchor):
                    score[i] = min(score[i], 6 + 2 * (i - a))
        else:
            for i in range(a + 1, next_anchor):
                score[i] = min(score[i], i - a)
    return score


def trim_block(lines: Sequence[str], kind: str, max_lines: int) -> list[str]:
    """At most `max_lines` lines of a trace (plus "… N lines omitted …" markers), most useful first kept."""
    if kind == "go":
        # Only the panicking goroutine matters; keep a glimpse of the others.
        goroutines = [i for i, line in enumerate(lines) if line.startswith("goroutine ")]
        if len(goroutines) > 1:
            max_lines = min(max_lines, goroutines[1] + 3)
    if len(lines) <= max_lines:
        return list(lines)
    score = _scores(lines, kind)
    keep = sorted(sorted(range(len(lines)), key=lambda i: (score[i], i))[: max(1, max_lines)])
    out: list[str] = []
    previous = -1
    for i in keep:
        if i > previous + 1:
            out.append(f"    … {i - previous - 1} lines omitted …")
        out.append(lines[i])
        previous = i
    if previous < len(lines) - 1:
        out.append(f"    … {len(lines) - 1 - previous} lines omitted …")
    return out
