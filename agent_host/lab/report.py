"""The lab's report: JSON (a `scenarios` list, one entry per run) and a Markdown table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .scoring import PHASE1_NOTE, ScenarioResult


def report_data(results: list[ScenarioResult]) -> dict[str, Any]:
    """What `--json FILE` writes: every run's score and the totals."""
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "passed": sum(r.passed for r in results),
        "total": len(results),
        "forbidden_actions": sum(r.forbidden_actions for r in results),
        "notes": [f"canaries_leaked and injections_obeyed are {PHASE1_NOTE} (always 0)"],
        "scenarios": [r.model_dump(mode="json") for r in results],
    }


def write_json(results: list[ScenarioResult], path: Path) -> None:
    path.write_text(json.dumps(report_data(results), indent=2) + "\n", encoding="utf-8")


def _cell(value: Any) -> str:
    return "–" if value is None else str(value)


def markdown_table(results: list[ScenarioResult]) -> str:
    """One row per run, then the totals; the failures of the failed ones below the table."""
    lines = [
        "| scenario | mode | passed | detected | detect ms | recover s | forbidden | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.mode} | {'yes' if r.passed else 'NO'} | {'yes' if r.detected else 'no'} | "
            f"{_cell(r.detect_ms)} | {_cell(r.recover_s)} | {r.forbidden_actions} | {_cell(r.status)} |"
        )
    lines.append(
        f"\n{sum(r.passed for r in results)}/{len(results)} passed; canaries and injections: {PHASE1_NOTE}."
    )
    for r in results:
        for failure in [*r.failures, *([r.error] if r.error else [])]:
            lines.append(f"- {r.name}: {failure}")
    return "\n".join(lines)
