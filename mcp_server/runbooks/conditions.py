"""Conditions over facts: `{fact: exit_code, in: [126, 127]}`, evaluated by code, never by a model.

One condition names one fact (see `facts.FACTS`) and exactly one test. A condition on a fact that is
unknown for this incident is false (only `present: false` holds then), so a runbook that needs a
fact acts only when it is known. `explain` gives the line a decision record shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .facts import FACTS

# test name -> fact types it applies to
_TESTS: dict[str, tuple[str, ...]] = {
    "equals": ("bool", "number", "string"),
    "not_equals": ("bool", "number", "string"),
    "in": ("number", "string"),
    "at_least": ("number",),
    "at_most": ("number",),
    "above": ("number",),
    "below": ("number",),
    "contains": ("list", "string"),
    "matches": ("string",),
    "present": ("bool", "number", "string", "list"),
    "empty": ("list",),
}
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "number": (int, float),
    "string": (str,),
    "list": (list,),
}


class Condition(BaseModel):
    """`fact` plus exactly one test, e.g. `{fact: memory_percent, at_least: 90}`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    fact: str
    equals: bool | float | str | None = None
    not_equals: bool | float | str | None = None
    in_: list[float | str] | None = Field(default=None, alias="in")
    at_least: float | None = None
    at_most: float | None = None
    above: float | None = None
    below: float | None = None
    contains: str | None = None
    matches: str | None = None
    present: bool | None = None
    empty: bool | None = None

    @model_validator(mode="after")
    def _one_known_test(self) -> Condition:
        spec = FACTS.get(self.fact)
        if spec is None:
            raise ValueError(f"unknown fact {self.fact!r}; known facts: {', '.join(sorted(FACTS))}")
        tests = [name for name in _TESTS if self._operand(name) is not None]
        if len(tests) != 1:
            raise ValueError(
                f"condition on {self.fact!r} needs exactly one test of: {', '.join(_TESTS)} (got {len(tests)})"
            )
        test = tests[0]
        if spec.type not in _TESTS[test]:
            raise ValueError(f"test {test!r} does not apply to {self.fact!r}, which is a {spec.type}")
        operand = self._operand(test)
        wrong_bool = spec.type == "number" and isinstance(operand, bool)
        if test in ("equals", "not_equals") and (wrong_bool or not isinstance(operand, _PY_TYPES[spec.type])):
            raise ValueError(f"{self.fact!r} is a {spec.type}; {test}: {operand!r} can never match")
        if test == "matches":
            try:
                re.compile(str(operand))
            except re.error as exc:
                raise ValueError(f"matches: not a valid regular expression ({exc})") from None
        return self

    def _operand(self, test: str) -> Any:
        return self.in_ if test == "in" else getattr(self, test)

    @property
    def test(self) -> str:
        return next(name for name in _TESTS if self._operand(name) is not None)

    def holds(self, facts: Mapping[str, Any]) -> bool:
        """True when the fact is known and passes the test (see the module docstring)."""
        test, operand = self.test, self._operand(self.test)
        value = facts.get(self.fact)
        if test == "present":
            return (value is not None) == operand
        if value is None:
            return False
        if test == "equals":
            return bool(value == operand)
        if test == "not_equals":
            return bool(value != operand)
        if test == "in":
            return value in operand
        if test == "contains":
            return operand in value
        if test == "matches":
            return re.search(str(operand), str(value)) is not None
        if test == "empty":
            return (len(value) == 0) == operand
        number = float(value)
        limit = float(operand)
        return {
            "at_least": number >= limit,
            "at_most": number <= limit,
            "above": number > limit,
            "below": number < limit,
        }[test]

    def explain(self, facts: Mapping[str, Any]) -> str:
        """`memory_percent at_least 90: yes (96.2)` — one line for a decision record."""
        value = facts.get(self.fact)
        shown = "unknown" if value is None else repr(value)
        verdict = "yes" if self.holds(facts) else "no"
        return f"{self.fact} {self.test} {self._operand(self.test)!r}: {verdict} ({shown})"


def all_hold(conditions: list[Condition], facts: Mapping[str, Any]) -> bool:
    return all(c.holds(facts) for c in conditions)
