"""What the stand-in received: one `RecordedRequest` per HTTP request, for tests to assert on."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# enough for any test; a lab run of days keeps its memory bounded (the oldest are dropped)
MAX_RECORDS = 10_000


@dataclass
class RecordedRequest:
    """One request as received, and how it was answered.

    For `/api/chat`: `messages`, `tools`, `think`, `format`, `options` and `num_ctx` as sent;
    `prompt_tokens` (messages + tools + system framing, o200k estimate) and `tool_tokens` (the
    tool definitions alone); `exceeds_context` when the prompt is larger than the context window
    the request gets (`num_ctx`, else the model's default), where real Ollama cuts the start.
    `answer` says what answered: "turn 3", "rule 'OOMKilled'", "default", "error 500", ...
    """

    method: str
    path: str
    body: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    stream: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    think: bool | str | None = None
    format: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    num_ctx: int | None = None
    context_window: int | None = None
    prompt_tokens: int = 0
    tool_tokens: int = 0
    exceeds_context: bool = False
    status: int = 0
    answer: str = ""
    reply: dict[str, Any] | None = None

    @property
    def tool_names(self) -> list[str]:
        return [str((tool.get("function") or {}).get("name", "")) for tool in self.tools]

    @property
    def last_message(self) -> dict[str, Any] | None:
        return self.messages[-1] if self.messages else None

    def describe(self) -> str:
        return f"{self.method} {self.path} model={self.model!r} → {self.status} ({self.answer})"


class Recorder:
    """The requests received, in order (the last `MAX_RECORDS`), and the script problems found.

    `on_answered`, when set, is called with each record once its answer is known (the command
    line prints them). Thread-safe: the server's thread adds, the test's thread reads.
    """

    def __init__(self, on_answered: Callable[[RecordedRequest], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._requests: deque[RecordedRequest] = deque(maxlen=MAX_RECORDS)
        self._problems: list[str] = []
        self.turns_used = 0
        self.on_answered = on_answered

    def add(self, record: RecordedRequest) -> RecordedRequest:
        with self._lock:
            self._requests.append(record)
        return record

    def answered(self, record: RecordedRequest) -> None:
        if self.on_answered is not None:
            self.on_answered(record)

    def problem(self, text: str) -> None:
        with self._lock:
            self._problems.append(text)

    def next_turn_number(self) -> int:
        with self._lock:
            self.turns_used += 1
            return self.turns_used

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def problems(self) -> list[str]:
        with self._lock:
            return list(self._problems)
