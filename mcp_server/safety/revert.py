"""Undoing this server's own memory raise in operate mode (action `revert_memory`).

Lowering a memory limit needs admin mode and a human (`lower_memory`): a lower limit can get a
container OOM-killed. One lowering is safe enough for operate mode: putting back the limit that a
raise by this same server replaced, soon after, while nothing else has changed it. That is what
the agent's rollback does when a raise made things worse, and a tool must be able to revert its
own change. The audit log is the proof, read here:

- the newest allowed, real memory change (raise_memory, lower_memory or revert_memory) of exactly
  this target (same host, project and service) is a raise_memory that ended ok;
- it is at most `memory_revert_window_s` old;
- every container's limit is still the one it set (`new_limit_bytes`): nobody changed it since;
- the limit asked for now is exactly the one it replaced (its `current_limit_bytes`).

Anything else is refused with the reason. The usage check of every lowering (policy.py) comes
first and still applies: a revert below what the container uses now would kill it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mcp_server.safety.audit import AuditEntry, AuditLog
from mcp_server.safety.clock import human_duration, to_epoch
from mcp_server.safety.policy import MemoryChange, Refusal, human_bytes
from mcp_server.safety.targets import Target

MEMORY_CHANGES = ("raise_memory", "lower_memory", "revert_memory")
_ADMIN = "any other lowering is lower_memory, which needs admin mode and a human"
_ESCALATE = "Do not retry: escalate to a human"


@dataclass(frozen=True)
class RevertCheck:
    """Whether a lowering undoes this server's own last raise: `refusal` None = yes, and
    `undoes` names that raise (`undoes this server's raise of api from 32 MiB to 64 MiB at …`)."""

    refusal: Refusal | None
    undoes: str = ""

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def check_revert(
    last: AuditEntry | None, target: Target, change: MemoryChange, *, now: float, window_s: float
) -> RevertCheck:
    """Judge `change` (a lowering of `target`) against `last`, the newest audited memory change of
    the same target (`AuditLog.latest_change`), at `now` (epoch s)."""
    who = target.service or target.name or target.describe()
    old, current = change.new_limit_bytes, change.current_limit_bytes or 0
    asked = f"{who} from {human_bytes(old)} to {human_bytes(current)}"
    window = _window(window_s)
    if window_s <= 0:
        return _no("undoing this server's own raises is turned off here (memory_revert_window_s is 0)")
    if last is None:
        return _no(f"no raise of {asked} by this server in the last {window} to undo")
    if last.action != "raise_memory":
        return _no(
            f"the last memory change of {who} by this server was {last.action} at {last.ts}, not a "
            "raise, so there is no raise of its to undo"
        )
    raised = _limits_of(last.arguments)
    if raised is None:
        return _no(f"the audit row of the last raise of {who} (at {last.ts}) has no readable limits")
    before, after = raised
    what = f"raise of {who} from {human_bytes(before)} to {human_bytes(after)} at {last.ts}"
    age = now - to_epoch(datetime.fromisoformat(last.ts))
    if age > window_s:
        return _no(
            f"no raise of {asked} by this server in the last {window} to undo (its last {what} is older)"
        )
    if last.result != "ok":
        return _no(f"this server's last {what} ended with {last.result}, so what it changed is uncertain")
    limits = set(change.container_limits_bytes or [current])
    if limits != {after}:
        now_text = " and ".join(human_bytes(v) if v else "none" for v in sorted(limits))
        return _no(
            f"the limit of {who} is {now_text} now, not the {human_bytes(after)} that this server's "
            f"last {what} set: it was changed since, so lowering it is no undo"
        )
    if old != before:
        return _no(
            f"this server's last {what} is undone only by restoring exactly {human_bytes(before)}, not "
            f"{human_bytes(old)}: send memory '{before}b' to undo it",
            retry_hint=True,
        )
    return RevertCheck(None, f"undoes this server's {what} ({human_duration(age)} ago)")


def read_revert(
    audit: AuditLog, target: Target, details: dict[str, Any], *, now: float, window_s: float
) -> RevertCheck:
    """`check_revert` with the newest memory change read from `audit` (synchronous: run it in a
    worker thread). `details` are set_memory_limit's request details (policy.MemoryChange)."""
    try:
        change = MemoryChange.model_validate(details)
    except ValidationError:
        return RevertCheck(
            Refusal("invalid", "revert_memory needs details new_limit_bytes and current_limit_bytes (bytes)")
        )
    last = audit.latest_change(target.key(), MEMORY_CHANGES)
    return check_revert(last, target, change, now=now, window_s=window_s)


def _no(why: str, *, retry_hint: bool = False) -> RevertCheck:
    end = _ADMIN if retry_hint else f"{_ADMIN}. {_ESCALATE}"
    return RevertCheck(Refusal("mode", f"{why}; {end}", escalate=not retry_hint))


def _limits_of(arguments: Any) -> tuple[int, int] | None:
    """(limit before, limit after) of an audited raise, or None when the row does not say."""
    if not isinstance(arguments, dict):
        return None  # cut at the size limit: no longer JSON
    before, after = arguments.get("current_limit_bytes"), arguments.get("new_limit_bytes")
    if not isinstance(before, int) or not isinstance(after, int) or isinstance(before, bool):
        return None
    return before, after


def _window(seconds: float) -> str:
    """`24 h`, `90 min`: the revert window as a person writes it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    return human_duration(seconds)
