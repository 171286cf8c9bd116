"""Redaction: secrets never leave the server in clear.

Applied to everything we hand out (tool results, compose files, logs, errors, CLI output):
values of secret-looking keys, whole env blocks, connection-string credentials, bearer tokens,
JWTs, private keys and well-known token formats. It errs on the side of hiding: a redacted
non-secret costs a question, a leaked secret costs a rotation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "[REDACTED]"

# Keys whose value is a secret (matched on the key name, case-insensitive, anywhere in the name).
SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|apikey|private[_-]?key|credential|auth|"
    r"session|cookie|signature|salt|encryption[_-]?key|access[_-]?key|client[_-]?secret|dsn|"
    r"connection[_-]?string|database[_-]?url|db[_-]?url|redis[_-]?url|mongo[_-]?url|amqp[_-]?url|"
    r"webhook[_-]?url|smtp|license[_-]?key)",
    re.I,
)
# Keys whose value is a whole dotenv block (`KEY=value` lines): every value is masked.
ENV_BLOCK_KEY = re.compile(r"^(env|previewEnv|buildArgs|buildSecrets|environment|envVariables)$", re.I)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # -----BEGIN ... PRIVATE KEY----- blocks
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
        f"-----BEGIN PRIVATE KEY-----{MASK}-----END PRIVATE KEY-----",
    ),
    # scheme://user:password@host  → keep user and host, hide the password
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)([^@\s/]+)(@)"), rf"\1{MASK}\3"),
    # JWTs
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b"), MASK),
    # Authorization headers and bearer tokens
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    # well-known token formats: GitHub, GitLab, Slack, AWS access key id, OpenAI-style, Telegram bot
    (
        re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,})\b"),
        MASK,
    ),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"), MASK),
    (re.compile(r"\b\d{8,10}:[A-Za-z0-9_-]{35}\b"), MASK),
    # KEY=value / KEY: value where KEY looks secret (env lines, compose environment, log lines)
    (
        re.compile(
            r"(?im)^(\s*-?\s*[\"']?[A-Za-z0-9_.-]*"
            r"(?:PASS(?:WORD|WD)?|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH|SALT|ENCRYPTION_?KEY|"
            r"ACCESS_?KEY|DSN|DATABASE_URL|DB_URL|REDIS_URL|MONGO_URL|WEBHOOK_URL|LICENSE_?KEY)"
            r"[A-Za-z0-9_.-]*[\"']?\s*[=:]\s*)(?!\s*$)(?!\[REDACTED\])([^\n]*)"
        ),
        rf"\1{MASK}",
    ),
    # inline key=value inside a longer line (e.g. log lines: "... password=hunter2 ...")
    (
        re.compile(
            r"(?i)\b([A-Za-z0-9_]*(?:password|passwd|secret|token|api_?key|apikey)[A-Za-z0-9_]*\s*[=:]\s*)"
            r"(?!\[REDACTED\])([^\s,;&\"']+)"
        ),
        rf"\1{MASK}",
    ),
]


def redact_text(text: str) -> str:
    """Mask secrets inside free text (logs, YAML, error messages)."""
    if not text:
        return text
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact_env_block(text: str) -> str:
    """Mask every value of a dotenv block, keeping the keys (they help diagnosis, values don't)."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            out.append(line)
            continue
        key = line.split("=", 1)[0]
        out.append(f"{key}={MASK}")
    return "\n".join(out)


def redact(value: Any, key: str | None = None) -> Any:
    """Deep-redact a JSON-like value. `key` is the mapping key this value sits under, if any."""
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if key and ENV_BLOCK_KEY.match(key):
            return redact_env_block(value)
        if key and SECRET_KEY.search(key) and value:
            return MASK
        return redact_text(value)
    if (
        key
        and SECRET_KEY.search(key)
        and value not in (None, False, True)
        and not isinstance(value, int | float)
    ):
        return MASK
    return value
