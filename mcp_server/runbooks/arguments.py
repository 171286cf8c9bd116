"""Tool arguments with placeholders: `{app_name}`, `{service}`, `{facts.proposed_memory}`.

A string that is exactly one placeholder takes the value's own type (a number stays a number);
placeholders inside a longer string are formatted in. Unknown names fail when the runbook loads
(`placeholders_in`), and a fact that is unknown at run time fails the fill (`ArgumentFillError`),
so an action never runs with a hole in its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .facts import FACTS, TARGET_PLACEHOLDERS

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\}")


class ArgumentFillError(ValueError):
    """A placeholder has no value for this incident; the message names it."""


def placeholders_in(value: Any) -> set[str]:
    """Every placeholder name used anywhere in `value` (strings, lists, mappings)."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(placeholders_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders_in(v) for v in value)) if value else set()
    return set()


def unknown_placeholder(name: str) -> str | None:
    """Why `name` is not a placeholder a runbook may use, or None when it is fine."""
    if name.startswith("facts."):
        fact = name.removeprefix("facts.")
        return None if fact in FACTS else f"unknown fact {fact!r} in {{{name}}}"
    if name in TARGET_PLACEHOLDERS:
        return None
    return f"unknown placeholder {{{name}}}; use one of {', '.join(sorted(TARGET_PLACEHOLDERS))} or {{facts.NAME}}"


def fill(value: Any, target: Mapping[str, Any], facts: Mapping[str, Any]) -> Any:
    """`value` with every placeholder replaced from `target` and `facts`."""
    if isinstance(value, Mapping):
        return {k: fill(v, target, facts) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, target, facts) for v in value]
    if not isinstance(value, str):
        return value
    whole = _PLACEHOLDER.fullmatch(value)
    if whole:
        return _lookup(whole.group(1), target, facts)
    return _PLACEHOLDER.sub(lambda m: str(_lookup(m.group(1), target, facts)), value)


def _lookup(name: str, target: Mapping[str, Any], facts: Mapping[str, Any]) -> Any:
    found = facts.get(name.removeprefix("facts.")) if name.startswith("facts.") else target.get(name)
    if found is None:
        raise ArgumentFillError(f"no value for {{{name}}} in this incident")
    return found
