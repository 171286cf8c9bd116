"""Error shapes as the real `ollama` client sees them, and Ollama going away."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import ollama
import pytest

from standins.ollama import ModelCard, OllamaStandIn

from .conftest import EMBED_MODEL, MODEL, READ_LOGS_TOOL, user


def _chat_error(client: ollama.Client, **kwargs: Any) -> ollama.ResponseError:
    arguments: dict[str, Any] = {"model": MODEL, "messages": user("x"), **kwargs}
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(**arguments)
    return caught.value


def test_unknown_model_is_404_with_ollamas_text(client: ollama.Client) -> None:
    error = _chat_error(client, model="llama9:70b")
    assert (error.status_code, error.error) == (404, "model 'llama9:70b' not found")
    with pytest.raises(ollama.ResponseError) as caught:
        client.show("llama9")
    assert (caught.value.status_code, caught.value.error) == (404, "model 'llama9:latest' not found")
    with pytest.raises(ollama.ResponseError) as caught:
        client.embed("llama9", input="x")
    assert (caught.value.status_code, caught.value.error) == (404, "model 'llama9' not found")


def test_missing_model_is_400(ollama_standin: OllamaStandIn) -> None:
    # the client refuses an empty model name itself, so send it raw
    response = httpx.post(f"{ollama_standin.url}/api/chat", json={"model": "", "messages": user("x")})
    assert (response.status_code, response.json()) == (400, {"error": "model is required"})
    response = httpx.post(f"{ollama_standin.url}/api/show", json={})
    assert (response.status_code, response.json()) == (400, {"error": "model is required"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "missing request body"),
        (b"{bad", "invalid character 'b' looking for beginning of object key string"),
        (b'{"model": "gpt-oss:20b",', "unexpected EOF"),
        (b"[1, 2]", "json: cannot unmarshal array into Go value of type api.ChatRequest"),
        (
            b'{"model": 5}',
            "json: cannot unmarshal number into Go struct field ChatRequest.model of type string",
        ),
        (
            b'{"model": "gpt-oss:20b", "messages": "hi"}',
            "json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message",
        ),
    ],
)
def test_bad_json_is_400_worded_like_go(ollama_standin: OllamaStandIn, body: bytes, message: str) -> None:
    response = httpx.post(f"{ollama_standin.url}/api/chat", content=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"error": message}


def test_think_and_tools_the_model_cannot_do(client: ollama.Client) -> None:
    error = _chat_error(client, think="extreme")
    assert error.status_code == 400
    assert (
        error.error
        == 'invalid think value: "extreme" (must be "high", "medium", "low", "max", true, or false)'
    )
    error = _chat_error(client, model=EMBED_MODEL, think=True)
    assert (error.status_code, error.error) == (400, f'"{EMBED_MODEL}" does not support thinking')
    error = _chat_error(client, model=EMBED_MODEL)
    assert (error.status_code, error.error) == (400, f'"{EMBED_MODEL}" does not support chat')


def test_tools_on_a_model_without_tools() -> None:
    card = ModelCard(name="gemma3:1b", capabilities=("completion",))
    with OllamaStandIn(models=[card]) as server, pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=server.url).chat("gemma3:1b", messages=user("x"), tools=[READ_LOGS_TOOL])
    assert caught.value.status_code == 400
    assert caught.value.error == "registry.ollama.ai/library/gemma3:1b does not support tools"


def test_invalid_format_is_500(ollama_standin: OllamaStandIn) -> None:
    body = {"model": MODEL, "messages": user("x"), "format": "yaml", "stream": False}
    response = httpx.post(f"{ollama_standin.url}/api/chat", json=body)
    assert response.status_code == 500
    assert (
        response.json()["error"]
        == 'invalid format: "\\"yaml\\""; expected "json" or a valid JSON Schema object'
    )


@pytest.mark.parametrize("stream", [False, True])
def test_scripted_error_status_and_text(
    ollama_standin: OllamaStandIn, client: ollama.Client, stream: bool
) -> None:
    ollama_standin.script([{"error": "model runner has unexpectedly stopped", "status": 500}])
    with pytest.raises(ollama.ResponseError) as caught:
        if stream:
            list(client.chat(MODEL, messages=user("x"), stream=True))
        else:
            client.chat(MODEL, messages=user("x"))
    assert caught.value.status_code == 500
    assert caught.value.error == "model runner has unexpectedly stopped"


def test_error_mid_stream_comes_after_the_thinking(
    ollama_standin: OllamaStandIn, client: ollama.Client
) -> None:
    ollama_standin.script([{"error": "an error was encountered while running the model", "mid_stream": True}])
    seen = []
    with pytest.raises(ollama.ResponseError) as caught:
        for chunk in client.chat(MODEL, messages=user("x"), stream=True, think="low"):
            seen.append(chunk)
    assert seen and all(c.message.thinking for c in seen)
    # the status line was already 200: the client raises with no status code
    assert (caught.value.status_code, caught.value.error) == (
        -1,
        "an error was encountered while running the model",
    )


def test_tool_call_parse_error(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    raw = '{"service": "api", "lines": '
    ollama_standin.script([{"tool_call_error": raw}, {"tool_call_error": raw}])
    error = _chat_error(client, tools=[READ_LOGS_TOOL])
    assert error.status_code == 500
    assert error.error == f"error parsing tool call: raw='{raw}', err=unexpected end of JSON input"
    # streaming: gpt-oss's reasoning was already sent, so the error is the last NDJSON line
    with pytest.raises(ollama.ResponseError) as caught:
        list(client.chat(MODEL, messages=user("x"), tools=[READ_LOGS_TOOL], stream=True))
    assert caught.value.status_code == -1 and caught.value.error.startswith("error parsing tool call: raw=")


def test_a_request_with_no_turn_left_is_a_script_problem() -> None:
    with OllamaStandIn() as server, pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=server.url).chat(MODEL, messages=user("is anyone there?"))
    assert caught.value.status_code == 500
    assert "no turn left for model 'gpt-oss:20b'" in caught.value.error
    assert server.problems() == [caught.value.error]


def test_unknown_path_is_gins_plain_404(ollama_standin: OllamaStandIn) -> None:
    response = httpx.get(f"{ollama_standin.url}/api/nothing")
    assert (response.status_code, response.text) == (404, "404 page not found")
    assert httpx.get(f"{ollama_standin.url}/api/chat").status_code == 404  # wrong method
    assert httpx.get(f"{ollama_standin.url}/").text == "Ollama is running"


def test_down_refuses_connections_and_up_serves_again(ollama_standin: OllamaStandIn) -> None:
    ollama_standin.script([{"content": "before"}, {"content": "after"}])
    client = ollama.Client(host=ollama_standin.url)
    assert client.chat(MODEL, messages=user("x")).message.content == "before"
    ollama_standin.down()
    with pytest.raises(ConnectionError, match="Failed to connect to Ollama"):
        client.chat(MODEL, messages=user("x"))
    with pytest.raises(ConnectionError):
        client.list()
    ollama_standin.up()
    assert client.chat(MODEL, messages=user("x")).message.content == "after"
    assert [r.status for r in ollama_standin.chats] == [200, 200]  # the refused one never arrived


@pytest.mark.anyio
async def test_down_refuses_the_async_client_too(ollama_standin: OllamaStandIn) -> None:
    client = ollama.AsyncClient(host=ollama_standin.url)
    assert [m.model for m in (await client.list()).models] == [MODEL, f"{EMBED_MODEL}:latest"]
    ollama_standin.down()
    with pytest.raises(ConnectionError):
        await client.list()


def test_unavailable_answers_503(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    ollama_standin.script([{"content": "back"}])
    ollama_standin.down("unavailable")
    error = _chat_error(client)
    assert error.status_code == 503
    assert error.error == "server busy, please try again.  maximum pending requests exceeded"
    ollama_standin.up()
    assert client.chat(MODEL, messages=user("x")).message.content == "back"


def test_down_cuts_a_stream_in_the_middle(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    ollama_standin.script([{"content": "one two three four five six seven eight", "stream_delay": 0.3}])
    received: list[str] = []
    stream = client.chat(MODEL, messages=user("x"), stream=True)
    received.append(next(stream).message.content or "")
    threading.Timer(0.1, ollama_standin.down).start()
    started = time.monotonic()
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        for chunk in stream:
            received.append(chunk.message.content or "")
    assert time.monotonic() - started < 5
    assert 1 <= len(received) < 8


def test_delay_turn_holds_the_answer(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    ollama_standin.script([{"delay": 0.4}, {"content": "slow"}, {"content": "quick", "delay": 0}])
    started = time.monotonic()
    assert client.chat(MODEL, messages=user("x")).message.content == "slow"
    assert time.monotonic() - started >= 0.4
    timeout_client = ollama.Client(host=ollama_standin.url, timeout=0.2)
    ollama_standin.script([{"content": "too late", "delay": 1.0}])
    assert client.chat(MODEL, messages=user("x")).message.content == "quick"
    with pytest.raises(httpx.ReadTimeout):
        timeout_client.chat(MODEL, messages=user("x"))
