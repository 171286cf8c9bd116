"""What the model must answer, and the checks every answer passes before anything uses it.

The model picks one of the runbook's candidate solutions (or "none"); it can never name an action
of its own. `check_answer` turns its JSON into a `ModelAnswer` or says, in one line, what was wrong
(that line is shown to the model once, on the retry).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcp_server.runbooks import Runbook, Solution

NONE = "none"


@dataclass(frozen=True)
class Candidate:
    """One solution of the incident's runbook as the model sees it."""

    id: str
    title: str
    risk: str
    holds: bool
    explanations: list[str] = field(default_factory=list)
    follows: str | None = None
    approval: str = "auto"

    def describe(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "risk": self.risk,
            "conditions_hold": self.holds,
            "conditions": self.explanations,
        }
        if self.follows:
            shown["hands_over_to_runbook"] = self.follows
        if self.approval == "always":
            shown["always_needs_a_human"] = True
        return shown


def candidates_of(book: Runbook | None, facts: Mapping[str, Any]) -> list[Candidate]:
    """The runbook's solutions, each with whether its conditions hold and why."""
    if book is None:
        return []
    return [_candidate(s, facts) for s in book.solutions]


def _candidate(solution: Solution, facts: Mapping[str, Any]) -> Candidate:
    return Candidate(
        id=solution.id,
        title=solution.title,
        risk=solution.risk,
        holds=all(c.holds(facts) for c in solution.when),
        explanations=[c.explain(facts) for c in solution.when],
        follows=solution.follow,
        approval=solution.approval,
    )


def decision_schema(candidate_ids: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of the answer, sent as Ollama's `format` and written into the prompt."""
    return {
        "type": "object",
        "properties": {
            "root_cause": {
                "type": "string",
                "description": "the most likely root cause, one or two sentences",
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "solution": {"type": "string", "enum": [*candidate_ids, NONE]},
            "reasons": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        },
        "required": ["root_cause", "confidence", "solution", "reasons"],
        "additionalProperties": False,
    }


class ModelAnswer(BaseModel):
    """The model's answer, as the schema says."""

    model_config = ConfigDict(extra="forbid")

    root_cause: str = Field(min_length=1, max_length=2000)
    confidence: float = Field(ge=0, le=1)
    solution: str = Field(min_length=1, max_length=200)
    reasons: list[str] = Field(default_factory=list, max_length=8)


class ModelDecision(BaseModel):
    """A checked answer and how it came about (kept in the incident's decision record)."""

    root_cause: str
    confidence: float
    solution: str = Field(description="a candidate's id, or 'none': no candidate fits, ask a human")
    reasons: list[str] = Field(default_factory=list)
    model: str = ""
    think: str = ""
    tool_calls: list[str] = Field(default_factory=list, description="read-only calls it made, in order")
    refusals: list[str] = Field(
        default_factory=list, description="attempts outside what was offered (an action, a tool)"
    )
    retried_because: str | None = None
    prompt_tokens: int = Field(default=0, description="tokens Ollama read, summed over the requests")
    output_tokens: int = 0


class AnswerRejected(ValueError):
    """The answer cannot be used; `refusal` marks an attempt to act outside the candidates."""

    def __init__(self, message: str, *, refusal: bool = False) -> None:
        super().__init__(message)
        self.refusal = refusal


def check_answer(content: str, candidate_ids: Sequence[str]) -> ModelAnswer:
    """The answer, or AnswerRejected saying in one line what was wrong and what to send instead."""
    try:
        raw = json.loads(content)
    except json.JSONDecodeError as exc:
        raise AnswerRejected(
            f"the answer is not JSON ({exc.msg} at char {exc.pos}); send only one JSON object "
            "with root_cause, confidence, solution and reasons"
        ) from None
    try:
        answer = ModelAnswer.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "the answer"
        raise AnswerRejected(
            f"{where}: {err['msg']}; send one JSON object with root_cause (text), confidence (0 to 1), "
            "solution and reasons (list of text)"
        ) from None
    allowed = [*candidate_ids, NONE]
    if answer.solution not in allowed:
        raise AnswerRejected(
            f"solution {answer.solution[:80]!r} is not a candidate; choose exactly one of "
            f"{', '.join(allowed)} (none: no candidate fits, a human decides)",
            refusal=True,
        )
    return answer
