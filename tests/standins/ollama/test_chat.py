"""`/api/chat` through the real `ollama` client: replies, streaming, tools, thinking, format, recording."""

from __future__ import annotations

import json
from typing import Any

import httpx
import ollama
import pytest

from standins.ollama import OllamaStandIn

from .conftest import DECISION_SCHEMA, MODEL, READ_LOGS_TOOL, user


def test_non_streaming_reply_has_ollamas_fields(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    ollama_standin.script([{"content": "The API ran out of memory."}])
    reply = client.chat(MODEL, messages=user("why did the api die?"), think="low")
    assert reply.model == MODEL
    assert reply.message.role == "assistant"
    assert reply.message.content == "The API ran out of memory."
    assert reply.done is True and reply.done_reason == "stop"
    assert reply.message.tool_calls is None
    for metric in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(reply[metric], int) and reply[metric] > 0, metric
    assert reply.total_duration is not None and reply.load_duration is not None
    assert reply.total_duration >= reply.load_duration
    assert reply.prompt_eval_count == ollama_standin.chats[0].prompt_tokens > 0
    assert reply.eval_count is not None and reply.eval_count > 5  # thinking + content tokens


def test_streaming_sends_deltas_then_one_done_chunk(
    ollama_standin: OllamaStandIn, client: ollama.Client
) -> None:
    ollama_standin.script(
        [{"content": "Memory limit too low for the api.", "thinking": "Exit 137 means OOM."}]
    )
    chunks = list(client.chat(MODEL, messages=user("why?"), stream=True, think="medium"))
    assert [c.done for c in chunks] == [False] * (len(chunks) - 1) + [True]
    thinking = "".join(c.message.thinking or "" for c in chunks)
    content = "".join(c.message.content or "" for c in chunks)
    assert thinking == "Exit 137 means OOM."
    assert content == "Memory limit too low for the api."
    # reasoning streams before the answer, several pieces each
    first_content = next(i for i, c in enumerate(chunks) if c.message.content)
    assert all(not c.message.content for c in chunks[:first_content])
    assert sum(1 for c in chunks if c.message.content) > 3
    final = chunks[-1]
    assert final.done_reason == "stop" and final.message.content == ""
    assert final.eval_count and final.prompt_eval_count and final.total_duration and final.eval_duration
    assert all(c.done_reason is None and c.eval_count is None for c in chunks[:-1])


def test_stream_is_ndjson_with_ollamas_content_type(ollama_standin: OllamaStandIn) -> None:
    ollama_standin.script([{"content": "a <b> & c"}])
    body = {"model": MODEL, "messages": user("x")}
    response = httpx.post(f"{ollama_standin.url}/api/chat", json=body)
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = response.text.splitlines()
    assert all(line.startswith('{"model":"gpt-oss:20b","created_at":"') for line in lines)
    assert '"content":"\\u003cb\\u003e "' in response.text  # Go escapes <, > and & in JSON
    created = json.loads(lines[0])["created_at"]
    assert created.endswith("Z") and "T" in created


@pytest.mark.anyio
async def test_async_client_streaming_and_not(ollama_standin: OllamaStandIn) -> None:
    ollama_standin.script([{"content": "one"}, {"content": "two words"}])
    client = ollama.AsyncClient(host=ollama_standin.url)
    reply = await client.chat(MODEL, messages=user("first"))
    assert reply.message.content == "one"
    stream = await client.chat(MODEL, messages=user("second"), stream=True)
    pieces = [chunk.message.content async for chunk in stream]
    assert "".join(p or "" for p in pieces) == "two words"
    assert [r.messages[-1]["content"] for r in ollama_standin.chats] == ["first", "second"]
    assert [r.stream for r in ollama_standin.chats] == [False, True]


def test_tool_call_round_trip(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    ollama_standin.script(
        [
            {
                "thinking": "I need the logs.",
                "tool_calls": [{"name": "read_logs", "arguments": {"service": "api"}}],
            },
            {"content": "The logs show OOMKilled: raise the memory limit."},
        ]
    )
    messages: list[Any] = user("the api restarts in a loop")
    first = client.chat(MODEL, messages=messages, tools=[READ_LOGS_TOOL], think="medium")
    calls = first.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].function.name == "read_logs"
    assert calls[0].function.arguments == {"service": "api"}
    assert first.message.content == "" and first.message.thinking == "I need the logs."
    # pass the reasoning and the call back, then the result with role tool
    messages += [first.message, {"role": "tool", "tool_name": "read_logs", "content": "OOMKilled exit 137"}]
    second = client.chat(MODEL, messages=messages, tools=[READ_LOGS_TOOL], think="medium")
    assert second.message.content == "The logs show OOMKilled: raise the memory limit."
    sent = ollama_standin.chats[1].messages
    assert sent[1]["role"] == "assistant" and sent[1]["thinking"] == "I need the logs."
    assert sent[1]["tool_calls"][0]["function"] == {"name": "read_logs", "arguments": {"service": "api"}}
    assert sent[2] == {"role": "tool", "tool_name": "read_logs", "content": "OOMKilled exit 137"}
    assert ollama_standin.chats[1].tool_names == ["read_logs"]


def test_tool_calls_on_the_wire_carry_id_and_index(ollama_standin: OllamaStandIn) -> None:
    ollama_standin.script(
        [{"tool_calls": [{"function": {"name": "read_logs", "arguments": {"service": "db"}}}]}]
    )
    body = {"model": MODEL, "messages": user("x"), "tools": [READ_LOGS_TOOL], "stream": False}
    message = httpx.post(f"{ollama_standin.url}/api/chat", json=body).json()["message"]
    (call,) = message["tool_calls"]
    assert call["id"].startswith("call_") and len(call["id"]) == 13
    assert call["function"] == {"index": 0, "name": "read_logs", "arguments": {"service": "db"}}


def test_streaming_tool_call_arrives_in_one_chunk(
    ollama_standin: OllamaStandIn, client: ollama.Client
) -> None:
    ollama_standin.script(
        [{"tool_calls": [{"name": "read_logs", "arguments": {"service": "api", "lines": 50}}]}]
    )
    chunks = list(client.chat(MODEL, messages=user("x"), tools=[READ_LOGS_TOOL], stream=True))
    with_calls = [c for c in chunks if c.message.tool_calls]
    assert len(with_calls) == 1 and not with_calls[0].done
    assert with_calls[0].message.tool_calls[0].function.arguments == {"service": "api", "lines": 50}  # type: ignore[index]
    assert chunks[-1].done and chunks[-1].message.tool_calls is None


@pytest.mark.parametrize(("think", "sentences"), [("low", 1), ("medium", 3), ("high", 6), ("max", 6)])
def test_think_levels_produce_thinking_of_growing_length(
    ollama_standin: OllamaStandIn, client: ollama.Client, think: str, sentences: int
) -> None:
    ollama_standin.script([{"content": "ok"}])
    reply = client.chat(MODEL, messages=user("x"), think=think)
    assert reply.message.thinking is not None
    assert reply.message.thinking.count(".") == sentences
    assert ollama_standin.chats[0].think == think


@pytest.mark.parametrize("think", [True, False, None])
def test_gpt_oss_reasons_whatever_the_boolean(
    ollama_standin: OllamaStandIn, client: ollama.Client, think: bool | None
) -> None:
    ollama_standin.script([{"content": "ok", "thinking": "still thinking"}])
    reply = client.chat(MODEL, messages=user("x"), think=think)
    assert reply.message.thinking == "still thinking"
    assert ollama_standin.chats[0].think is think


def test_a_model_without_thinking_drops_the_scripted_reasoning() -> None:
    with OllamaStandIn(models=["llama3.2:3b"], script=[{"content": "ok", "thinking": "hidden"}]) as server:
        reply = ollama.Client(host=server.url).chat("llama3.2:3b", messages=user("x"))
    assert reply.message.content == "ok" and reply.message.thinking is None


def test_format_schema_reply_fits_and_request_is_recorded(
    ollama_standin: OllamaStandIn, client: ollama.Client
) -> None:
    decision = {"root_cause": "out of memory", "confidence": 0.9, "solution": "raise_memory_limit"}
    ollama_standin.script([{"json": decision}])
    reply = client.chat(
        MODEL, messages=user("decide"), format=DECISION_SCHEMA, think="medium", options={"num_ctx": 32768}
    )
    assert json.loads(reply.message.content or "") == decision
    sent = ollama_standin.chats[0]
    assert sent.format == DECISION_SCHEMA and sent.num_ctx == 32768 and sent.options["num_ctx"] == 32768
    assert sent.context_window == 32768 and not sent.exceeds_context


def test_malformed_turn_sends_content_that_breaks_the_schema(
    ollama_standin: OllamaStandIn, client: ollama.Client
) -> None:
    ollama_standin.script([{"malformed": '{"root_cause": "oom", "confidence": 7}'}, {"malformed": True}])
    first = client.chat(MODEL, messages=user("decide"), format=DECISION_SCHEMA)
    assert json.loads(first.message.content or "") == {"root_cause": "oom", "confidence": 7}
    second = client.chat(MODEL, messages=user("decide"), format=DECISION_SCHEMA)
    with pytest.raises(json.JSONDecodeError):
        json.loads(second.message.content or "")
    assert [c.answer for c in ollama_standin.chats] == ["malformed turn 1", "malformed turn 2"]


def test_a_scripted_reply_that_breaks_the_schema_is_a_script_problem() -> None:
    with OllamaStandIn(
        script=[{"json": {"root_cause": "oom"}}, {"content": "prose", "check_format": False}]
    ) as server:
        client = ollama.Client(host=server.url)
        with pytest.raises(ollama.ResponseError) as caught:
            client.chat(MODEL, messages=user("decide"), format=DECISION_SCHEMA)
        assert caught.value.status_code == 500
        assert "'confidence' is a required property" in caught.value.error
        # check_format: false sends it anyway (the known unenforced streaming + thinking case)
        assert client.chat(MODEL, messages=user("decide"), format="json").message.content == "prose"
    assert len(server.problems()) == 1 and "turn 1 does not fit the request's format" in server.problems()[0]


def test_token_estimates_and_context_overflow(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    ollama_standin.script([{"content": "ok"}, {"content": "ok"}])
    client.chat(MODEL, messages=user("short question"), tools=[READ_LOGS_TOOL])
    long_text = "container api restarted after OOMKilled " * 800  # ~5.6k tokens
    client.chat(MODEL, messages=user(long_text))
    small, big = ollama_standin.chats
    assert 20 < small.tool_tokens < 120 and small.prompt_tokens > small.tool_tokens
    assert small.context_window == 4096 and not small.exceeds_context and small.num_ctx is None
    assert big.prompt_tokens > 4096 and big.exceeds_context
    assert big.reply is not None and big.reply["content"] == "ok"


def test_empty_messages_load_the_model(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    reply = client.chat(MODEL, messages=[])
    assert reply.done and reply.done_reason == "load" and reply.message.content == ""
    assert [m.model for m in client.ps().models] == [MODEL]
    assert ollama_standin.chats[0].answer == "load"


def test_keep_alive_zero_with_no_messages_unloads(
    ollama_standin: OllamaStandIn, client: ollama.Client
) -> None:
    client.chat(MODEL, messages=[])
    reply = client.chat(MODEL, messages=[], keep_alive=0)
    assert reply.done_reason == "unload"
    assert client.ps().models == []


def test_tool_call_then_structured_answer_under_one_format(
    ollama_standin: OllamaStandIn, client: ollama.Client
) -> None:
    decision = {"root_cause": "out of memory", "confidence": 0.8, "solution": "raise_memory_limit"}
    ollama_standin.script(
        [{"tool_calls": [{"name": "read_logs", "arguments": {"service": "api"}}]}, {"json": decision}]
    )
    kwargs: dict[str, Any] = {"tools": [READ_LOGS_TOOL], "format": DECISION_SCHEMA, "think": "high"}
    first = client.chat(MODEL, messages=user("decide"), **kwargs)
    assert first.message.tool_calls and first.message.content == ""
    history = [
        *user("decide"),
        first.message,
        {"role": "tool", "tool_name": "read_logs", "content": "OOMKilled"},
    ]
    second = client.chat(MODEL, messages=history, **kwargs)
    assert json.loads(second.message.content or "") == decision
