"""The `templates` command: counts, per-line templates (text and JSON Lines), redaction, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mcp_server.log_analysis.templates_cli import templates

LINES = [
    "2026-11-25 09:00:01,000 INFO [main] shop.api: order 17 accepted",
    "2026-11-25 09:00:02,000 INFO [main] shop.api: order 4242 accepted",
    "2026-11-25 09:00:03,000 ERROR [main] shop.db: connection to db.internal:5432 refused",
    "2026-11-25 09:00:04,000 INFO [main] shop.api: order 9 accepted",
    "2026-11-25 09:00:05,000 WARN [main] shop.auth: login with password=hunter2xyz rejected",
    "2026-11-25 09:00:06,000 INFO [main] shop.api: order 12 accepted",
    "2026-11-25 09:00:07,000 ERROR [main] shop.db: connection to cache.internal:6379 refused",
    "2026-11-25 09:00:08,000 INFO [main] shop.api: cart 5 emptied",
]


def _log(tmp_path: Path, lines: list[str] = LINES) -> Path:
    path = tmp_path / "app.log"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_templates_with_counts_most_frequent_first(tmp_path: Path) -> None:
    result = CliRunner().invoke(templates, [str(_log(tmp_path))])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "8 lines, 4 templates"
    assert lines[1].split() == ["4", "#1", "order", "<NUM>", "accepted"]
    assert lines[2].split() == ["2", "#2", "connection", "to", "<HOST>", "refused"]
    assert [line.split()[0] for line in lines[1:]] == ["4", "2", "1", "1"]


def test_per_line_json_is_one_object_per_input_line_in_order(tmp_path: Path) -> None:
    result = CliRunner().invoke(templates, ["--per-line", "--json", str(_log(tmp_path))])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["line"] for record in records] == list(range(1, len(LINES) + 1))
    assert all(set(record) == {"line", "template_id", "template"} for record in records)
    assert [record["template_id"] for record in records] == [1, 1, 2, 1, 3, 1, 2, 4]
    assert records[2]["template"] == "connection to <HOST> refused"
    summary = json.loads(CliRunner().invoke(templates, ["--json", str(_log(tmp_path))]).stdout)
    by_id = {entry["template_id"]: entry for entry in summary["templates"]}
    assert all(by_id[r["template_id"]]["template"] == r["template"] for r in records)
    assert by_id[1]["count"] == 4 and by_id[1]["first_line"] == 1
    assert summary["lines"] == len(LINES)


def test_per_line_text_and_docker_timestamps_keep_input_line_numbers(tmp_path: Path) -> None:
    stamped = [f"2026-11-25T09:00:0{i}.000000000Z {line}" for i, line in enumerate(LINES)]
    result = CliRunner().invoke(templates, ["--per-line", str(_log(tmp_path, stamped))])
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == [str(n) for n in range(1, len(LINES) + 1)]
    assert rows[7] == ["8", "4", "cart <NUM> emptied"]


def test_secrets_never_reach_the_output(tmp_path: Path) -> None:
    path = _log(tmp_path)
    for args in ([], ["--json"], ["--per-line"], ["--per-line", "--json"]):
        result = CliRunner().invoke(templates, [*args, str(path)])
        assert result.exit_code == 0, result.output
        assert "hunter2xyz" not in result.stdout
    assert "[REDACTED]" in CliRunner().invoke(templates, ["--json", str(path)]).stdout


def test_stdin_and_an_empty_log(tmp_path: Path) -> None:
    result = CliRunner().invoke(templates, ["--per-line", "--json", "-"], input="a 1 b\na 2 b\nc d\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["line"], r["template_id"]) for r in records] == [(1, 1), (2, 1), (3, 2)]
    empty = tmp_path / "empty.log"
    empty.write_text("")
    result = CliRunner().invoke(templates, ["--json", str(empty)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["templates"] == []


def test_errors_are_one_line_with_a_non_zero_status(tmp_path: Path) -> None:
    binary = tmp_path / "core.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    cases = {
        str(tmp_path / "missing.log"): "no such file",
        str(tmp_path): "is a directory",
        str(binary): "looks binary",
    }
    for target, message in cases.items():
        result = CliRunner().invoke(templates, [target])
        assert result.exit_code == 1, target
        assert result.stdout == ""
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = CliRunner().invoke(templates, ["-"], input=b"\x00\x01binary")
    assert result.exit_code == 1
    assert "stdin looks binary" in result.stderr


def test_templates_runs_as_a_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcp_server.log_analysis.templates_cli",
            "--per-line",
            "--json",
            str(_log(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(LINES)
