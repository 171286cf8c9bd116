"""The graph's state: the incident record (as JSON, so any checkpointer stores it) and the route the
last node chose. One LangGraph thread per incident; its thread id is the incident id."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Route = Literal[
    "auto",
    "approval",
    "escalate",
    "success",
    "failure",
    "healthy",
    "unhealthy",
    "unknown",
    "approved",
    "retarget",
    "done",
]


class LoopState(TypedDict, total=False):
    incident: dict[str, Any]
    route: Route
