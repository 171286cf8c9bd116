"""Telegram HTML for the bot's messages. Everything a container, a log or a user wrote is data:
`html()` redacts secrets and escapes it before it is put between our own tags. `split_message()`
cuts long HTML under Telegram's 4,096-character limit without cutting a tag or an entity, closing
the tags still open at each cut and opening them again in the next part. `incident_text()` is the
one notification message of an incident: what, evidence, impact on dependants, action,
verification (before/after) and outcome.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

from agent_host.incidents.model import ActionRecord, Incident
from mcp_server.redaction import redact_text

TELEGRAM_LIMIT = 4096
EVIDENCE_LINES = 8  # evidence values and log lines shown per incident
LINE_CHARS = 300  # one evidence line is cut here
INCIDENT_TEXT_LIMIT = 3800  # the incident message stays one message (an approval text may follow)

STATUS_HEADLINE = {
    "open": ("🔴", "Incident opened"),
    "awaiting_approval": ("🟠", "Waiting for your approval"),
    "acting": ("🛠", "Fixing"),
    "verifying": ("🔎", "Verifying the fix"),
    "resolved": ("✅", "Resolved"),
    "escalated": ("🆘", "Needs a human"),
    "merged": ("🔗", "Merged into another incident"),
}
# facts worth showing as "before" figures next to the verification's "after"
BEFORE_FACTS = (
    "memory_limit",
    "memory_percent",
    "cpu_percent",
    "restart_count",
    "exit_code",
    "health",
    "running",
    "proposed_memory",
)

_TOKEN = re.compile(r"<[^>]*>|[^<]+|<")  # a tag, or text with its &…; entities
_ENTITY = re.compile(r"&#?\w+;")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][\w-]*)")


_FENCE = re.compile(
    r'<untrusted-data[^>]*nonce="(?P<nonce>[^"]*)">\n?(?P<body>.*?)</untrusted-data nonce="(?P=nonce)">', re.S
)


TARGET_ARGUMENTS = ("app_name", "service", "container", "host")  # the incident's header names them


def unfenced(text: str) -> str:
    """The data inside the server's `<untrusted-data>` fences (logs, evidence), without the markers
    and the preamble meant for a model: a human reads it, still redacted and escaped by `html`."""
    bodies = [m.group("body") for m in _FENCE.finditer(text)]
    return "\n".join(bodies) if bodies else text


def html(text: object) -> str:
    """Redact secrets in `text`, then escape it for Telegram's HTML (`<`, `>`, `&`)."""
    return html_lib.escape(redact_text(str(text)), quote=False)


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji may count as two)."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = 4000) -> list[str]:
    """`text` (Telegram HTML) in parts of at most `limit` UTF-16 units, cut preferably at a line
    break, never inside a tag or an `&…;` entity; tags open at a cut are closed there and opened
    again at the start of the next part, so every part parses on its own."""
    if utf16_len(text) <= limit:
        return [text]
    parts: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, the opening tag as written)
    current = ""

    def closing() -> str:
        return "".join(f"</{name}>" for name, _ in reversed(open_tags))

    def flush() -> None:
        nonlocal current
        body = current + closing()
        if _visible(body).strip():
            parts.append(body)
        current = "".join(tag for _, tag in open_tags)

    for token in _TOKEN.findall(text):
        if token.startswith("<") and len(token) > 1:
            name = _tag_name(token)
            after = [*open_tags]
            if token.startswith("</"):
                if after and after[-1][0] == name:
                    after.pop()
            elif name:
                after.append((name, token))
            extra = sum(len(f"</{n}>") for n, _ in after)
            if utf16_len(current + token) + extra > limit:
                flush()
            current += token
            open_tags[:] = after
            continue
        rest = token
        while rest:
            room = limit - utf16_len(current) - utf16_len(closing())
            if utf16_len(rest) <= room:
                current += rest
                break
            cut = _cut_point(rest, room)
            if cut == 0:
                reopened = "".join(tag for _, tag in open_tags)
                if current == reopened:  # an empty part cannot hold it either
                    raise ValueError(
                        f"split_message: limit {limit} is too small for this text; use 1000 or more"
                    )
                flush()
                continue
            current += rest[:cut]
            rest = rest[cut:].lstrip("\n")
            flush()
    if _visible(current).strip():
        parts.append(current + closing())
    return parts


def _tag_name(tag: str) -> str:
    match = _TAG_NAME.match(tag)
    return match.group(1).lower() if match else ""


def _visible(fragment: str) -> str:
    return re.sub(r"<[^>]*>", "", fragment)


def _cut_point(text: str, room: int) -> int:
    """Where to cut `text` so that its head fits in `room` UTF-16 units: the last line break in the
    second half of that room, else the last space, else as much as fits."""
    if room <= 0:
        return 0
    fits = 0
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > room:
            break
        fits = index + 1
    at = text.rfind("\n", 0, fits + 1)  # the line break itself is dropped at the cut
    if at > 0 and at >= fits // 2:
        return at
    at = text.rfind(" ", 0, fits)
    cut = at + 1 if at > 0 and at >= fits // 2 else fits
    amp = text.rfind("&", 0, cut)  # never inside an &…; entity
    if amp >= 0 and (entity := _ENTITY.match(text, amp)) and entity.end() > cut:
        cut = amp
    return cut


def _line(text: Any) -> str:
    value = unfenced(str(text)).replace("\n", " ").strip()
    return html(value if len(value) <= LINE_CHARS else value[:LINE_CHARS] + "…")


def _target_name(incident: Incident) -> str:
    target = incident.target
    if target.get("app_name") and target.get("service"):
        return f"{target['app_name']}/{target['service']}"
    return str(target.get("container") or target.get("domain") or incident.target_key)


def _evidence_lines(incident: Incident) -> list[str]:
    lines: list[str] = []
    for signal in incident.signals[:3]:
        summary = signal.get("summary")
        if summary and summary != incident.summary:
            lines.append(f"• {_line(summary)}")
        evidence = signal.get("evidence") or {}
        if isinstance(evidence, dict):
            for key, value in evidence.items():
                if isinstance(value, list):
                    value = " | ".join(str(v) for v in value[-3:])
                if isinstance(value, dict):
                    continue
                lines.append(f"• {html(str(key))}: {_line(value)}")
    return lines[:EVIDENCE_LINES]


def _before_after(incident: Incident) -> list[str]:
    lines = []
    before = [f"{key} {incident.facts[key]}" for key in BEFORE_FACTS if key in incident.facts]
    if before:
        lines.append(f"Before: {_line(', '.join(before))}")
    verification = incident.verification or {}
    if verification:
        checks = verification.get("checks") or {}
        after = ", ".join(
            f"{name} {score.get('passed')}/{score.get('samples')} ok" for name, score in checks.items()
        )
        window = verification.get("window_s")
        window_text = f" over {window:g} s" if isinstance(window, int | float) else ""
        lines.append(
            f"After: <b>{html(str(verification.get('verdict', 'unknown')))}</b>{window_text}"
            + (f" ({_line(after)})" if after else "")
        )
    return lines


def _action_detail(action: ActionRecord) -> str:
    """What an action did, for a phone: its error, its one-line summary, or (when the summary is
    the tool's raw JSON answer) the change from its arguments."""
    if action.error:
        return action.error
    summary = unfenced(action.summary or "").strip()
    if summary and not summary.startswith(("{", "[")):
        return summary
    return ", ".join(f"{k}={v}" for k, v in action.arguments.items() if k not in TARGET_ARGUMENTS)


def incident_text(incident: Incident) -> str:
    """The incident's notification (Telegram HTML, under INCIDENT_TEXT_LIMIT): the same message is
    edited as the incident moves, so it always shows the whole story so far."""
    icon, headline = STATUS_HEADLINE.get(incident.status, ("ℹ️", incident.status))
    out = [
        f"{icon} <b>{html(headline)}</b> — <b>{html(_target_name(incident))}</b>",
        html(incident.summary),
        f"<i>{html(incident.kind)} · {html(incident.severity)} · {html(incident.id)}</i>",
    ]
    evidence = _evidence_lines(incident)
    if evidence:
        out += ["", "<b>Evidence</b>", *evidence]
    dependants = [str(d) for d in incident.facts.get("dependants") or []]
    affected = [str(a) for a in incident.affected]
    if dependants or affected:
        out += ["", "<b>Impact</b>"]
        if dependants:
            out.append(f"Depend on it: {_line(', '.join(dependants))}")
        if affected:
            out.append(f"Also affected: {_line(', '.join(affected))}")
    decision = incident.decision
    if decision is not None and (decision.solution_title or decision.solution):
        out += [
            "",
            "<b>Plan</b>",
            f"{html(decision.solution_title or decision.solution or '')} "
            f"(confidence {decision.confidence:.0%}, {html(decision.route)})",
        ]
        if incident.approved_by:  # kept in every edit: the tap's "Approved by" must not vanish
            out.append(f"Approved by {html(incident.approved_by)}")
    if incident.actions:
        out += ["", "<b>Actions</b>"]
        for action in incident.actions[-4:]:
            mark = "✔" if action.ok else ("⛔" if action.refused else "✖")
            dry = " (dry run)" if action.dry_run else ""
            out.append(f"{mark} {html(action.tool)}{dry}: {_line(_action_detail(action))}")
    checks = _before_after(incident)
    if checks:
        out += ["", "<b>Verification</b>", *checks]
    if incident.outcome:
        out += ["", f"<b>Outcome</b>: {_line(incident.outcome)}"]
    if decision is not None and incident.status == "escalated" and decision.escalation:
        out += ["<b>Why a human</b>:", *(f"• {_line(reason)}" for reason in decision.escalation[:4])]
    return split_message("\n".join(out), INCIDENT_TEXT_LIMIT)[0]
