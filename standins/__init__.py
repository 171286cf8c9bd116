"""Stand-ins for the services InfraGuardian talks to, for tests, demos and the incident lab.

Each sub-package imitates one outside service closely enough that the product cannot tell it from
the real one: `standins.dokploy` answers like Dokploy v0.30.2 and deploys on the real Docker engine;
`standins.ollama` speaks Ollama's HTTP API and plays scripted model turns. The Telegram Bot API
stand-in will join them here.

The product (`mcp_server`, `agent_host`) never imports this package; tests, `bench/` and the
incident lab do. A test in `tests/standins/` walks the product's sources to keep it that way.
"""
