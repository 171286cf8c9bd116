# InfraGuardian images, two targets built from the one lock file (uv.lock):
#   server (the default): the MCP server and only its dependencies ([project] dependencies)
#   agent:                the server plus the agent host's `agent` extra (LangGraph and its checkpointers,
#                         psycopg, ollama, chromadb); `run` starts infraguardian-mcp over stdio as its
#                         MCP server unless INFRAGUARDIAN_AGENT__SERVER_URL names a running one
# Build:  docker build -t infraguardian .                      (server)
#         docker build --target agent -t infraguardian-agent .
# Run:    docker run --rm -i -v /var/run/docker.sock:/var/run/docker.sock \
#           -v infraguardian-state:/state -e DOKPLOY_URL=... -e DOKPLOY_API_KEY=... infraguardian
# HTTP:   add `-p 127.0.0.1:8765:8765 -e INFRAGUARDIAN_MCP_HOST=0.0.0.0 -e INFRAGUARDIAN_MCP_INSECURE_PLAIN_HTTP=true` and the command
#         `serve --transport streamable-http`; the bearer token is written to /state/mcp-token.
# The stand-ins (standins/) are test and lab tooling: no image ships them.

FROM python:3.11-slim AS build-base
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
COPY pyproject.toml uv.lock README.md ./

# Dependencies first (a layer that changes only with uv.lock), then the project itself.
FROM build-base AS build-server
RUN uv sync --frozen --no-dev --no-install-project
COPY mcp_server ./mcp_server
COPY agent_host ./agent_host
COPY runbooks ./runbooks
RUN uv sync --frozen --no-dev

FROM build-base AS build-agent
RUN uv sync --frozen --no-dev --extra agent --no-install-project
COPY mcp_server ./mcp_server
COPY agent_host ./agent_host
COPY runbooks ./runbooks
RUN uv sync --frozen --no-dev --extra agent

FROM python:3.11-slim AS runtime
# docker compose v2 is what Dokploy runs; the server uses the Engine API through the socket
RUN groupadd --system ig && useradd --system --gid ig --home /state ig \
    && mkdir -p /state && chown ig:ig /state
ENV PATH=/app/.venv/bin:$PATH \
    INFRAGUARDIAN_STATE_DIR=/state \
    INFRAGUARDIAN_AGENT__STATE_DIR=/state/agent \
    INFRAGUARDIAN_RUNBOOKS_DIR=/app/runbooks
LABEL io.infraguardian.self=true
WORKDIR /app
# The Docker socket is root-owned; run as root only if your socket group differs (see README).
USER ig
VOLUME ["/state"]

FROM runtime AS agent
COPY --from=build-agent /app /app
ENTRYPOINT ["infraguardian-agent"]
CMD ["run"]

# Last, so that a plain `docker build .` builds the server.
FROM runtime AS server
COPY --from=build-server /app /app
ENTRYPOINT ["infraguardian-mcp"]
CMD ["serve"]
