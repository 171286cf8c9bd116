"""Multi-line grouping: every trace comes out whole, with the right kind and headline."""

from __future__ import annotations

import pytest

from mcp_server.log_analysis.analysis import analyse
from mcp_server.log_analysis.lines import lines_from_text
from mcp_server.log_analysis.traces import trim_block

from . import fixtures as F


def _blocks(text: str) -> list[tuple[list[str], object]]:
    analysis = analyse(lines_from_text(text))
    return [(analysis.block_lines(e.block), e) for e in analysis.events if e.block is not None]


def _only_block(text: str) -> tuple[list[str], object]:
    blocks = _blocks(text)
    assert len(blocks) == 1, [b[0][:2] for b in blocks]
    return blocks[0]


def test_python_chained_traceback_is_one_block_with_lead_line() -> None:
    lines, event = _only_block(F.PYTHON_CHAINED)
    assert lines[0].endswith("ERROR app.orders: Unhandled exception while creating order")
    assert lines[-1] == "app.orders.errors.CustomerNotFound: customer c-1042 not found"
    assert "During handling of the above exception, another exception occurred:" in lines
    assert sum(line.startswith("Traceback") for line in lines) == 2
    assert event.kind == "python"
    assert event.block.headline == "app.orders.errors.CustomerNotFound: customer c-1042 not found"
    assert event.block.root_cause == "KeyError: 'c-1042'"
    assert event.block.top_frame == 'File "/app/orders/service.py", line 43, in load_customer'


def test_python_multiline_exception_message_stays_in_the_block() -> None:
    lines, event = _only_block(F.PYTHON_PYDANTIC)
    assert lines[-1].strip().startswith("For further information")
    assert "database_url" in lines
    assert not any("Shutting down" in line for line in lines)
    assert event.block.headline.startswith("pydantic_core._pydantic_core.ValidationError: 1 validation")


def test_python_exception_group_is_one_block() -> None:
    lines, event = _only_block(F.PYTHON_GROUP)
    assert len(lines) == 12
    assert "next line" not in lines
    assert event.block.headline.startswith("ExceptionGroup: unhandled errors in a TaskGroup")


def test_node_uncaught_includes_source_prelude_and_version_trailer() -> None:
    lines, event = _only_block(F.NODE_UNCAUGHT)
    assert lines[0] == "/app/src/server.js:42"
    assert lines[-1] == "Node.js v20.11.1"
    assert sum(line.lstrip().startswith("at ") for line in lines) == 4
    assert event.kind == "node"
    assert event.block.headline == "Error: Cannot read config: /etc/app/config.json"
    assert event.block.top_frame == "at loadConfig (/app/src/server.js:42:11)"


def test_node_error_properties_block_is_whole() -> None:
    lines, event = _only_block(F.NODE_ECONNREFUSED)
    assert lines[0] == "Error: connect ECONNREFUSED 10.0.3.7:5432"
    assert lines[-1] == "}"
    assert "  code: 'ECONNREFUSED'," in lines
    assert event.kind == "node"


def test_node_unhandled_rejection() -> None:
    lines, event = _only_block(F.NODE_REJECTION)
    assert lines[0] == "node:internal/process/promises:289"
    assert lines[-1] == "Node.js v18.19.0"
    assert "  code: 'ERR_UNHANDLED_REJECTION'" in lines
    assert event.block.headline.startswith("[UnhandledPromiseRejection:")


def test_go_panic_with_all_goroutines() -> None:
    lines, event = _only_block(F.GO_PANIC)
    assert lines[0].startswith("panic: runtime error: invalid memory address")
    assert lines[1].startswith("[signal SIGSEGV")
    assert "goroutine 1 [chan receive]:" in lines
    assert lines[-1] == "exit status 2"
    assert event.kind == "go"
    assert event.block.top_frame == "github.com/shop/worker/internal/queue.(*Consumer).handle"


def test_go_fatal_error_deadlock() -> None:
    lines, event = _only_block(F.GO_DEADLOCK)
    assert lines[0] == "fatal error: all goroutines are asleep - deadlock!"
    assert lines[-1] == "exit status 2"
    assert event.block.top_frame == "main.main"


def test_java_caused_by_chain_and_more_lines() -> None:
    lines, event = _only_block(F.JAVA_CAUSED_BY)
    assert "Servlet.service() failed" in lines[0]  # the ERROR log line leads the trace
    assert lines[1].startswith("org.springframework.dao.DataAccessResourceFailureException")
    assert lines[-1] == "\t... 25 common frames omitted"
    assert sum(line.startswith("Caused by:") for line in lines) == 2
    assert "\t... 12 more" in lines
    assert event.kind == "java"
    assert event.block.root_cause.startswith(
        "org.postgresql.util.PSQLException: Connection to db:5432 refused"
    )


def test_java_exception_in_thread() -> None:
    lines, event = _only_block(F.JAVA_THREAD)
    assert len(lines) == 2
    assert event.block.headline == "java.lang.IllegalStateException: config missing"


@pytest.mark.parametrize(
    ("text", "headline", "frames"),
    [
        (F.RUBY_CLASSIC, "NoMethodError: undefined method `amount' for nil:NilClass", 2),
        (F.RUBY_34, "ZeroDivisionError: divided by 0", 2),
    ],
)
def test_ruby_backtraces(text: str, headline: str, frames: int) -> None:
    lines, event = _only_block(text)
    assert event.kind == "ruby"
    assert event.block.headline == headline
    assert len(lines) == 1 + frames
    assert all(line.startswith("\tfrom ") for line in lines[1:])


def test_rails_error_with_indented_backtrace() -> None:
    lines, event = _only_block(F.RAILS)
    assert lines[0].startswith("NoMethodError (undefined method `total' for nil)")
    assert lines[-1].strip() == "app/middleware/auth.rb:20:in `call'"
    assert event.kind == "ruby"


def test_postgres_records_keep_detail_hint_statement() -> None:
    blocks = _blocks(F.POSTGRES)
    assert [len(lines) for lines, _ in blocks] == [3, 2, 4]
    first, second, third = (lines for lines, _ in blocks)
    assert "DETAIL:  Key (email)=(a@b.c) already exists." in first[1]
    assert "FATAL:  password authentication failed" in second[0]
    assert third[-1] == "\t  WHERE id = 1"  # multi-line statement continues the record
    assert all(e.kind == "postgres" for _, e in blocks)


def test_json_line_with_stack_becomes_a_block() -> None:
    lines, event = _only_block(F.JSON_LOGS)
    assert event.kind == "node"
    assert lines[0] == "request failed: TypeError: x is undefined"
    assert lines[-1].strip() == "at run (/app/r.js:1:1)"


def test_docker_timestamps_do_not_break_grouping() -> None:
    stamped = "".join(
        f"2026-11-25T09:00:{i:02d}.123456789Z {line}\n"
        for i, line in enumerate(F.JAVA_CAUSED_BY.splitlines())
    )
    lines, event = _only_block(stamped)
    assert len(lines) == 12
    assert event.kind == "java"


def test_traces_in_one_log_do_not_merge() -> None:
    blocks = _blocks(F.PYTHON_CHAINED + F.GO_PANIC + F.RUBY_34 + F.NODE_UNCAUGHT)
    assert [e.kind for _, e in blocks] == ["python", "go", "ruby", "node"]


def test_trim_keeps_head_causes_and_innermost_frames() -> None:
    frames = [f"\tat com.shop.Layer{i}.call(Layer{i}.java:{i})" for i in range(200)]
    lines = [
        "java.lang.RuntimeException: outer",
        *frames,
        "Caused by: java.io.IOException: disk full",
        "\tat com.shop.Disk.write(Disk.java:1)",
        *frames[:50],
    ]
    trimmed = trim_block(lines, "java", 20)
    kept = [line for line in trimmed if "lines omitted" not in line]
    assert len(kept) == 20
    assert trimmed[0] == "java.lang.RuntimeException: outer"
    assert "Caused by: java.io.IOException: disk full" in trimmed
    assert "\tat com.shop.Disk.write(Disk.java:1)" in trimmed  # innermost frame of the root cause
    assert "\tat com.shop.Layer0.call(Layer0.java:0)" in trimmed
    assert any("lines omitted" in line for line in trimmed)


def test_trim_python_keeps_frames_next_to_the_exception() -> None:
    lines = ["Traceback (most recent call last):"]
    for i in range(100):
        lines += [f'  File "/app/m{i}.py", line {i}, in f{i}', f"    f{i + 1}()"]
    lines.append("RecursionError: maximum recursion depth exceeded")
    trimmed = trim_block(lines, "python", 12)
    assert trimmed[0] == "Traceback (most recent call last):"
    assert trimmed[-1] == "RecursionError: maximum recursion depth exceeded"
    assert '  File "/app/m99.py", line 99, in f99' in trimmed  # innermost
    assert any("lines omitted" in line for line in trimmed)


def test_trim_go_drops_other_goroutines() -> None:
    lines = F.GO_PANIC.splitlines()[1:]
    many = lines + [f"goroutine {n} [select]:\nmain.loop()\n\t/app/loop.go:3 +0x1" for n in range(100, 140)]
    flat = "\n".join(many).split("\n")
    trimmed = trim_block(flat, "go", 40)
    assert len(trimmed) < 20
    assert trimmed[0].startswith("panic:")
    assert "goroutine 42 [running]:" in trimmed
    assert not any(line.startswith("goroutine 13") for line in trimmed)
