"""The ASGI application: Ollama's HTTP API routes, each request recorded, answers from the script.

Routes: `GET /` ("Ollama is running"), `GET /api/version`, `GET /api/tags`, `GET /api/ps`,
`POST /api/show`, `POST /api/chat`, `POST /api/embed`. Anything else: 404 "404 page not found"
as text, like Ollama's router. Checks and their order follow `server/routes.go`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from .catalog import Catalog, ModelCard, full_name, normalize_name
from .chat import Generation, answer_error, build_generation, format_mismatch, pause, respond, thinking_level
from .estimate import count_tokens, embed_text, estimate_prompt, normalize
from .records import RecordedRequest, Recorder
from .script import AnswerTurn, Delay, ErrorTurn, Malformed, Reply, Script, ToolCallError
from .wire import (
    BUSY_MESSAGE,
    WireError,
    created_at,
    error_response,
    expect_type,
    json_response,
    parse_body,
    parse_chat,
)

OLLAMA_VERSION = "0.32.15"
KEEP_ALIVE_NS = 5 * 60 * 1_000_000_000  # a model stays loaded 5 minutes after its last request


@dataclass
class StandInState:
    """Everything the routes share: models, script, recordings, and whether Ollama is "busy"."""

    catalog: Catalog
    script: Script = field(default_factory=Script)
    recorder: Recorder = field(default_factory=Recorder)
    version: str = OLLAMA_VERSION
    embedding_dimension: int | None = None
    unavailable: bool = False
    stopping: bool = False  # set while the server goes down: delays end, streams stop
    loaded: dict[str, tuple[int, int]] = field(default_factory=dict)  # model → (expires ns, context)


Handler = Callable[[Request, RecordedRequest], Awaitable[Response]]


class OllamaApp:
    """ASGI app answering like Ollama, from a `StandInState`."""

    def __init__(self, state: StandInState) -> None:
        self.state = state
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/"): self.root,
            ("GET", "/api/version"): self.version,
            ("GET", "/api/tags"): self.tags,
            ("GET", "/api/ps"): self.ps,
            ("POST", "/api/show"): self.show,
            ("POST", "/api/chat"): self.chat,
            ("POST", "/api/embed"): self.embed,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # uvicorn runs with lifespan="off": nothing to start or stop
            return
        request = Request(scope, receive)
        method = "GET" if request.method == "HEAD" else request.method
        record = self.state.recorder.add(RecordedRequest(method=request.method, path=request.url.path))
        handler = self.routes.get((method, request.url.path))
        if handler is None:
            response: Response = PlainTextResponse("404 page not found", status_code=404)
        elif self.state.unavailable:
            response = error_response(503, BUSY_MESSAGE)
        else:
            try:
                response = await handler(request, record)
            except WireError as exc:
                response = error_response(exc.status, exc.message)
            except Exception as exc:  # a stand-in bug: answer like Ollama would, and fail the test
                self.state.recorder.problem(f"stand-in crashed on {record.path}: {exc!r}")
                response = error_response(500, f"stand-in crashed: {exc}")
        record.status = response.status_code
        if not record.answer:
            record.answer = f"error {response.status_code}" if response.status_code >= 400 else "ok"
        self.state.recorder.answered(record)
        await response(scope, receive, send)

    # -- small endpoints -----------------------------------------------------------------
    async def root(self, request: Request, record: RecordedRequest) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(self, request: Request, record: RecordedRequest) -> Response:
        return json_response({"version": self.state.version})

    async def tags(self, request: Request, record: RecordedRequest) -> Response:
        return json_response(self.state.catalog.tags())

    async def ps(self, request: Request, record: RecordedRequest) -> Response:
        """Models used in the last 5 minutes, like `ollama ps`."""
        now_wall, now = time.time_ns(), time.monotonic_ns()
        models = []
        for key, (expires, context) in self.state.loaded.items():
            card = self.state.catalog.get(key)
            if card is None or expires <= now:
                continue
            models.append(
                {
                    **{k: v for k, v in card.tag_entry().items() if k != "modified_at"},
                    "expires_at": created_at(now_wall + (expires - now)),
                    "size_vram": card.size,
                    "context_length": context,
                }
            )
        return json_response({"models": models})

    async def show(self, request: Request, record: RecordedRequest) -> Response:
        body = parse_body(await request.body(), "ShowRequest")
        record.body = body
        expect_type(body, "model", ("string",), "ShowRequest", "string")
        name = str(body.get("model") or body.get("name") or "")
        record.model = name or None
        if not name:
            raise WireError(400, "model is required")
        card = self.state.catalog.get(name)
        if card is None:
            raise WireError(404, f"model '{normalize_name(name)}' not found")
        return json_response(card.show())

    # -- embeddings ------------------------------------------------------------------------
    async def embed(self, request: Request, record: RecordedRequest) -> Response:
        started = time.monotonic_ns()
        body = parse_body(await request.body(), "EmbedRequest")
        record.body = body
        expect_type(body, "model", ("string",), "EmbedRequest", "string")
        expect_type(body, "dimensions", ("number",), "EmbedRequest", "int")
        expect_type(body, "truncate", ("bool",), "EmbedRequest", "bool")
        name = str(body.get("model") or "")
        record.model = name or None
        texts = _embed_inputs(body.get("input"))
        card = self.state.catalog.get(name)
        if card is None:
            raise WireError(404, f"model '{name}' not found")
        self._mark_loaded(card, card.context_length)
        if not texts:
            return json_response({"model": name, "embeddings": []})
        counts = await asyncio.to_thread(lambda: [count_tokens(t) for t in texts])
        if body.get("truncate") is False and max(counts) > card.context_length:
            raise WireError(400, "the input length exceeds the context length")
        dimension = self.state.embedding_dimension or card.embedding_length
        vectors = [embed_text(text, dimension) for text in texts]
        wanted = int(body.get("dimensions") or 0)
        if 0 < wanted < dimension:
            vectors = [normalize(v[:wanted]) for v in vectors]
        total = max(1, time.monotonic_ns() - started)
        return json_response(
            {
                "model": name,
                "embeddings": vectors,
                "total_duration": total,
                "load_duration": max(1, total // 10),
                "prompt_eval_count": max(1, sum(counts)),
            }
        )

    # -- chat ------------------------------------------------------------------------------
    async def chat(self, request: Request, record: RecordedRequest) -> Response:
        started = time.monotonic_ns()
        body = parse_body(await request.body(), "ChatRequest")
        record.body = body
        req = parse_chat(body)
        record.model, record.stream, record.messages = req.model or None, req.stream, req.messages
        record.tools, record.think, record.format = req.tools, req.think, req.format
        record.options, record.num_ctx = req.options, req.num_ctx
        if not req.model:
            raise WireError(400, "model is required")
        card = self.state.catalog.get(req.model)
        if card is None:
            raise WireError(404, f"model '{req.model}' not found")
        if not req.messages and _is_zero_duration(req.keep_alive):  # an unload request
            self.state.loaded.pop(card.key, None)
            return _empty_reply(req.model, "unload", record)
        level = thinking_level(card, req.think, req.model)
        if not card.can("completion"):
            raise WireError(400, f'"{req.model}" does not support chat')
        if req.tools and not card.can("tools"):
            raise WireError(400, f"{full_name(req.model)} does not support tools")
        window = req.num_ctx or card.default_num_ctx
        self._mark_loaded(card, window)
        if not req.messages:  # a load request
            return _empty_reply(req.model, "load", record)
        estimate = await asyncio.to_thread(estimate_prompt, req.messages, req.tools)
        record.context_window, record.prompt_tokens = window, estimate.total
        record.tool_tokens, record.exceeds_context = estimate.tool_tokens, estimate.total > window
        problem = req.format_problem()
        if problem is not None:
            raise problem
        gen = Generation(model=req.model, prompt_eval_count=min(estimate.total, window), started_ns=started)
        picked = await self._pick(req.model, req.messages)
        if picked is None:
            last = next((str(m.get("content") or "") for m in reversed(req.messages)), "")
            text = (
                f"stand-in script: no turn left for model '{req.model}' and no rule matched "
                f"the last message {last[:120]!r}"
            )
            self.state.recorder.problem(text)
            raise WireError(500, text)
        turn, record.answer = picked
        await pause(turn.delay, self._stopping)
        gen.loaded_ns = time.monotonic_ns()
        if isinstance(turn, ErrorTurn | ToolCallError):
            return answer_error(turn, gen, req.stream, level, self._stopping)
        # a tool call with no text is not an answer yet: `format` constrains only the final answer
        if isinstance(turn, Reply) and turn.check_format and (turn.text() or not turn.tool_calls):
            mismatch = format_mismatch(turn.text(), req.format)
            if mismatch is not None:
                text = f"stand-in script: {record.answer} does not fit the request's format: {mismatch}"
                self.state.recorder.problem(text)
                raise WireError(500, text)
        build_generation(turn, gen, level)
        await asyncio.to_thread(lambda: gen.eval_count)  # first use may load the tokenizer
        record.reply = {"content": gen.content, "thinking": gen.thinking, "tool_calls": gen.tool_calls}
        return respond(gen, req.stream, self._stopping)

    def _stopping(self) -> bool:
        return self.state.stopping

    async def _pick(self, model: str, messages: list[dict[str, Any]]) -> tuple[AnswerTurn, str] | None:
        """The next turn for `model` (bare delays waited out), else a matching rule, else the default."""
        script = self.state.script
        while True:
            turn = script.take_turn(model)
            number = self.state.recorder.next_turn_number() if turn is not None else 0
            if isinstance(turn, Delay):
                await pause(turn.delay, self._stopping)
                continue
            if isinstance(turn, Reply | Malformed | ErrorTurn | ToolCallError):
                kind = "malformed " if isinstance(turn, Malformed) else ""
                return turn, f"{kind}turn {number}"
            return script.match(model, messages)

    def _mark_loaded(self, card: ModelCard, context: int) -> None:
        self.state.loaded[card.key] = (time.monotonic_ns() + KEEP_ALIVE_NS, context)


def _empty_reply(model: str, reason: str, record: RecordedRequest) -> Response:
    """The answer to a chat with no messages: the model was loaded ("load") or unloaded ("unload")."""
    record.answer = reason
    message = {"role": "assistant", "content": ""}
    return json_response(
        {"model": model, "created_at": created_at(), "message": message, "done": True, "done_reason": reason}
    )


def _is_zero_duration(keep_alive: Any) -> bool:
    """`keep_alive` 0, "0", "0s", "0m"...: unload the model now."""
    if isinstance(keep_alive, int | float) and not isinstance(keep_alive, bool):
        return keep_alive == 0
    return isinstance(keep_alive, str) and keep_alive.strip().rstrip("hms").strip() in ("0", "0.0")


def _embed_inputs(value: Any) -> list[str]:
    """`input` as Ollama's EmbedHandler reads it: a string ("" = nothing) or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise WireError(400, "invalid input type")
