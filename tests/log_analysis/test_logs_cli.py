"""The `digest` command, through CliRunner and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mcp_server.log_analysis.cli import digest
from mcp_server.log_analysis.render import count_tokens

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
