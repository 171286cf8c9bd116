"""Digest speed and size on synthetic but realistic container logs.

The log looks like `docker logs --timestamps` of a Python web app: uvicorn access lines, app
log lines with request ids, JSON lines, ~2% warnings, ~0.5% errors (timeouts, DB errors, HTTP
5xx), a Python traceback every ~20k lines, and a Go panic with a goroutine dump at the end.

Parts:
- in-process: `build_digest(analyse(lines_from_bytes(...)))` at 10k and 100k lines;
- from the command line, as a user runs it: `infraguardian-mcp digest FILE` at 100k and 1M
  lines beside `sort FILE | uniq -c | sort -rn | head` (wall time, CPU time and peak RSS of each
  process tree, from wait4), and `infraguardian-mcp --help`;
- rare-error recall: on 100k lines with a loud error and 30 rare distinct ones, how many of the 30
  the default 2,000-token digest keeps (tests/log_analysis/test_logs_digest.py makes the log).

Run: uv run python bench/bench_log_digest.py [--cli-only]
The machine has 2 cores shared with other work: the load average is printed beside each figure.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.log_analysis

from mcp_server.log_analysis.analysis import analyse
from mcp_server.log_analysis.digest import build_digest
from mcp_server.log_analysis.lines import lines_from_bytes
from mcp_server.log_analysis.render import count_tokens, render_digest

PATHS = ("/api/orders/{}", "/api/users/{}/profile", "/health", "/api/cart", "/static/app.{}.js")
TRACEBACK = """Traceback (most recent call last):
  File "/usr/local/lib/python3.12/site-packages/starlette/middleware/errors.py", line 164, in __call__
    await self.app(scope, receive, _send)
  File "/usr/local/lib/python3.12/site-packages/starlette/routing.py", line 74, in app
    response = await func(request)
  File "/app/shop/api/orders.py", line 88, in create_order
    total = pricing.total(cart, coupon)
  File "/app/shop/pricing.py", line 41, in total
    return sum(line.price * line.qty for line in cart.lines) * (1 - coupon.rate)
AttributeError: 'NoneType' object has no attribute 'rate'"""
GO_PANIC = """panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6f1c2a]

goroutine 42 [running]:
github.com/shop/worker/internal/queue.(*Consumer).handle(0xc0001a2000, {0x8a1f20, 0xc000124000})
\t/src/internal/queue/consumer.go:118 +0x2a
github.com/shop/worker/internal/queue.(*Consumer).Run(0xc0001a2000, {0x8a3c40, 0xc00011e0f0})
\t/src/internal/queue/consumer.go:74 +0x1d5
created by main.main in goroutine 1
\t/src/cmd/worker/main.go:51 +0x3a8
"""


def _goroutines(count: int) -> str:
    parts = []
    for n in range(count):
        parts.append(
            f"goroutine {100 + n} [select]:\n"
            f"github.com/shop/worker/internal/pool.(*Pool).loop(0xc0002{n:05x})\n"
            f"\t/src/internal/pool/pool.go:{60 + n % 7} +0x1a5\n"
            f"created by github.com/shop/worker/internal/pool.New in goroutine 1\n"
            f"\t/src/internal/pool/pool.go:31 +0x9f\n"
        )
    return "\n".join(parts)


def make_log(lines: int, seed: int = 7) -> bytes:
    """`lines` lines of a realistic noisy service log with Docker timestamps."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    out: list[str] = []
    n = 0

    def stamp() -> str:
        moment = start + timedelta(milliseconds=n * 37 + rng.randint(0, 30))
        return (
            moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 1000 + rng.randint(0, 999):09d}Z"
        )

    def emit(text: str) -> None:
        nonlocal n
        for part in text.split("\n"):
            out.append(f"{stamp()} {part}")
            n += 1

    tail_reserved = 60
    while n < lines - tail_reserved:
        if n % 25_000 == 5_000:
            emit("ERROR:    Exception in ASGI application\n" + TRACEBACK)
        roll = rng.random()
        request_id = f"{rng.getrandbits(64):016x}"
        if roll < 0.40:
            path = rng.choice(PATHS).format(rng.randint(1, 99999))
            status = rng.choice((200, 200, 200, 201, 204, 304, 404))
            emit(
                f'INFO:     172.18.0.{rng.randint(2, 9)}:{rng.randint(30000, 60000)} - "GET {path} HTTP/1.1" {status}'
            )
        elif roll < 0.70:
            emit(
                f"2026-11-25 09:{n // 2000 % 60:02d}:{n % 60:02d},{rng.randint(0, 999):03d} INFO "
                f"[worker-{rng.randint(1, 8)}] shop.jobs: processed job {request_id} in {rng.randint(3, 900)}ms"
            )
        elif roll < 0.90:
            emit(
                f'{{"level":"info","ts":"2026-11-25T09:00:{n % 60:02d}Z","msg":"cache refresh",'
                f'"keys":{rng.randint(1, 5000)},"request_id":"{request_id}"}}'
            )
        elif roll < 0.975:
            emit(f"2026-11-25 09:00:00,000 DEBUG shop.db: pool checkout conn={rng.randint(1, 20)} wait=0ms")
        elif roll < 0.995:
            emit(
                f"2026-11-25 09:00:00,000 WARNING shop.db: slow query {rng.randint(500, 9000)}ms: "
                f"SELECT * FROM orders WHERE user_id = {rng.randint(1, 9999)}"
            )
        elif roll < 0.997:
            emit(
                f"2026-11-25 09:00:00,000 ERROR shop.payments: provider timeout after 30s "
                f"(order={rng.randint(1, 99999)}, request={request_id})"
            )
        elif roll < 0.998:
            emit(
                "2026-11-25 09:00:00,000 ERROR shop.db: psycopg.OperationalError: connection to server at "
                f'"10.0.3.{rng.randint(2, 9)}", port 5432 failed: Connection refused'
            )
        elif roll < 0.9995:
            emit(
                f'INFO:     172.18.0.3:{rng.randint(30000, 60000)} - "POST /api/orders HTTP/1.1" 502 Bad Gateway'
            )
        else:
            emit(f"2026-11-25 09:00:00,000 INFO shop.health: ok ({rng.randint(1, 50)}ms)")
    emit(GO_PANIC + _goroutines(10))
    emit("exit status 2")
    return ("\n".join(out[:lines]) + "\n").encode()


def bench(lines: int, repeats: int) -> None:
    data = make_log(lines)
    timings = []
    digest = None
    for _ in range(repeats):
        started = time.perf_counter()
        digest = build_digest(analyse(lines_from_bytes(data)), max_tokens=2000)
        timings.append(time.perf_counter() - started)
    assert digest is not None
    text = render_digest(digest)
    print(
        f"{lines:>7,} lines {len(data) / 1e6:6.1f} MB  digest best {min(timings) * 1000:6.0f} ms  "
        f"median {statistics.median(timings) * 1000:6.0f} ms  output {count_tokens(text):5,} tokens "
        f"(budget 2,000)  errors {digest.error_events:,} in {digest.error_template_count} templates, "
        f"traces {digest.trace_occurrences} ({digest.distinct_traces} distinct), warnings {digest.warning_events:,}"
    )


def _run(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, children included) and peak RSS in MB.

    Through GNU time when there is one: a child forked from this (large) process would report
    this process's RSS as its own peak."""
    timer = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        if timer.exists():
            command = [str(timer), "-f", "%e %U %S %M", "-o", report.name, *command]
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(command)} failed with {os.waitstatus_to_exitcode(status)}")
        if timer.exists():
            elapsed, user, system, peak_kb = report.read().split()[-4:]
            return float(elapsed), float(user) + float(system), int(peak_kb) // 1024
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def _best_of(command: list[str], repeats: int) -> tuple[float, float, float, int]:
    """Best and median wall time, best CPU time and the largest peak RSS over `repeats` runs."""
    runs = [_run(command) for _ in range(repeats)]
    walls = [run[0] for run in runs]
    return min(walls), statistics.median(walls), min(run[1] for run in runs), max(run[2] for run in runs)


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "infraguardian-mcp"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mcp_server"]


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def bench_cli(repeats: int = 5) -> None:
    """The digest command beside `sort | uniq -c | sort -rn | head`, and `--help`."""
    best, median, cpu, rss = _best_of([*_cli(), "--help"], 10)
    print(
        f"--help: best {best * 1000:.0f} ms, median {median * 1000:.0f} ms, CPU {cpu * 1000:.0f} ms, "
        f"peak RSS {rss} MB ({_load()})"
    )
    with tempfile.TemporaryDirectory() as folder:
        for lines in (10, 100_000, 1_000_000):
            path = Path(folder) / f"{lines}.log"
            path.write_bytes(make_log(lines))
            size = path.stat().st_size / 1e6
            digest = _best_of([*_cli(), "digest", str(path)], repeats)
            sort = _best_of(["sh", "-c", f"sort {path} | uniq -c | sort -rn | head"], repeats)
            print(
                f"{lines:>9,} lines {size:6.1f} MB  digest best {digest[0]:.2f} s (median {digest[1]:.2f}, "
                f"CPU {digest[2]:.2f} s, peak RSS {digest[3]} MB)  sort|uniq -c best {sort[0]:.2f} s "
                f"(CPU {sort[2]:.2f} s)  ratio wall {digest[0] / sort[0]:.1f}x, CPU "
                f"{digest[2] / max(sort[2], 1e-3):.1f}x  ({_load()})"
            )


def bench_recall(seeds: tuple[int, ...] = (11, 1, 2, 3, 4)) -> None:
    """Rare distinct errors kept by the default budget beside a loud one."""
    from tests.log_analysis.test_logs_digest import RARE_ERRORS, loud_and_rare_log, rare_error_marker

    for seed in seeds:
        text = render_digest(build_digest(analyse(lines_from_bytes(loud_and_rare_log(seed=seed).encode()))))
        kept = sum(rare_error_marker(error) in text for error in RARE_ERRORS)
        print(
            f"rare-error recall, seed {seed}: {kept} of {len(RARE_ERRORS)} in {count_tokens(text):,} tokens"
        )


def main() -> None:
    bench_cli()
    bench_recall()
    if "--cli-only" in sys.argv:
        return
    count_tokens("warm up the tokenizer")
    analyse(lines_from_bytes(make_log(500)))  # warm up imports and regex caches
    bench(10_000, repeats=5)
    bench(100_000, repeats=5)
    data = make_log(100_000)
    started = time.perf_counter()
    print(render_digest(build_digest(analyse(lines_from_bytes(data)))))
    print(f"(one more run: {(time.perf_counter() - started) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
