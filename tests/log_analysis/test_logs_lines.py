"""Reading input: decoding, cleaning, Docker timestamps, bounds on size and line length."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from mcp_server.log_analysis.lines import (
    ReadLimits,
    lines_from_bytes,
    lines_from_file,
    lines_from_stream,
    lines_from_strings,
    lines_from_text,
)
from mcp_server.log_analysis.timestamps import parse_time, time_near_line, time_of_line


def test_binary_bytes_are_decoded_and_control_characters_dropped() -> None:
    data = b"ok line\n\x00\x01\x02binary\xff\xfe\xfd junk\x07\nlast \x1b[31mred\x1b[0m line\r\n"
    log = lines_from_bytes(data)
    assert log.messages == ["ok line", "binary\ufffd junk", "last red line"]
    assert all("\x00" not in line and "\x1b" not in line for line in log.messages)


def test_random_binary_input_is_flagged() -> None:
    data = bytes(range(256)) * 200
    log = lines_from_bytes(data)
    assert log.looks_binary
    assert any("binary" in note for note in log.describe_drops())
    text = "".join(log.messages)
    assert not any(ord(ch) < 32 and ch != "\t" for ch in text)


def test_carriage_returns_become_lines() -> None:
    log = lines_from_text("a\r\nb\rc\n")
    assert log.messages == ["a", "b", "c"]


def test_docker_timestamps_are_split_off() -> None:
    log = lines_from_text(
        "2026-11-25T09:00:00.123456789Z first\n2026-11-25T09:00:01.000000000Z second line\n"
    )
    assert log.messages == ["first", "second line"]
    assert log.stamps == ["2026-11-25T09:00:00.123456789Z", "2026-11-25T09:00:01.000000000Z"]
    assert time_of_line(log, 0) == datetime(2026, 11, 25, 9, 0, 0, 123456, tzinfo=UTC)


def test_variable_width_and_missing_docker_timestamps() -> None:
    log = lines_from_text(
        "2026-11-25T09:00:00.1Z a\ncontinuation without stamp\n2026-11-25T09:00:02+01:00 b\n"
    )
    assert log.messages == ["a", "continuation without stamp", "b"]
    assert log.stamps == ["2026-11-25T09:00:00.1Z", None, "2026-11-25T09:00:02+01:00"]
    assert time_of_line(log, 2) == datetime(2026, 11, 25, 8, 0, 2, tzinfo=UTC)
    assert time_near_line(log, 1) == datetime(2026, 11, 25, 9, 0, 0, 100000, tzinfo=UTC)


def test_no_docker_timestamps_when_first_line_has_none() -> None:
    log = lines_from_text("hello\n2026-11-25T09:00:00.1Z not a prefix here\n")
    assert log.stamps is None
    assert log.messages[1].startswith("2026-11-25T09:00:00.1Z")


def test_embedded_timestamp_formats() -> None:
    cases = {
        "2026-11-25 09:00:00,250 ERROR x": datetime(2026, 11, 25, 9, 0, 0, 250000, tzinfo=UTC),
        "2026/11/25 09:00:03 [error] 1#1: y": datetime(2026, 11, 25, 9, 0, 3, tzinfo=UTC),
        '1.2.3.4 - - [25/Nov/2026:10:00:00 +0100] "GET /"': datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        "1:M 25 Nov 2026 09:00:10.001 # x": datetime(2026, 11, 25, 9, 0, 10, 1000, tzinfo=UTC),
        '{"ts":1795597200.5,"msg":"x"}': datetime(2026, 11, 25, 9, 0, 0, 500000, tzinfo=UTC),
        "2026-11-25 09:00:00.100 UTC [1] LOG: x": datetime(2026, 11, 25, 9, 0, 0, 100000, tzinfo=UTC),
        "no time here": None,
        "2026-13-45 99:00:00 bogus": None,
    }
    for text, expected in cases.items():
        assert parse_time(text) == expected, text


def test_long_lines_are_cut() -> None:
    log = lines_from_text("x" * 100_000 + "\nshort\n", ReadLimits(max_line_chars=1000))
    assert len(log.messages[0]) < 1100
    assert "99,000 more characters cut" in log.messages[0]
    assert log.messages[1] == "short"
    assert log.truncated_lines == 1


def _numbered(count: int) -> bytes:
    return b"".join(b"line %d\n" % i for i in range(1, count + 1))


def test_large_bytes_keep_head_and_tail_with_true_line_numbers() -> None:
    data = _numbered(200_000)
    log = lines_from_bytes(data, ReadLimits(max_bytes=100_000))
    assert log.messages[0] == "line 1"
    assert log.messages[-1] == "line 200000"
    assert log.total_lines == 200_000
    assert log.dropped_lines > 0
    for index in (0, (log.gap_index or 0) - 1, log.gap_index or 0, len(log.messages) - 1):
        assert log.messages[index] == f"line {log.line_number(index)}"
    assert sum(len(m) + 1 for m in log.messages) <= 100_000
    assert any("dropped" in note for note in log.describe_drops())


def test_large_file_and_stream_give_the_same_lines(tmp_path: Path) -> None:
    data = _numbered(300_000)
    path = tmp_path / "big.log"
    path.write_bytes(data)
    limits = ReadLimits(max_bytes=200_000)
    from_file = lines_from_file(path, limits)
    from_stream = lines_from_stream(io.BytesIO(data), limits)
    for log in (from_file, from_stream):
        assert log.total_bytes == len(data)
        assert log.total_lines == 300_000
        assert log.messages[0] == "line 1"
        assert log.messages[-1] == "line 300000"
        gap = log.gap_index or 0
        assert log.messages[gap] == f"line {log.line_number(gap)}"
        assert log.messages[gap - 1] == f"line {log.line_number(gap - 1)}"
    assert from_file.messages[-10:] == from_stream.messages[-10:]


def test_small_stream_is_read_whole() -> None:
    log = lines_from_stream(io.BytesIO(b"a\nb\nc"))
    assert log.messages == ["a", "b", "c"]
    assert log.dropped_lines == 0


def test_strings_input_keeps_head_and_tail() -> None:
    log = lines_from_strings((f"line {i}\n" for i in range(1, 50_001)), ReadLimits(max_bytes=20_000))
    assert log.messages[0] == "line 1"
    assert log.messages[-1] == "line 50000"
    assert log.total_lines == 50_000
    gap = log.gap_index or 0
    assert log.messages[gap] == f"line {log.line_number(gap)}"


def test_bytes_are_cleaned_as_text_is() -> None:
    """Bytes are cleaned before decoding (faster); the lines are those of the text cleaner."""
    samples = [
        "plain\tline\nsecond\n",
        "colour \x1b[1;31mred\x1b[0m and title \x1b]0;t\x07 end\r\nnext\rthird\n",
        "controls \x00\x01\x08\x0b\x0c\x1f\x7f gone\n",
        "c1 \u0085\u009b\u0080 gone, é and 中 stay\n",
        "two stamps 2026-11-25T09:00:00.000000000Z and no \ufffd\ufffd\ufffd run\n",
    ]
    for sample in samples:
        assert lines_from_bytes(sample.encode()).messages == lines_from_text(sample).messages, sample


def test_docker_stamps_with_a_short_line_take_the_slow_path() -> None:
    log = lines_from_bytes(b"2026-11-25T09:00:00.000000000Z a\nshort\n2026-11-25T09:00:01.000000000Z b\n")
    assert log.messages == ["a", "short", "b"]
    assert log.stamps == ["2026-11-25T09:00:00.000000000Z", None, "2026-11-25T09:00:01.000000000Z"]


def test_stream_keeps_only_head_and_tail_of_a_long_input() -> None:
    """A stream far longer than the limit gives the head, the tail and true line numbers."""
    data = _numbered(400_000)
    log = lines_from_stream(io.BytesIO(data), ReadLimits(max_bytes=300_000))
    assert log.total_lines == 400_000 and log.total_bytes == len(data)
    assert sum(len(m) + 1 for m in log.messages) <= 300_000
    gap = log.gap_index or 0
    for index in (0, gap - 1, gap, len(log.messages) - 1):
        assert log.messages[index] == f"line {log.line_number(index)}"
