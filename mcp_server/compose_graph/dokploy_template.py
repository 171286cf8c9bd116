"""The `.env` file Dokploy writes for a template, rebuilt from its `template.toml`.

A Dokploy template is a docker-compose.yml plus a template.toml whose `[variables]` use
helpers (`${password:32}`, `${domain}`, `${base64:64}`, `${hash:8}`, `${uuid}`, `${jwt:…}`,
`${username}`, `${email}`, `${timestamp}`, `${randomPort}`) and whose `[config] env` lists the
`KEY=value` lines of the `.env` that `docker compose` then reads. This module follows Dokploy's
processors.ts (two passes over variables, then env) but makes up *deterministic* values, so the
same template always gives the same `.env`: good for analysis and tests, never for deploying.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import tomllib
import uuid
from dataclasses import dataclass
from typing import Any

from mcp_server.compose_graph.errors import ComposeError

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_FIXED_TIME_MS = 1_700_000_000_000


class TemplateError(ComposeError):
    """template.toml cannot be read."""


def _int_arg(text: str, default: int) -> int:
    match = re.match(r"\s*(\d+)", text)
    return int(match.group(1)) if match and int(match.group(1)) > 0 else default


class _Values:
    """Deterministic stand-ins for Dokploy's random helpers (seeded, counter based)."""

    def __init__(self, seed: str, app_name: str) -> None:
        self.seed = seed
        self.app_name = app_name
        self.counter = 0

    def _bytes(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self.counter += 1
            out += hashlib.sha256(f"{self.seed}:{self.counter}".encode()).digest()
        return out[:n]

    def password(self, length: int) -> str:
        return "".join(_ALNUM[b % len(_ALNUM)] for b in self._bytes(length))

    def hex(self, length: int) -> str:
        return self._bytes(length).hex()[:length]

    def base64(self, length: int) -> str:
        return base64.b64encode(self._bytes(length)).decode()

    def domain(self) -> str:
        return f"{self.app_name}-{self.hex(6)}.traefik.me"

    def jwt(self, secret: str | None, payload: dict[str, Any] | None) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64(json.dumps(payload or {"iat": _FIXED_TIME_MS // 1000}).encode())
        key = (secret or self.password(32)).encode()
        signature = b64(hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest())
        return f"{header}.{body}.{signature}"


def _helper(name: str, variables: dict[str, str], values: _Values) -> str | None:
    """Value of one `${name}` helper, or None when `name` is not a helper."""
    head, _, arg = name.partition(":")
    simple = {
        "domain": values.domain,
        "uuid": lambda: str(uuid.UUID(bytes=values._bytes(16))),
        "username": lambda: "user" + values.hex(6),
        "email": lambda: f"user{values.hex(6)}@example.com",
        "randomPort": lambda: str(1024 + int(values.hex(4), 16) % 60000),
        "timestamp": lambda: str(_FIXED_TIME_MS),
        "timestampms": lambda: str(_FIXED_TIME_MS),
        "timestamps": lambda: str(_FIXED_TIME_MS // 1000),
    }
    if not arg and name in simple:
        return simple[name]()
    sized = {"password": (values.password, 16), "base64": (values.base64, 32), "hash": (values.hex, 8)}
    if head in sized and (arg or name == head):
        make, default = sized[head]
        return make(_int_arg(arg, default))
    if head in ("timestampms", "timestamps") and arg:
        return str(_FIXED_TIME_MS if head == "timestampms" else _FIXED_TIME_MS // 1000)
    if head == "jwt":
        secret, _, payload_ref = arg.partition(":")
        payload_text = variables.get(payload_ref, payload_ref)
        try:
            payload = json.loads(payload_text) if payload_text.strip().startswith("{") else None
        except ValueError:
            payload = None
        if secret.isdigit():
            return values.jwt(None, None)
        secret_value = variables.get(secret, secret) if secret else None
        return values.jwt(secret_value, payload if isinstance(payload, dict) else None)
    return None


def _process(value: str, variables: dict[str, str], values: _Values) -> str:
    """Dokploy processValue: helpers and variables, then variables once more."""

    def first(match: re.Match[str]) -> str:
        name = match.group(1)
        made = _helper(name, variables, values)
        if made is not None:
            return made
        return variables.get(name, match.group(0))

    def second(match: re.Match[str]) -> str:
        return variables.get(match.group(1), match.group(0))

    return _PLACEHOLDER.sub(second, _PLACEHOLDER.sub(first, value))


def _first_pass(value: str, values: _Values) -> str:
    """Dokploy's first pass: a value *starting* with these helpers becomes the helper's value."""
    if value == "${domain}":
        return values.domain()
    for name, make, default in (("base64", values.base64, 32), ("password", values.password, 16)):
        if value.startswith("${" + name + ":"):
            match = re.search(r"\$\{" + name + r":(\d+)\}", value)
            return make(int(match.group(1)) if match else default)
    if value == "${hash}":
        return values.hex(8)
    if value.startswith("${hash:"):
        match = re.search(r"\$\{hash:(\d+)\}", value)
        return values.hex(int(match.group(1)) if match else 8)
    return value


def _js_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _without_mount_tables(text: str) -> str:
    """Drop `[[config.mounts]]` tables (file contents), which some templates write in TOML
    that Dokploy's lenient reader accepts and tomllib does not; the env does not need them."""
    kept: list[str] = []
    skipping = in_string = False
    for line in text.splitlines():
        header = not in_string and line.strip().startswith("[")
        if header:
            skipping = line.split("#", 1)[0].strip() == "[[config.mounts]]"
        if (line.count('"""') + line.count("'''")) % 2 == 1:
            in_string = not in_string
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def _load_toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as first_error:
        try:
            return tomllib.loads(_without_mount_tables(text))
        except tomllib.TOMLDecodeError:
            raise TemplateError(f"template.toml is not valid TOML: {first_error}") from None


@dataclass(frozen=True)
class DokployTemplate:
    """Processed template: resolved `variables` and the env lines Dokploy would store."""

    variables: dict[str, str]
    env_lines: list[str]
    app_name: str

    def env_file_text(self) -> str:
        """The `.env` text Dokploy writes next to the compose file (getCreateEnvFileCommand)."""
        text = f"APP_NAME={self.app_name}\nCOMPOSE_PROJECT_NAME={self.app_name}\n" + "\n".join(self.env_lines)
        if "DOCKER_CONFIG" not in text:
            text += "\nDOCKER_CONFIG=/root/.docker"
        return text + "\n"


def read_template(text: str, app_name: str = "app", seed: str = "infraguardian") -> DokployTemplate:
    """Process template.toml text like Dokploy does, with deterministic made-up secrets."""
    data = _load_toml(text)
    values = _Values(seed, app_name)
    raw_vars = data.get("variables") or {}
    if not isinstance(raw_vars, dict):
        raise TemplateError("template.toml: [variables] must be a table")
    variables: dict[str, str] = {}
    for key, value in raw_vars.items():  # first pass: non-strings are dropped, as in Dokploy
        if isinstance(value, str):
            variables[key] = _first_pass(value, values)
    for key in list(variables):  # second pass: references between variables
        variables[key] = _process(variables[key], variables, values)
    config = data.get("config") or {}
    env = config.get("env") if isinstance(config, dict) else None
    lines: list[str] = []
    if isinstance(env, dict):
        for key, value in env.items():
            text = _process(value, variables, values) if isinstance(value, str) else _js_str(value)
            lines.append(f"{key}={text}")
    elif isinstance(env, list):
        for item in env:
            if isinstance(item, str):
                lines.append(_process(item, variables, values))
            elif isinstance(item, dict) and item:
                key = next(iter(item))
                lines.append(f"{key}={_js_str(item[key])}")
            else:
                lines.append(_js_str(item))
    return DokployTemplate(variables=variables, env_lines=lines, app_name=app_name)
