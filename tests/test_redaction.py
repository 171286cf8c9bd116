"""Redaction of secrets in JSON values and free text."""

from __future__ import annotations

from mcp_server.redaction import MASK, redact, redact_text

CANARIES = [
    "hunter2-canary-pw",
    "canarytoken0123456789abcdef",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlY2FuYXJ5",
    "ghp_CANARY0123456789abcdefghijklmnopqrstu",
]


def test_json_values_under_secret_keys_and_env_blocks() -> None:
    row = {
        "name": "api",
        "env": f"DATABASE_URL=postgres://app:{CANARIES[0]}@db:5432/app\nLOG_LEVEL=debug",
        "refreshToken": CANARIES[1],
        "databasePassword": CANARIES[0],
        "nested": [{"apiKey": CANARIES[3]}],
        "replicas": 2,
    }
    out = redact(row)
    text = repr(out)
    assert not any(c in text for c in CANARIES)
    assert out["name"] == "api" and out["replicas"] == 2
    assert out["env"].splitlines() == [f"DATABASE_URL={MASK}", f"LOG_LEVEL={MASK}"]  # keys kept


def test_free_text() -> None:
    text = (
        f"connect postgres://app:{CANARIES[0]}@db:5432/app failed\n"
        f"Authorization: Bearer {CANARIES[1]}\n"
        f"jwt={CANARIES[2]}\n"
        f"POSTGRES_PASSWORD: {CANARIES[0]}\n"
        f"token is {CANARIES[3]}\n"
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    out = redact_text(text)
    assert not any(c in out for c in CANARIES)
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in out
    assert "postgres://app:" in out and "@db:5432/app" in out  # host and user stay: they help diagnosis


def test_ordinary_text_is_left_alone() -> None:
    text = "GET /health 200 12ms\nworker started with 4 threads"
    assert redact_text(text) == text
