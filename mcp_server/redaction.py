"""Redaction: secrets never leave the server in clear.

Applied to everything we hand out (tool results, compose files, logs, errors, CLI output, the audit
log): values of secret-looking keys, every value of an environment block (any env var can hold a
secret), connection-string credentials, bearer tokens, JWTs, private keys, command-line password
flags and well-known token formats. It errs on the side of hiding: a redacted non-secret costs a
question, a leaked secret costs a rotation.

Public API: `redact(value, key=None)` for JSON-like values, `redact_text(text)` for free text (logs,
compose YAML, error messages), `redact_env_block(text)` for dotenv text, and `MASK`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

MASK = "[REDACTED]"

# Keys whose value is a secret (matched on the key name, case-insensitive, anywhere in the name).
SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|private[_-]?key|ssh[_-]?key|credential|"
    r"auth|session|cookie|signature|salt|encryption[_-]?key|access[_-]?key|client[_-]?secret|dsn|jwt|"
    r"bearer|hmac|otp|connection[_-]?string|database[_-]?url|db[_-]?url|redis[_-]?url|mongo[_-]?url|"
    r"amqp[_-]?url|webhook[_-]?url|smtp|license[_-]?key)",
    re.I,
)
# Short keys that are secrets only when they are the whole key name.
_SECRET_EXACT_KEY = re.compile(r"^(key|pw|pin|sig|sas)$", re.I)
# Keys whose value is an environment: a dotenv string, a `KEY=value` list or a mapping. Every value
# is masked, whatever the variable is called.
ENV_BLOCK_KEY = re.compile(
    r"^(env|envs|env_?vars|previewEnv|buildArgs|build_?args|args|buildSecrets|environment|envVariables)$",
    re.I,
)
# An environment-variable-like name: compose `x-` blocks hold env anchors under such keys.
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# A list item that is a command-line flag whose next item is its secret value (`--requirepass`, `pw`).
_SECRET_FLAG = re.compile(
    r"^--?[\w-]*(pass(word)?|secret|token|api-?key|requirepass|masterauth)[\w-]*$", re.I
)
_ENV_ITEM = re.compile(r"^(\s*(?:export\s+)?[^=\s#][^=\s]*\s*=)(.*)$", re.S)

# a value: quoted, a `${VAR…}` reference (kept whole so it can be recognised), or a bare word
_VALUE = r"(\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|\$\{[^}\n]*\}[^\s,;&\"'}\])]*|[^\s,;&\"'}\])]+)"

_HEADER_LINE = re.compile(
    r"(?im)^([ \t]*([\"']?)(?:proxy-)?(?:authorization|x-api-key|api-key|x-auth-token|x-access-token|"
    r"cookie|set-cookie)[ \t]*[\"']?[ \t]*[:=][ \t]*)(?!\[REDACTED\])(\S[^\n]*)"
)


def _mask_header(match: re.Match[str]) -> str:
    head, quote, value = match.group(1), match.group(2), match.group(3)
    if quote and quote in value:  # `"Authorization: Bearer x",` inside a YAML/JSON list: keep the quote
        return f"{head}{MASK}{value[value.index(quote) :]}"
    return f"{head}{MASK}"


# Secret-looking names for the line and inline patterns (the key is matched first, then checked:
# far faster than one regex with the alternation inside).
_LINE_SECRET_NAME = re.compile(
    r"(?i)(PASS(WORD|WD|PHRASE)?|PWD|SECRET|TOKEN|API[_-]?KEY|PRIVATE[_-]?KEY|CREDENTIALS?|AUTH|SALT|"
    r"ENCRYPTION[_-]?KEY|ACCESS[_-]?KEY|DSN|DATABASE_URL|DB_URL|REDIS_URL|MONGO_URL|WEBHOOK_URL|"
    r"LICENSE[_-]?KEY|JWT)"
)
_INLINE_SECRET_NAME = re.compile(
    r"(?i)(password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"auth[_-]?key|session[_-]?id|credentials?)"
)
# A value that only references variables (`${DB_PASSWORD}`, `$TOKEN`) holds no secret itself.
_PURE_REFERENCE = re.compile(
    r"^[\"']?(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-+?][^}]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*)+[\"']?[ \t]*(#.*)?$"
)
_LINE_KV = re.compile(
    r"(?m)^([ \t]*(?:#[ \t]*)?-?[ \t]*[\"']?)([A-Za-z0-9_.-]+)([\"']?[ \t]*[=:][ \t]*)"
    r"(?!\[REDACTED\])(\S[^\n]*)"
)


def _mask_line_kv(match: re.Match[str]) -> str:
    if not _LINE_SECRET_NAME.search(match.group(2)) or _PURE_REFERENCE.match(match.group(4)):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{MASK}"


_INLINE_KV = re.compile(
    r"(?<![\w./$-])([\"']?)(?<!\$\{)([\w.-]+)([\"']?[ \t]*[=:][ \t]*)(?![\"']?\[REDACTED\])" + _VALUE
)


def _mask_inline(text: str) -> str:
    """Mask the value after every secret-looking key; after a harmless key only the key is skipped,
    so `error: password="x"` and `url=http://h/?token=x` are still looked into."""
    out: list[str] = []
    pos = 0
    while match := _INLINE_KV.search(text, pos):
        value = match.group(4)
        if _INLINE_SECRET_NAME.search(match.group(2)) and not _PURE_REFERENCE.match(value):
            out.append(text[pos : match.start(4)] + MASK)
            pos = match.end(4)
        else:
            out.append(text[pos : match.start(4)])
            pos = match.start(4)
    out.append(text[pos:])
    return "".join(out)


_Replacement = str | Callable[[re.Match[str]], str]

_PATTERNS: list[tuple[re.Pattern[str], _Replacement]] = [
    # scheme://user:password@host → keep user and host, hide the password (it may contain '@')
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"'<>]*:)([^\s\"'<>]+)(@[^\s\"'<>@]*)"), rf"\1{MASK}\3"),
    # scheme://<token>@host (a token used as the user name, e.g. git clone URLs)
    (re.compile(r"(://)(?=[A-Za-z_~%.-]*\d)([A-Za-z0-9_~%.-]{16,})(@)"), rf"\1{MASK}\3"),
    # whole credential-carrying header lines
    (_HEADER_LINE, _mask_header),
    # Authorization schemes and bearer tokens inside lines. `Basic`/`token` need a token-looking value
    # (a digit, '=', or mixed case) so prose such as "basic configuration" stays readable.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (
        re.compile(
            r"\b((?i:basic|token|digest))\s+(?=[A-Za-z0-9._~+/-]*(?:\d|=|[a-z][A-Z]|[A-Z]{2}[a-z]))"
            r"[A-Za-z0-9._~+/=-]{8,}"
        ),
        rf"\1 {MASK}",
    ),
    # JWTs and well-known token formats (one pass): GitHub, GitLab, Slack, npm, Hugging Face, Stripe,
    # Google, SendGrid, DigitalOcean, AWS access key ids, OpenAI-style keys, Telegram bot tokens
    (
        re.compile(
            r"\b(eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}|"
            r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{22,}|glpat-[A-Za-z0-9_-]{20,}|"
            r"xox[abposr]-[A-Za-z0-9-]{10,}|npm_[A-Za-z0-9]{30,}|hf_[A-Za-z0-9]{30,}|"
            r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35}|SG\.[\w-]{16,}\.[\w-]{20,}|"
            r"dop_v1_[a-f0-9]{40,}|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|\d{8,10}:[A-Za-z0-9_-]{35})\b"
        ),
        MASK,
    ),
    # Slack and Discord webhook URLs
    (re.compile(r"(hooks\.slack\.com/services/)\S+"), rf"\1{MASK}"),
    (re.compile(r"(discord(?:app)?\.com/api/webhooks/)\S+"), rf"\1{MASK}"),
    # KEY=value / KEY: value lines where KEY looks secret (env lines, compose environment, configs)
    (_LINE_KV, _mask_line_kv),
    # command-line password flags: --password x, --requirepass=x, --api-key 'x'
    (
        re.compile(
            r"(?i)((?<![\w-])--?[\w-]*(?:pass(?:word)?|secret|token|api-?key|requirepass|masterauth)[\w-]*"
            r"(?:=|[ \t]+|[\"'][ \t]*,[ \t]*(?=[\"'])))(?!\[REDACTED\])(?!-)(?!\$\{)" + _VALUE
        ),
        rf"\1{MASK}",
    ),
    # mysql -psecret (the password is glued to -p)
    (
        re.compile(r"((?i:\b(?:mysql|mariadb)[\w-]*)\b[^\n]*?[\s\"',\[]-p)(?!\[REDACTED\])([^\s\"',\]]+)"),
        rf"\1{MASK}",
    ),
]

_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|\Z)", re.S
)
# ${VAR:-default} / ${VAR-default} / ${VAR:+alt}: compose and shell defaults are often real secrets
_VAR_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-+])([^}]*)\}")
_HARMLESS_DEFAULT = re.compile(r"^(\d{1,5}|true|false|yes|no|on|off)?$", re.I)
_HARMLESS_VAR = re.compile(
    r"(^|_)(PORT|HOST|HOSTNAME|VERSION|TAG|IMAGE|DOMAIN|TZ|LOG_LEVEL|REPLICAS|UID|GID|PUID|PGID)$"
)


# `image: ${IMAGE:-ghcr.io/acme/app}:${TAG:-v1}`: image references are never secrets, keep them
_IMAGE_LINE = re.compile(r"^\s*-?\s*[\"']?image[\"']?\s*:")


def _mask_var_default(match: re.Match[str]) -> str:
    name, op, default = match.group(1), match.group(2), match.group(3)
    if _HARMLESS_DEFAULT.match(default) or (_HARMLESS_VAR.search(name) and not SECRET_KEY.search(name)):
        return match.group(0)
    return f"${{{name}{op}{MASK}}}"


# -- compose YAML: mask every value inside `environment:`, build `args:` and `x-*` extension blocks ----

_YAML_SECTION = re.compile(r"^(\s*)(?:-\s+)?([\"']?)(environment|args|x-[\w.-]+|secrets)\2\s*:\s*(.*)$")
_YAML_MAP_ENTRY = re.compile(r"^(\s*)([\"']?)([^\"'\s#:-][^\"':]*?)\2\s*:(?:\s+(.*))?$")
_YAML_LIST_ENV = re.compile(r"^(\s*-\s*)([\"']?)([^=\s\"']+)=(.*?)\2\s*$")
_YAML_LIST_ITEM = re.compile(r"^(\s*-\s*)(.+)$")
_FLOW_VALUE = re.compile(r"([:=]\s*)(?!\[REDACTED\])(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^,}\]\s\"'][^,}\]\"']*)")


_FLOW_ENV_VALUE = re.compile(
    r"([A-Z_][A-Z0-9_]*\s*[:=]\s*)(?!\[REDACTED\])(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^,}\]\s\"'][^,}\]\"']*)"
)
_FLOW_ITEM = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^,\[\]\s][^,\[\]]*")


def _mask_flow(flow: str, only_env_names: bool) -> str:
    """Mask values in a one-line `{A: b}` mapping or `[A=b]` sequence (keeps it valid YAML)."""
    if flow.strip().startswith("["):

        def item(match: re.Match[str]) -> str:
            raw = match.group(0).strip()
            quoted = len(raw) >= 2 and raw[0] in "\"'" and raw[-1] == raw[0]
            name, eq, _ = (raw[1:-1] if quoted else raw).partition("=")
            if not eq or (only_env_names and not _ENV_NAME.match(name)):
                return match.group(0)
            return f'"{name}={MASK}"'  # quoted: the mask's brackets would end a flow sequence

        return _FLOW_ITEM.sub(item, flow)
    pattern = _FLOW_ENV_VALUE if only_env_names else _FLOW_VALUE
    return pattern.sub(rf"\1{MASK}", flow)


def _mask_block_line(line: str, mode: str) -> tuple[str, int | None]:
    """Mask one line inside an env-like block. Returns the line and, when the entry starts a
    multi-line scalar (`KEY: |`), the indentation below which the scalar's lines continue."""
    indent = len(line) - len(line.lstrip(" "))
    entry = _YAML_MAP_ENTRY.match(line)
    if entry:
        key, value = entry.group(3), (entry.group(4) or "").strip()
        secret_entry = mode == "env" or (
            mode == "x" and (_ENV_NAME.match(key) is not None or SECRET_KEY.search(key) is not None)
        )
        secret_entry = secret_entry or (mode == "secrets" and key == "content")
        if not value or value.startswith(("#", "*", "&")) or key == "<<":
            return line, None
        if value[0] in "|>":
            return line, indent if secret_entry else None
        if value[0] in "{[":
            masked = _mask_flow(value, only_env_names=not secret_entry)
            return f"{line[: len(line) - len(entry.group(4) or '')]}{masked}", None
        if secret_entry and not _PURE_REFERENCE.match(value):  # `${DB_HOST}` only names a variable
            return f"{line[: len(line) - len(entry.group(4) or '')]}{MASK}", None
        return line, None
    listed = _YAML_LIST_ENV.match(line)
    if listed and (mode != "x" or _ENV_NAME.match(listed.group(3))):
        if _PURE_REFERENCE.match(listed.group(4)):
            return line, None
        quote = listed.group(2)
        return f"{listed.group(1)}{quote}{listed.group(3)}={MASK}{quote}", None
    item = _YAML_LIST_ITEM.match(line)
    if item and mode == "env" and not _ENV_NAME.match(item.group(2).strip("\"' ")):
        return f"{item.group(1)}{MASK}", None
    if mode == "env" and not item and line.strip():
        return f"{' ' * indent}{MASK}", None  # a continuation line of a multi-line value
    return line, None


_ANCHOR_ONLY = re.compile(r"^(&\S+)?\s*(#.*)?$")
_YAML_HINTS = ("environment", "args", "x-", "secrets", ": |", ": >")


def _redact_yaml_blocks(text: str) -> str:
    if not any(hint in text for hint in _YAML_HINTS):
        return text
    out: list[str] = []
    blocks: list[tuple[int, str]] = []  # (indentation of the section key, mode)
    scalar_indent: int | None = None  # inside a multi-line secret scalar deeper than this
    for line in text.split("\n"):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if scalar_indent is not None:
            if not stripped or indent > scalar_indent:
                out.append(f"{' ' * indent}{MASK}" if stripped else line)
                continue
            scalar_indent = None
        while blocks and stripped and not stripped.startswith("#") and indent <= blocks[-1][0]:
            blocks.pop()
        section = _YAML_SECTION.match(line)
        if section:
            name, rest = section.group(3), section.group(4).strip()
            mode = "env" if name in ("environment", "args") else "x" if name.startswith("x-") else "secrets"
            if mode == "secrets" and indent != 0:
                pass  # a service's `secrets:` lists names only
            elif rest[:1] in ("{", "["):
                head = line[: len(line) - len(section.group(4))]
                out.append(head + _mask_flow(section.group(4), only_env_names=mode != "env"))
                continue
            elif _ANCHOR_ONLY.match(rest):
                blocks.append((len(section.group(1)), mode))
                out.append(line)
                continue
        if blocks and stripped and not stripped.startswith("#"):
            masked, scalar_indent = _mask_block_line(line, blocks[-1][1])
            out.append(masked)
            continue
        entry = _YAML_MAP_ENTRY.match(line)
        if entry and (entry.group(4) or "")[:1] in ("|", ">") and SECRET_KEY.search(entry.group(3)):
            scalar_indent = indent  # `password: |` followed by the secret on deeper lines
        out.append(line)
    return "\n".join(out)


def redact_text(text: str) -> str:
    """Mask secrets inside free text (logs, compose YAML, dotenv, error messages)."""
    if not text:
        return text
    text = _PEM.sub(f"-----BEGIN PRIVATE KEY-----{MASK}-----END PRIVATE KEY-----", text)
    text = _redact_yaml_blocks(text)
    if "${" in text:
        text = "\n".join(
            line if _IMAGE_LINE.match(line) else _VAR_DEFAULT.sub(_mask_var_default, line)
            for line in text.split("\n")
        )
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return _mask_inline(text)


def redact_env_block(text: str) -> str:
    """Mask every value of a dotenv block, keeping the keys (they help diagnosis, values don't).

    Quoted values that span several lines are masked whole; comments go through `redact_text`;
    stray lines without `=` are masked unless they are a bare variable name."""
    text = _PEM.sub(MASK, text)
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
            if _PURE_REFERENCE.match(value):  # `A=${B:-default}`: keep the reference, hide the default
                out.append(_VAR_DEFAULT.sub(_mask_var_default, line))
                continue
            if value[:1] in ("'", '"') and (len(value) == 1 or not value.endswith(value[0])):
                open_quote = value[0]
            out.append(f"{match.group(1)}{MASK}" if value else line)
        elif _ENV_NAME.match(stripped.removeprefix("export ").strip()):
            out.append(line)
        else:
            out.append(MASK)
    return "\n".join(out)


_MYSQL_CLIENT = re.compile(r"(^|/)(mysql|mariadb)[\w-]*$", re.I)
_ENV_PAIR = re.compile(r"^([A-Z_][A-Z0-9_]*=)(.+)$", re.S)


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
    if isinstance(value, str) and _PURE_REFERENCE.match(value):
        return _VAR_DEFAULT.sub(_mask_var_default, value)
    return MASK


def _mask_leaves(value: Any) -> Any:
    """Everything under a secret key is secret: keep the shape, mask every scalar."""
    if isinstance(value, Mapping):
        return {k: _mask_leaves(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_leaves(v) for v in value]
    return value if value in (None, "") or isinstance(value, bool) else MASK


def _redact_list(items: Any, key: str | None, env: bool = False) -> list[Any]:
    """Redact list items (a command line, an env list, plain data).

    The item after a secret flag (`--requirepass`, `x`) is masked whole, so is a glued `-p<pw>` in a
    mysql command line; under an `x-` extension key `NAME=value` items are env entries."""
    items = list(items)
    mysql = any(isinstance(i, str) and _MYSQL_CLIENT.search(i) for i in items)
    extension = bool(key and key.startswith("x-"))
    out: list[Any] = []
    mask_next = False
    for item in items:
        if mask_next and isinstance(item, str | int) and not isinstance(item, bool):
            out.append(MASK)
            mask_next = False
            continue
        mask_next = isinstance(item, str) and _SECRET_FLAG.match(item) is not None
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
    return SECRET_KEY.search(key) is not None or _SECRET_EXACT_KEY.match(key) is not None


def redact(value: Any, key: str | None = None) -> Any:
    """Deep-redact a JSON-like value. `key` is the mapping key this value sits under, if any.

    Mappings, lists, tuples, sets and bytes are walked; other objects are returned unchanged."""
    if key and ENV_BLOCK_KEY.match(key) and isinstance(value, str | Mapping | list | tuple):
        return _redact_env_value(value)
    if key and _is_secret_key(key):
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
        elif in_extension and _ENV_NAME.match(name) and v is not None and not isinstance(v, bool | Mapping):
            out[k] = MASK
        else:
            out[k] = redact(v, name)
    return out
