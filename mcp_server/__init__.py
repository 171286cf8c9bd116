"""InfraGuardian MCP server: Dokploy and Docker operations behind a safety policy."""

__version__ = "0.1.0"
