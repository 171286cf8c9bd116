"""`ModelDecider`: GPT-OSS (through Ollama's native `/api/chat`) chooses among the runbook's candidates.

One incident, one conversation: the rules (prompts/system.md), the evidence (prompts/decide.md),
the read-only tools within their caps, the model's reasoning passed back on every turn, and an answer
in the decision's JSON schema (`format`), checked here again. A malformed answer is retried once with
the error shown; a second one ends the attempt (the loop decides by runbook and records why). An
answer naming an action outside the candidates, or a call to a tool that was not offered, is refused
and recorded as an attempt: such a decision can only escalate.

Ollama not answering (refused, cut, timed out, an error status) ends the attempt too, and the decider
says "runbook-only" until the model answers again: `keep_looking` (run by the monitor) asks for it
every `recheck_s`, and the first incident after that wait asks it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import ollama

from agent_host.incidents.model import Incident, now
from mcp_server.log_analysis.render import tokenizer

from .decision import NONE, AnswerRejected, Candidate, ModelDecision, check_answer, decision_schema
from .prompt import decide_prompt, system_prompt
from .settings import ModelSettings
from .tools import ReadTools, ToolBudget, ToolSelection, select_tools

ANSWER_RESERVE_TOKENS = 6000  # room left in num_ctx for the reasoning and the answer
UNREACHABLE = (ConnectionError, OSError, httpx.HTTPError, TimeoutError)


def think_level(incident: Incident) -> str:
    """gpt-oss's reasoning effort: high for critical or repeated incidents (this target had two
    incidents within the window, or a fix failed), low for a single routine signal, else medium."""
    facts = incident.facts
    if (
        incident.severity == "critical"
        or int(facts.get("recurrences_4h") or 0) >= 2
        or int(facts.get("failed_fixes") or 0) >= 1
    ):
        return "high"
    if incident.severity in ("info", "warning") and len(incident.signals) <= 1:
        return "low"
    return "medium"


def public_host(url: str) -> str:
    """The host URL without any user:password part."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or url
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class ModelDecider:
    """Asks the model for a decision; see the module docstring. `clock` is replaceable for tests.

    `available()`/`mode_note()` say whether decisions use the model now; `decide()` returns a checked
    `ModelDecision` or None with `last_failure` saying why."""

    def __init__(
        self,
        settings: ModelSettings,
        *,
        read_tools: ReadTools | None = None,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.settings = settings
        self.read_tools = read_tools  # what the loop passes to `decide` (the server's read-only tools)
        self.clock = clock
        self.last_failure: str | None = None  # why the last `decide` returned None
        self._client: ollama.AsyncClient | None = None
        self._down_since: datetime | None = None
        self._down_reason = ""
        self._next_check: datetime | None = None
        self._thinks = True  # False once the model said it cannot reason (a non-gpt-oss model)

    # -- mode ------------------------------------------------------------------------------------
    def available(self) -> bool:
        """A host is set and the model answered last time, or it is time to look for it again."""
        if not self.settings.ollama_host:
            return False
        return self._next_check is None or self.clock() >= self._next_check

    def mode_note(self) -> str:
        """How decisions are made now, as `status` and every incident record say it."""
        if not self.settings.ollama_host:
            return "runbook-only: no model configured (set OLLAMA_HOST)"
        where = f"model {self.settings.model} at {public_host(self.settings.ollama_host)}"
        if self._down_since is None or self._next_check is None:
            return where
        wait = max(0, int((self._next_check - self.clock()).total_seconds()))
        return (
            f"runbook-only: {where} unreachable since {self._down_since:%H:%M} ({self._down_reason}), "
            f"next check in {wait} s"
        )

    def _mark_down(self, reason: str) -> None:
        at = self.clock()
        if self._down_since is None:
            self._down_since = at
        self._down_reason = reason[:200]
        self._next_check = at + timedelta(seconds=self.settings.recheck_s)
        self.last_failure = f"model unreachable: {reason}"[:400]

    def _mark_up(self) -> None:
        self._down_since = None
        self._next_check = None
        self._down_reason = ""

    def client(self) -> ollama.AsyncClient:
        if self._client is None:
            self._client = ollama.AsyncClient(host=self.settings.ollama_host, timeout=self.settings.timeout_s)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client._client.aclose()
            self._client = None

    async def check(self) -> bool:
        """Look for the model now (GET /api/tags) when it is due; True when it is there."""
        if not self.available():
            return False
        try:
            listed = await self.client().list()
        except (ollama.ResponseError, *UNREACHABLE) as exc:
            self._mark_down(_why(exc))
            return False
        names = {m.model for m in listed.models}
        wanted = self.settings.model
        if wanted not in names and f"{wanted}:latest" not in names:
            self._mark_down(f"model {wanted} is not pulled there (ollama pull {wanted})")
            return False
        self._mark_up()
        return True

    async def keep_looking(self) -> None:
        """While the model is unreachable, look for it again every `recheck_s` (GET /api/tags), so
        `run`, `status` and the next incident say the real mode without an incident having to ask
        first. Runs until cancelled (the monitor starts it); a model that answers is not polled."""
        if not self.settings.ollama_host:
            return
        while True:
            due = self._next_check
            wait = self.settings.recheck_s if due is None else (due - self.clock()).total_seconds()
            await anyio.sleep(max(0.5, wait))
            if self._next_check is None or not self.available():
                continue
            try:
                await self.check()
            except Exception as exc:  # an odd answer must not stop the monitor: it counts as down
                self._mark_down(_why(exc))

    # -- deciding --------------------------------------------------------------------------------
    async def decide(
        self,
        incident: Incident,
        candidates: Sequence[Candidate],
        read_tools: ReadTools | None,
        past_outcomes: Sequence[Mapping[str, Any]] = (),
    ) -> ModelDecision | None:
        """The model's checked decision, or None (`last_failure` says why: unreachable, malformed,
        too slow)."""
        self.last_failure = None
        with anyio.move_on_after(self.settings.decision_timeout_s):
            return await self._decide(incident, candidates, read_tools, past_outcomes)
        self.last_failure = f"model took longer than {self.settings.decision_timeout_s:g} s for one decision"
        return None

    async def _decide(
        self,
        incident: Incident,
        candidates: Sequence[Candidate],
        read_tools: ReadTools | None,
        past_outcomes: Sequence[Mapping[str, Any]],
    ) -> ModelDecision | None:
        s = self.settings
        ids = [c.id for c in candidates]
        schema = decision_schema(ids)
        level: str | None = think_level(incident) if self._thinks else None
        selection = (
            select_tools(read_tools.definitions, s.max_tools, s.max_tool_tokens)
            if read_tools is not None
            else ToolSelection([], 0)
        )
        tools = [t.for_ollama() for t in selection.tools]
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt()},
            {"role": "user", "content": self._fitting_prompt(incident, candidates, past_outcomes, selection)},
        ]
        budget = ToolBudget(s.max_calls_per_tool, s.max_calls_per_incident)
        run = _Run(model=s.model, think=level)
        options: dict[str, Any] = {"num_ctx": s.num_ctx}
        if s.temperature is not None:
            options["temperature"] = s.temperature
        for _ in range(s.max_calls_per_incident + 4):  # each round is an answer or one more tool call
            try:
                response = await self.client().chat(
                    s.model, messages, tools=tools or None, think=level, format=schema,
                    options=options, stream=False,
                )  # fmt: skip
            except ollama.ResponseError as exc:
                if level is not None and "does not support thinking" in str(exc.error):
                    level = run.think = None  # a model without reasoning: ask it plainly
                    self._thinks = False
                    continue
                if "error parsing tool call" in str(exc.error) and run.retried_because is None:
                    run.retried_because = f"Ollama could not parse the tool call: {exc.error}"[:300]
                    messages.append({"role": "user", "content": _retry_text(run.retried_because)})
                    continue
                self._mark_down(f"Ollama answered {exc.status_code}: {exc.error}")
                return None
            except UNREACHABLE as exc:
                self._mark_down(_why(exc))
                return None
            self._mark_up()
            run.count(response)
            message = response.message
            messages.append(_assistant_turn(message))
            if message.tool_calls:
                for call in message.tool_calls:
                    content = await self._tool_result(call, selection, budget, read_tools, run, messages)
                    messages.append({"role": "tool", "tool_name": call.function.name, "content": content})
                continue
            try:
                answer = check_answer(message.content or "", ids)
            except AnswerRejected as exc:
                if exc.refusal:
                    run.refusals.append(f"the model chose an action outside the candidates: {exc}"[:300])
                if run.retried_because is None:
                    run.retried_because = str(exc)
                    messages.append({"role": "user", "content": _retry_text(str(exc))})
                    continue
                return self._failed(f"model answer malformed twice: {run.retried_because}; then: {exc}", run)
            return run.decision(answer.root_cause, answer.confidence, answer.solution, answer.reasons)
        return self._failed(f"model gave no answer after {s.max_calls_per_incident + 4} turns", run)

    def _failed(self, reason: str, run: _Run) -> ModelDecision | None:
        self.last_failure = reason[:600]
        if run.refusals:  # a manipulated model: no fallback to acting, a human looks
            return run.decision("(no usable answer)", 0.0, NONE, [reason[:300]])
        return None

    def _fitting_prompt(
        self,
        incident: Incident,
        candidates: Sequence[Candidate],
        past_outcomes: Sequence[Mapping[str, Any]],
        selection: ToolSelection,
    ) -> str:
        """The evidence, its log digest shortened until prompt + tools leave room for the answer
        (Ollama cuts an over-long prompt from the start, silently)."""
        s = self.settings
        room = s.num_ctx - ANSWER_RESERVE_TOKENS - selection.tokens - _count(system_prompt())
        log_chars = s.max_log_chars
        while True:
            text = decide_prompt(
                incident, candidates, past_outcomes, max_log_chars=log_chars,
                per_tool=s.max_calls_per_tool, per_incident=s.max_calls_per_incident,
            )  # fmt: skip
            if _count(text) <= room or log_chars <= 200:
                return text
            log_chars //= 2

    async def _tool_result(
        self,
        call: Any,
        selection: ToolSelection,
        budget: ToolBudget,
        read_tools: ReadTools | None,
        run: _Run,
        messages: list[dict[str, Any]],
    ) -> str:
        name = str(call.function.name)
        arguments = dict(call.function.arguments or {})
        if name not in selection.names or read_tools is None:
            run.refusals.append(
                f"the model called tool {name!r}, which was not offered (read-only only): refused"
            )
            offered = ", ".join(sorted(selection.names)) or "none"
            return f"refused: {name} is not available to you; you may only read, with: {offered}"
        refusal = budget.refuse(name)
        if refusal is not None:
            return refusal
        used = sum(
            _count(str(m.get("content") or "")) + _count(str(m.get("thinking") or "")) for m in messages
        )
        if used + selection.tokens > self.settings.num_ctx - ANSWER_RESERVE_TOKENS:
            return "refused: the context budget is used up; answer now with what you have"
        run.tool_calls.append(f"{name}({json.dumps(arguments, default=str)[:200]})")
        try:
            text = await read_tools.call(name, arguments)
        except Exception as exc:  # a failed read is evidence too; the conversation goes on
            text = f"error: {name} failed: {type(exc).__name__}: {exc}"
        limit = self.settings.max_tool_result_chars
        return text if len(text) <= limit else text[:limit] + "\n…(cut)"


class _Run:
    """What one conversation produced besides the answer."""

    def __init__(self, model: str, think: str | None) -> None:
        self.model = model
        self.think = think
        self.tool_calls: list[str] = []
        self.refusals: list[str] = []
        self.retried_because: str | None = None
        self.prompt_tokens = 0
        self.output_tokens = 0

    def count(self, response: Any) -> None:
        self.prompt_tokens += int(response.prompt_eval_count or 0)
        self.output_tokens += int(response.eval_count or 0)

    def decision(
        self, root_cause: str, confidence: float, solution: str, reasons: list[str]
    ) -> ModelDecision:
        return ModelDecision(
            root_cause=root_cause, confidence=confidence, solution=solution, reasons=list(reasons),
            model=self.model, think=self.think or "off", tool_calls=list(self.tool_calls),
            refusals=list(self.refusals), retried_because=self.retried_because,
            prompt_tokens=self.prompt_tokens, output_tokens=self.output_tokens,
        )  # fmt: skip


def _assistant_turn(message: Any) -> dict[str, Any]:
    """The assistant's turn as it goes back: reasoning, content and tool calls (gpt-oss needs its
    reasoning between calls)."""
    turn: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
    if message.thinking:
        turn["thinking"] = message.thinking
    if message.tool_calls:
        turn["tool_calls"] = [
            {"function": {"name": c.function.name, "arguments": dict(c.function.arguments or {})}}
            for c in message.tool_calls
        ]
    return turn


def _retry_text(error: str) -> str:
    return (
        f"Your answer was rejected: {error}\n"
        "Answer again with one JSON object in the schema given, choosing a solution from the candidates."
    )


def _why(exc: BaseException) -> str:
    if isinstance(exc, ollama.ResponseError):
        return f"Ollama answered {exc.status_code}: {exc.error}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]


def _count(text: str) -> int:
    return tokenizer().count(text) if text else 0
