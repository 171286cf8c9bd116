"""Compose YAML and `${VAR:-default}` redaction, line by line so the file stays valid YAML.

Inside `environment:`, build `args:`, `x-*` extension blocks and top-level `secrets:` every value
is masked (any environment variable can hold a secret), names and structure stay. Compose and
shell defaults (`${DB_PASSWORD:-hunter2}`) are masked unless harmless (`${PORT:-8080}`).
Every function keeps the number of lines (redaction of a list of log lines relies on it).
"""

from __future__ import annotations

import re

from mcp_server.redaction_names import MASK, is_secret_name

# An environment-variable-like name: compose `x-` blocks hold env anchors under such keys.
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# A value that only references variables (`${DB_PASSWORD}`, `$TOKEN`) holds no secret itself.
PURE_REFERENCE = re.compile(
    r"^[\"']?(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-+?][^}]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*)+[\"']?[ \t]*(#.*)?$"
)

# ${VAR:-default} / ${VAR-default} / ${VAR:+alt}: compose and shell defaults are often real secrets
# (the default stops at the next `${`: a nested reference has its own default, and the scan stays linear)
VAR_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-+])((?:[^}$]|\$(?!\{))*)\}")
_HARMLESS_DEFAULT = re.compile(r"^(\d{1,5}|true|false|yes|no|on|off)?$", re.I)
_HARMLESS_VAR = re.compile(
    r"(^|_)(PORT|HOST|HOSTNAME|VERSION|TAG|IMAGE|DOMAIN|TZ|LOG_LEVEL|REPLICAS|UID|GID|PUID|PGID)$"
)


# `image: ${IMAGE:-ghcr.io/acme/app}:${TAG:-v1}`: image references are never secrets, keep them
IMAGE_LINE = re.compile(r"^\s*(?:-\s*)?[\"']?image[\"']?\s*:")


def mask_var_default(match: re.Match[str]) -> str:
    name, op, default = match.group(1), match.group(2), match.group(3)
    if _HARMLESS_DEFAULT.match(default) or (_HARMLESS_VAR.search(name) and not is_secret_name(name)):
        return match.group(0)
    return f"${{{name}{op}{MASK}}}"


# -- compose YAML: mask every value inside `environment:`, build `args:` and `x-*` extension blocks ----

_YAML_SECTION = re.compile(r"^(\s*)(?:-\s+)?([\"']?)(environment|args|x-[\w.-]+|secrets)\2\s*:\s*(.*)$")
_YAML_MAP_ENTRY = re.compile(r"^(\s*)([\"']?)([^\"'\s#:-](?:[^\"':]*[^\"'\s:])?)\2\s*:(?:\s+(.*))?$")
_YAML_LIST_ENV = re.compile(r"^(\s*-\s*)([\"']?)([^=\s\"']+)=(.*)$")
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
            if not eq or (only_env_names and not ENV_NAME.match(name)):
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
            mode == "x" and (ENV_NAME.match(key) is not None or is_secret_name(key))
        )
        secret_entry = secret_entry or (mode == "secrets" and key == "content")
        if not value or value.startswith(("#", "*", "&")) or key == "<<":
            return line, None
        if value[0] in "|>":
            return line, indent if secret_entry else None
        if value[0] in "{[":
            masked = _mask_flow(value, only_env_names=not secret_entry)
            return f"{line[: len(line) - len(entry.group(4) or '')]}{masked}", None
        if secret_entry and not PURE_REFERENCE.match(value):  # `${DB_HOST}` only names a variable
            return f"{line[: len(line) - len(entry.group(4) or '')]}{MASK}", None
        return line, None
    listed = _YAML_LIST_ENV.match(line)
    if listed and (mode != "x" or ENV_NAME.match(listed.group(3))):
        if PURE_REFERENCE.match(listed.group(4)):
            return line, None
        quote = listed.group(2)
        return f"{listed.group(1)}{quote}{listed.group(3)}={MASK}{quote}", None
    item = _YAML_LIST_ITEM.match(line)
    if item and mode == "env" and not ENV_NAME.match(item.group(2).strip("\"' ")):
        return f"{item.group(1)}{MASK}", None
    if mode == "env" and not item and line.strip():
        return f"{' ' * indent}{MASK}", None  # a continuation line of a multi-line value
    return line, None


_ANCHOR_ONLY = re.compile(r"^(&\S+)?\s*(#.*)?$")
_YAML_HINTS = ("environment", "args", "x-", "secrets", ": |", ": >")


def redact_yaml_blocks(text: str) -> str:
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
        if entry and (entry.group(4) or "")[:1] in ("|", ">") and is_secret_name(entry.group(3)):
            scalar_indent = indent  # `password: |` followed by the secret on deeper lines
        out.append(line)
    return "\n".join(out)


def mask_var_defaults(text: str) -> str:
    """Mask secret-looking `${VAR:-default}` defaults, except on `image:` lines."""
    if "${" not in text:
        return text
    return "\n".join(
        line if IMAGE_LINE.match(line) else VAR_DEFAULT.sub(mask_var_default, line)
        for line in text.split("\n")
    )
