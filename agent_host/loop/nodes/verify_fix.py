"""verify_fix: the runbook's checks, sampled every `verify_interval_s` over its window (capped by
`verify_window_max_s`). Any check failing at the end, or a new signal of the watched kinds during
the window → unhealthy (→ rollback); every check holding at the end → healthy (→ learn); checks that
could not be read at all → unknown (→ escalate). An unhealthy human step (the agent changed nothing,
loop/human_steps.py) escalates with that reason instead of rolling back. Read-only: after a restart
it simply starts over."""

from __future__ import annotations

import time
from typing import Any

from agent_host.diagnosis.verify_checks import CHECKS, VerifyMemo
from agent_host.incidents.model import Incident
from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.human_steps import human_only, not_done_reason
from agent_host.loop.state import LoopState
from mcp_server.runbooks import Verify

# checks whose single failure during the window already settles it (a new OOM kill is not "maybe")
DECISIVE = {"no_new_signal"}


def chosen_verify(deps: LoopDeps, incident: Incident) -> tuple[Verify | None, float]:
    """The verification of the incident's chosen solution (else of its runbook) and its window in
    seconds, capped by `verify_window_max_s`; (None, 0) when there is none."""
    decision = incident.decision
    book = deps.library.get(decision.runbook or "") if decision else None
    solution = next((s for s in book.solutions if s.id == decision.solution), None) if book and decision else None  # fmt: skip
    verify = (solution.verify if solution and solution.verify else None) or (book.verify if book else None)
    if verify is None:
        return None, 0.0
    window = float(verify.window_s)
    if deps.settings.verify_window_max_s is not None:
        window = min(window, deps.settings.verify_window_max_s)
    return verify, window


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    verify, window = chosen_verify(deps, incident)
    if verify is None:
        incident.verification = {"verdict": "unknown", "why": "no verification defined"}
        return await deps.save(incident, "unknown", "verify_fix")
    acted = [a.at for a in incident.actions if a.ok]
    memo = VerifyMemo(max(acted) if acted else deps.clock(), incident.facts)
    samples: dict[str, list[bool | None]] = {c.check: [] for c in verify.checks}
    start = time.monotonic()
    verdict = "unknown"
    while True:
        for check in verify.checks:
            result = await CHECKS[check.check](deps.link, check, incident.target, memo)
            samples[check.check].append(result)
            if result is False and check.check in DECISIVE:
                verdict = "unhealthy"
        elapsed = time.monotonic() - start
        if verdict == "unhealthy" or elapsed >= window:
            break
        await deps.sleep(min(deps.settings.verify_interval_s, max(window - elapsed, 0.0)))
    if verdict != "unhealthy":
        last = {name: values[-1] if values else None for name, values in samples.items()}
        if any(v is False for v in last.values()):
            verdict = "unhealthy"
        elif all(v is True for v in last.values()):
            verdict = "healthy"
        elif any(v is True for v in last.values()) and not any(v is False for v in last.values()):
            verdict = "healthy" if _known_share(samples) >= 0.5 else "unknown"
    incident.verification = {
        "verdict": verdict,
        "window_s": window,
        "checks": {name: _score(values) for name, values in samples.items()},
    }
    incident.note("verify_fix", f"{verdict} after {window:g} s: " + ", ".join(
        f"{name} {score['passed']}/{score['samples']}" for name, score in incident.verification["checks"].items()
    ))  # fmt: skip
    if verdict == "unhealthy" and human_only(incident.plan) and incident.decision is not None:
        # a person was to make the change and the agent made none: nothing to undo, escalate
        incident.decision.escalation.append(not_done_reason(incident))
        return await deps.save(incident, "unknown", "verify_fix")
    return await deps.save(incident, verdict, "verify_fix")  # type: ignore[arg-type]


def _score(values: list[bool | None]) -> dict[str, Any]:
    return {
        "samples": len(values),
        "passed": sum(1 for v in values if v is True),
        "failed": sum(1 for v in values if v is False),
        "last": values[-1] if values else None,
    }


def _known_share(samples: dict[str, list[bool | None]]) -> float:
    values = [v for vs in samples.values() for v in vs]
    return sum(1 for v in values if v is not None) / len(values) if values else 0.0
