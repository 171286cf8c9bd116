"""Questions in plain language: with a model (the Ollama stand-in, scripted) the bot answers in the
user's language after reading through the REAL MCP server's read-only tools; a model reaching for a
changing tool is refused; with no model the bot says so and suggests the command that fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_host.model import ModelDecider, ModelSettings
from agent_host.model.tools import LinkReadTools, definitions_from_mcp
from agent_host.telegram.commands import command_handlers
from agent_host.telegram.context import BotContext
from agent_host.telegram.questions import suggest
from standins.ollama import OllamaStandIn
from standins.telegram import TelegramStandIn

from .test_commands import ask, polling, server_link

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

SPANISH_ANSWER = "Granada no está caído: sus servicios están en marcha según el inventario."


def test_suggestions_follow_the_words_of_the_question() -> None:
    assert suggest("show me the RAG API logs") == "/logs <service> [n]"
    assert suggest("how much CPU does the frontend use?") == "/metrics <service>"
    assert suggest("¿Por qué está caído Granada?") == "/health <compose>"
    assert suggest("hello there") == "/status [project]"


async def test_without_a_model_the_bot_says_so_and_suggests_the_command(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    async with polling(telegram_standin, command_handlers(bot_context)):
        reply = await ask(telegram_standin, "how much CPU does the frontend use?")
    assert reply == (
        "No model is configured, so I cannot answer questions in plain language. "
        "Try /metrics <service> (/help lists every command)."
    )


async def test_the_model_reads_through_the_server_and_answers_in_the_users_language(
    telegram_standin: TelegramStandIn, bot_context: BotContext, ollama_standin: OllamaStandIn, tmp_path: Path
) -> None:
    ollama_standin.script(
        [
            {
                "tool_calls": [
                    {"name": "restart_service", "arguments": {"app_name": "granada", "service": "api"}}
                ]
            },
            {"tool_calls": [{"name": "list_inventory", "arguments": {}}]},
            {"content": SPANISH_ANSWER},
        ]
    )
    async with server_link(tmp_path) as link:
        definitions = definitions_from_mcp((await link.client.list_tools()).tools)
        decider = ModelDecider(
            ModelSettings(ollama_host=ollama_standin.url), read_tools=LinkReadTools(definitions, link)
        )
        bot_context.link, bot_context.decider = link, decider
        try:
            async with polling(telegram_standin, command_handlers(bot_context)):
                reply = await ask(telegram_standin, "¿Por qué está caído Granada?")
        finally:
            await decider.aclose()
    assert reply == SPANISH_ANSWER
    first, second, third = ollama_standin.chats
    # only the server's read-only tools are offered, and the question goes to the model as written
    assert "list_inventory" in first.tool_names and "read_logs" in first.tool_names
    assert not {"restart_service", "deploy", "rollback", "prune"} & set(first.tool_names)
    assert "¿Por qué está caído Granada?" in str(first.messages[-1]["content"])
    assert "language the question is written in" in str(first.messages[0]["content"])
    # the changing tool was refused without reaching the server; the read went to the real server
    assert str(second.messages[-1]["content"]).startswith("refused: restart_service is not available")
    assert third.messages[-1]["role"] == "tool" and '"host"' in str(third.messages[-1]["content"])
    assert link.keys == [None]  # exactly one call reached the server: list_inventory


async def test_a_model_that_does_not_answer_gets_the_command_suggested(
    telegram_standin: TelegramStandIn, bot_context: BotContext, ollama_standin: OllamaStandIn
) -> None:
    decider = ModelDecider(ModelSettings(ollama_host=ollama_standin.url, timeout_s=5))
    bot_context.decider = decider
    ollama_standin.down()
    try:
        async with polling(telegram_standin, command_handlers(bot_context)):
            reply = await ask(telegram_standin, "show me the RAG API logs")
    finally:
        await decider.aclose()
    assert reply == "The model did not answer just now. Try /logs <service> [n] (/help lists every command)."
