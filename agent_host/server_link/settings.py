"""How the agent host reaches the MCP server: `LinkSettings`.

The lead embeds this model in the agent's settings (env prefix `INFRAGUARDIAN_AGENT__`, e.g.
`INFRAGUARDIAN_AGENT__SERVER_URL`). Without `server_url` the link starts its own server over stdio.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from agent_host.server_link.outcome import ServerAuthError

# Where `infraguardian-mcp serve` keeps its generated token when INFRAGUARDIAN_MCP_TOKEN is unset
# (mcp_server/server/transports.py TOKEN_FILE_NAME; not imported: that module loads the server).
SERVER_TOKEN_FILE_NAME = "mcp-token"  # noqa: S105 - a file name, not a secret
SERVER_TOKEN_ENV = "INFRAGUARDIAN_MCP_TOKEN"  # noqa: S105 - a variable name, not a secret


class LinkSettings(BaseModel):
    """Where the MCP server is and how long to wait for it.

    - `server_url` set: connect over streamable HTTP with a bearer token, taken from
      `server_token`, else the file `server_token_file`, else the server's own variable
      INFRAGUARDIAN_MCP_TOKEN, else the server's generated `<state dir>/mcp-token`.
    - `server_url` unset: spawn `python -m mcp_server serve --transport stdio` with this process's
      environment (so the server gets its INFRAGUARDIAN_* settings) and talk over its stdin/stdout.
    """

    model_config = ConfigDict(extra="forbid")

    server_url: str | None = Field(
        default=None,
        description="The MCP endpoint of a running server, e.g. http://127.0.0.1:8765/mcp; unset = spawn one over stdio.",
    )
    server_token: SecretStr | None = Field(
        default=None, description="The server's bearer token (INFRAGUARDIAN_MCP_TOKEN of the server)."
    )
    server_token_file: Path | None = Field(
        default=None, description="A file holding the bearer token (e.g. the server's <state_dir>/mcp-token)."
    )
    spawn_args: list[str] = Field(
        default_factory=list,
        description="Extra arguments for the spawned `serve` (stdio only), e.g. ['--no-detectors'].",
    )
    connect_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="How long a call waits for the server to be reachable."
    )
    call_timeout_s: float = Field(
        default=300.0, gt=0, le=3600, description="How long a tool call may run before it counts as lost."
    )
    reconnect_max_s: float = Field(
        default=30.0, ge=1, le=600, description="Longest wait between reconnection attempts (1, 2, 4 … s)."
    )

    def token(self) -> SecretStr | None:
        """The bearer token to send (see the class doc for the order), or None when none is found.
        Read again on every connection: the server may create or rotate its file meanwhile.
        Raises OSError when `server_token_file` is set but unreadable."""
        if self.server_token is not None:
            return self.server_token
        if self.server_token_file is not None:
            return SecretStr(self.server_token_file.read_text(encoding="utf-8").strip())
        from_env = os.environ.get(SERVER_TOKEN_ENV, "").strip()
        if from_env:
            return SecretStr(from_env)
        default_file = server_state_dir() / SERVER_TOKEN_FILE_NAME
        try:
            return SecretStr(default_file.read_text(encoding="utf-8").strip())
        except OSError:
            return None

    def bearer_token(self) -> str:
        """The token to send over HTTP, or ServerAuthError saying how to provide one."""
        try:
            secret = self.token()
        except OSError as exc:
            raise ServerAuthError(
                f"cannot read the token file {self.server_token_file}: {exc.strerror or exc}"
            ) from None
        if secret is None or not secret.get_secret_value():
            raise ServerAuthError(
                f"no bearer token for the MCP server at {public_url(self.server_url or '')}: set INFRAGUARDIAN_AGENT__SERVER_TOKEN "
                "or INFRAGUARDIAN_AGENT__SERVER_TOKEN_FILE (the server's <state_dir>/mcp-token)"
            )
        return secret.get_secret_value()

    def token_source(self) -> str:
        """Where the token comes from, for messages (never the token itself)."""
        if self.server_token is not None:
            return "the setting INFRAGUARDIAN_AGENT__SERVER_TOKEN"
        if self.server_token_file is not None:
            return f"the file {self.server_token_file}"
        if os.environ.get(SERVER_TOKEN_ENV, "").strip():
            return f"the variable {SERVER_TOKEN_ENV}"
        return f"the file {server_state_dir() / SERVER_TOKEN_FILE_NAME}"

    def token_refused(self, why: str) -> str:
        """The one-line error for a 401 (`why`: no or wrong bearer token), naming no token."""
        return (
            f"the MCP server at {public_url(self.server_url or '')} refused the bearer token ({why}, HTTP 401); "
            f"the link sent the one from {self.token_source()}: set INFRAGUARDIAN_AGENT__SERVER_TOKEN to the "
            "server's token (its INFRAGUARDIAN_MCP_TOKEN or <state_dir>/mcp-token)"
        )

    def remedy(self) -> str:
        """What to do when the server cannot be reached."""
        if not self.server_url:
            return "Read the server's error above, or set INFRAGUARDIAN_AGENT__SERVER_URL to a running server"
        return "Start the server (infraguardian-mcp serve --transport streamable-http) or fix INFRAGUARDIAN_AGENT__SERVER_URL"

    def spawn_command(self) -> list[str]:
        """The command that starts a server over stdio (this interpreter, so the same install)."""
        return [sys.executable, "-m", "mcp_server", "serve", "--transport", "stdio", *self.spawn_args]


def server_state_dir() -> Path:
    """The server's state directory as the server computes it (INFRAGUARDIAN_STATE_DIR, else
    $XDG_STATE_HOME/infraguardian, else ~/.local/state/infraguardian)."""
    configured = os.environ.get("INFRAGUARDIAN_STATE_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "infraguardian"


def public_url(url: str) -> str:
    """`url` without user:password@ (safe to show)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"
