"""The runbook schema: what an incident of one kind needs gathered, which fixes may apply when, how
to check a fix worked, and when to stop and call a human.

    trigger:   the signal kinds it answers
    context:   read-only tool calls whose results feed the facts (see facts.py)
    solutions: candidate fixes, in order of preference; each has conditions over facts, a
               confidence, a risk, the actions (tool calls) — or the human steps a person must
               carry out when no tool can (e.g. growing a volume) — how to undo them, and how to
               verify
    verify:    what healthy means after a fix, and for how long (a solution may override it)
    escalate_when: reasons to hand the incident to a human, with conditions when code can tell
    wait_for_cause: (optional) how long to wait for a signal that explains the incident before
               escalating because no solution's conditions hold

The agent acts on its own only when a solution's risk is low and its confidence reaches its
threshold; everything else is an approval request. The server checks every action again.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .arguments import placeholders_in, unknown_placeholder
from .conditions import Condition

_ID = r"^[a-z0-9][a-z0-9-]*$"
# a solution's `apply_to` (other than "target") -> the list fact whose first service is the root
# cause the followed runbook is about (that service becomes the incident's target)
RETARGET_FACTS: dict[str, str] = {
    "upstream": "upstream_down",  # the first down dependency
    "cpu_hog": "cpu_starved_by",  # the busiest service of the app starving this one of CPU
}


def _check_placeholders(args: dict[str, Any]) -> dict[str, Any]:
    for name in sorted(placeholders_in(args)):
        problem = unknown_placeholder(name)
        if problem:
            raise ValueError(problem)
    return args


class ToolCall(BaseModel):
    """One MCP tool call; `arguments` may use placeholders (arguments.py). (Not `args`: that key is
    a compose build section, which compose-aware redaction masks.)"""

    model_config = ConfigDict(extra="forbid")

    tool: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="an MCP tool of the server")
    arguments: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arguments")
    @classmethod
    def _known_placeholders(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_placeholders(value)


class ContextCall(ToolCall):
    """A read-only call whose result the pre-diagnosis reads (`id` names the result)."""

    id: str = Field(pattern=_ID)
    do: str = Field(min_length=1, description="why, in one sentence")
    optional: bool = Field(
        default=True, description="a failure leaves its facts unknown instead of escalating"
    )
    when: list[Condition] = Field(
        default_factory=list,
        description="gather only when all hold (facts from the signal and the calls before it)",
    )


class Action(ToolCall):
    """A step of a fix. With `dry_run_first`, the agent calls it with dry_run=true first and shows
    (or checks) that plan before the real call."""

    do: str = Field(min_length=1)
    dry_run_first: bool = False


class HumanStep(BaseModel):
    """A change no tool can make (Docker cannot grow a volume in place) or that only its owner may
    make. The approval shows `instruction` with its placeholders filled (lists joined with ", ");
    approving hands the step to that person — the agent itself changes nothing — and the agent then
    verifies the result as for any fix, escalating when it does not hold."""

    model_config = ConfigDict(extra="forbid")

    do: str = Field(min_length=1, description="what the step achieves, in one sentence")
    instruction: str = Field(
        min_length=1, description="exactly what the person is asked to do, with the evidence"
    )

    @field_validator("instruction")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        _check_placeholders({"instruction": value})
        return value


class Check(BaseModel):
    """One verification check, evaluated by the agent with read-only tools over the window."""

    model_config = ConfigDict(extra="forbid")

    check: Literal[
        "running",  # a container of the service runs for the whole window
        "healthy",  # its health check passes (skipped when it has none)
        "no_new_signal",  # no occurrence of `kinds` on the target after the fix (engine-dated where known)
        "memory_below_percent",  # memory stays below `percent` of the limit
        "restarts_stable",  # the restart count does not grow
        "domain_answers",  # the domain answers 2xx/3xx
        "logs_active",  # the service writes log lines again
        "disk_below_percent",  # the filling disk drops below `percent`
        "stack_healthy",  # every service of the compose runs (and is healthy when checked)
        "volume_below_percent",  # the filling volume is below `percent` and a service using it runs
        "signal_cleared",  # no signal of `kinds` is active on the target at the end (a metric recovered)
    ]
    kinds: list[str] = Field(default_factory=list)
    percent: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _arguments(self) -> Check:
        if self.check in ("no_new_signal", "signal_cleared") and not self.kinds:
            raise ValueError(f"{self.check} needs kinds, e.g. [oom]")
        if (
            self.check in ("memory_below_percent", "disk_below_percent", "volume_below_percent")
            and self.percent is None
        ):
            raise ValueError(f"{self.check} needs percent")
        return self


class Verify(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_s: int = Field(ge=5, le=3600, description="how long the checks must hold")
    checks: list[Check] = Field(min_length=1)


class Solution(BaseModel):
    """A candidate fix: `actions` (tool calls), `human_steps` (a person does it after approving;
    needs `approval: always`) or `follow` (hand over to another runbook, e.g. crash-loop →
    dependency-down when an upstream is down) — exactly one of the three."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1)
    when: list[Condition] = Field(default_factory=list, description="all must hold")
    confidence: float = Field(ge=0, le=1, description="how sure the runbook is when `when` holds")
    threshold: float = Field(default=0.7, ge=0, le=1, description="act alone at or above this confidence")
    risk: Literal["low", "medium", "high"]
    approval: Literal["auto", "always"] = Field(default="auto", description="always: never without a human")
    actions: list[Action] = Field(default_factory=list)
    human_steps: list[HumanStep] = Field(
        default_factory=list, description="changes a person makes after approving; the agent verifies"
    )
    undo: list[Action] = Field(default_factory=list, description="restore the state before the fix")
    follow: str | None = Field(default=None, pattern=_ID, description="another runbook to apply instead")
    apply_to: Literal["target", "upstream", "cpu_hog"] = Field(
        default="target",
        description="with follow: upstream = the followed runbook is about the first down dependency, "
        "cpu_hog = about the busiest service starving this one of CPU; that service becomes the "
        "incident's target (its root cause)",
    )
    verify: Verify | None = None

    @model_validator(mode="after")
    def _actions_or_follow(self) -> Solution:
        if sum(map(bool, (self.actions, self.human_steps, self.follow))) != 1:
            raise ValueError(
                "a solution has either actions or follow (another runbook) or human_steps, "
                "exactly one of them"
            )
        if self.human_steps and (self.approval != "always" or self.undo):
            raise ValueError(
                "human_steps need approval: always and no undo (a person makes the change, "
                "the agent has nothing to undo)"
            )
        if self.apply_to != "target" and not self.follow:
            raise ValueError(
                f"apply_to: {self.apply_to} needs follow (the runbook to apply to the service it blames)"
            )
        return self


class EscalateRule(BaseModel):
    """A reason to call a human; with `when`, code decides it, otherwise it guides people and the model."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1)
    when: list[Condition] = Field(default_factory=list)


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signals: list[str] = Field(default_factory=list, description="detector kinds; empty: only by follow")


class WaitForCause(BaseModel):
    """When no solution's conditions hold yet, wait up to `max_s` (from the incident's opening) for
    a signal of one of `signals` to join the incident before escalating: a symptom (slow answers)
    can be seen before its cause (the volume filling, memory pressure) is."""

    model_config = ConfigDict(extra="forbid")

    signals: list[str] = Field(min_length=1, description="detector kinds that would explain it")
    max_s: float = Field(gt=0, le=3600, description="longest wait, counted from the incident's opening")


class Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_ID)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    severity: Literal["info", "warning", "critical"] = "warning"
    trigger: Trigger
    context: list[ContextCall] = Field(min_length=1)
    solutions: list[Solution] = Field(default_factory=list)
    verify: Verify
    escalate_when: list[EscalateRule] = Field(min_length=1)
    wait_for_cause: WaitForCause | None = None

    @field_validator("escalate_when", mode="before")
    @classmethod
    def _plain_reasons(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"reason": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Runbook:
        for what, ids in (
            ("context", [c.id for c in self.context]),
            ("solutions", [s.id for s in self.solutions]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{what}: duplicate id {dupes[0]!r}")
        return self

    @property
    def signals(self) -> list[str]:
        return self.trigger.signals

    def tool_calls(self) -> list[ToolCall]:
        """Every tool call the runbook can make (context, actions, undo), for cross-checks."""
        calls: list[ToolCall] = list(self.context)
        for solution in self.solutions:
            calls += [*solution.actions, *solution.undo]
        return calls
