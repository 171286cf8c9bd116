"""The lab's report: JSON (every run, then a summary per scenario and mode) and a Markdown table
with one row per scenario and one column per mode, so the agent's modes and the baselines sit
side by side."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .scoring import ScenarioResult

AGENT_MODES = ("runbook", "scripted", "ollama")  # the rest are baselines (baselines.py)


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile of `values` (None when empty): p50 of 3 runs is the middle one,
    p95 of fewer than 20 runs is the worst one."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def numbered(results: list[ScenarioResult]) -> list[tuple[int, ScenarioResult]]:
    """Each result with its run index (1, 2, …) among the runs of the same scenario and mode."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for r in results:
        seen[(r.name, r.mode)] = seen.get((r.name, r.mode), 0) + 1
        out.append((seen[(r.name, r.mode)], r))
    return out


def grouped(results: list[ScenarioResult]) -> dict[tuple[str, str], list[ScenarioResult]]:
    """(scenario, mode) → its runs, in the order they first appear."""
    groups: dict[tuple[str, str], list[ScenarioResult]] = {}
    for r in results:
        groups.setdefault((r.name, r.mode), []).append(r)
    return groups


def summarize(name: str, mode: str, runs: list[ScenarioResult]) -> dict[str, Any]:
    """One scenario × mode over its runs: the pass rate, p50/p95 of the times over the runs that
    have one (detected, recovered), and the sums of what must stay 0."""
    detect = [float(r.detect_ms) for r in runs if r.detect_ms is not None]
    recover = [r.recover_s for r in runs if r.recover_s is not None]
    return {
        "name": name,
        "mode": mode,
        "runs": len(runs),
        "pass_rate": round(sum(r.passed for r in runs) / len(runs), 3),
        "detect_ms_p50": percentile(detect, 50),
        "detect_ms_p95": percentile(detect, 95),
        "recover_s_p50": percentile(recover, 50),
        "recover_s_p95": percentile(recover, 95),
        "forbidden_actions": sum(r.forbidden_actions for r in runs),
        "canaries_leaked": sum(r.canaries_leaked for r in runs),
        "injections_obeyed": sum(r.injections_obeyed for r in runs),
    }


def summary(results: list[ScenarioResult]) -> list[dict[str, Any]]:
    return [summarize(name, mode, runs) for (name, mode), runs in grouped(results).items()]


def report_data(results: list[ScenarioResult]) -> dict[str, Any]:
    """What `--json FILE` writes: every run's score (with its `run` index), the summary per
    scenario × mode, and the totals."""
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "passed": sum(r.passed for r in results),
        "total": len(results),
        "forbidden_actions": sum(r.forbidden_actions for r in results),
        "notes": [
            "baselines (restart-policy, autoheal) run no agent: their detect_ms is the first restart "
            "after the fault, their recover_s the moment every service was up again to stay"
        ],
        "scenarios": [{**r.model_dump(mode="json"), "run": run} for run, r in numbered(results)],
        "summary": summary(results),
    }


def write_json(results: list[ScenarioResult], path: Path) -> None:
    path.write_text(json.dumps(report_data(results), indent=2) + "\n", encoding="utf-8")


def cell(runs: list[ScenarioResult]) -> str:
    """`yes · 12.3 s` for one run (`NO · –` when it failed or never recovered); `2/3 · 12.3 s`
    (recover p50) for several."""
    if len(runs) == 1:
        verdict = "yes" if runs[0].passed else "NO"
    else:
        verdict = f"{sum(r.passed for r in runs)}/{len(runs)}"
    recover = percentile([r.recover_s for r in runs if r.recover_s is not None], 50)
    return f"{verdict} · {'–' if recover is None else f'{recover:g} s'}"


def markdown_table(results: list[ScenarioResult]) -> str:
    """One row per scenario, one column per mode (passed · recover s); then the totals per mode
    and one line per failure."""
    groups = grouped(results)
    modes = list(dict.fromkeys(r.mode for r in results))
    names = list(dict.fromkeys(r.name for r in results))
    several = any(len(runs) > 1 for runs in groups.values())
    what = "passed runs · recover s p50" if several else "passed · recover s"
    lines = [
        f"| scenario ({what}) | {' | '.join(modes)} |",
        f"|---|{'---|' * len(modes)}",
    ]
    for name in names:
        cells = [cell(groups[(name, mode)]) if (name, mode) in groups else "–" for mode in modes]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines.append("")
    for mode in modes:
        runs = [r for r in results if r.mode == mode]
        kind = "" if mode in AGENT_MODES else " (baseline)"
        lines.append(
            f"{mode}{kind}: {sum(r.passed for r in runs)}/{len(runs)} passed; forbidden actions "
            f"{sum(r.forbidden_actions for r in runs)}; canaries leaked "
            f"{sum(r.canaries_leaked for r in runs)}; injections obeyed {sum(r.injections_obeyed for r in runs)}"
        )
    for run, r in numbered(results):
        where = f"{r.name} ({r.mode}{f', run {run}' if several else ''})"
        for failure in [*r.failures, *([r.error] if r.error else [])]:
            lines.append(f"- {where}: {failure}")
    return "\n".join(lines)
