"""A scripted stand-in for the MCP server, for the loop's routing tests: answers per tool, records
every call, and keeps a record of idempotency keys like the real server (a repeated key is answered
from the record, `replayed=True`, and the action is not counted again). The end-to-end tests run the
real server; this one lets each route of the graph be driven exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    ok: bool = True
    structured: dict[str, Any] | None = None
    text: str = ""
    error: str | None = None
    refused: bool = False
    needs_confirmation: bool = False
    replayed: bool = False
    outcome_unknown: bool = False


class Crash(BaseException):
    """Stands for kill -9 in the middle of a call (BaseException: nothing in the loop catches it)."""


Responder = Callable[[dict[str, Any]], Answer]


@dataclass
class FakeServer:
    answers: dict[str, Responder] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    executed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    record: dict[str, Answer] = field(default_factory=dict)
    confirmed: list[str] = field(default_factory=list)  # tools called with a human's approval
    crash_after_executing: str | None = None  # tool name: the agent "dies" right after the server acted
    lose_answer_of: str | None = None  # tool name: the server acts, the answer is lost on the way back

    def on(self, tool: str, answer: Answer | Responder) -> None:
        self.answers[tool] = answer if callable(answer) else (lambda _args, a=answer: a)

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        timeout_s: float | None = None,
        confirmed: bool = False,
    ) -> Answer:
        self.calls.append((name, dict(arguments), idempotency_key))
        if confirmed:
            self.confirmed.append(name)
        if idempotency_key and idempotency_key in self.record:
            kept = self.record[idempotency_key]
            return Answer(**{**kept.__dict__, "replayed": True})
        responder = self.answers.get(name)
        if responder is None:
            return Answer(ok=False, error=f"fake server: no answer scripted for {name}")
        answer = responder(arguments)
        if idempotency_key:
            self.executed.append((name, dict(arguments)))
            self.record[idempotency_key] = answer
            if self.crash_after_executing == name:
                self.crash_after_executing = None
                raise Crash(name)
            if self.lose_answer_of == name:
                self.lose_answer_of = None
                return Answer(ok=False, outcome_unknown=True, error="connection lost after sending")
        return answer

    def mutations(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self.executed)
