"""The agent host's link to the InfraGuardian MCP server (the only way the agent acts).

    async with ServerLink(LinkSettings(server_url="http://127.0.0.1:8765/mcp")) as link:
        outcome = await link.call_tool("restart_service", {...}, idempotency_key="inc-42:step-3")

See link.py for reconnection and what a call gets when the connection fails, outcome.py for how
refusals and replays are recognised.
"""

from agent_host.server_link.link import SIGNALS_URI, ServerLink
from agent_host.server_link.outcome import (
    IDEMPOTENCY_KEY_META,
    LinkError,
    ServerAuthError,
    ServerRequestError,
    ServerUnavailable,
    ToolOutcome,
)
from agent_host.server_link.settings import LinkSettings

__all__ = [
    "IDEMPOTENCY_KEY_META",
    "SIGNALS_URI",
    "LinkError",
    "LinkSettings",
    "ServerAuthError",
    "ServerLink",
    "ServerRequestError",
    "ServerUnavailable",
    "ToolOutcome",
]
