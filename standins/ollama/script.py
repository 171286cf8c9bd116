"""What the scripted model answers: turns consumed in order, rules matched on the last message, a default.

A turn is a dict (from Python, YAML or JSON); the keys say which kind it is:

    {"content": "...", "thinking": "...", "tool_calls": [{"name": "read_logs", "arguments": {...}}]}
    {"json": {...}}                  # a reply whose content is this value as JSON (for `format`)
    {"error": "model crashed", "status": 500}          # answered as Ollama's {"error": ...}
    {"tool_call_error": '{"name": "x", "arguments": {'}  # 500 "error parsing tool call: raw='...', err=..."
    {"malformed": "not JSON"}        # content that does not fit the request's `format`, on purpose
    {"delay": 2.5}                   # wait, then answer the same request with the next turn
    {"match": "OOMKilled", "reply": {...}}   # a rule: reply when the last user/tool message contains it

Every turn may carry `model` (only requests for that model take it) and `delay` (seconds to wait
first). A request takes the first queued turn for its model; when none is left, the first rule that
matches; then the default; otherwise the stand-in answers 500 and reports a script problem.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .catalog import normalize_name


class _Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str | None = None
    delay: float = Field(default=0.0, ge=0)

    def for_model(self, name: str) -> bool:
        return self.model is None or normalize_name(self.model) == normalize_name(name)


class ToolCallSpec(BaseModel):
    """One tool call the model makes: `{"name": ..., "arguments": {...}}` (or Ollama's `{"function": {...}}`)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unwrap_function(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and set(data) <= {"function", "id", "type"} and "function" in data:
            return data["function"]
        return data


class Reply(_Turn):
    """The model answers: `content` (or `json`, sent as compact JSON), `thinking`, `tool_calls`.

    `check_format` (default on): the content must fit the request's `format` ("json" or a schema),
    as real Ollama constrains it; a reply that does not is a script mistake, reported at teardown.
    When thinking is on and no `thinking` is given, a short generated one is sent (longer for "high").
    """

    content: str | None = None
    json_value: Any = Field(default=None, alias="json")
    thinking: str | None = None
    tool_calls: list[ToolCallSpec] = Field(default_factory=list)
    done_reason: str = "stop"
    check_format: bool = True
    stream_delay: float = Field(default=0.0, ge=0)  # seconds between streamed chunks (a slow model)

    def text(self) -> str:
        if self.json_value is not None:
            return json.dumps(self.json_value, separators=(",", ":"))
        return self.content or ""


class Malformed(_Turn):
    """A reply whose content does not fit the request's `format` (to test the product's validation)."""

    malformed: str | bool = True
    thinking: str | None = None

    def text(self) -> str:
        # `true` picks a typical failure: the answer in prose instead of the requested JSON
        return "The root cause is probably memory." if self.malformed is True else str(self.malformed)


class ErrorTurn(_Turn):
    """Ollama answers `{"error": error}` with `status`; `mid_stream`: when streaming, after the
    thinking chunks, as a final `{"error": ...}` line of a 200 response (as Ollama does)."""

    error: str
    status: int = Field(default=500, ge=400, le=599)
    mid_stream: bool = False


class ToolCallError(_Turn):
    """The model wrote a tool call Ollama cannot parse: 500 `error parsing tool call: raw='…', err=…`."""

    tool_call_error: str

    @field_validator("tool_call_error")
    @classmethod
    def _must_not_parse(cls, raw: str) -> str:
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return raw
        if isinstance(parsed, dict):
            raise ValueError("Ollama parses this as tool-call arguments; give text that is not a JSON object")
        return raw


class Delay(_Turn):
    """Wait `delay` seconds, then answer the same request with the next turn."""

    delay: float = Field(..., ge=0)


Turn = Reply | Malformed | ErrorTurn | ToolCallError | Delay
AnswerTurn = Reply | Malformed | ErrorTurn | ToolCallError


class Rule(BaseModel):
    """Reply with `reply` when the last user or tool message contains `match` (case-insensitive)
    or matches `regex`. `role` narrows which message is looked at; `times` caps how often it fires."""

    model_config = ConfigDict(extra="forbid")

    match: str | None = None
    regex: str | None = None
    role: Literal["user", "tool", "any"] = "any"
    model: str | None = None
    times: int | None = Field(default=None, ge=1)
    reply: Any

    @field_validator("reply", mode="before")
    @classmethod
    def _parse_reply(cls, value: Any) -> AnswerTurn:
        turn = parse_turn(value)
        if isinstance(turn, Delay):
            raise ValueError("a rule's reply cannot be a bare delay; put `delay` inside the reply")
        return turn

    @model_validator(mode="after")
    def _one_pattern(self) -> Rule:
        if (self.match is None) == (self.regex is None):
            raise ValueError("a rule needs exactly one of `match` (text) or `regex`")
        if self.regex is not None:
            re.compile(self.regex)
        return self

    def describe(self) -> str:
        return f"rule {self.match!r}" if self.match is not None else f"rule /{self.regex}/"

    def matches(self, model: str, messages: Sequence[Mapping[str, Any]]) -> bool:
        if self.model is not None and normalize_name(self.model) != normalize_name(model):
            return False
        roles = ("user", "tool") if self.role == "any" else (self.role,)
        text = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") in roles), None)
        if text is None:
            return False
        if self.match is not None:
            return self.match.lower() in text.lower()
        return re.search(str(self.regex), text) is not None


_KIND_BY_KEY: tuple[tuple[str, type[_Turn]], ...] = (
    ("error", ErrorTurn),
    ("tool_call_error", ToolCallError),
    ("malformed", Malformed),
)


def parse_turn(raw: Any) -> Turn:
    """A turn from a dict (or a Turn); ValueError names the problem and the keys that are allowed."""
    if isinstance(raw, Reply | Malformed | ErrorTurn | ToolCallError | Delay):
        return raw
    if not isinstance(raw, Mapping):
        raise ValueError(f"a turn is a mapping like {{'content': 'hi'}}, got {type(raw).__name__}")
    kind: type[_Turn] = Reply
    for key, candidate in _KIND_BY_KEY:
        if key in raw:
            kind = candidate
            break
    else:
        if "delay" in raw and set(raw) <= {"delay", "model"}:
            kind = Delay
    try:
        return kind.model_validate(dict(raw))  # type: ignore[return-value]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'turn'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"bad {kind.__name__.lower()} turn {dict(raw)!r}: {problems}") from None


def parse_entries(entries: Iterable[Any]) -> tuple[list[Turn], list[Rule]]:
    """Split a script list into turns and rules (entries with `match` or `regex` are rules)."""
    turns: list[Turn] = []
    rules: list[Rule] = []
    for index, entry in enumerate(entries):
        try:
            if isinstance(entry, Rule):
                rules.append(entry)
            elif isinstance(entry, Mapping) and ("match" in entry or "regex" in entry):
                rules.append(Rule.model_validate(dict(entry)))
            else:
                turns.append(parse_turn(entry))
        except (ValidationError, ValueError, re.error) as exc:
            raise ValueError(f"script entry {index + 1}: {exc}") from None
    return turns, rules


def load_script_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON script file as `{"turns": [...], "rules": [...], "default": {...} | None}`.

    The file holds either a list of entries or a mapping with `turns`, `rules` and `default`.
    """
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if data is None:
        return {"turns": [], "rules": [], "default": None}
    if isinstance(data, list):
        return {"turns": data, "rules": [], "default": None}
    if not isinstance(data, dict) or not set(data) <= {"turns", "rules", "default"}:
        raise ValueError(f"{path}: a script is a list of turns, or a mapping with turns, rules and default")
    return {
        "turns": data.get("turns") or [],
        "rules": data.get("rules") or [],
        "default": data.get("default"),
    }


class Script:
    """The queue of turns, the rules and the default; safe to change from the test's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: list[Turn] = []
        self._rules: list[Rule] = []
        self._fired: dict[int, int] = {}
        self.default: AnswerTurn | None = None

    def add(self, entries: Iterable[Any]) -> None:
        turns, rules = parse_entries(entries)
        with self._lock:
            self._turns.extend(turns)
            self._rules.extend(rules)

    def set_default(self, turn: Any) -> None:
        parsed = None if turn is None else parse_turn(turn)
        if isinstance(parsed, Delay):
            raise ValueError("the default cannot be a bare delay; put `delay` inside the reply")
        with self._lock:
            self.default = parsed

    def remaining(self) -> list[Turn]:
        with self._lock:
            return list(self._turns)

    def take_turn(self, model: str) -> Turn | None:
        """Remove and return the first queued turn for `model`."""
        with self._lock:
            for index, turn in enumerate(self._turns):
                if turn.for_model(model):
                    return self._turns.pop(index)
        return None

    def match(self, model: str, messages: Sequence[Mapping[str, Any]]) -> tuple[AnswerTurn, str] | None:
        """The reply of the first rule that matches (and has not used up `times`), with its label."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.times is not None and self._fired.get(index, 0) >= rule.times:
                    continue
                if rule.matches(model, messages):
                    self._fired[index] = self._fired.get(index, 0) + 1
                    return rule.reply, rule.describe()
            if self.default is not None:
                return self.default, "default"
        return None
