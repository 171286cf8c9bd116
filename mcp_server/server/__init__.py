"""The MCP server: a small tool surface over Dokploy and Docker, with the safety policy enforced here.

`build_server(settings)` returns an `MCPServer`; `transports.py` serves it over stdio, SSE or
streamable HTTP (bearer token, localhost by default).
"""

from mcp_server.server.app import build_server
from mcp_server.server.services import Services

__all__ = ["Services", "build_server"]
