"""Telegram HTML: container text is redacted and escaped, long texts are split into parts that each
parse on their own under 4,096 characters, and the incident message tells the whole story.
(The parts are checked with the stand-in's parser, which parses HTML the way Telegram does.)"""

from __future__ import annotations

from typing import Any

from agent_host.incidents.model import ActionRecord, Decision, Incident
from agent_host.telegram.render import html, incident_text, split_message, utf16_len
from standins.telegram.markup import check_text

LEAKY_LOG = "12:00:02 <script>alert(1)</script> login failed password=hunter2 & retrying"


def visible(part: str) -> str:
    return check_text(part, "HTML")[0]


def make_incident(**changes: Any) -> Incident:
    fields: dict[str, Any] = {
        "id": "inc-render1",
        "fingerprint": "service:local/shop/api",
        "target_key": "service:local/shop/api",
        "target": {"host": "local", "app_name": "shop", "service": "api"},
        "kind": "oom",
        "severity": "critical",
        "summary": "api was OOM-killed",
        "signals": [
            {
                "id": "oom-1",
                "kind": "oom",
                "summary": "container shop-api-1 OOM-killed",
                "evidence": {"exit_code": 137, "last_logs": [LEAKY_LOG]},
            }
        ],
        "facts": {"memory_limit": "64m", "memory_percent": 99.5, "dependants": ["web", "worker"]},
    }
    fields.update(changes)
    return Incident(**fields)


def test_html_redacts_secrets_and_escapes_markup() -> None:
    shown = html(LEAKY_LOG)
    assert "hunter2" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "&amp; retrying" in shown
    # what Telegram then displays is the original text, secrets masked, and no markup was taken
    assert visible(f"<pre>{shown}</pre>") == LEAKY_LOG.replace("hunter2", "[REDACTED]")


def test_a_short_text_is_one_part() -> None:
    assert split_message("<b>ok</b>") == ["<b>ok</b>"]


def test_long_plain_lines_are_split_at_line_breaks_under_the_limit() -> None:
    lines = [f"line {n:05d} " + "x" * 60 for n in range(400)]
    parts = split_message("\n".join(lines))
    assert len(parts) > 1
    assert all(utf16_len(p) <= 4000 for p in parts)
    # cut at line breaks: every part holds whole lines, all of them, in order
    assert [line for p in parts for line in p.split("\n")] == lines


def test_open_tags_are_closed_and_reopened_and_entities_never_cut() -> None:
    body = "\n".join(html(f"{n}: {LEAKY_LOG}") for n in range(200))
    text = f"<b>Logs of api</b>\n<pre>{body}</pre>\n<i>end</i>"
    parts = split_message(text, limit=1000)
    assert len(parts) > 5
    for part in parts:
        assert utf16_len(part) <= 1000
        shown = visible(part)  # parses on its own: no cut tag, no cut entity, no unclosed tag
        assert "&amp" not in shown and "&lt" not in shown
    assert parts[1].startswith("<pre>") and parts[0].endswith("</pre>")
    joined = "\n".join(visible(p) for p in parts)
    assert joined.count("<script>") == 200
    assert "hunter2" not in joined


def test_a_line_longer_than_the_limit_is_cut_and_emoji_count_twice() -> None:
    text = "🔥" * 3000  # 6,000 UTF-16 units
    parts = split_message(text)
    assert all(utf16_len(p) <= 4000 for p in parts)
    assert "".join(parts) == text


def test_the_incident_message_shows_evidence_impact_action_and_before_after() -> None:
    incident = make_incident(
        status="resolved",
        decision=Decision(
            solution="raise-memory", solution_title="Raise memory 64m → 128m", confidence=0.9, route="auto"
        ),
        actions=[
            ActionRecord(
                key="k", tool="update_memory_limit", arguments={}, ok=True, summary="memory 64m → 128m"
            )
        ],
        verification={
            "verdict": "healthy",
            "window_s": 60,
            "checks": {"running": {"passed": 6, "samples": 6}},
        },
        outcome="verified healthy after raising memory",
    )
    shown = visible(incident_text(incident))
    assert shown.startswith("✅ Resolved — shop/api")
    assert "exit_code: 137" in shown
    assert "<script>alert(1)</script>" in shown and "hunter2" not in shown
    assert "Depend on it: web, worker" in shown
    assert "Raise memory 64m → 128m (confidence 90%, auto)" in shown
    assert "✔ update_memory_limit: memory 64m → 128m" in shown
    assert "Before: memory_limit 64m, memory_percent 99.5" in shown
    assert "After: healthy over 60 s (running 6/6 ok)" in shown
    assert "Outcome: verified healthy after raising memory" in shown


def test_an_incident_with_huge_evidence_stays_one_valid_message() -> None:
    huge = {
        "id": "s",
        "kind": "oom",
        "summary": "x" * 50_000,
        "evidence": {f"k{n}": "<b>" * 500 for n in range(50)},
    }
    incident = make_incident(signals=[huge] * 3, summary="y" * 10_000)
    text = incident_text(incident)
    assert utf16_len(text) <= 4000
    assert visible(text).startswith("🔴 Incident opened")
