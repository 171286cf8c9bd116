"""A log flood with one causal line (found by the lab's log-flood scenario): the runbooks read
enough of the log for the digest to surface the cause, the envconfig wording counts as a missing
environment variable, and the incident's timeline keeps the causal line itself."""

from __future__ import annotations

import json

from agent_host.diagnosis.facts import LOG_PATTERNS, log_evidence
from agent_host.incidents.model import Incident
from agent_host.loop.nodes.gather_context import LOG_EVIDENCE_NOTE, note_log_evidence
from mcp_server.log_analysis import digest_log
from mcp_server.log_analysis.render import render_digest
from mcp_server.runbooks import RunbookLibrary

CAUSE = "FATAL: envconfig: required key DATABASE_URL missing value"


def flood(total: int = 200_000, cause_at: int = 137_420) -> list[str]:
    """A service's log: warm-up noise, the one causal line, then its workers draining."""
    return [
        CAUSE if i == cause_at else f"INFO cache warm-up: loaded sku-{i * 7:07d} into shard {i % 16}"
        if i < cause_at else f"INFO shutdown: worker {i % 64} drained {i % 131} pending writes"
        for i in range(total)
    ]  # fmt: skip


def logs_tail(runbook: str) -> int:
    call = next(c for c in RunbookLibrary.load().get(runbook).context if c.tool == "read_logs")
    return int(call.arguments.get("tail", 5000))


def test_the_crash_runbooks_read_far_enough_for_the_digest_to_show_the_cause() -> None:
    lines = flood()
    for runbook in ("exited-nonzero", "crash-loop"):
        tail = logs_tail(runbook)
        digest = render_digest(digest_log(lines[-tail:], max_tokens=1500, exit_code=1))
        assert CAUSE in digest, f"{runbook} reads {tail} lines: the causal line is not in its digest"


def test_the_envconfig_wording_is_a_missing_environment_variable() -> None:
    assert LOG_PATTERNS["missing_env"].search(CAUSE.lower())
    assert LOG_PATTERNS["missing_env"].search("error: config key redis_url is missing")
    assert not LOG_PATTERNS["missing_env"].search("info cache warm-up: loaded sku-0000007 into shard 1")


def test_the_digest_exit_line_is_not_out_of_memory_unless_oom_killed() -> None:
    # the server's digest states the flag either way: "exit code 1, OOMKilled=false: …"
    assert not LOG_PATTERNS["out_of_memory"].search("exit code 1, oomkilled=false: the application failed")
    assert LOG_PATTERNS["out_of_memory"].search("exit code 137 (sigkill), oomkilled=true: killed")
    assert LOG_PATTERNS["out_of_memory"].search("fatal error: javascript heap out of memory")


def test_the_timeline_keeps_the_causal_line_once() -> None:
    digest = render_digest(digest_log(flood()[-100_000:], max_tokens=1500, exit_code=1))
    # as gather_context keeps it: the structured answer, and its JSON (one line) as `text`
    answer = {"container": "shop-api-1", "mode": "digest", "text": digest}
    context = {"logs": {"tool": "read_logs", "ok": True, "structured": answer, "text": json.dumps(answer)}}
    assert log_evidence(context, [])["missing_env"].endswith(CAUSE)
    incident = Incident(
        id="inc-1", fingerprint="service:local/shop/api", target={"app_name": "shop", "service": "api"},
        target_key="service:local/shop/api", kind="exited", severity="warning", summary="api exited 1",
        context=context,
    )  # fmt: skip
    note_log_evidence(incident)
    note_log_evidence(incident)  # a retargeted incident gathers again: no second note
    notes = [e.message for e in incident.events if e.message.startswith(LOG_EVIDENCE_NOTE)]
    assert len(notes) == 1 and "missing_env" in notes[0] and "DATABASE_URL" in notes[0]
