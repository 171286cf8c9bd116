"""Redaction: secrets never leave the server in clear. Values are masked; names of things stay.

Applied to everything we hand out (tool results, resources, prompts, compose files, logs, errors,
CLI output, the audit log). What is masked:
- values under secret-looking names (`DB_PASSWORD=`, `"signing_key":`, `AccountKey=`, `--requirepass`;
  see `redaction_names.is_secret_name`), in env lines, JSON (also pretty-printed over two lines and
  escaped inside JSON), logfmt, URL query strings and URL-encoded bodies, headers, cookies;
- every value of an environment block (any env var can hold a secret) and compose defaults;
- credentials in URLs (`mysql://root:<pw>@db`), `curl -u user:<pw>`, `mysql -p<pw>`,
  `redis-cli -a <pw>`, bearer/basic tokens, JWTs, well-known token formats (GitHub, GitLab, Slack,
  Stripe, AWS, OpenAI, npm …) and private keys, whole or cut off (`redaction_keys`).
It errs on the side of hiding: a redacted non-secret costs a question, a leaked secret a rotation.
Names (container, service, app, label and variable names) are never masked.

Public API: `redact(value, key=None)` for JSON-like values, `redact_text(text)` for free text (logs,
compose YAML, error messages), `redact_lines(lines)` for a list of log lines, `redact_values(value)`
for reports whose keys are names (only the strings are looked into), `redact_env_block(text)` for
dotenv text, `MASK`, and `is_secret_name(name)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from mcp_server.redaction_keys import mask_private_keys
from mcp_server.redaction_names import MASK, is_secret_name, is_thing_name
from mcp_server.redaction_yaml import (
    ENV_NAME,
    PURE_REFERENCE,
    VAR_DEFAULT,
    mask_var_default,
    mask_var_defaults,
    redact_yaml_blocks,
)

__all__ = [
    "MASK",
    "is_secret_name",
    "redact",
    "redact_env_block",
    "redact_lines",
    "redact_text",
    "redact_values",
]

# Short keys that are secrets only when they are the whole key name.
_SECRET_EXACT_KEY = re.compile(r"^(key|pw|pin|sig|sas)$", re.I)
# Keys whose value is an environment: a dotenv string, a `KEY=value` list or a mapping. Every value
# is masked, whatever the variable is called.
ENV_BLOCK_KEY = re.compile(
    r"^(env|envs|env_?vars|previewEnv|buildArgs|build_?args|args|buildSecrets|environment|envVariables)$",
    re.I,
)
# A list item that is a command-line flag whose next item is its secret value (`--requirepass`, `pw`).
_SECRET_FLAG = re.compile(
    r"^--?[\w-]*(pass(word)?|secret|token|api-?key|requirepass|masterauth)[\w-]*$", re.I
)
_ENV_ITEM = re.compile(r"^(\s*(?:export\s+)?[^=\s#][^=\s]*\s*=)(.*)$", re.S)
_TIMESTAMP = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"

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
# value on the next line (pretty-printed JSON), also behind a Docker timestamp.
_SEPARATOR_VALUE = re.compile(
    rf"(\\*[\"']?[ \t]*[=:](?:\s*(?:{_TIMESTAMP}[ \t]+)?(?=\\*[\"'])|[ \t]*))"
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


def _ascii_lower(text: str) -> str:
    """Lower case with the same length (str.lower can lengthen some non-ASCII letters)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


def _mask_inline(text: str) -> str:
    """Mask the value after every secret-looking name. Values of harmless names are still looked
    into, so `error: password="x"` and `url=http://h/?token=x` are masked."""
    lowered = _ascii_lower(text)
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
    for hit in hint.finditer(_ascii_lower(text)):
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


def redact_text(text: str) -> str:
    """Mask secrets inside free text (logs, compose YAML, dotenv, error messages). Keeps every
    line break, so a list of lines can be redacted joined (see `redact_lines`)."""
    if not text:
        return text
    text = mask_private_keys(text)
    text = redact_yaml_blocks(text)
    text = mask_var_defaults(text)
    text = _mask_token_formats(text)
    lowered = _ascii_lower(text)
    if "bearer" in lowered:
        text = _sub_from_hints(text, _BEARER_HINT, _BEARER, rf"\1 {MASK}")
    if "basic" in lowered or "token" in lowered or "digest" in lowered:
        text = _sub_from_hints(text, _SCHEME_HINT, _SCHEME_TOKEN, rf"\1 {MASK}")
    for pattern, repl, needles in _PATTERNS:
        if any(needle in lowered for needle in needles):
            text = pattern.sub(repl, text)
    if "%3" in text:
        text = _URLENCODED_KV.sub(_mask_urlencoded, text)
    return _mask_inline(text)


def redact_lines(lines: list[str]) -> list[str]:
    """Redact log lines together, so secrets that span lines (pretty-printed JSON, a private key)
    are seen; one output line per input line."""
    if not lines:
        return lines
    if any("\n" in line for line in lines):
        return [redact_text(line) for line in lines]
    joined = redact_text("\n".join(lines)).split("\n")
    return joined if len(joined) == len(lines) else [redact_text(line) for line in lines]


def redact_env_block(text: str) -> str:
    """Mask every value of a dotenv block, keeping the keys (they help diagnosis, values don't).

    Quoted values that span several lines are masked whole; comments go through `redact_text`;
    stray lines without `=` are masked unless they are a bare variable name."""
    text = mask_private_keys(text)
    out: list[str] = []
    open_quote: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if open_quote is not None:  # inside a multi-line quoted value
            if stripped.endswith(open_quote):
                open_quote = None
            continue
        if not stripped:
            out.append(line)
        elif stripped.startswith("#"):
            out.append(redact_text(line))
        elif match := _ENV_ITEM.match(line):
            value = match.group(2).strip()
            if PURE_REFERENCE.match(value):  # `A=${B:-default}`: keep the reference, hide the default
                out.append(VAR_DEFAULT.sub(mask_var_default, line))
                continue
            if value[:1] in ("'", '"') and (len(value) == 1 or not value.endswith(value[0])):
                open_quote = value[0]
            out.append(f"{match.group(1)}{MASK}" if value else line)
        elif ENV_NAME.match(stripped.removeprefix("export ").strip()):
            out.append(line)
        else:
            out.append(MASK)
    return "\n".join(out)


_MYSQL_CLIENT = re.compile(r"(^|/)(mysql|mariadb)[\w-]*$", re.I)
_ENV_PAIR = re.compile(r"^([A-Z_][A-Z0-9_]*=)(.+)$", re.S)
# In a command list, the item after these flags is a secret (or `user:secret`), per program.
_USER_FLAGS = {"-u", "--user", "--proxy-user"}
_PROGRAM_SECRET_FLAG = {"redis-cli": "-a", "sshpass": "-p"}


def _redact_env_value(value: Any) -> Any:
    """Every value of an environment mapping or list is masked; names stay."""
    if isinstance(value, str):
        return redact_env_block(value) if "\n" in value or "=" in value else redact_text(value)
    if isinstance(value, Mapping):
        return {k: _env_scalar(v) for k, v in value.items()}
    return _redact_list(value, None, env=True)


def _env_scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and PURE_REFERENCE.match(value):
        return VAR_DEFAULT.sub(mask_var_default, value)
    return MASK


def _mask_leaves(value: Any) -> Any:
    """Everything under a secret key is secret: keep the shape, mask every scalar."""
    if isinstance(value, Mapping):
        return {k: _mask_leaves(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_leaves(v) for v in value]
    return value if value in (None, "") or isinstance(value, bool) else MASK


def _program_flags(items: list[Any]) -> set[str]:
    """Flags whose next item is secret in this command list (`curl -u`, `redis-cli -a`)."""
    flags: set[str] = set()
    for item in items:
        if isinstance(item, str):
            program = item.rsplit("/", 1)[-1]
            if program in ("curl", "wget"):
                flags |= _USER_FLAGS
            elif program in _PROGRAM_SECRET_FLAG:
                flags.add(_PROGRAM_SECRET_FLAG[program])
    return flags


def _is_command(items: list[Any]) -> bool:
    return bool(_program_flags(items)) or any(
        isinstance(i, str) and (_SECRET_FLAG.match(i) or _MYSQL_CLIENT.search(i)) for i in items
    )


def _redact_list(items: Any, key: str | None, env: bool = False) -> list[Any]:
    """Redact list items (a command line, an env list, log lines, plain data).

    The item after a secret flag (`--requirepass`, `x`) is masked whole, so is a glued `-p<pw>` in a
    mysql command line and the password of `curl -u user:pw`; under an `x-` extension key
    `NAME=value` items are env entries; a list of plain strings is redacted as lines together."""
    items = list(items)
    extension = bool(key and key.startswith("x-"))
    if not env and not extension and all(isinstance(i, str) for i in items) and not _is_command(items):
        return redact_lines(items)
    mysql = any(isinstance(i, str) and _MYSQL_CLIENT.search(i) for i in items)
    program_flags = _program_flags(items)
    out: list[Any] = []
    mask_next: str | None = None  # the flag whose value comes next
    for item in items:
        if mask_next and isinstance(item, str | int) and not isinstance(item, bool):
            if mask_next in _USER_FLAGS:  # `-u user:pw` keeps the user; `-u bob` has no password
                user, colon, _ = str(item).partition(":")
                out.append(f"{user}:{MASK}" if colon else item)
            else:
                out.append(MASK)
            mask_next = None
            continue
        if isinstance(item, str) and (_SECRET_FLAG.match(item) or item in program_flags):
            mask_next = item
        if isinstance(item, str) and mysql and len(item) > 2 and item.startswith("-p"):
            out.append(f"-p{MASK}")
        elif isinstance(item, str) and (env or extension) and (pair := _ENV_PAIR.match(item)):
            out.append(f"{pair.group(1)}{_env_scalar(pair.group(2))}")
        elif env and isinstance(item, str):
            out.append(_redact_env_value(item))
        else:
            out.append(redact(item, key))
    return out


def _is_secret_key(key: str) -> bool:
    return is_secret_name(key) or _SECRET_EXACT_KEY.match(key) is not None


def redact(value: Any, key: str | None = None) -> Any:
    """Deep-redact a JSON-like value. `key` is the mapping key this value sits under, if any.

    Mappings, lists, tuples, sets and bytes are walked; other objects are returned unchanged.
    A mapping under a hyphenated name (`shop-passwd: {image: …}`) describes a thing and is walked."""
    if key and ENV_BLOCK_KEY.match(key) and isinstance(value, str | Mapping | list | tuple):
        return _redact_env_value(value)
    if key and _is_secret_key(key) and not (isinstance(value, Mapping) and is_thing_name(key)):
        if isinstance(value, bytes):
            return MASK
        return _mask_leaves(value)
    if isinstance(value, Mapping):
        return _redact_mapping(value, key)
    if isinstance(value, list | tuple | set | frozenset):
        return _redact_list(value, key)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", errors="replace"))
    if isinstance(value, str):
        return redact_text(value)
    return value


def _redact_mapping(value: Mapping[Any, Any], key: str | None) -> dict[Any, Any]:
    # {"name": "X", "value": "…"} / {"key": …, "value": …}: an env entry (Kubernetes/Dokploy style);
    # like any env value, the value is masked and the name kept
    lowered = {str(k).lower(): k for k in value}
    label_key = lowered.get("name", lowered.get("key"))
    env_pair = label_key is not None and "value" in lowered and len(value) <= 3
    in_extension = bool(key and key.startswith("x-"))
    out: dict[Any, Any] = {}
    for k, v in value.items():
        name = str(k)
        if env_pair and name.lower() == "value" and v is not None and not isinstance(v, bool):
            out[k] = MASK
        elif env_pair and k == label_key and isinstance(v, str):
            out[k] = redact_text(v)
        elif in_extension and ENV_NAME.match(name) and v is not None and not isinstance(v, bool | Mapping):
            out[k] = MASK
        else:
            out[k] = redact(v, name)
    return out


def redact_values(value: Any) -> Any:
    """Mask secrets inside every string of a JSON-like value whose keys are field names or names
    of things (a compose graph report keyed by service name): keys are never judged, so a service
    called `shop-passwd` keeps its whole entry, and no number or flag is replaced."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(v) for v in value]
    return value
