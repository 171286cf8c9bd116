"""The model in the loop: GPT-OSS through Ollama chooses among a runbook's candidate solutions.

    settings.py   ModelSettings (AgentSettings.model): host, model, num_ctx, caps, recheck
    decision.py   the answer's schema, the candidates, the checks every answer passes
    tools.py      the read-only tools offered (≤ 15, ≤ 5k o200k tokens) and their caps
    prompt.py     the messages, from prompts/system.md and prompts/decide.md
    decider.py    ModelDecider: one conversation per incident; None when unreachable or malformed

Code decides what may happen (diagnosis/decide.py `apply_model`): the model's choice is one
candidate or none, and it acts alone only where the runbook would let it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .decision import Candidate, ModelDecision, candidates_of
from .settings import ModelSettings

if TYPE_CHECKING:
    from .decider import ModelDecider

__all__ = ["Candidate", "ModelDecider", "ModelDecision", "ModelSettings", "candidates_of"]


def __getattr__(name: str) -> Any:
    # the decider imports the ollama client; the rest of the agent need not load it
    if name == "ModelDecider":
        from .decider import ModelDecider

        return ModelDecider
    raise AttributeError(name)
