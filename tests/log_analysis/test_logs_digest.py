"""The digest: bounded in tokens for any input, and keeps what matters."""

from __future__ import annotations

import io
import os
import random
import re
from pathlib import Path

import pytest

from mcp_server.log_analysis.analysis import analyse
from mcp_server.log_analysis.digest import build_digest, digest_file, digest_log, digest_stream
from mcp_server.log_analysis.lines import ReadLimits, lines_from_text
from mcp_server.log_analysis.models import LogDigest
from mcp_server.log_analysis.render import count_tokens, render_digest

from . import fixtures as F


def _stamp(i: int) -> str:
    return f"2026-11-25T{9 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000000000Z"


def _noisy_log(lines: int, seed: int = 3) -> str:
    """Info noise, many distinct error templates, repeated tracebacks, a Go panic at the very end."""
    rng = random.Random(seed)
    out = [f"{_stamp(0)} 2026-11-25 09:00:00,000 ERROR boot: FIRST-ERROR-MARKER config value missing"]
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    i = 1
    while i < lines:
        roll = rng.random()
        if roll < 0.05:
            # Drain splits by token count and first tokens: these give hundreds of distinct templates.
            a, b = rng.choice(words), rng.choice(words)
            filler = " ".join(rng.choice(words) for _ in range(rng.randint(0, 30)))
            out.append(f"{_stamp(i)} ERROR svc: {a} {b} {filler} failed for id={rng.randint(1, 999)}")
        elif roll < 0.06:
            for line in F.PYTHON_CHAINED.splitlines():
                out.append(f"{_stamp(i)} {line}")
                i += 1
            continue
        else:
            out.append(
                f"{_stamp(i)} INFO svc: handled request {rng.randint(1, 10**6)} in {rng.randint(1, 99)}ms"
            )
        i += 1
    out.append(f"{_stamp(i)} INFO svc: LAST-LINE-BEFORE-CRASH flushing queue")
    out.extend(f"{_stamp(i + 1)} {line}" for line in F.GO_PANIC.splitlines()[1:])
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def noisy() -> str:
    return _noisy_log(20_000)


@pytest.mark.parametrize("budget", [200, 400, 1000, 2000, 4000])
def test_digest_stays_within_budget(noisy: str, budget: int) -> None:
    digest = digest_log(noisy, max_tokens=budget)
    text = render_digest(digest)
    assert count_tokens(text) <= budget
    assert digest.tokens == count_tokens(text)
    assert digest.max_tokens == budget


def test_digest_keeps_first_last_error_templates_traces_and_death_lines(noisy: str) -> None:
    digest = digest_log(noisy, max_tokens=2000)
    text = render_digest(digest)
    assert digest.first_error is not None and "FIRST-ERROR-MARKER" in digest.first_error.text
    assert digest.last_error is not None and digest.last_error.kind == "go"
    assert digest.last_error.text.startswith("panic: runtime error")
    assert "FIRST-ERROR-MARKER" in text
    assert "LAST-LINE-BEFORE-CRASH" in text  # the lines before death survive a long final trace
    assert any("trace [T" in t.text for t in digest.tail)
    kinds = [t.kind for t in digest.traces]
    assert "go" in kinds and "python" in kinds
    python = next(t for t in digest.traces if t.kind == "python")
    assert python.count > 1  # deduplicated: one entry, many occurrences
    assert python.headline == "app.orders.errors.CustomerNotFound: customer c-1042 not found"
    shown = len(digest.error_templates)
    assert shown >= 3
    assert shown + digest.omitted_error_templates == digest.error_template_count
    assert digest.error_template_count > 50


def test_small_log_lists_every_error_template_with_counts_and_times() -> None:
    lines = []
    for i in range(60):
        lines.append(f"{_stamp(i)} INFO api: ok {i}")
        if i % 10 == 0:
            lines.append(f"{_stamp(i)} ERROR api: upstream timeout after {i}s")
        if i % 20 == 5:
            lines.append(f"{_stamp(i)} ERROR db: connection refused to 10.0.0.{i}:5432")
    lines.append(f"{_stamp(61)} WARNING api: shutting down")
    digest = digest_log("\n".join(lines))
    counts = {t.template: t.count for t in digest.error_templates}
    assert counts == {"upstream timeout after <NUM>": 6, "connection refused to <IP>": 3}
    assert digest.omitted_error_templates == 0
    timeout = next(t for t in digest.error_templates if t.count == 6)
    assert timeout.first_time is not None and timeout.first_time.second == 0
    assert timeout.last_time is not None and timeout.last_time.second == 50
    assert digest.warning_templates[0].template == "shutting down"
    assert digest.tail[-1].text.endswith("WARNING api: shutting down")
    assert digest.error_events == 9


def test_huge_trace_is_trimmed_to_head_and_innermost_frames() -> None:
    frames = "".join(f"\tat com.shop.Layer{i}.call(Layer{i}.java:{i})\n" for i in range(5000))
    text = (
        "java.lang.IllegalStateException: outer failure\n"
        + frames
        + "Caused by: java.sql.SQLException: disk quota exceeded\n\tat com.shop.Db.write(Db.java:7)\n"
        + frames[:2000]
    )
    digest = digest_log(text, max_tokens=1500)
    assert count_tokens(render_digest(digest)) <= 1500
    trace = digest.traces[0]
    assert trace.total_lines > 5000
    assert len(trace.lines) < 60
    assert trace.lines[0] == "java.lang.IllegalStateException: outer failure"
    assert "Caused by: java.sql.SQLException: disk quota exceeded" in trace.lines
    assert "\tat com.shop.Db.write(Db.java:7)" in trace.lines
    assert trace.root_cause == "java.sql.SQLException: disk quota exceeded"


def test_binary_input_gives_a_bounded_digest() -> None:
    rng = random.Random(5)
    data = bytes(rng.getrandbits(8) for _ in range(300_000)) + b"\nERROR final: real error after junk\n"
    digest = digest_log(data, max_tokens=800)
    text = render_digest(digest)
    assert count_tokens(text) <= 800
    assert "\x00" not in text
    assert any("binary" in note for note in digest.notes)
    assert digest.last_error is not None and "real error after junk" in digest.last_error.text


def test_extremely_long_lines_are_cut() -> None:
    text = "ERROR start: " + "A" * 3_000_000 + "\n" + "INFO " + "b " * 1_000_000 + "\nERROR end: bye\n"
    digest = digest_log(text, max_tokens=1000)
    assert count_tokens(render_digest(digest)) <= 1000
    assert digest.first_error is not None and len(digest.first_error.text) < 400
    assert any("cut" in note for note in digest.notes)


def _write_big_log(path: Path, size: int) -> int:
    """A ~`size`-byte log: first error at the top, a panic at the very end. Returns its line count."""
    line = b"2026-11-25T09:00:00.000000000Z INFO worker: processed batch 123456 of queue default in 12ms ok\n"
    head = b"2026-11-25T08:59:59.000000000Z ERROR boot: HEAD-ERROR disk almost full\n"
    tail = "".join(f"2026-11-25T10:00:00.000000000Z {row}\n" for row in F.GO_PANIC.splitlines()).encode()
    block = line * 10_000
    repeats = max(1, (size - len(head) - len(tail)) // len(block))
    with open(path, "wb") as handle:
        handle.write(head)
        for _ in range(repeats):
            handle.write(block)
        handle.write(tail)
    return 1 + repeats * 10_000 + tail.count(b"\n")


def test_fifty_megabyte_log_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    total_lines = _write_big_log(path, 50 * 1024 * 1024)
    assert os.path.getsize(path) > 45 * 1024 * 1024
    limits = ReadLimits(max_bytes=4 * 1024 * 1024)
    digest = digest_file(path, max_tokens=2000, limits=limits)
    assert digest.total_lines == total_lines
    assert digest.analysed_lines < total_lines // 5
    assert digest.total_bytes == os.path.getsize(path)
    assert any("dropped" in note for note in digest.notes)
    text = render_digest(digest)
    assert count_tokens(text) <= 2000
    assert "HEAD-ERROR" in text
    assert digest.last_error is not None and digest.last_error.kind == "go"
    assert digest.last_error.line == total_lines - len(F.GO_PANIC.splitlines()) + 2
    with open(path, "rb") as handle:
        streamed = digest_stream(handle, max_tokens=2000, limits=limits)
    assert streamed.total_lines == total_lines
    assert streamed.last_error is not None and streamed.last_error.line == digest.last_error.line


def test_default_limits_bound_a_fifty_megabyte_stream() -> None:
    line = b"2026-11-25T09:00:00.000000000Z INFO worker: processed batch 123456 of queue default in 12ms\n"
    data = line * (50 * 1024 * 1024 // len(line))
    digest = digest_stream(io.BytesIO(data))
    assert digest.total_bytes == len(data)
    assert digest.analysed_lines * len(line) <= ReadLimits().max_bytes
    assert count_tokens(render_digest(digest)) <= 2000


def test_empty_and_clean_logs() -> None:
    empty = digest_log("")
    assert empty.total_lines == 0
    assert "no errors found" in render_digest(empty)
    clean = digest_log("INFO started\nINFO ready\n")
    assert clean.error_events == 0 and clean.first_error is None
    assert [t.text for t in clean.tail] == ["INFO started", "INFO ready"]


def test_exit_code_is_explained_in_the_header() -> None:
    digest = digest_log(F.GO_PANIC, exit_code=137, oom_killed=True)
    assert digest.exit is not None and digest.exit.signal == "SIGKILL"
    assert "OOM killer" in render_digest(digest)
    assert "exit code 2" in render_digest(digest_log(F.GO_PANIC, exit_code=2))


def test_structured_form_round_trips() -> None:
    digest = digest_log(F.PYTHON_CHAINED + F.NODE_UNCAUGHT)
    again = LogDigest.model_validate_json(digest.model_dump_json())
    assert again == digest
    assert render_digest(again) == render_digest(digest)


def test_budget_below_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 200"):
        build_digest(analyse(lines_from_text("x")), max_tokens=50)


# 30 distinct errors of a shop backend, each with its own words (Drain keeps them apart).
RARE_ERRORS = (
    "shop.mail: SMTP relay rejected message: 550 mailbox unavailable",
    "shop.search: elasticsearch index orders_v3 is read-only, disk watermark exceeded",
    "shop.auth: JWKS refresh failed, keeping stale signing keys",
    "shop.inventory: negative stock for sku after reservation rollback",
    "shop.cart: coupon service returned malformed JSON body",
    "shop.shipping: carrier label API quota exhausted for today",
    "shop.tax: no tax rate configured for region",
    "shop.media: thumbnail worker crashed decoding corrupt PNG upload",
    "shop.export: S3 multipart upload aborted: RequestTimeTooSkewed",
    "shop.webhooks: signature mismatch on incoming Stripe event",
    "shop.i18n: missing translation bundle for locale",
    "shop.cache: redis cluster MOVED slot loop detected, giving up",
    "shop.queue: dead-letter queue is full, dropping message",
    "shop.scheduler: cron job nightly-reindex overlapped previous run",
    "shop.db: deadlock detected while updating order_items",
    "shop.pdf: wkhtmltopdf exited with signal 11 rendering invoice",
    "shop.geo: GeoIP database file is older than ninety days",
    "shop.recommend: model artifact checksum does not match manifest",
    "shop.loyalty: points ledger out of balance by a non-zero amount",
    "shop.fraud: scoring endpoint TLS handshake failed: certificate expired",
    "shop.reviews: profanity filter dictionary failed to load",
    "shop.sso: SAML assertion audience does not match this service provider",
    "shop.metrics: statsd UDP socket send buffer overflow",
    "shop.feature: flag provider unreachable, serving defaults",
    "shop.returns: RMA number collision, regenerate and retry",
    "shop.audit: append to audit journal failed: read-only file system",
    "shop.currency: exchange rate feed stale beyond tolerance",
    "shop.sms: Twilio rejected destination number as invalid",
    "shop.upload: multipart boundary missing in request body",
    "shop.gdpr: erasure request could not locate customer archive",
)


def rare_error_marker(error: str) -> str:
    """The longest word of an error's message: what shows that the digest kept it."""
    return max(re.findall(r"[A-Za-z_-]+", error.split(": ", 1)[1]), key=len)


def loud_and_rare_log(lines: int = 100_000, seed: int = 11) -> str:
    """Info noise with Docker stamps, one loud error (~3% of lines), each of RARE_ERRORS 1-3 times,
    a Python traceback now and then and a Go panic at the end."""
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        roll = rng.random()
        if roll < 0.03:
            text = f"ERROR shop.payments: upstream gateway reset connection (order={rng.randint(1, 99999)})"
        elif roll < 0.05:
            text = f"WARNING shop.db: slow query {rng.randint(500, 9000)}ms on orders"
        else:
            text = f"INFO [worker-{rng.randint(1, 8)}] shop.jobs: processed job {rng.getrandbits(32):08x}"
        out.append(f"{_stamp(i)} 2026-11-25 09:00:00,000 {text}")
    for error in RARE_ERRORS:
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(100, lines - 100)
            out[at] = f"{_stamp(at)} 2026-11-25 09:00:00,000 ERROR {error}"
    for at in range(20_000, lines - 100, 30_000):
        out[at : at + 6] = [f"{_stamp(at)} {line}" for line in F.PYTHON_CHAINED.splitlines()[:6]]
    out.extend(f"{_stamp(lines)} {line}" for line in F.GO_PANIC.splitlines())
    return "\n".join(out) + "\n"


def test_budget_keeps_rare_distinct_errors_beside_a_loud_one() -> None:
    """Distinct errors get a compact line each before any detail about the loud one."""
    digest = digest_log(loud_and_rare_log(), max_tokens=2000)
    text = render_digest(digest)
    assert count_tokens(text) <= 2000
    kept = [error for error in RARE_ERRORS if rare_error_marker(error) in text]
    assert len(kept) >= 28, sorted(set(RARE_ERRORS) - set(kept))
    assert "upstream gateway reset connection" in text
    assert digest.last_error is not None and digest.last_error.kind == "go"
    assert any(trace.kind == "go" for trace in digest.traces)


def test_compact_template_lines_and_full_ones() -> None:
    """Without an example a template is one line (count, lines, text); with one, times and the
    example follow."""
    digest = digest_log(loud_and_rare_log(3_000, seed=2), max_tokens=6000)
    text = render_digest(digest)
    loud = next(t for t in digest.error_templates if "upstream gateway" in t.template)
    assert loud.example  # a roomy budget gives the most frequent template its example
    assert re.search(r"\[E\d+\] x\d+ \d\d:\d\d:\d\d\.\d{3} \.\. .* lines [\d,]+\.\.[\d,]+: upstream", text)
    tight = render_digest(digest_log(loud_and_rare_log(3_000, seed=2), max_tokens=400))
    assert re.search(r"^\[E\d+\] x[\d,]+ lines [\d,]+(\.\.[\d,]+)?: ", tight, re.M)


def test_small_digest_is_priced_by_its_size_without_the_tokenizer() -> None:
    log = "INFO start\nERROR db: connection refused\nINFO stop\n"
    unmeasured = build_digest(analyse(lines_from_text(log)), measure=False)
    assert unmeasured.tokens == 0  # fitted by its UTF-8 size, so never counted
    measured = digest_log(log)
    assert measured.tokens == count_tokens(render_digest(measured)) > 0
    assert render_digest(unmeasured) == render_digest(measured)
    big = build_digest(analyse(lines_from_text(loud_and_rare_log(5_000))), max_tokens=500, measure=False)
    assert big.tokens == count_tokens(render_digest(big)) <= 500  # too big for the bound: counted
