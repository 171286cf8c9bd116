"""Runbooks: YAML files in `runbooks/`, schema-checked, served as `runbook://{name}` resources.

A runbook says, for one kind of incident, what to gather, which fixes may apply and when (conditions
over facts that code computes), how to verify a fix, how to undo it, and when to call a human. The
agent host executes them when no model is reachable, and gives them to the model as the only
candidates when one is; the server checks every action again whoever asks.
"""

from .arguments import ArgumentFillError, fill, placeholders_in
from .conditions import Condition, all_hold
from .facts import FACTS, TARGET_PLACEHOLDERS, FactSpec
from .loader import DEFAULT_DIR, RunbookError, RunbookLibrary, parse_runbook, parse_runbook_text
from .model import Action, Check, ContextCall, EscalateRule, Runbook, Solution, ToolCall, Trigger, Verify

__all__ = [
    "DEFAULT_DIR",
    "FACTS",
    "TARGET_PLACEHOLDERS",
    "Action",
    "ArgumentFillError",
    "Check",
    "Condition",
    "ContextCall",
    "EscalateRule",
    "FactSpec",
    "Runbook",
    "RunbookError",
    "RunbookLibrary",
    "Solution",
    "ToolCall",
    "Trigger",
    "Verify",
    "all_hold",
    "fill",
    "parse_runbook",
    "parse_runbook_text",
    "placeholders_in",
]
