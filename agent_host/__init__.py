"""InfraGuardian agent host: an MCP client of the server that runs the incident loop."""

__version__ = "0.1.0"
