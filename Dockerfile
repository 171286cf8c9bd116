# InfraGuardian images, two targets built from the one lock file (uv.lock):
#   server (the default): the MCP server and only its dependencies ([project] dependencies)
#   agent:                the server plus the agent host's `agent` extra (LangGraph and its checkpointers,
#                         psycopg, ollama, chromadb, the dashboard); `run` starts infraguardian-mcp over
#                         stdio as its MCP server unless INFRAGUARDIAN_AGENT__SERVER_URL names a running one
# Build:  docker build -t infraguardian .                      (server)
#         docker build --target agent -t infraguardian-agent .
#         Base images are build args (PYTHON_IMAGE, UV_IMAGE): a mirror or an air-gapped build gives
#         its own, e.g. --build-arg PYTHON_IMAGE=registry.local/python:3.11-slim
# Run:    docker run --rm -i -v /var/run/docker.sock:/var/run/docker.sock --group-add <socket GID> \
#           -v infraguardian-state:/state -e DOKPLOY_URL=... -e DOKPLOY_API_KEY=... infraguardian
# HTTP:   add `-p 127.0.0.1:8765:8765 -e INFRAGUARDIAN_MCP_TRANSPORT=streamable-http -e INFRAGUARDIAN_MCP_HOST=0.0.0.0
#         -e INFRAGUARDIAN_MCP_INSECURE_PLAIN_HTTP=true`; the bearer token is written to /state/mcp-token.
# On Dokploy: deploy/docker-compose.yml runs both (see the README).
# The stand-ins (standins/) are test and lab tooling: no image ships them (.dockerignore is an allow-list).

ARG PYTHON_IMAGE=python:3.11-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.9

FROM ${UV_IMAGE} AS uv

# -- build stages: uv and the lock file; only the virtual environments leave them ---------------
FROM ${PYTHON_IMAGE} AS build-base
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /app
# the base image's interpreter, never a downloaded one: the runtime stage has exactly that one
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1
# README.md is not here: the dependency layers would be rebuilt on every README edit
COPY pyproject.toml uv.lock ./

# Dependencies: one virtual environment per target, a layer that changes only with uv.lock.
FROM build-base AS deps-server
RUN uv sync --frozen --no-dev --no-install-project

FROM build-base AS deps-agent
RUN uv sync --frozen --no-dev --extra agent --no-install-project

# The project itself, built once as a wheel and installed into /opt/project with the venv's layout
# (lib/python3.11/site-packages, bin/): the runtime stages lay it over their venv in a small layer
# of its own, so a code change does not copy the dependencies again. The stand-ins' commands go:
# their package is not in the image.
FROM deps-server AS project
COPY README.md ./
COPY mcp_server ./mcp_server
COPY agent_host ./agent_host
RUN uv build --wheel --out-dir /tmp/dist \
    && uv pip install --no-deps --compile-bytecode --python /app/.venv/bin/python \
        --prefix /opt/project /tmp/dist/*.whl \
    && rm -f /opt/project/.lock /opt/project/bin/infraguardian-*standin

# -- runtime: the same base image, no uv, no build tools -----------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# A fixed UID/GID, so a state volume keeps its owner across rebuilds. The Docker socket is
# root:docker (0660): give the container the socket's group (compose `group_add`, `docker run
# --group-add`) rather than running as root.
RUN groupadd --system --gid 10001 ig \
    && useradd --system --uid 10001 --gid ig --home-dir /state --no-create-home ig \
    && mkdir -p /state && chown ig:ig /state
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    INFRAGUARDIAN_STATE_DIR=/state \
    INFRAGUARDIAN_AGENT__STATE_DIR=/state/agent \
    INFRAGUARDIAN_RUNBOOKS_DIR=/app/runbooks
LABEL io.infraguardian.self=true
COPY deploy/healthcheck.py /usr/local/bin/infraguardian-healthcheck
COPY runbooks /app/runbooks
WORKDIR /app
USER ig
VOLUME ["/state"]
# Ctrl-C, not SIGTERM: as PID 1, Python ignores a SIGTERM it installed no handler for (docker stop
# would wait its whole timeout and kill); SIGINT is Python's KeyboardInterrupt, which both programs
# treat as "stop cleanly" (the agent resumes every unfinished incident at its next start)
STOPSIGNAL SIGINT

FROM runtime AS agent
COPY --from=deps-agent /app/.venv /app/.venv
COPY --from=project /opt/project/ /app/.venv/
# the dashboard's /healthz (no token); the agent imports LangGraph and its memory at start: give it time
HEALTHCHECK --interval=30s --timeout=6s --start-period=120s --retries=3 \
    CMD ["infraguardian-healthcheck", "agent"]
ENTRYPOINT ["infraguardian-agent"]
CMD ["run"]

# Last, so that a plain `docker build .` builds the server.
FROM runtime AS server
COPY --from=deps-server /app/.venv /app/.venv
COPY --from=project /opt/project/ /app/.venv/
# the HTTP transport's /healthz (no token); over stdio there is nothing to probe and it stays healthy
HEALTHCHECK --interval=30s --timeout=6s --start-period=30s --retries=3 \
    CMD ["infraguardian-healthcheck", "server"]
ENTRYPOINT ["infraguardian-mcp"]
CMD ["serve"]
