"""Runbook conditions and argument placeholders: evaluated by code, unknown facts never match."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcp_server.runbooks import ArgumentFillError, Condition, all_hold, fill


def cond(**kw: object) -> Condition:
    return Condition.model_validate(kw)


@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        ({"fact": "exit_code", "in": [126, 127]}, {"exit_code": 127}, True),
        ({"fact": "exit_code", "in": [126, 127]}, {"exit_code": 137}, False),
        ({"fact": "exit_code", "equals": 137}, {"exit_code": 137}, True),
        ({"fact": "memory_percent", "at_least": 90}, {"memory_percent": 90.0}, True),
        ({"fact": "memory_percent", "above": 90}, {"memory_percent": 90.0}, False),
        ({"fact": "memory_percent", "below": 90}, {"memory_percent": 12}, True),
        ({"fact": "oom_killed", "equals": True}, {"oom_killed": True}, True),
        ({"fact": "oom_after_raise", "not_equals": True}, {"oom_after_raise": False}, True),
        ({"fact": "log_patterns", "contains": "missing_env"}, {"log_patterns": ["missing_env"]}, True),
        ({"fact": "upstream_down", "empty": True}, {"upstream_down": []}, True),
        ({"fact": "upstream_down", "empty": False}, {"upstream_down": ["postgres"]}, True),
        ({"fact": "domain_error", "matches": "^t"}, {"domain_error": "tls"}, True),
        # an unknown fact never matches, whatever the test (not even not_equals)
        ({"fact": "oom_after_raise", "not_equals": True}, {}, False),
        ({"fact": "upstream_down", "empty": True}, {}, False),
        ({"fact": "memory_percent", "below": 90}, {"memory_percent": None}, False),
        ({"fact": "cert_days_left", "present": False}, {}, True),
        ({"fact": "cert_days_left", "present": True}, {"cert_days_left": 3}, True),
    ],
)
def test_condition_evaluation(condition: dict[str, object], facts: dict[str, object], expected: bool) -> None:
    assert cond(**condition).holds(facts) is expected


def test_explain_shows_the_test_the_verdict_and_the_value() -> None:
    c = cond(fact="memory_percent", at_least=90)
    assert c.explain({"memory_percent": 96.2}) == "memory_percent at_least 90.0: yes (96.2)"
    assert c.explain({}) == "memory_percent at_least 90.0: no (unknown)"
    assert all_hold([c, cond(fact="oom_killed", equals=True)], {"memory_percent": 95, "oom_killed": True})
    assert not all_hold([c, cond(fact="oom_killed", equals=True)], {"memory_percent": 95})


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"fact": "nope", "equals": 1}, "unknown fact 'nope'"),
        ({"fact": "exit_code"}, "exactly one test"),
        ({"fact": "exit_code", "equals": 1, "above": 0}, "exactly one test"),
        ({"fact": "exit_code", "equals": True}, "can never match"),
        ({"fact": "running", "equals": "yes"}, "can never match"),
        ({"fact": "health", "at_least": 1}, "does not apply"),
        ({"fact": "domain_error", "matches": "("}, "not a valid regular expression"),
        ({"fact": "exit_code", "equals": 1, "bogus": 2}, "Extra inputs are not permitted"),
    ],
)
def test_bad_conditions_are_refused(condition: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        cond(**condition)


def test_fill_keeps_types_of_whole_placeholders_and_formats_the_rest() -> None:
    target = {"app_name": "shop-abc", "service": "api"}
    facts = {"proposed_memory": "512m", "restart_count": 4}
    args = {
        "app_name": "{app_name}",
        "memory": "{facts.proposed_memory}",
        "count": "{facts.restart_count}",
        "note": "{service} restarted {facts.restart_count} times",
        "what": ["images", "{service}"],
        "dry_run": True,
    }
    assert fill(args, target, facts) == {
        "app_name": "shop-abc",
        "memory": "512m",
        "count": 4,
        "note": "api restarted 4 times",
        "what": ["images", "api"],
        "dry_run": True,
    }


def test_fill_refuses_a_hole() -> None:
    with pytest.raises(ArgumentFillError, match=r"no value for \{facts.proposed_memory\}"):
        fill({"memory": "{facts.proposed_memory}"}, {"app_name": "a"}, {})
    with pytest.raises(ArgumentFillError, match=r"no value for \{service\}"):
        fill({"note": "restart {service}"}, {"app_name": "a"}, {})
