"""Tokens the agent sends to the model per incident, and the size of the tool surface it offers.

The agent runs in this process (the code path of `infraguardian-agent run`: the real server spawned
over stdio with its detectors, the real link, graph and store), with the model pointed at the Ollama
stand-in (`standins/ollama`), on the real engine with the Dokploy stand-in. For each round it deploys,
one after the other, a stack per fault:

- oom:        `api` needs 40 MiB under a 32 MiB limit (OOM-killed, restarted by Docker);
- crash_loop: `api` panics at start and Docker restarts it (a crash loop after 5 exits);
- exited:     `job` fails once with exit 3 and no restart policy.

The scripted model makes `--tool-calls` read-only calls (container_stats, read_logs, service_status,
in turn) and then answers: raise-memory-limit for the OOM runbook, `none` for the others (a human
decides; nothing is restarted, so no second incident follows). Only the benchmark's containers are
watched (`include_labels`), so other work on a shared engine opens no incident here.

Every chat request the stand-in received is split into o200k tokens (the project's tokenizer,
mcp_server.log_analysis.render.count_tokens): system prompt, tool definitions (compact JSON of what
the ollama client sent; the agent's own budget count is printed beside it), the evidence (first user message), and follow-up turns (the model's turns
passed back and the tool results). Per incident: the sum over its chat calls (what was sent; each
call re-sends the conversation) and the number of calls; p50 and max over incidents. "with framing"
adds the stand-in's estimate of gpt-oss's harmony framing. It also checks the issue's cap: at most
15 tools in at most 5,000 o200k tokens.

Run: uv run --frozen python bench/bench_agent_tokens.py [--rounds 2] [--tool-calls 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio
import docker
import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_host.incidents.model import Incident
from agent_host.model.settings import ModelSettings
from agent_host.model.tools import definitions_from_mcp, select_tools
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from mcp_server.log_analysis.render import count_tokens
from standins.dokploy.server import StandIn
from standins.ollama.records import RecordedRequest
from standins.ollama.server import OllamaStandIn

LABELS = {"ig.bench": "agent-tokens"}
OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "dokploy" / "openapi.json"
MAX_TOOLS, MAX_TOOL_TOKENS = 15, 5000  # the cap on what the model sees
READS = ("container_stats", "read_logs", "service_status")
INCIDENT = re.compile(r"^# Incident (\S+)", re.MULTILINE)
PARTS = ("system", "tools", "evidence", "follow_up")

SCENARIOS: dict[str, dict[str, Any]] = {
    "oom": {
        "service": "api",
        "command": "echo 'loading the model cache'; dd if=/dev/zero of=/dev/null bs=40M count=1 && sleep 3600",
        "extra": {"mem_limit": "32m", "memswap_limit": "32m", "restart": "unless-stopped"},
    },
    "crash_loop": {
        "service": "api",
        "command": "echo 'starting api'; echo 'panic: runtime error: index out of range [3] with length 3' >&2; exit 2",
        "extra": {"restart": "unless-stopped"},
    },
    "exited": {
        "service": "job",
        "command": "echo 'job 17 started'; echo 'fatal: lost the connection to the queue' >&2; exit 3",
        "extra": {"restart": "no"},
    },
}
DECISIONS = {  # by the runbook named in the evidence; anything else answers `none`
    "oom-killed": ("raise-memory-limit", 0.9, "out of memory: the 40 MiB buffer does not fit 32 MiB"),
}


def compose_text(kind: str) -> str:
    s = SCENARIOS[kind]
    service = {"image": "ig/busybox:test", "command": ["sh", "-c", s["command"]], "init": True}
    return yaml.safe_dump({"services": {s["service"]: {**service, **s["extra"], "labels": LABELS}}})


def decision(solution: str, confidence: float, cause: str) -> dict[str, Any]:
    reasons = ["read the evidence and the tool results", "the candidate's conditions were checked"]
    return {"thinking": f"The evidence points to: {cause}.", "json": {
        "root_cause": cause, "confidence": confidence, "solution": solution, "reasons": reasons}}  # fmt: skip


def tool_turns(app: str, service: str, count: int) -> list[dict[str, Any]]:
    """The scripted model's read-only calls for one incident, before its answer."""
    return [
        {
            "thinking": f"Before deciding I want {READS[i % len(READS)]} of {service}.",
            "tool_calls": [
                {"name": READS[i % len(READS)], "arguments": {"app_name": app, "service": service}}
            ],
        }
        for i in range(count)
    ]


def split(chat: RecordedRequest) -> dict[str, int]:
    """o200k tokens of one chat request by part (message contents, reasoning and tool calls)."""
    parts = dict.fromkeys(PARTS, 0)
    parts["tools"] = sum(count_tokens(json.dumps(t, separators=(",", ":"))) for t in chat.tools)
    seen_user = False
    for message in chat.messages:
        text = str(message.get("content") or "") + str(message.get("thinking") or "")
        text += "".join(
            json.dumps(c.get("function", c), separators=(",", ":")) for c in message.get("tool_calls") or []
        )
        if message.get("role") == "system":
            parts["system"] += count_tokens(text)
        elif message.get("role") == "user" and not seen_user:
            parts["evidence"] += count_tokens(text)
            seen_user = True
        else:
            parts["follow_up"] += count_tokens(text)
    return parts


def per_incident(chats: list[RecordedRequest]) -> dict[str, dict[str, Any]]:
    """The chat requests grouped by the incident named in their evidence, summed."""
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {**dict.fromkeys(PARTS, 0), "calls": 0, "framed": 0, "largest": 0}
    )
    for chat in chats:
        evidence = next((str(m.get("content")) for m in chat.messages if m.get("role") == "user"), "")
        found = INCIDENT.search(evidence)
        row = rows[found.group(1) if found else "?"]
        parts = split(chat)
        for key, value in parts.items():
            row[key] += value
        row["calls"] += 1
        row["framed"] += chat.prompt_tokens
        row["largest"] = max(row["largest"], sum(parts.values()))
        row["think"] = chat.think
        row["runbook"] = (re.search(r"\(runbook ([\w-]+)\)", evidence) or [None, "?"])[1]
    for row in rows.values():
        row["total"] = sum(row[p] for p in PARTS)
    return dict(rows)


def evidence_sections(chats: list[RecordedRequest]) -> dict[str, list[int]]:
    """o200k tokens of each `## ` section of the evidence, one value per incident (its first call)."""
    sections: dict[str, list[int]] = defaultdict(list)
    for chat in chats:
        users = [str(m.get("content")) for m in chat.messages if m.get("role") == "user"]
        if len(chat.messages) != 2 or not users:
            continue  # a follow-up call re-sends the same evidence
        head, *rest = users[0].split("\n## ")
        sections["header (summary, target, signals)"].append(count_tokens(head))
        for part in rest:
            title, _, body = part.partition("\n")
            sections[title.split(" (")[0]].append(count_tokens(body))
    return sections


def p50_max(values: list[int]) -> str:
    return f"p50 {statistics.median(values):,.0f}, max {max(values):,}"


async def main(rounds: int, tool_calls: int) -> None:
    run_id = secrets.token_hex(2)
    dokploy = StandIn(service_labels=LABELS).start()
    model = OllamaStandIn().start()
    for runbook, args in DECISIONS.items():
        model.script([{"match": f"(runbook {runbook})", "role": "user", "reply": decision(*args)}])
    model.set_default(decision("none", 0.3, "no candidate's conditions hold; a human should look"))
    http = httpx.AsyncClient(base_url=dokploy.url, headers=dokploy.headers, timeout=120)
    env_id = (await http.post("/api/project.create", json={"name": "bench-tokens"})).json()["environment"][
        "environmentId"
    ]
    state = Path(tempfile.mkdtemp(prefix="igbench-tokens-"))
    env = {**os.environ, "DOKPLOY_URL": dokploy.url, "DOKPLOY_API_KEY": dokploy.api_key,
           "INFRAGUARDIAN_STATE_DIR": str(state / "server"), "INFRAGUARDIAN_DOKPLOY_OPENAPI_FILE": str(OPENAPI),
           "INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS": json.dumps(LABELS)}  # fmt: skip
    settings = AgentSettings(
        state_dir=state / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1,
        model=ModelSettings(ollama_host=model.url),
    )  # fmt: skip
    settled: dict[str, anyio.Event] = defaultdict(anyio.Event)
    faults: dict[str, str] = {}  # app name → the fault deployed
    seen: dict[str, dict[str, str]] = {}  # incident id → its fault, signal kinds and status

    def listen(incident: Incident, step: str) -> None:
        app = str(incident.target.get("app_name"))
        if app not in faults:
            return
        signals = ",".join(sorted({str(s.get("kind")) for s in incident.signals}))
        seen[incident.id] = {"fault": faults[app], "signals": signals, "status": incident.status}
        if incident.closed or incident.status == "awaiting_approval":
            settled[app].set()

    engine = docker.from_env()
    try:
        async with (
            running_agent(settings, env=env, listeners=[listen]) as agent,
            anyio.create_task_group() as tasks,
        ):
            offered = select_tools(
                definitions_from_mcp(await agent.link.list_tools()), MAX_TOOLS, MAX_TOOL_TOKENS
            )
            tasks.start_soon(agent.monitor.run)
            await anyio.sleep(3)  # the spawned server's detectors connect to the engine's events
            for n in range(rounds):
                for kind in SCENARIOS:
                    name = f"igtok{run_id}-{kind.replace('_', '')}-{n}"
                    row = (await http.post("/api/compose.create", json={
                        "name": name, "appName": name, "environmentId": env_id, "sourceType": "raw",
                        "composeType": "docker-compose", "composeFile": compose_text(kind)})).json()  # fmt: skip
                    app = row["appName"]  # Dokploy adds a suffix, as the real one does
                    settled[app], faults[app] = anyio.Event(), kind
                    model.script(tool_turns(app, SCENARIOS[kind]["service"], tool_calls))
                    await http.post("/api/compose.deploy", json={"composeId": row["composeId"]})
                    with anyio.move_on_after(240) as waited:
                        await settled[app].wait()
                    print(
                        f"round {n} {kind}: "
                        + ("timed out after 240 s" if waited.cancelled_caught else "settled")
                    )
                    for c in engine.containers.list(
                        all=True, filters={"label": f"com.docker.compose.project={app}"}
                    ):
                        c.remove(force=True)  # a crash loop would keep signalling
                    left = model.remaining_turns()
                    if left:
                        raise SystemExit(f"{kind}: {len(left)} scripted tool calls were not asked for")
            tasks.cancel_scope.cancel()
    finally:
        await http.aclose()
        dokploy.stop()
        await dokploy.ateardown()
        model.stop()
        for c in engine.containers.list(all=True, filters={"label": "ig.bench=agent-tokens"}):
            c.remove(force=True)
        engine.close()
        shutil.rmtree(state, ignore_errors=True)
    report(model, offered, seen, rounds, tool_calls)


def report(
    model: OllamaStandIn, offered: Any, seen: dict[str, dict[str, str]], rounds: int, tool_calls: int
) -> None:
    chats = model.chats
    rows = per_incident(chats)
    if not rows:
        raise SystemExit(f"the model got no chat request; stand-in problems: {model.problems()}")
    budgeted = sum(count_tokens(json.dumps(t.for_ollama(), separators=(",", ":"))) for t in offered.tools)
    wire = split(chats[0])["tools"]
    ok = len(offered.tools) <= MAX_TOOLS and budgeted <= MAX_TOOL_TOKENS
    print(f"\ntool surface: {len(offered.tools)} tools, {budgeted:,} o200k tokens as the agent budgets them, "
          f"{wire:,} as the ollama client sends them ({'within' if ok else 'OVER'} the cap of "
          f"{MAX_TOOLS} tools / {MAX_TOOL_TOKENS:,} tokens)")  # fmt: skip
    print(f"  offered: {', '.join(t.name for t in offered.tools)}")
    print(f"  not offered: {', '.join(offered.dropped) or 'none'}")
    print(f"\n{len(rows)} incidents, {len(chats)} chat calls, {tool_calls} scripted read-only calls each")
    print(f"{'incident':13} {'fault':10} {'signals':16} {'runbook':15} {'think':6} {'calls':>5} {'system':>7} "
          f"{'tools':>7} {'evidence':>8} {'follow':>7} {'sent':>7} {'framed':>7} {'largest':>7}  status")  # fmt: skip
    for incident_id, r in rows.items():
        info = seen.get(incident_id, {})
        print(f"{incident_id:13} {info.get('fault', '?'):10} {info.get('signals', '?'):16} {r['runbook']:15} "
              f"{r['think']!s:6} {r['calls']:5} {r['system']:7,} {r['tools']:7,} {r['evidence']:8,} "
              f"{r['follow_up']:7,} {r['total']:7,} {r['framed']:7,} {r['largest']:7,}  {info.get('status', '?')}")  # fmt: skip
    totals = [r["total"] for r in rows.values()]
    print(f"\nsent per incident (o200k, all calls): {p50_max(totals)}")
    print(f"  with harmony framing (stand-in estimate): {p50_max([r['framed'] for r in rows.values()])}")
    print(f"  largest single request: {p50_max([r['largest'] for r in rows.values()])}")
    print(f"  chat calls: {p50_max([r['calls'] for r in rows.values()])}")
    for part in PARTS:
        print(f"  {part:10} {p50_max([r[part] for r in rows.values()])}")
    print("evidence by section (first call of each incident):")
    for title, values in evidence_sections(chats).items():
        print(f"  {title:36} {p50_max(values)}")
    problems = model.problems()
    if problems:
        print("stand-in script problems:\n  " + "\n  ".join(problems))
    print(json.dumps({
        "bench": "agent_tokens", "rounds": rounds, "tool_calls": tool_calls, "incidents": len(rows),
        "chat_calls": len(chats), "tools": len(offered.tools), "tool_tokens_budgeted": budgeted,
        "tool_tokens_on_the_wire": wire, "within_cap": ok,
        "sent_p50": statistics.median(totals), "sent_max": max(totals),
        "per_incident": {i: r | seen.get(i, {}) for i, r in rows.items()}, "problems": problems,
    }))  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tool-calls", type=int, default=2, help="read-only calls the scripted model makes")
    args = parser.parse_args()
    anyio.run(main, args.rounds, args.tool_calls)
