"""`POST /api/chat` answered from a scripted turn, in Ollama's exact shapes.

Streaming (the default) sends NDJSON chunks: thinking pieces, content pieces, one chunk with the
tool calls, then a final chunk with `done: true`, `done_reason` and the metrics. Non-streaming
sends one object: the last chunk with content and thinking joined and the tool calls gathered
(server/routes.go `writeChatResponse`). Errors after the first chunk arrive as a last line
`{"error": ...}` in a 200 response, as Ollama's `streamResponse` does.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import string
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from starlette.responses import Response, StreamingResponse

from .catalog import ModelCard
from .estimate import count_tokens
from .script import ErrorTurn, Malformed, Reply, ToolCallError
from .wire import NDJSON_TYPE, WireError, created_at, dumps, error_response, go_json_error, json_response

_PIECE = re.compile(r"\S+\s*|\s+")
_DEFAULT_THOUGHTS = (
    "The user wants a decision about the incident described in the last message.",
    "I should look at the evidence given and pick the most likely root cause.",
    "The runbook candidates constrain which solution I may choose.",
    "Confidence should reflect how directly the evidence supports the cause.",
    "Risky actions need a human, so I should prefer the least invasive fix.",
    "Finally, answer in the requested format only.",
)
_THOUGHTS_PER_LEVEL = {"low": 1, "medium": 3, "high": 6}


async def pause(seconds: float, stopping: Callable[[], bool]) -> None:
    """Sleep `seconds`, or less when the stand-in is going down (so `down()` never waits on a delay)."""
    deadline = time.monotonic() + seconds
    # a polled flag, not an asyncio.Event: `down()` sets it from the test's thread, not this loop
    while not stopping() and (left := deadline - time.monotonic()) > 0:  # noqa: ASYNC110
        await asyncio.sleep(min(left, 0.05))


def thinking_level(card: ModelCard, think: bool | str | None, requested_name: str) -> str | None:
    """The reasoning effort the model uses, or None when it does not think.

    gpt-oss (harmony) always reasons: booleans and no `think` mean "medium", "max" means "high".
    Other thinking models think unless `think` is false. A model without the capability refuses a
    truthy `think` like Ollama: 400 `"name" does not support thinking`.
    """
    if card.can("thinking"):
        if card.harmony:
            if think in ("low", "medium", "high"):
                return str(think)
            return "high" if think == "max" else "medium"
        if think is False:
            return None
        return think if isinstance(think, str) else "medium"
    if think not in (None, False):
        raise WireError(400, f'"{requested_name}" does not support thinking')
    return None


def default_thinking(level: str) -> str:
    """A stand-in reasoning text, longer for higher effort."""
    return " ".join(_DEFAULT_THOUGHTS[: _THOUGHTS_PER_LEVEL.get(level, 3)])


def format_mismatch(content: str, fmt: Any) -> str | None:
    """Why `content` does not fit `format` ("json" or a JSON schema), or None when it fits."""
    if fmt is None:
        return None
    try:
        value = json.loads(content)
    except json.JSONDecodeError as exc:
        return f"content is not JSON ({exc.msg} at char {exc.pos})"
    if not isinstance(fmt, dict):
        return None
    validator_class = jsonschema.validators.validator_for(fmt)
    try:
        validator_class.check_schema(fmt)
    except jsonschema.SchemaError as exc:
        return f"the request's format is not a valid JSON schema: {exc.message}"
    error = jsonschema.exceptions.best_match(validator_class(fmt).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"content does not fit the schema at {where}: {error.message}"


def tool_call_id() -> str:
    """Ollama's `toolCallId()`: "call_" and 8 lower-case letters or digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "call_" + "".join(secrets.choice(alphabet) for _ in range(8))


@dataclass
class Generation:
    """What the model "generated" for one request, and its metrics."""

    model: str
    thinking: str = ""
    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    done_reason: str = "stop"
    prompt_eval_count: int = 0
    started_ns: int = field(default_factory=time.monotonic_ns)
    loaded_ns: int = field(default_factory=time.monotonic_ns)
    stream_delay: float = 0.0

    @property
    def eval_count(self) -> int:
        calls = json.dumps([c["function"] for c in self.tool_calls]) if self.tool_calls else ""
        return max(1, count_tokens(self.thinking) + count_tokens(self.content) + count_tokens(calls))

    def chunk(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"model": self.model, "created_at": created_at(), "message": message, "done": False}

    def final(self, message: dict[str, Any]) -> dict[str, Any]:
        """The `done: true` object with Ollama's metrics (durations in nanoseconds, zeros omitted)."""
        now = time.monotonic_ns()
        total = max(1, now - self.started_ns)
        load = max(1, self.loaded_ns - self.started_ns)
        generation = max(2, total - load)
        eval_count = self.eval_count
        # split the generation time between prompt and output like a GPU would (prompt ~20x faster)
        prompt_share = self.prompt_eval_count / (self.prompt_eval_count + 20 * eval_count)
        prompt_duration = max(1, int(generation * prompt_share))
        return {
            "model": self.model,
            "created_at": created_at(),
            "message": message,
            "done": True,
            "done_reason": self.done_reason,
            "total_duration": total,
            "load_duration": load,
            "prompt_eval_count": max(1, self.prompt_eval_count),
            "prompt_eval_duration": prompt_duration,
            "eval_count": eval_count,
            "eval_duration": max(1, generation - prompt_duration),
        }

    def whole(self) -> dict[str, Any]:
        """The non-streaming body: one message with everything."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.thinking:
            message["thinking"] = self.thinking
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return self.final(message)

    def chunks(self) -> list[dict[str, Any]]:
        """The streamed objects, in order (the last one is the `done` object)."""
        out = [
            self.chunk({"role": "assistant", "content": "", "thinking": piece})
            for piece in _PIECE.findall(self.thinking)
        ]
        out += [self.chunk({"role": "assistant", "content": piece}) for piece in _PIECE.findall(self.content)]
        if self.tool_calls:
            out.append(self.chunk({"role": "assistant", "content": "", "tool_calls": self.tool_calls}))
        out.append(self.final({"role": "assistant", "content": ""}))
        return out


def build_generation(turn: Reply | Malformed, gen: Generation, level: str | None) -> None:
    """Fill `gen` from a reply turn: thinking only when the model thinks, tool calls with ids."""
    if level is not None:
        gen.thinking = turn.thinking if turn.thinking is not None else default_thinking(level)
    gen.content = turn.text()
    if isinstance(turn, Reply):
        gen.done_reason = turn.done_reason
        gen.stream_delay = turn.stream_delay
        gen.tool_calls = [
            {"id": tool_call_id(), "function": {"index": i, "name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(turn.tool_calls)
        ]


def tool_call_error_message(turn: ToolCallError) -> str:
    """harmony/harmonyparser.go: `error parsing tool call: raw='<raw>', err=<Go's json error>`."""
    err = go_json_error(turn.tool_call_error, decoder=False)
    if err is None:  # valid JSON but not an object
        err = "json: cannot unmarshal into Go value of type api.ToolCallFunctionArguments"
    return f"error parsing tool call: raw='{turn.tool_call_error}', err={err}"


def respond(
    gen: Generation,
    stream: bool,
    stopping: Callable[[], bool],
    error: str | None = None,
    error_status: int = 500,
) -> Response:
    """The HTTP response for a generation; `error` is sent after the thinking (mid-stream) if any.
    A stream stops sending when `stopping()` turns true (its connection is cut by then)."""
    if not stream:
        if error is not None:
            return error_response(error_status, error)
        return json_response(gen.whole())
    if error is not None and not gen.thinking:
        return error_response(error_status, error)  # nothing written yet: a plain error status
    chunks = gen.chunks()
    if error is not None:
        chunks = [c for c in chunks if c["message"].get("thinking")]

    async def lines() -> AsyncIterator[bytes]:
        for index, chunk in enumerate(chunks):
            if index and gen.stream_delay:
                await pause(gen.stream_delay, stopping)
            if stopping():
                return
            yield (dumps(chunk) + "\n").encode()
        if error is not None:
            yield (dumps({"error": error}) + "\n").encode()

    return StreamingResponse(lines(), status_code=200, headers={"content-type": NDJSON_TYPE})


def answer_error(
    turn: ErrorTurn | ToolCallError,
    gen: Generation,
    stream: bool,
    level: str | None,
    stopping: Callable[[], bool],
) -> Response:
    """An error turn: a plain status, or mid-stream after the thinking chunks (as Ollama does)."""
    if isinstance(turn, ToolCallError):
        # harmony parses the tool call when the model is done, after the thinking was streamed
        if level is not None:
            gen.thinking = default_thinking(level)
        return respond(gen, stream, stopping, tool_call_error_message(turn), 500)
    if turn.mid_stream and level is not None:
        gen.thinking = default_thinking(level)
    if stream and turn.mid_stream:
        return respond(gen, True, stopping, turn.error, turn.status)
    return error_response(turn.status, turn.error)
