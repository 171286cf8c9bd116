"""MCP server cost as a client sees it: tool-list size in tokens, and read-tool latency per transport.

1. Tokens (o200k_base, offline via bpe-openai) of the JSON a host puts in the model's context for
   tools/list: name, description, inputSchema and outputSchema per tool (wire form, camelCase),
   with and without the output schemas (many hosts drop them), plus the heaviest tools.
2. p50/p95 of N sequential calls of `list_inventory` and `active_signals` (the cheap one) over
   stdio and over streamable HTTP (bearer token on), the server a real subprocess started as users
   start it (`python -m mcp_server serve`), after a few warm-up calls. Legacy-era ClientSession,
   as Claude Desktop / Cursor / the Inspector use. Docker only (no Dokploy) unless DOKPLOY_URL is set.

Run: uv run python bench/bench_mcp.py [--calls N] [--detectors]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import bpe_openai
import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Tool

REPO = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "mcp_server", "serve"]
READ_TOOLS = ["list_inventory", "active_signals"]
WARMUP = 3


def server_env(state_dir: Path, **extra: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "DOCKER_HOST", "DOKPLOY_URL", "DOKPLOY_API_KEY")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    return {**env, "INFRAGUARDIAN_STATE_DIR": str(state_dir), **extra}


def tool_json(tool: Tool, *, with_output_schema: bool) -> dict[str, Any]:
    wire = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    keys = ["name", "description", "inputSchema"] + (["outputSchema"] if with_output_schema else [])
    return {k: wire[k] for k in keys if k in wire}


def token_report(tools: list[Tool]) -> None:
    enc = bpe_openai.get_encoding("o200k_base")

    def count(obj: Any) -> int:
        return len(enc.encode(json.dumps(obj, separators=(",", ":"), ensure_ascii=False)))

    full = count([tool_json(t, with_output_schema=True) for t in tools])
    lean = count([tool_json(t, with_output_schema=False) for t in tools])
    descriptions = sum(len(enc.encode(t.description or "")) for t in tools)
    print(f"\n## tools/list size (o200k_base tokens, compact JSON), {len(tools)} tools\n")
    print("| what | tokens |")
    print("| --- | ---: |")
    print(f"| name + description + inputSchema + outputSchema | {full} |")
    print(f"| name + description + inputSchema (no outputSchema) | {lean} |")
    print(f"| descriptions alone | {descriptions} |")
    per_tool = sorted(
        (
            (
                count(tool_json(t, with_output_schema=True)),
                count(tool_json(t, with_output_schema=False)),
                t.name,
            )
            for t in tools
        ),
        reverse=True,
    )
    print("\n| tool | tokens with outputSchema | without |")
    print("| --- | ---: | ---: |")
    for with_out, without, name in per_tool:
        print(f"| {name} | {with_out} | {without} |")


@asynccontextmanager
async def stdio_session(state_dir: Path, detectors: bool) -> AsyncIterator[ClientSession]:
    args = [*SERVE[1:], *([] if detectors else ["--no-detectors"])]
    params = StdioServerParameters(command=SERVE[0], args=args, env=server_env(state_dir), cwd=str(REPO))
    with open(os.devnull, "w") as devnull:  # noqa: ASYNC230 - once, before any timing
        async with stdio_client(params, errlog=devnull) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            yield s


@asynccontextmanager
async def http_session(state_dir: Path, detectors: bool) -> AsyncIterator[ClientSession]:
    token = secrets.token_urlsafe(32)
    log = state_dir.parent / "http-server.log"
    argv = [*SERVE, "--transport", "streamable-http", "--port", "0"] + (
        [] if detectors else ["--no-detectors"]
    )
    with log.open("w") as stderr:
        proc = subprocess.Popen(  # noqa: ASYNC220 - once, before any timing
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=server_env(state_dir, INFRAGUARDIAN_MCP_TOKEN=token),
            cwd=REPO,
        )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and proc.poll() is None and time.monotonic() < deadline:
            found = re.search(r"on (http://\S+/mcp)", log.read_text())
            url = found.group(1) if found else None
            await anyio.sleep(0.05)
        if url is None:
            raise SystemExit(f"the HTTP server did not start: {log.read_text()[-2000:]}")
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            yield s
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def time_calls(session: ClientSession, tool: str, calls: int) -> list[float]:
    for _ in range(WARMUP):
        await session.call_tool(tool, {})
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        result = await session.call_tool(tool, {})
        samples.append((time.perf_counter() - start) * 1000)
        if result.is_error:
            raise SystemExit(f"{tool} failed: {result.content}")
    return samples


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


async def main_async(calls: int, detectors: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="ig-bench-mcp-") as tmp:
        rows: list[tuple[str, str, list[float]]] = []
        tools: list[Tool] = []
        for transport, opener in (("stdio", stdio_session), ("streamable-http", http_session)):
            state = Path(tmp) / transport / "state"
            state.mkdir(parents=True)
            async with opener(state, detectors) as session:
                listed = (await session.list_tools()).tools
                tools = tools or listed
                for tool in READ_TOOLS:
                    if tool in {t.name for t in listed}:
                        rows.append((transport, tool, await time_calls(session, tool, calls)))
        token_report(tools)
        print(f"\n## read-tool latency, {calls} sequential calls after {WARMUP} warm-up calls")
        print(
            f"(detectors {'on' if detectors else 'off'}; Dokploy {'on' if 'DOKPLOY_URL' in os.environ else 'off'})\n"
        )
        print("| transport | tool | p50 ms | p95 ms | max ms |")
        print("| --- | --- | ---: | ---: | ---: |")
        for transport, tool, samples in rows:
            print(
                f"| {transport} | {tool} | {pct(samples, 50):.1f} | {pct(samples, 95):.1f} | {max(samples):.1f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="timed calls per tool and transport")
    parser.add_argument("--detectors", action="store_true", help="run the background detectors too")
    args = parser.parse_args()
    anyio.run(main_async, args.calls, args.detectors)


if __name__ == "__main__":
    main()
