"""The script: turns per model, rules on the last message, the default, files, and the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import ollama
import pytest

from standins.ollama import OllamaStandIn
from standins.ollama.script import Reply, parse_entries

from .conftest import MODEL, user

ROOT = Path(__file__).resolve().parents[3]


def test_turns_are_consumed_in_order_per_model() -> None:
    models = ["gpt-oss:20b", "qwen3:8b"]
    script = [
        {"content": "qwen 1", "model": "qwen3:8b"},
        {"content": "any 1"},
        {"content": "gpt 1", "model": "gpt-oss:20b"},
    ]
    with OllamaStandIn(models=models, script=script) as server:
        client = ollama.Client(host=server.url)
        assert client.chat(MODEL, messages=user("x")).message.content == "any 1"
        assert client.chat("qwen3:8b", messages=user("x")).message.content == "qwen 1"
        assert client.chat(MODEL, messages=user("x")).message.content == "gpt 1"
        assert server.remaining_turns() == []
        assert [c.answer for c in server.chats] == ["turn 1", "turn 2", "turn 3"]


def test_rules_match_the_last_user_or_tool_message(
    ollama_standin: OllamaStandIn, client: ollama.Client
) -> None:
    ollama_standin.script(
        [
            {"match": "oomkilled", "reply": {"content": "raise the memory limit"}, "times": 1},
            {"regex": r"exit (127|126)", "reply": {"content": "bad deploy"}},
            {"match": "disk", "role": "tool", "reply": {"content": "grow the volume"}},
        ]
    )
    ollama_standin.set_default({"content": "escalate"})
    assert (
        client.chat(MODEL, messages=user("api OOMKilled twice")).message.content == "raise the memory limit"
    )
    assert client.chat(MODEL, messages=user("api OOMKilled again")).message.content == "escalate"  # times: 1
    assert client.chat(MODEL, messages=user("worker: exit 127")).message.content == "bad deploy"
    assert (
        client.chat(MODEL, messages=user("disk is full")).message.content == "escalate"
    )  # not a tool message
    history = [
        *user("check it"),
        {"role": "tool", "tool_name": "read_logs", "content": "No space: disk full"},
    ]
    assert client.chat(MODEL, messages=history).message.content == "grow the volume"
    assert [c.answer for c in ollama_standin.chats] == [
        "rule 'oomkilled'",
        "default",
        "rule /exit (127|126)/",
        "default",
        "rule 'disk'",
    ]


def test_queued_turns_come_before_rules(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    ollama_standin.script([{"match": "x", "reply": {"content": "rule"}}, {"content": "queued"}])
    assert [client.chat(MODEL, messages=user("x")).message.content for _ in range(2)] == ["queued", "rule"]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"contnet": "typo"}, "contnet: Extra inputs are not permitted"),
        ({"error": "x", "status": 200}, "status: Input should be greater than or equal to 400"),
        ({"tool_calls": [{"arguments": {}}]}, "tool_calls.0.name: Field required"),
        ({"match": "a", "regex": "b", "reply": {"content": "c"}}, "exactly one of `match`"),
        ({"match": "a", "reply": {"delay": 1}}, "cannot be a bare delay"),
        ({"tool_call_error": '{"a": 1}'}, "give text that is not a JSON object"),
        ("hello", "a turn is a mapping"),
    ],
)
def test_bad_entries_say_what_is_wrong(entry: object, problem: str) -> None:
    with pytest.raises(ValueError, match="script entry 1") as caught:
        parse_entries([entry])
    assert problem in str(caught.value)


def test_turn_objects_and_tool_call_shapes() -> None:
    turns, rules = parse_entries(
        [
            Reply(content="typed"),
            {"tool_calls": [{"function": {"name": "a", "arguments": {"k": 1}}}]},
            {"delay": 1},
        ]
    )
    assert rules == []
    assert [type(t).__name__ for t in turns] == ["Reply", "Reply", "Delay"]
    second = turns[1]
    assert (
        isinstance(second, Reply)
        and second.tool_calls[0].name == "a"
        and second.tool_calls[0].arguments == {"k": 1}
    )


def test_yaml_and_json_script_files(tmp_path: Path) -> None:
    yaml_file = tmp_path / "lab.yaml"
    yaml_file.write_text(
        "turns:\n"
        "  - thinking: Logs first.\n"
        "    tool_calls: [{name: read_logs, arguments: {service: api}}]\n"
        "rules:\n"
        "  - match: OOMKilled\n"
        "    reply: {json: {root_cause: out of memory}}\n"
        "default: {content: I cannot tell.}\n"
    )
    json_file = tmp_path / "list.json"
    json_file.write_text(json.dumps([{"content": "from json"}]))
    with OllamaStandIn(script=yaml_file) as server:
        server.script(json_file)
        client = ollama.Client(host=server.url)
        first = client.chat(MODEL, messages=user("api down"))
        assert (
            first.message.tool_calls is not None and first.message.tool_calls[0].function.name == "read_logs"
        )
        assert client.chat(MODEL, messages=user("x")).message.content == "from json"
        assert (
            client.chat(MODEL, messages=user("exit 137 OOMKilled")).message.content
            == '{"root_cause":"out of memory"}'
        )
        assert client.chat(MODEL, messages=user("???")).message.content == "I cannot tell."
    bad = tmp_path / "bad.yaml"
    bad.write_text("turns: []\nmodels: [x]\n")
    with pytest.raises(ValueError, match="a mapping with turns, rules and default"):
        OllamaStandIn(script=bad)


def test_command_line_serves_a_script_until_interrupted(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("- content: hello from the command line\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "standins.ollama", "--port", "0", "--script", str(script), "--log-requests"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "Ollama stand-in 0.32.15 listening on http://127.0.0.1:" in banner, banner
        url = banner.split(" listening on ")[1].split()[0]
        assert process.stdout.readline().strip() == f"use it with OLLAMA_HOST={url}"
        reply = ollama.Client(host=url).chat(MODEL, messages=user("hi"))
        assert reply.message.content == "hello from the command line"
        assert httpx.get(f"{url}/api/version").json() == {"version": "0.32.15"}
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Ollama stand-in stopped" in out
    assert "POST /api/chat model='gpt-oss:20b' → 200 (turn 1) prompt≈" in out
    assert "GET /api/version model=None → 200 (ok)" in out


def test_command_line_rejects_a_bad_script(tmp_path: Path) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text("- {content: ok, colour: red}\n")
    result = subprocess.run(
        [sys.executable, "-m", "standins.ollama", "--port", "0", "--script", str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "bad script" in result.stderr and "colour: Extra inputs are not permitted" in result.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("infraguardian-ollama-standin")  # pyproject [project.scripts]
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert "Serve Ollama's HTTP API from a script of model turns." in result.stdout
    assert "--script" in result.stdout and "--embedding-dimension" in result.stdout
