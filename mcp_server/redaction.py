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
dotenv text, `MASK`, and `is_secret_name(name)`. The text patterns are in `redaction_text`, which
names are secret in `redaction_names`, keys in `redaction_keys`, compose YAML in `redaction_yaml`;
tests/data/canaries.yaml is the corpus every one of them is tested against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mcp_server.redaction_keys import TIMESTAMP, mask_private_keys
from mcp_server.redaction_names import MASK, is_secret_name, is_thing_name
from mcp_server.redaction_text import PROGRAM_SECRET_FLAG, USER_FLAGS, is_secret_flag, redact_body
from mcp_server.redaction_yaml import ENV_NAME, PURE_REFERENCE, VAR_DEFAULT, mask_var_default

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
_ENV_ITEM = re.compile(r"^(\s*(?:export\s+)?[^=\s#][^=\s]*\s*=)(.*)$", re.S)

# A log as a reader shows it: each line behind timestamps and a stream name, each followed by one
# space (`2026-03-01T10:00:00.1+00:00 stdout <line>`, `docker logs --timestamps`). The lines are
# redacted without these prefixes, so what spans lines (YAML, pretty JSON, keys) is still seen.
_LINE_PREFIX = re.compile(
    rf"(?:(?:{TIMESTAMP}|-(?=[ \t](?:stdout|stderr)\b))[ \t](?:(?:stdout|stderr)[ \t])?){{1,3}}"
)
_PREFIXED_LINE_HINT = re.compile(rf"\n(?:{TIMESTAMP}|- std(?:out|err))[ \t]")


def redact_text(text: str) -> str:
    """Mask secrets inside free text (logs, compose YAML, dotenv, error messages). Keeps every
    line break, so a list of lines can be redacted joined (see `redact_lines`)."""
    if not text:
        return text
    if _PREFIXED_LINE_HINT.search(text) or _LINE_PREFIX.match(text):
        prefixes: list[str] = []
        bodies: list[str] = []
        for line in text.split("\n"):
            cut = prefix.end() if (prefix := _LINE_PREFIX.match(line)) else 0
            prefixes.append(line[:cut])
            bodies.append(line[cut:])
        redacted = redact_body("\n".join(bodies)).split("\n")
        if len(redacted) == len(prefixes):
            return "\n".join(p + line for p, line in zip(prefixes, redacted, strict=True))
    return redact_body(text)


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
                flags |= USER_FLAGS
            elif program in PROGRAM_SECRET_FLAG:
                flags.add(PROGRAM_SECRET_FLAG[program])
    return flags


def _is_command(items: list[Any]) -> bool:
    return bool(_program_flags(items)) or any(
        isinstance(i, str) and (is_secret_flag(i) or _MYSQL_CLIENT.search(i)) for i in items
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
            if mask_next in USER_FLAGS:  # `-u user:pw` keeps the user; `-u bob` has no password
                user, colon, _ = str(item).partition(":")
                out.append(f"{user}:{MASK}" if colon else item)
            else:
                out.append(MASK)
            mask_next = None
            continue
        if isinstance(item, str) and (is_secret_flag(item) or item in program_flags):
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
