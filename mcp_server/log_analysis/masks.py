"""Masking: replace the variable parts of log lines so that lines of one event look the same.

`mask` turns timestamps, uuids, IPs, host names, paths holding a number, hex and numbers into
<TS>, <UUID>, <IP>, <HOST>, <PATH>, <HEX>, <NUM>; `mask_many` does it for many lines in one pass
per pattern; `digit_keys` maps lines that differ only in digits to one key (masking ignores which
digit it sees, so each key is masked once); `collapse_lists` makes a list of one kind of value one
value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
# Host names: a dotted name ending in a common top-level domain, one with 3+ labels ending in a
# country domain ("proxy.cse.cuhk.edu.hk"), or any dotted name with a port ("db.internal:5432"),
# but not a class or file name ("org.apache.App", "Main.java:42", "app.py").
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLDS = r"(?:com|net|org|edu|gov|mil|int|info|biz|io|dev|app|cloud|local|internal|lan|localdomain|corp|arpa)"
# Country domains that are not also common file extensions or key names ("job.id", "app.py").
_COUNTRY_DOMAINS = (
    r"(?:uk|de|fr|jp|cn|hk|ru|br|au|ca|nl|es|se|ch|kr|tw|sg|us|eu|at|dk|fi|cz|nz|za|mx|ar|il|ie"
    r"|gr|tr|ua|vn|th|ph|ro|hu|sk|si|hr|bg|lt|lv|ee|cl|co|pe|ve|ir|pk|bd|eg|ng|ke)"
)
_SOURCE_FILE = r"(?:java|py|go|rb|js|ts|kt|scala|php|cs|c|cc|cpp|h|hpp|rs|ex|exs|erl|swift|m|lua|pl|sh)"
_HOST_NAME_RE = re.compile(
    r"(?<![\w.@/\\-])(?:"
    rf"(?:{_LABEL}\.)+{_TLDS}"
    rf"|(?:{_LABEL}\.){{2,}}{_COUNTRY_DOMAINS}"
    rf"|(?:{_LABEL}\.)+(?!{_SOURCE_FILE}:){_LABEL}(?=:\d)"
    r"|localhost(?=:\d))"
    r"(?::\d{1,5})?(?![\w.-])"
)
# What every host name match holds, found fast (the pattern starts with a literal "."): the host
# pattern itself, which could start anywhere, then runs only on the lines that have one.
_HOST_HINT_RE = re.compile(rf"\.(?:{_TLDS}|{_COUNTRY_DOMAINS})(?![A-Za-z0-9-])|\.[A-Za-z0-9-]+:\d")


def _mask_hosts(text: str) -> str:
    """`text` with host names replaced by <HOST>, scanning only the lines that may hold one."""
    hints = [hint.start() for hint in _HOST_HINT_RE.finditer(text)]
    position = text.find("localhost:")
    while position != -1:
        hints.append(position)
        position = text.find("localhost:", position + 1)
    if not hints:
        return text
    parts: list[str] = []
    done = 0
    for hint in sorted(hints):
        if hint < done:
            continue
        start = text.rfind("\n", 0, hint) + 1
        end = text.find("\n", hint)
        end = len(text) if end == -1 else end
        parts += (text[done:start], _HOST_NAME_RE.sub("<HOST>", text[start:end]))
        done = end
    parts.append(text[done:])
    return "".join(parts)


# File and URL paths that hold a number or id ("/var/lib/x/8a3f/data.db", "C:\\Windows\\x_6.1") are
# one value; paths without digits stay as they are ("/health", "/etc/nginx/nginx.conf"). The Unix
# pattern starts with a literal "/" (fast to search); Windows paths are looked for only after ":\\".
_UNIX_PATH_RE = re.compile(
    r"/(?<![^\s=:,;()\[\]{}\"'<>|]/)(?=[^\s,;()\[\]{}\"'<>|]*\d)[\w.@%+~-]+(?:/[\w.@%+~-]+)+/?"
)
_WINDOWS_PATH_RE = re.compile(
    r"(?<![^\s=:,;()\[\]{}\"'<>|])(?=[^\s,;()\[\]{}\"'<>|]*\d)[A-Za-z]:\\[^\s,;()\[\]{}\"'<>|]+"
)


def _mask_paths(text: str) -> str:
    """`text` with paths that hold a digit replaced by <PATH>."""
    text = _UNIX_PATH_RE.sub("<PATH>", text)
    return _WINDOWS_PATH_RE.sub("<PATH>", text) if ":\\" in text else text


_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    # ISO 8601 and friends (also 2005-06-03-15.42.50 from BGL and 2026/11/25 09:00:00 from nginx).
    (
        re.compile(
            r"\d{4}[-/.]\d\d[-/.]\d\d(?:[T ]|-)?\d\d[:.]\d\d[:.]\d\d(?:[.,]\d+)?(?:Z| ?UTC| ?[+-]\d\d:?\d\d)?"
            r"|\d{1,2}[/ -]" + _MONTH + r"[/ -]\d{4}[: ]\d\d:\d\d:\d\d(?:\.\d+)?(?: [+-]\d{4})?"
            r"|\d\d:\d\d:\d\d(?:[.,]\d+)?"
        ),
        "<TS>",
    ),
    # Syslog and Apache dates with month names; the time part is already <TS>.
    (re.compile(r"\b(?:" + _DAY + r"[ \t]+)?" + _MONTH + r"[ \t]+\d{1,2}[ \t]+<TS>(?:[ \t]+\d{4})?"), "<TS>"),
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<UUID>"),
    (re.compile(r"(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?::\d{1,5})?(?![\w.])"), "<IP>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|(?<![\w-])[0-9a-fA-F]{12,}(?![\w-])"), "<HEX>"),
    # Anything else with a digit in it, up to a delimiter: numbers, ids, versions, sizes ("12ms");
    # "|" is a delimiter too, fields are often joined with it ("20171223|Step|30002312|msg").
    # The look-behind starts a match only at a segment start, which avoids quadratic backtracking.
    # A name with a digit (see NAME_WITH_DIGIT_RE) is a word, not a number.
    (
        re.compile(
            r"(?<![^\s=:,;()\[\]{}\"'<>|])(?![A-Z]{2,}\d{1,2}(?:[\s=:,;()\[\]{}\"'<>|]|$))"
            r"[^\s=:,;()\[\]{}\"'<>|\d]*\d[^\s=:,;()\[\]{}\"'<>|]*"
        ),
        "<NUM>",
    ),
)
# Protocol, codec and algorithm names hold a digit but name a kind of thing ("SOCKS5", "HTTP2",
# "MD5", "SHA1", "UTF8"): capital letters then one or two digits, the whole token. They stay
# words, so `through proxy SOCKS5` and `through proxy HTTPS` are two events. Versions ("v1.2",
# "HTTP/1.1") and ids ("blk_12", "node12", "R02", "job00042") are still numbers.
NAME_WITH_DIGIT_RE = re.compile(r"(?<![^\s=:,;()\[\]{}\"'<>|])[A-Z]{2,}\d{1,2}(?=[\s=:,;()\[\]{}\"'<>|]|$)")
# Host names and paths are masked after IPs (an IP:port is <IP>), before hex and numbers.
_HOSTS_AFTER = 4
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def mask(text: str) -> str:
    """`text` with timestamps, uuids, IPs, host names, paths holding a number, hex and numbers
    replaced by <TS>, <UUID>, <IP>, <HOST>, <PATH>, <HEX>, <NUM>."""
    for index, (pattern, replacement) in enumerate(_MASKS):
        if index == _HOSTS_AFTER:
            text = _mask_paths(_mask_hosts(text))
        text = pattern.sub(replacement, text)
    return text


# A list of masked values ("blk_1 blk_2 blk_3", "10.0.0.1,10.0.0.2"): its length varies with the
# data, not with the event, so it counts as one value. The list starts a token: in
# `?since=<NUM> <NUM>"` (a query value, then "HTTP/1.1") the two values are not a list.
_REPEATED_MASK_RE = re.compile(r"(?<![^\s,;|(\[])(<(?:NUM|HEX|IP|HOST|UUID)>)(?:,? ?\1)+")


def collapse_lists(masked: str) -> str:
    """`masked` with runs of the same placeholder ("<NUM> <NUM> <NUM>", "<IP>,<IP>") as one."""
    return _REPEATED_MASK_RE.sub(r"\1", masked) if "> <" in masked or ">,<" in masked else masked


# One value written in parts: a number and its unit ("12 ms", "1.16 KB": the same as "12ms"), a
# comparison glued to a number ("<1 sec"), and a restatement of a value in parentheses after it
# ("1190 bytes (1.16 KB)", present only for large values). Each is one value, so that the lines of
# one event keep one token count.
_UNIT_RE = re.compile(
    r"<NUM> (ns|us|ms|s|sec|secs|seconds?|mins?|minutes?|h|hrs?|hours?|days?|[KMGT]i?B|B)(?=[\s,;)\]]|$)"
)
_COMPARED_NUM_RE = re.compile(r"(?<![^\s(\[=:])[<>~]=?<NUM>")
_RESTATED_VALUE_RE = re.compile(r"(<NUM>[A-Za-z]*(?: [A-Za-z]+)?) \(<NUM>[A-Za-z]*\)")


def join_value_parts(masked: str) -> str:
    """`masked` with a number and its unit ("<NUM> ms" -> "<NUM>ms"), a compared number ("<<NUM>")
    and a value restated in parentheses after a value ("<NUM> bytes (<NUM> KB)") each as one value."""
    if "<NUM>" not in masked:
        return masked
    if "<NUM> " in masked:
        masked = _UNIT_RE.sub(r"<NUM>\1", masked)
    if "<<NUM>" in masked or "><NUM>" in masked or "~<NUM>" in masked:
        masked = _COMPARED_NUM_RE.sub("<NUM>", masked)
    if " (<NUM>" in masked:
        masked = _RESTATED_VALUE_RE.sub(r"\1", masked)
    return masked


def mask_many(texts: Sequence[str]) -> list[str]:
    """`mask` for many single-line texts at once (one regex pass per mask over the joined text)."""
    if not texts:
        return []
    joined = mask("\n".join(texts))
    return joined.split("\n")


def digit_keys(texts: Sequence[str]) -> list[str]:
    """Each text with every digit turned into 0: lines that differ only in digits get one key.

    Masking ignores which digit it sees, so mask(key) == mask(text); masking each key once
    instead of each line is what makes template mining fast on repetitive logs.
    """
    if not texts:
        return []
    data = "\n".join(texts).encode("utf-8", errors="surrogatepass").translate(_DIGITS_TO_ZERO)
    return data.decode("utf-8", errors="surrogatepass").split("\n")
