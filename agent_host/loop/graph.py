"""The incident loop as a LangGraph StateGraph — one thread per incident, checkpointed after every
node, so a killed agent resumes each incident at the node it was in:

    detect_incident → gather_context → analyze_compose → diagnose
    diagnose      ── auto | approval → wait_for_related;  escalate → escalate;
                     retarget → gather_context (a down dependency is the root cause: blame it);
                     done → END (merged into the dependency's open incident)
    wait_for_related ── auto | approval → plan_solution;  done → END (recovered once another
                     incident fixed its dependency: nothing done)
    plan_solution ── auto → execute_action;  approval | escalate → escalate
    escalate      ── approved → execute_action;  otherwise → END
    execute_action── success → verify_fix;  failure → rollback
    verify_fix    ── healthy → learn;  unhealthy → rollback;  unknown → escalate
    rollback → escalate;  learn → END

(`approval` plans before asking: the human approves the exact change a dry run showed.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from .deps import LoopDeps
from .nodes import (
    analyze_compose,
    detect_incident,
    diagnose,
    escalate,
    execute_action,
    gather_context,
    learn,
    plan_solution,
    rollback,
    verify_fix,
    wait_for_related,
)
from .state import LoopState

NODES: tuple[ModuleType, ...] = (
    detect_incident,
    gather_context,
    analyze_compose,
    diagnose,
    wait_for_related,
    plan_solution,
    escalate,
    execute_action,
    verify_fix,
    rollback,
    learn,
)


def _route(state: LoopState) -> str:
    return state.get("route", "done")


def _bind(module: ModuleType, deps: LoopDeps | None) -> Callable[[LoopState], Awaitable[LoopState]]:
    async def node(state: LoopState) -> LoopState:
        if deps is None:
            raise RuntimeError("this graph was built for drawing only (no dependencies given)")
        result: LoopState = await module.run(state, deps)
        return result

    node.__name__ = module.__name__.rsplit(".", 1)[-1]
    return node


def build_graph(deps: LoopDeps | None) -> StateGraph[LoopState]:
    """The graph; `deps=None` builds one that can only be drawn."""
    graph: StateGraph[LoopState] = StateGraph(LoopState)
    for module in NODES:
        graph.add_node(module.__name__.rsplit(".", 1)[-1], _bind(module, deps))  # type: ignore[call-overload]
    graph.add_edge(START, "detect_incident")
    graph.add_edge("detect_incident", "gather_context")
    graph.add_edge("gather_context", "analyze_compose")
    graph.add_edge("analyze_compose", "diagnose")
    graph.add_conditional_edges(
        "diagnose",
        _route,
        {
            "auto": "wait_for_related",
            "approval": "wait_for_related",
            "escalate": "escalate",
            "retarget": "gather_context",
            "done": END,
        },
    )
    graph.add_conditional_edges(
        "wait_for_related", _route, {"auto": "plan_solution", "approval": "plan_solution", "done": END}
    )
    graph.add_conditional_edges(
        "plan_solution", _route, {"auto": "execute_action", "approval": "escalate", "escalate": "escalate"}
    )
    graph.add_conditional_edges("escalate", _route, {"approved": "execute_action", "done": END})
    graph.add_conditional_edges("execute_action", _route, {"success": "verify_fix", "failure": "rollback"})
    graph.add_conditional_edges(
        "verify_fix", _route, {"healthy": "learn", "unhealthy": "rollback", "unknown": "escalate"}
    )
    graph.add_edge("rollback", "escalate")
    graph.add_edge("learn", END)
    return graph


def compile_graph(
    deps: LoopDeps, checkpointer: BaseCheckpointSaver[str] | None
) -> CompiledStateGraph[LoopState]:
    return build_graph(deps).compile(checkpointer=checkpointer)


def mermaid() -> str:
    """The graph in Mermaid, as `infraguardian-agent graph` prints it (no server needed)."""
    return build_graph(None).compile().get_graph().draw_mermaid()
