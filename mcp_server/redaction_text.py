"""The patterns of free-text redaction (see `mcp_server.redaction` for what is guaranteed).

`redact_body(text)` masks secrets in text whose lines carry no log-reader prefix: private keys
(`redaction_keys`), compose YAML blocks (`redaction_yaml`), well-known token formats, bearer and
basic tokens, credentials in URLs, header lines, `NAME=value` / `"name": "value"` pairs whose name
is secret (`redaction_names`), URL-encoded pairs, and command-line secrets (`--requirepass x`,
`curl -u user:x`, `mysql -px`, `redis-cli -a x`, also as YAML/JSON lists one item per line).

Speed: each pattern starts from a literal where it can (Python finds those fast) and runs only
when the text contains a word it needs; every repetition that could be restarted is bounded, so
the cost stays linear whatever the input.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mcp_server.redaction_keys import LOG_PREFIX, mask_private_keys
from mcp_server.redaction_names import MASK, is_secret_name
from mcp_server.redaction_yaml import PURE_REFERENCE, mask_var_defaults, redact_yaml_blocks

# A list item that is a command-line flag whose next item is its secret value (`--requirepass`, `pw`).
_SECRET_FLAG = re.compile(
    r"^--?[\w-]{0,60}(pass(word)?|secret|token|api-?key|requirepass|masterauth)[\w-]{0,60}$", re.I
)


def is_secret_flag(flag: str) -> bool:
    """`--requirepass`, `--api-key`: the next argument is a secret (not `--password-file`)."""
    return _SECRET_FLAG.match(flag) is not None and not flag.endswith(_FLAG_NAMING_A_PLACE)


_FLAG_NAMING_A_PLACE = ("-file", "_file", "-stdin", "-env", "-path")
# In a command list, the item after these flags is a secret (or `user:secret`), per program.
USER_FLAGS = {"-u", "--user", "--proxy-user"}
PROGRAM_SECRET_FLAG = {"redis-cli": "-a", "sshpass": "-p"}

# A value: `\"escaped\"` (JSON inside JSON), quoted, a `${VAR…}` reference (kept whole so it can be
# recognised), or a bare word (not an opening `{`/`[`: that is structure, its members are looked into).
_VALUE = (
    r"(\\+\"(?:[^\"\\\n]|\\+[^\"\\\n])*(?:\\+\"|(?=[\"\n])|\Z)"
    r"|\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'"
    r"|\$\{[^}\n]*\}[^\s,;&\"'}\])]*"
    r"|(?![{\[])(?:[^\s,;&\"'}\])\\]|\\(?![\\\"']))+)"
)

# A command-line argument that is not a variable reference (`"$$REDIS_PASSWORD"` names a secret):
# `\"escaped\"` (inside a YAML/JSON string), quoted, or a bare word.
_ARG = (
    r"(?!\[REDACTED\])(?!\\*[\"']?\$)"
    r"(\\+\"(?:[^\"\\\n]|\\+[^\"\\\n])*\\+\"|\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'\\]+)"
)

_HEADER_LINE = re.compile(
    r"(?im)^([ \t]*([\"']?)(?:proxy-)?(?:authorization|x-api-key|api-key|x-auth-token|x-access-token|"
    r"cookie|set-cookie)[ \t]*(?:[\"'][ \t]*)?[:=][ \t]*)(?!\[REDACTED\])(\S[^\n]*)"
)


def _mask_header(match: re.Match[str]) -> str:
    head, quote, value = match.group(1), match.group(2), match.group(3)
    if quote and quote in value:  # `"Authorization: Bearer x",` inside a YAML/JSON list: keep the quote
        return f"{head}{MASK}{value[value.index(quote) :]}"
    return f"{head}{MASK}"


# `KEY=value` / `KEY: value` lines where KEY looks secret (env files, compose, configs): the whole
# rest of the line is the value (it may hold spaces).
_LINE_KV = re.compile(
    r"(?m)^([ \t]*(?:#[ \t]*)?(?:-[ \t]*)?[\"']?)([A-Za-z0-9_.-]+)([\"']?[ \t]*[=:][ \t]*)"
    r"(?!\[REDACTED\])(\S[^\n]*)"
)


def _mask_line_kv(match: re.Match[str]) -> str:
    if not is_secret_name(match.group(2)) or PURE_REFERENCE.match(match.group(4)):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{MASK}"


# `name=value`, `"name": "value"`, `name: value` anywhere in a line. A quoted JSON key may have its
# value on the next line (pretty-printed JSON), also behind a log reader's timestamp and stream.
_SEPARATOR_VALUE = re.compile(
    rf"(\\*[\"']?[ \t]*[=:](?:\s*{LOG_PREFIX}(?=\\*[\"'])|[ \t]*))"
    r"(?!\\*[\"']?\[REDACTED\])" + _VALUE
)
_OPENING_QUOTE = re.compile(r"\\*[\"']")
# A part every secret name contains (see redaction_names), in lower case: only names around such a
# part are looked at, which keeps the scan of a megabyte of logs in the tens of milliseconds.
_NAME_HINT = re.compile(
    r"p(?:ass|w|in)|s(?:ecret|ess|id|ig|alt|as)|token|c(?:redential|ookie|onnection)|auth|jwt|bearer|hmac|"
    r"key|dsn|otp|ur[li]"
)
_NAME_TAIL = re.compile(r"[\w.-]*")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower case with the same length (str.lower can lengthen some non-ASCII letters)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


def _mask_inline(text: str) -> str:
    """Mask the value after every secret-looking name. Values of harmless names are still looked
    into, so `error: password="x"` and `url=http://h/?token=x` are masked."""
    lowered = ascii_lower(text)
    out: list[str] = []
    pos = scan = 0
    while hit := _NAME_HINT.search(lowered, scan):
        start = hit.start()
        while start > 0 and text[start - 1] in _NAME_CHARS:
            start -= 1
        end = _NAME_TAIL.match(text, hit.end()).end()  # type: ignore[union-attr]
        scan = end
        if (
            end - start > 128
            or start < pos
            or (start and text[start - 1] in "/$%")
            or text[start - 2 : start] == "${"
        ):
            continue  # inside a value already masked, a path, `$VAR` or `${VAR}`
        match = _SEPARATOR_VALUE.match(text, end)
        if match is None:
            continue
        value = match.group(2)
        if not is_secret_name(text[start:end]) or PURE_REFERENCE.match(value):
            continue
        quote = _OPENING_QUOTE.match(value)
        closing = quote.group(0) if quote and value.endswith(quote.group(0)) and len(value) > 1 else ""
        out.append(text[pos : match.start(2)] + (f"{closing}{MASK}{closing}" if closing else MASK))
        pos = scan = match.end(2)
    out.append(text[pos:])
    return "".join(out)


# URL-encoded bodies and query strings: `password%3Dx`, `%22api_key%22%3A%22x%22`.
_URLENCODED_KV = re.compile(
    r"(?:(?<=%[0-9A-Fa-f]{2})|(?<![\w.%-]))([A-Za-z_][\w.-]*)"
    r"((?:%2[27])?%3[DdAa](?:%20|\+)*(?:%2[27])?)(?!\[REDACTED\])"
    r"((?:[^%&\s\"'<>;,]|%(?!2[267Cc]|7[Dd]|3[Bb])[0-9A-Fa-f]{2})+)"
)


def _mask_urlencoded(match: re.Match[str]) -> str:
    if not is_secret_name(match.group(1)):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{MASK}"


_Replacement = str | Callable[[re.Match[str]], str]


def _sub_from_hints(text: str, hint: re.Pattern[str], pattern: re.Pattern[str], repl: _Replacement) -> str:
    """`pattern.sub(repl, text)` for matches that start where `hint` matches the lower-cased text.
    Case-insensitive regexes are slow in Python; a lower-case literal search is fast."""
    out: list[str] = []
    pos = 0
    for hit in hint.finditer(ascii_lower(text)):
        if hit.start() < pos or (match := pattern.match(text, hit.start())) is None:
            continue
        out.append(text[pos : match.start()])
        out.append(match.expand(repl) if isinstance(repl, str) else repl(match))
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


# Well-known token formats (prefix, what follows): JWTs, GitHub, GitLab, Slack, npm, Hugging Face,
# Stripe, Google, SendGrid, DigitalOcean, AWS access key ids, OpenAI-style keys, Docker Hub, PyPI,
# Shopify. Each is searched from its literal prefix (fast) and must not be glued to a word before it.
_TOKEN_FORMATS: list[tuple[str, str]] = [
    ("eyJ", r"[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
    *((f"gh{kind}_", r"[A-Za-z0-9]{20,}") for kind in "pousr"),
    ("github_pat_", r"[A-Za-z0-9_]{22,}"),
    ("glpat-", r"[A-Za-z0-9_-]{20,}"),
    *((f"xox{kind}-", r"[A-Za-z0-9-]{10,}") for kind in "abposr"),
    ("npm_", r"[A-Za-z0-9]{30,}"),
    ("hf_", r"[A-Za-z0-9]{30,}"),
    *((f"{kind}k_{mode}_", r"[A-Za-z0-9]{16,}") for kind in "sr" for mode in ("live", "test")),
    ("whsec_", r"[A-Za-z0-9]{20,}"),
    ("AIza", r"[0-9A-Za-z_-]{35}"),
    ("SG.", r"[\w-]{16,}\.[\w-]{20,}"),
    ("dop_v1_", r"[a-f0-9]{40,}"),
    ("AKIA", r"[0-9A-Z]{16}"),
    ("ASIA", r"[0-9A-Z]{16}"),
    ("sk-", r"[A-Za-z0-9_-]{20,}"),
    ("dckr_pat_", r"[A-Za-z0-9_-]{20,}"),
    ("pypi-", r"[A-Za-z0-9_-]{50,}"),
    *((f"shp{kind}_", r"[a-fA-F0-9]{32}") for kind in ("at", "ca", "pa", "ss")),
]
_TOKEN_PATTERNS = [
    (prefix, re.compile(rf"{re.escape(prefix)}(?<![\w-]{re.escape(prefix)}){rest}\b"))
    for prefix, rest in _TOKEN_FORMATS
]
# Telegram bot tokens `123456789:<35 characters>`; the tail is searched first (fast), then the whole
_TELEGRAM_TAIL = re.compile(r":[A-Za-z0-9_-]{35}")
_TELEGRAM = re.compile(r"(?<![\w:])\d{8,10}:[A-Za-z0-9_-]{35}\b")


def _mask_token_formats(text: str) -> str:
    for prefix, pattern in _TOKEN_PATTERNS:
        if prefix in text:
            text = pattern.sub(MASK, text)
    if _TELEGRAM_TAIL.search(text):
        text = _TELEGRAM.sub(MASK, text)
    return text


# Authorization schemes and bearer tokens inside lines. `Basic`/`token` need a token-looking value
# (a digit, '=', or mixed case) so prose such as "basic configuration" stays readable.
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_SCHEME_TOKEN = re.compile(
    r"\b((?i:basic|token|digest))\s+(?=[A-Za-z0-9._~+/-]*(?:\d|=|[a-z][A-Z]|[A-Z]{2}[a-z]))"
    r"[A-Za-z0-9._~+/=-]{8,}"
)
_SCHEME_HINT = re.compile(r"basic|token|digest")
_BEARER_HINT = re.compile(r"bearer")


# A command written as a YAML or JSON list, one item per line: the item after a secret flag.
_YAML_FLAG_ITEM = re.compile(
    r"(?m)^([ \t]*-[ \t]+([\"']?)(--?[\w-]{1,60})\2[ \t]*\n[ \t]*-[ \t]+)(?!\[REDACTED\])([\"']?)([^\n]*?)\4([ \t]*)$"
)
_JSON_FLAG_ITEM = re.compile(r"(\"(--?[\w-]{1,60})\"[ \t]*,\s*)\"(?!\[REDACTED\])((?:[^\"\\\n]|\\.)*)\"")


def _flag_value_masked(flag: str, value: str, text: str) -> str | None:
    """The masked value that follows `flag` in a command inside `text`, or None to keep it."""
    if flag in USER_FLAGS and "curl" in text:
        user, colon, _ = value.partition(":")
        return f"{user}:{MASK}" if colon else None
    if is_secret_flag(flag) or any(
        flag == secret_flag and program in text for program, secret_flag in PROGRAM_SECRET_FLAG.items()
    ):
        return None if value.startswith(("$", "-")) or PURE_REFERENCE.match(value) else MASK
    return None


def _mask_list_flags(text: str) -> str:
    def yaml_item(match: re.Match[str]) -> str:
        masked = _flag_value_masked(match.group(3), match.group(5), text)
        if masked is None:
            return match.group(0)
        return f"{match.group(1)}{match.group(4)}{masked}{match.group(4)}{match.group(6)}"

    def json_item(match: re.Match[str]) -> str:
        masked = _flag_value_masked(match.group(2), match.group(3), text)
        return match.group(0) if masked is None else f'{match.group(1)}"{masked}"'

    return _JSON_FLAG_ITEM.sub(json_item, _YAML_FLAG_ITEM.sub(yaml_item, text))


_LIST_FLAG_NEEDLES = ("pass", "secret", "token", "key", "masterauth", "curl", "redis-cli", "sshpass")


def _mask_user_flag(match: re.Match[str]) -> str:
    """`curl -u user:secret`: only when the line runs curl (`-u` means other things elsewhere)."""
    line_start = match.string.rfind("\n", max(0, match.start() - 500), match.start()) + 1
    if "curl" not in match.string[max(line_start, match.start() - 500) : match.start()]:
        return match.group(0)
    return f"{match.group(1)}{MASK}"


# (pattern, replacement, lower-case texts of which the input must contain one for the pattern to
# run). Every pattern starts with a literal where it can: Python finds those fast.
_PATTERNS: list[tuple[re.Pattern[str], _Replacement, tuple[str, ...]]] = [
    # scheme://user:password@host → keep user and host, hide the password (it may contain '@')
    (
        re.compile(r"(://[^:/@\s\"'<>]{0,256}:)([^\s\"'<>]{1,256})(@[^\s\"'<>@]*)"),
        rf"\1{MASK}\3",
        ("://",),
    ),
    # scheme://<token>@host (a token used as the user name, e.g. git clone URLs, Sentry DSNs)
    (re.compile(r"(://)(?=[A-Za-z_~%.-]*\d)([A-Za-z0-9_~%.-]{16,})(@)"), rf"\1{MASK}\3", ("://",)),
    # whole credential-carrying header lines
    (_HEADER_LINE, _mask_header, ("authorization", "api-key", "auth-token", "access-token", "cookie")),
    # Slack and Discord webhook URLs
    (re.compile(r"(hooks\.slack\.com/services/)\S+"), rf"\1{MASK}", ("hooks.slack.com",)),
    (re.compile(r"(discord(?:app)?\.com/api/webhooks/)\S+"), rf"\1{MASK}", ("discord",)),
    (_LINE_KV, _mask_line_kv, ("",)),
    # command-line password flags: --password x, --requirepass=x, --api-key 'x' (not --password-file)
    (
        re.compile(
            r"(-(?<![\w-]-)-?[\w-]{0,40}(?i:pass(?:word)?|secret|token|api-?key|requirepass|masterauth)[\w-]{0,40}"
            r"(?<!-file)(?<!-stdin)(?<!-env)(?:=|[ \t]+|[\"'][ \t]*,[ \t]*(?=[\"'])))"
            r"(?!\[REDACTED\])(?!-)(?!\$\{)" + _VALUE
        ),
        rf"\1{MASK}",
        ("pass", "secret", "token", "key", "masterauth"),
    ),
    # mysql -psecret (the password is glued to -p)
    (
        re.compile(
            r"(m(?<![\w-]m)(?:ysql|ariadb)[\w-]{0,40}\b[^\n]{0,500}?[\s\"',\[]-p)(?!\[REDACTED\])([^\s\"',\]]+)"
        ),
        rf"\1{MASK}",
        ("mysql", "mariadb"),
    ),
    # curl -u user:secret, --user=user:secret, -uuser:secret: keep the user
    (
        re.compile(
            r"(-(?<=[\s\"']-)(?:u[ \t]*|-(?:proxy-)?user(?:[ \t]+|=))[\"']?[^\s:\"'@]*:)"
            r"(?!\[REDACTED\])([^\s\"']+)"
        ),
        _mask_user_flag,
        ("curl",),
    ),
    # redis-cli -a secret, sshpass -p secret
    (re.compile(r"(redis-cli\b[^\n]{0,500}?\s-a[ \t]+)" + _ARG), rf"\1{MASK}", ("redis-cli",)),
    (re.compile(r"(sshpass\b[^\n]{0,500}?\s-p[ \t]*)" + _ARG), rf"\1{MASK}", ("sshpass",)),
]


def redact_body(text: str) -> str:
    """`redact_text` on text whose lines carry no log-reader prefix (one line break out per line
    break in: every step keeps the line count)."""
    text = mask_private_keys(text)
    text = redact_yaml_blocks(text)
    text = mask_var_defaults(text)
    text = _mask_token_formats(text)
    lowered = ascii_lower(text)
    if "bearer" in lowered:
        text = _sub_from_hints(text, _BEARER_HINT, _BEARER, rf"\1 {MASK}")
    if "basic" in lowered or "token" in lowered or "digest" in lowered:
        text = _sub_from_hints(text, _SCHEME_HINT, _SCHEME_TOKEN, rf"\1 {MASK}")
    for pattern, repl, needles in _PATTERNS:
        if any(needle in lowered for needle in needles):
            text = pattern.sub(repl, text)
    if any(needle in lowered for needle in _LIST_FLAG_NEEDLES):
        text = _mask_list_flags(text)
    if "%3" in text:
        text = _URLENCODED_KV.sub(_mask_urlencoded, text)
    return _mask_inline(text)
