"""The incident record: what happened, what was decided and why, what was done, how it ended.

One incident per root cause. It is stored (incidents/store.py) after every step of the loop, so
`infraguardian-agent incidents show ID` is a post-mortem at any moment, and it is the graph's state
(checkpointed by LangGraph), so a restarted agent resumes it where it stopped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

IncidentStatus = Literal[
    "open",  # detected, being diagnosed
    "awaiting_approval",  # a human must approve the planned fix
    "acting",  # the fix runs
    "verifying",  # the fix ran; its effect is being checked
    "resolved",  # verified healthy
    "escalated",  # handed to a human (no safe fix, refused, denied, expired, or made worse)
    "merged",  # its root cause is another incident's target: its signals moved there
]
CLOSED: frozenset[str] = frozenset({"resolved", "escalated", "merged"})


def now() -> datetime:
    return datetime.now(UTC)


class IncidentEvent(BaseModel):
    at: datetime = Field(default_factory=now)
    step: str = Field(description="the graph node that wrote it")
    message: str


class ActionRecord(BaseModel):
    """One tool call the agent made to change something (or its dry run)."""

    key: str = Field(description="idempotency key: incident id + step; a repeat is answered from the record")
    tool: str
    arguments: dict[str, Any]
    dry_run: bool = False
    ok: bool
    refused: bool = False
    replayed: bool = False
    outcome_unknown: bool = False
    error: str | None = None
    summary: str = ""
    at: datetime = Field(default_factory=now)

    @classmethod
    def from_answer(cls, key: str, tool: str, arguments: dict[str, Any], answer: Any) -> ActionRecord:
        """The record of one call from the server's answer (an unknown outcome is never ok)."""
        return cls(
            key=key,
            tool=tool,
            arguments=arguments,
            ok=bool(answer.ok) and not answer.outcome_unknown,
            refused=bool(answer.refused),
            replayed=bool(answer.replayed),
            outcome_unknown=bool(answer.outcome_unknown),
            error=answer.error,
            summary=(answer.text or "")[:500],
        )


class Decision(BaseModel):
    """What the agent chose and why; shown to the human who approves and kept for the post-mortem."""

    mode: Literal["runbook", "model"] = "runbook"
    mode_note: str = ""
    runbook: str | None = None
    solution: str | None = None
    solution_title: str | None = None
    confidence: float = 0.0
    threshold: float = 0.0
    risk: str | None = None
    route: Literal["auto", "approval", "escalate"] = "escalate"
    reasons: list[str] = Field(default_factory=list)
    escalation: list[str] = Field(default_factory=list, description="escalation reasons that hold")
    model_tokens: int = Field(default=0, description="tokens the model read and wrote for this decision")
    similar: list[dict[str, Any]] = Field(
        default_factory=list,
        description="the most similar past incidents from incident memory: what was done, how it ended",
    )


class Incident(BaseModel):
    id: str
    fingerprint: str = Field(description="root-cause key: the same problem on the same target")
    target: dict[str, Any] = Field(description="app_name, service, container, domain, host: what is broken")
    target_key: str
    kind: str = Field(description="the signal kind that opened it")
    severity: str
    summary: str
    runbook: str | None = None
    status: IncidentStatus = "open"
    signals: list[dict[str, Any]] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict, description="context results by id (bounded)")
    facts: dict[str, Any] = Field(default_factory=dict)
    decision: Decision | None = None
    plan: list[dict[str, Any]] = Field(default_factory=list, description="the actions with filled arguments")
    actions: list[ActionRecord] = Field(default_factory=list)
    verification: dict[str, Any] | None = None
    outcome: str | None = None
    opened_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)
    closed_at: datetime | None = None
    events: list[IncidentEvent] = Field(default_factory=list)
    affected: list[str] = Field(
        default_factory=list, description="target keys of the victims grouped into it"
    )
    approved_by: str | None = Field(
        default=None, description="who approved the plan (its actions carry that yes)"
    )
    retargets: int = Field(default=0, description="times the blame moved to a dependency")

    def note(self, step: str, message: str) -> None:
        self.events.append(IncidentEvent(step=step, message=message))
        self.updated_at = now()

    def close(self, status: Literal["resolved", "escalated", "merged"], outcome: str, step: str) -> None:
        self.status = status
        self.outcome = outcome
        self.closed_at = now()
        self.note(step, outcome)

    @property
    def closed(self) -> bool:
        return self.status in CLOSED
