"""The `digest` command, through CliRunner and as a real process: output, redaction, tokenizer."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
import warnings
from pathlib import Path

from click.testing import CliRunner

from mcp_server.log_analysis.analysis import analyse, shown_spans
from mcp_server.log_analysis.cli import digest
from mcp_server.log_analysis.digest import build_digest, digest_log
from mcp_server.log_analysis.lines import lines_from_text
from mcp_server.log_analysis.render import count_tokens, render_digest
from mcp_server.redaction import redact_lines

from . import fixtures as F

LOG = F.PYTHON_CHAINED + F.GO_PANIC


def test_text_digest_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(LOG)
    result = CliRunner().invoke(digest, [str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("LOG DIGEST:")
    assert "panic: runtime error" in result.stdout
    assert "CustomerNotFound" in result.stdout


def test_json_digest_and_token_budget(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(LOG * 50)
    result = CliRunner().invoke(digest, ["--json", "--max-tokens", "300", str(path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["max_tokens"] == 300
    assert 0 < data["tokens"] <= 300
    assert data["last_error"]["kind"] == "go"
    text = CliRunner().invoke(digest, ["--max-tokens", "300", str(path)]).stdout
    assert count_tokens(text) <= 300


def test_stdin_and_exit_code() -> None:
    result = CliRunner().invoke(digest, ["-", "--exit-code", "137", "--no-oom-killed"], input=LOG)
    assert result.exit_code == 0, result.output
    assert "exit code 137 (SIGKILL), OOMKilled=false" in result.stdout


def test_missing_file_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = CliRunner().invoke(digest, [str(tmp_path / "nope.log")])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"Error: no such file: {tmp_path / 'nope.log'}"]
    assert "Traceback" not in result.output


def test_directory_and_bad_budget(tmp_path: Path) -> None:
    result = CliRunner().invoke(digest, [str(tmp_path)])
    assert result.exit_code == 1
    assert "is a directory" in result.stderr
    bad = CliRunner().invoke(digest, ["--max-tokens", "10", str(tmp_path)])
    assert bad.exit_code == 2
    assert "max-tokens" in bad.stderr


def test_runs_as_a_process(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(LOG.encode() + b"\x00\xff binary tail\n")
    ok = subprocess.run(
        [sys.executable, "-m", "mcp_server.log_analysis.cli", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("LOG DIGEST:")
    missing = subprocess.run(
        [sys.executable, "-m", "mcp_server.log_analysis.cli", str(tmp_path / "missing.log")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0
    assert "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr


MODULES_AFTER = """
import json, sys
from mcp_server.log_analysis.cli import digest
try:
    digest(sys.argv[1:])
except SystemExit as stop:
    assert not stop.code, stop.code
print(json.dumps(sorted(m for m in sys.modules if m.startswith("bpe_openai"))), file=sys.stderr)
"""


def _modules_after_digest(*args: str) -> tuple[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", MODULES_AFTER, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_tokenizer_loads_one_encoding_and_only_when_counting(tmp_path: Path) -> None:
    """The package `bpe_openai` reads all three of its vocabularies when imported; the digest loads
    its Rust extension alone, which builds the o200k tokenizer only, and only when it counts."""
    small = tmp_path / "small.log"
    small.write_text("INFO start\nERROR db: connection refused\nINFO stop\n")
    text, loaded = _modules_after_digest(str(small))
    assert text.startswith("LOG DIGEST:")
    assert loaded == []  # a small digest fits by its byte size: nothing counted
    as_json, loaded = _modules_after_digest("--json", str(small))
    assert json.loads(as_json)["tokens"] > 0
    assert loaded == ["bpe_openai._bindings"]  # not bpe_openai itself, nor its registry
    big = tmp_path / "big.log"
    big.write_text(LOG * 200)
    _, loaded = _modules_after_digest("--max-tokens", "300", str(big))
    assert loaded == ["bpe_openai._bindings"]


def test_extension_tokenizer_counts_as_the_package_does() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding = bpe_openai.get_encoding("o200k_base")
    rng = random.Random(4)
    alphabet = 'abc XYZ 123 \n\t{}":;,.é中🙂-_/<|>'
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        assert count_tokens(text) == len(encoding.encode(text, disallowed_special=())), text
    assert count_tokens("a log line with <|endoftext|> in it") > 5  # special-token text is text
    assert count_tokens("lone surrogate \ud800 here") > 0


CANARY_LOG = (
    "\n".join(f"2026-11-25 09:00:{i % 60:02d},000 INFO api: served request {i}" for i in range(300))
    + "\n2026-11-25 09:05:00,000 ERROR app: request rejected for admin password=canary-event-1\n"
    + "2026-11-25 09:05:01,000 ERROR api: bad upstream reply {\n"
    + '  "password":\n    "canary-json-next-line"\n}\n'
    + "\n".join(f"2026-11-25 09:06:{i % 60:02d},000 INFO api: served request {i}" for i in range(300))
    + "\n-----BEGIN PRIVATE KEY-----\n"
    + "\n".join("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" + f"{i:012d}" for i in range(50))
    + "\n-----END PRIVATE KEY-----\n"
    # a compose file printed before dying: the tail shows the last items, not the section name
    + "services:\n  worker:\n    environment:\n"
    + "".join(f"      WORKER_SETTING_{i}: canary-yaml-{i}\n" for i in range(60))
    + "2026-11-25 09:07:00,000 ERROR worker: giving up after key load\n"
)


def test_shown_lines_are_redacted_with_their_context(tmp_path: Path) -> None:
    """Only lines a digest can show are redacted, with enough around them that a key or a YAML
    environment block that starts above the tail is still masked."""
    path = tmp_path / "secrets.log"
    path.write_text(CANARY_LOG)
    for args in ([str(path)], ["--json", str(path)], ["--max-tokens", "4000", str(path)]):
        result = CliRunner().invoke(digest, args)
        assert result.exit_code == 0, result.output
        assert "canary-" not in result.stdout
        assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" not in result.stdout
        assert "request rejected for admin" in result.stdout and "giving up after key load" in result.stdout


def test_redacting_shown_lines_gives_the_digest_of_the_redacted_log() -> None:
    """Same digest as redacting every line first (the old way, seconds for a big log)."""
    log = lines_from_text(CANARY_LOG + LOG * 20 + CANARY_LOG)
    everything = dataclasses.replace(log, messages=redact_lines(log.messages))
    for budget in (300, 2000):
        shown_only = render_digest(build_digest(analyse(log, redact=redact_lines), budget))
        assert shown_only == render_digest(build_digest(analyse(everything), budget))
    assert "canary-" not in render_digest(digest_log(CANARY_LOG, max_tokens=4000, redact=redact_lines))


def test_shown_spans_cover_events_their_context_and_the_tail() -> None:
    log = lines_from_text("INFO a\n" * 200 + "ERROR one\n" + "INFO b\n" * 200 + LOG)
    analysis = analyse(log)
    spans = shown_spans(analysis.events, len(log.messages))
    covered = {i for begin, end in spans for i in range(begin, end)}
    count = len(log.messages)
    for event in analysis.events:
        assert set(range(max(0, event.index - 1), min(count, event.end + 1))) <= covered
    assert set(range(count - 40, count)) <= covered
    assert 5 not in covered and 300 not in covered  # plain info lines far from any event
