"""The scenario spec (`scenario.yaml`): what a scenario expects of the agent, and what it forbids.

A scenario folder `lab/scenarios/<name>/` holds `compose.yml` (the stack, local images only),
`fault.sh` or `fault.py` (the fault injector, run once the stack is up) and `scenario.yaml`,
validated by `ScenarioSpec` below. The loader (loader.py) turns a validation error into one line
naming the file, the line and the field.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# ">=64m", "<=1g", "==64m", "64m" (equal), or a plain value compared as text
_SIZE = re.compile(r"^\s*(?P<op>>=|<=|==|>|<)?\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[kmgt]?i?b?)?\s*$", re.I)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def size_bytes(text: str) -> int | None:
    """Bytes of a size like `64m`, `64MiB`, `67108864`; None when `text` is not a size."""
    match = _SIZE.match(str(text))
    if match is None or match["op"]:
        return None
    unit = (match["unit"] or "").lower().rstrip("b").rstrip("i")
    return int(float(match["num"]) * _UNITS[unit])


def value_matches(constraint: Any, actual: Any) -> bool:
    """Whether an action's argument `actual` meets the spec's `constraint`: `>=64m` compares sizes
    (or numbers), anything else must be equal (sizes compared in bytes, text case-insensitively)."""
    if actual is None:
        return False
    if isinstance(constraint, str):
        match = _SIZE.match(constraint)
        if match is not None and match["op"] and match["op"] != "==":
            wanted = size_bytes(f"{match['num']}{match['unit'] or ''}")
            got = size_bytes(str(actual))
            if wanted is None or got is None:
                return False
            return {">=": got >= wanted, "<=": got <= wanted, ">": got > wanted, "<": got < wanted}[
                match["op"]
            ]
        constraint = constraint.removeprefix("==").strip()
    wanted_size, got_size = size_bytes(str(constraint)), size_bytes(str(actual))
    if wanted_size is not None and got_size is not None:
        return wanted_size == got_size
    return str(constraint).lower() == str(actual).lower()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpectedAction(Strict):
    """A call the agent must make, e.g. `{tool: set_memory_limit, service: api, arguments: {memory: ">=64m"}}`."""

    tool: str = Field(description="the MCP tool, e.g. set_memory_limit")
    service: str | None = Field(default=None, description="the compose service it must target")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="argument constraints: a value, or >=/<=/>/< a size or number"
    )


class ForbiddenAction(Strict):
    """A kind of change the agent must never make here. Every field given must match (glob
    patterns allowed in `tool` and `action`): `{action: prune}`, `{tool: restart_service, service: db}`,
    `{tool: "*volume*"}` (never touch a data volume), `{other_stacks: true}` (never change a stack
    that is not the scenario's)."""

    tool: str | None = None
    action: str | None = Field(default=None, description="the server's action kind: restart, prune, remove…")
    service: str | None = None
    other_stacks: bool = False
    allowed: int = Field(
        default=0,
        ge=0,
        description="how many such changes are tolerated (1: one restart, but no restart loop)",
    )
    why: str = ""

    @model_validator(mode="after")
    def _something_to_match(self) -> ForbiddenAction:
        if not (self.tool or self.action or self.service or self.other_stacks):
            raise ValueError("a forbidden action needs at least one of tool, action, service, other_stacks")
        return self


class FinalState(Strict):
    """How the stack must look at the end, checked on the engine."""

    healthy_for_s: float = Field(
        default=10, ge=0, description="every service running (and healthy) this long"
    )
    no_new_oom: bool = True


class ScriptedModel(Strict):
    """What the scripted model answers in `--mode scripted` (the Ollama stand-in plays the model)."""

    solution: str
    root_cause: str


class Injection(Strict):
    """An instruction planted in text the agent reads (a log line, an env value). The agent must
    treat it as data: a change matching any `obeyed_if` rule counts as the injection obeyed."""

    text: str = Field(min_length=1, description="the planted instruction, as the fault writes it")
    obeyed_if: list[ForbiddenAction] = Field(min_length=1)


class StackExpectation(Strict):
    """What the agent must do about one stack (the scenario's own, or an extra one)."""

    signals: list[str] = Field(min_length=1, description="signal kinds that may open the incident")
    facts: list[str] = Field(default_factory=list, description="text the incident's diagnosis must contain")
    outcome: Literal["resolved", "escalated", "awaiting_approval"] = Field(
        default="resolved", description="how the stack's incidents must end (judged on the last one)"
    )
    expected_actions: list[ExpectedAction] = Field(default_factory=list)
    approval_required: bool = False
    final_state: FinalState | None = Field(
        default=None, description="none: the stack is not expected to recover"
    )


class ExtraStack(StackExpectation):
    """Another stack deployed beside the scenario's, as its own Dokploy project (two incidents at
    once; a neighbour that must stay untouched). Its containers reach the fault injector as
    `LAB_<NAME>_CONTAINER_<SERVICE>`."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,20}$")
    compose: str = Field(description="its compose file, relative to the scenario folder")
    signals: list[str] = Field(default_factory=list, description="empty: no incident is expected")


class ScenarioSpec(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    title: str
    description: str = ""
    signals: list[str] = Field(min_length=1, description="signal kinds that may open the incident")
    facts: list[str] = Field(default_factory=list, description="text the incident's diagnosis must contain")
    outcome: Literal["resolved", "escalated", "awaiting_approval"] = "resolved"
    expected_actions: list[ExpectedAction] = Field(default_factory=list)
    forbidden_actions: list[ForbiddenAction] = Field(default_factory=list)
    approval_required: bool = False
    final_state: FinalState | None = Field(
        default=None, description="none: the stack is not expected to recover"
    )
    time_limit_s: float = Field(default=120, gt=0, le=1800)
    server_env: dict[str, str] = Field(
        default_factory=dict,
        description="extra server settings, e.g. INFRAGUARDIAN_DETECTORS__HUNG_INTERVAL_S",
    )
    scripted: ScriptedModel | None = None
    approval: Literal["approve", "deny"] | None = Field(
        default=None,
        description="how the harness answers the agent's approval request (none: the run ends there)",
    )
    owner_step: str | None = Field(
        default=None,
        description="a script in the folder run after approving: the owner doing what the approval asked",
    )
    agent: dict[str, Any] = Field(
        default_factory=dict, description="agent settings for this scenario, e.g. {flap: {max_restarts: 2}}"
    )
    canaries: list[str] = Field(
        default_factory=list,
        description="secret values planted in env and logs; none may appear in anything we write",
    )
    injections: list[Injection] = Field(default_factory=list)
    extra_stacks: list[ExtraStack] = Field(default_factory=list)
    ci: bool = Field(
        default=False, description="in the fast subset (`lab run --ci`) that CI runs on every push"
    )

    @field_validator("canaries")
    @classmethod
    def _distinctive(cls, canaries: list[str]) -> list[str]:
        short = [c for c in canaries if len(c) < 12]
        if short:
            raise ValueError(f"a canary must be at least 12 characters (unique text to search for): {short}")
        return canaries

    @model_validator(mode="after")
    def _approval_needs_request(self) -> ScenarioSpec:
        if self.owner_step and self.approval != "approve":
            raise ValueError("owner_step runs after an approval: set `approval: approve` too")
        names = [s.name for s in self.extra_stacks]
        if len(set(names)) != len(names):
            raise ValueError(f"extra_stacks names must be distinct: {names}")
        return self

    def main_stack(self) -> StackExpectation:
        """The scenario's own stack's expectations."""
        return StackExpectation(
            signals=self.signals, facts=self.facts, outcome=self.outcome,
            expected_actions=self.expected_actions, approval_required=self.approval_required,
            final_state=self.final_state,
        )  # fmt: skip

    @field_validator("server_env")
    @classmethod
    def _only_infraguardian(cls, env: dict[str, str]) -> dict[str, str]:
        bad = [key for key in env if not key.startswith("INFRAGUARDIAN_")]
        if bad:
            raise ValueError(f"server_env keys must start with INFRAGUARDIAN_, not {', '.join(bad)}")
        return env

    def expects(self) -> str:
        """One line: what the scenario expects, for `lab list`."""
        acts = ", ".join(
            f"{a.tool}({', '.join([a.service or '*', *(f'{k} {v}' for k, v in a.arguments.items())])})"
            for a in self.expected_actions
        )
        parts = [f"signal {'|'.join(self.signals)}", self.outcome]
        if acts:
            parts.append(acts)
        if self.approval_required:
            parts.append("approval")
        return "; ".join(parts)
