"""The text a human sees before approving a destructive action: what changes, what else it hits."""

from __future__ import annotations

from mcp_server.redaction import redact_text
from mcp_server.safety.targets import Target

MAX_LISTED = 12


def describe_blast_radius(
    target: Target,
    dependants: list[str],
    extra: str | None = None,
    *,
    action: str | None = None,
) -> str:
    """A short confirmation message (a few plain lines), e.g.

        Stop compose service db of project shop-a1b2c3 on host local?
        3 services depend on it and will fail or restart while it is down: api, worker, cron.
        Data in volumes is kept.
        Approve only if that is acceptable now.

    `dependants` are names of services that depend on the target (from the dependency graph),
    `extra` is one more fact for the human (redacted), `action` the verb (stop, kill, prune…)."""
    what = target.describe()
    lines = [f"{action.replace('_', ' ').capitalize()} {what}?" if action else f"This changes {what}."]
    names = sorted({d.strip() for d in dependants if d and d.strip()})
    if names:
        shown = ", ".join(names[:MAX_LISTED])
        more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
        noun = "service depends" if len(names) == 1 else "services depend"
        lines.append(f"{len(names)} {noun} on it and may fail or restart while it is changed: {shown}{more}.")
    else:
        lines.append("Nothing else is known to depend on it.")
    if extra and extra.strip():
        lines.append(" ".join(redact_text(extra).split()))
    lines.append("Approve only if that is acceptable now.")
    return "\n".join(lines)
