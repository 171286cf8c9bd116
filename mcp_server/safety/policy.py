"""The stateless part of the policy: registry, mode, target kinds, protection and value bounds.

Budgets and rate limits (which need stored state) are checked afterwards by the gate.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcp_server.safety.actions import ACTIONS, ActionSpec
from mcp_server.safety.models import ActionRequest, DecisionCode
from mcp_server.safety.modes import Mode
from mcp_server.safety.protection import protection_reason
from mcp_server.safety.settings import SafetySettings

DOCKER_MIN_MEMORY = 6 * 1024**2  # Docker refuses limits below 6 MiB
PRUNABLE = ("images", "build_cache", "containers", "networks")
_NO_RETRY = "Do not retry"


@dataclass(frozen=True)
class Refusal:
    code: DecisionCode
    reason: str  # one line, without the leading "refused:"
    escalate: bool = False


def human_bytes(value: int) -> str:
    """`512 MiB`, `1.5 GiB`."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            text = f"{size:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        size /= 1024
    return f"{value} B"


def check_policy(request: ActionRequest, spec: ActionSpec | None, settings: SafetySettings) -> Refusal | None:
    """Why the request must be refused before budgets are even looked at, or None."""
    if spec is None:
        known = ", ".join(sorted(ACTIONS))
        return Refusal("unknown_action", f"unknown action {request.action!r}; known actions: {known}")
    if not spec.mutating:
        return None  # reads are always allowed, on any target, in any mode
    if not settings.mode.allows(spec.min_mode):
        wanted = (  # a read that needs more than read-only mode returns files or secrets
            "which file or secret you need and why; they can read it themselves"
            if not spec.changes_state
            else "what you want to change and why; they can do it"
        )
        return Refusal(
            "mode",
            f"{spec.name} needs {spec.min_mode.value} mode but this server runs in {settings.mode.value} "
            f"mode. {_NO_RETRY}: tell a human {wanted} or change the safety mode",
            escalate=True,
        )
    target = request.target
    if target is None:
        return Refusal("invalid", f"{spec.name} changes something, so the request needs a target")
    if target.kind not in spec.target_kinds:
        kinds = ", ".join(sorted(spec.target_kinds))
        return Refusal(
            "invalid", f"{spec.name} does not apply to a {target.kind} target; it applies to {kinds}"
        )
    if not spec.changes_state:
        return None  # protection guards changes; a read of files or secrets has the mode as its gate
    for candidate in (target, *request.affected):
        why = protection_reason(candidate, settings, request.details)
        if why:
            return Refusal(
                "protected",
                f"{candidate.describe()} is protected because {why}; no mode may change it. {_NO_RETRY}: "
                "if it really needs this, a human must do it by hand",
                escalate=True,
            )
    return _check_details(request, spec, settings)


def _check_details(request: ActionRequest, spec: ActionSpec, settings: SafetySettings) -> Refusal | None:
    if spec.name in ("raise_memory", "lower_memory", "revert_memory"):
        return _check_memory(request, spec, settings)
    if spec.name == "prune":
        return _check_prune(request)
    procedure = (request.target.name if request.target else None) or ""
    resolved = any(t.kind == "container" for t in request.affected)
    if spec.name == "dokploy_mutation" and procedure.startswith("docker.") and not resolved:
        return Refusal(
            "invalid",
            "docker.* container operations need the container resolved first: pass it in `affected` "
            "(kind container with name, image and labels) so the protection rules can check it",
        )
    return None


class MemoryChange(BaseModel):
    """The fields raise_memory / lower_memory / revert_memory read from `details`."""

    model_config = ConfigDict(extra="ignore")

    current_limit_bytes: int | None = Field(default=None, ge=0)
    new_limit_bytes: int = Field(ge=0)
    current_usage_bytes: int | None = Field(default=None, ge=0)
    container_count: int = Field(default=1, ge=1, description="containers that get the new limit")
    host_available_bytes: int | None = Field(
        default=None, ge=0, description="the host's MemAvailable now; None = unknown (remote engine)"
    )
    host_total_bytes: int | None = Field(default=None, ge=0, description="the host's MemTotal")
    host_limits_granted_bytes: int | None = Field(
        default=None, ge=0, description="sum of running containers' limits: shown, never refused on"
    )
    container_limits_bytes: list[int] | None = Field(
        default=None,
        description="the distinct limits of the containers now (0 = none); a revert needs them all "
        "to be what the raise set. None: only current_limit_bytes is known",
    )

    @property
    def increase_bytes(self) -> int:
        """How much more memory the host may have to give: every container's limit grows."""
        return max(0, self.new_limit_bytes - (self.current_limit_bytes or 0)) * self.container_count


@dataclass(frozen=True)
class Headroom:
    """What a raise would leave the host: `available` now minus `increase`, against `reserve`."""

    available: int
    increase: int
    reserve: int
    containers: int = 1

    @property
    def left(self) -> int:
        return self.available - self.increase

    @property
    def fits(self) -> bool:
        return self.left >= self.reserve

    def line(self) -> str:
        """One line for the dry run, or (when it does not fit) the refusal."""
        each = f" ({self.containers} containers)" if self.containers > 1 else ""
        start = f"the host has {human_bytes(self.available)} available; raising by {human_bytes(self.increase)}{each}"
        if self.fits:
            return f"{start} leaves {human_bytes(self.left)}, above the {human_bytes(self.reserve)} reserve"
        left = human_bytes(self.left) if self.left >= 0 else f"nothing ({human_bytes(-self.left)} short)"
        return (
            f"{start} would leave {left}, below the {human_bytes(self.reserve)} reserve; escalate to a "
            "human or free memory first"
        )


def memory_headroom(change: MemoryChange, settings: SafetySettings) -> Headroom | None:
    """The host headroom of a raise, or None when the host's available memory is unknown."""
    if change.host_available_bytes is None:
        return None
    reserve = settings.memory_headroom_reserve(change.host_total_bytes)
    return Headroom(change.host_available_bytes, change.increase_bytes, reserve, change.container_count)


def _check_memory(request: ActionRequest, spec: ActionSpec, settings: SafetySettings) -> Refusal | None:
    try:
        change = MemoryChange.model_validate(request.details)
    except ValidationError:
        return Refusal(
            "invalid",
            f"{spec.name} needs details new_limit_bytes, current_limit_bytes and current_usage_bytes "
            "(non-negative integers, bytes; current_limit_bytes 0 = no limit)",
        )
    new, current, usage = change.new_limit_bytes, change.current_limit_bytes or 0, change.current_usage_bytes
    if new < DOCKER_MIN_MEMORY:
        return Refusal("invalid", f"a memory limit must be at least {human_bytes(DOCKER_MIN_MEMORY)}")
    if usage is not None and new < usage:
        return Refusal(
            "bounds",
            f"the new limit {human_bytes(new)} is below the current usage {human_bytes(usage)}: the "
            "container would be OOM-killed at once; choose a limit above the usage",
        )
    if spec.name in ("lower_memory", "revert_memory"):
        if usage is None:
            return Refusal("invalid", f"{spec.name} needs current_usage_bytes to check the new limit against")
        if spec.name == "revert_memory" and not current:
            return Refusal(
                "invalid", "revert_memory needs current_limit_bytes: only a raised limit can be undone"
            )
        if current and new >= current:
            return Refusal("invalid", f"{human_bytes(new)} is not below the current limit; use raise_memory")
        return None  # revert_memory: the gate checks the audit log next (safety/revert.py)
    if not current:
        return Refusal(
            "bounds",
            "the container has no memory limit now, so any limit lowers it: that is lower_memory "
            "(admin mode); leave it unlimited or ask a human",
        )
    if new <= current:
        return Refusal(
            "invalid",
            f"{human_bytes(new)} is not above the current limit {human_bytes(current)}; lowering is "
            "lower_memory (admin mode)",
        )
    bounds = None if settings.mode.allows(Mode.ADMIN) else _operate_bounds(current, new, settings)
    if bounds is not None:
        return bounds
    # in every mode, admin too: a raise that starves the host hurts every service on it
    headroom = memory_headroom(change, settings)
    if headroom is not None and not headroom.fits:
        return Refusal("bounds", headroom.line(), escalate=True)
    return None


def _operate_bounds(current: int, new: int, settings: SafetySettings) -> Refusal | None:
    ceiling = min(int(current * settings.memory_raise_max_factor), settings.memory_raise_ceiling_bytes)
    if current >= settings.memory_raise_ceiling_bytes:
        return Refusal(
            "bounds",
            f"the limit {human_bytes(current)} is already at the ceiling "
            f"{human_bytes(settings.memory_raise_ceiling_bytes)} for operate mode; escalate to a human "
            "(a leak or a real need for more memory)",
            escalate=True,
        )
    if new > ceiling:
        return Refusal(
            "bounds",
            f"operate mode raises a limit to at most {human_bytes(ceiling)} (≤ "
            f"{settings.memory_raise_max_factor:g}× the current {human_bytes(current)} and ≤ "
            f"{human_bytes(settings.memory_raise_ceiling_bytes)}); ask for at most {ceiling} bytes, "
            "or escalate to a human for more",
        )
    return None


def _check_prune(request: ActionRequest) -> Refusal | None:
    what = request.details.get("what")
    if not isinstance(what, list) or not what or not all(isinstance(w, str) for w in what):
        return Refusal("invalid", f"prune needs details.what, a list of: {', '.join(PRUNABLE)}")
    if "volumes" in what:
        return Refusal(
            "protected",
            "pruning volumes can delete database data and is never allowed; remove unused volumes one "
            "by one by name (action remove) after checking what they hold",
            escalate=True,
        )
    unknown = sorted(set(what) - set(PRUNABLE))
    if unknown:
        return Refusal("invalid", f"prune cannot prune {unknown[0]!r}; choose from {', '.join(PRUNABLE)}")
    return None
