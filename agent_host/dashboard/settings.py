"""Dashboard settings, nested in the agent's settings as `dashboard`:

    INFRAGUARDIAN_AGENT__DASHBOARD__ENABLED     false = `run` serves no dashboard
    INFRAGUARDIAN_AGENT__DASHBOARD__HOST        address to bind (default 127.0.0.1, this machine only)
    INFRAGUARDIAN_AGENT__DASHBOARD__PORT        default 8766
    INFRAGUARDIAN_AGENT__DASHBOARD__TOKEN       the login token (else TOKEN_FILE, else the MCP
    INFRAGUARDIAN_AGENT__DASHBOARD__TOKEN_FILE  server's token the agent uses, else one generated
                                                into <state_dir>/dashboard-token, mode 0600)

The token is always required, whatever the address: binding 0.0.0.0 (behind Traefik, in a container)
only changes who can reach the login page.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

DEFAULT_PORT = 8766


class DashboardSettings(BaseModel):
    """Where the dashboard listens and how a browser logs in."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="`infraguardian-agent run` serves the dashboard")
    host: str = Field(default="127.0.0.1", description="address to bind; 0.0.0.0 only behind a proxy")
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535, description="0 = any free port (tests)")
    token: SecretStr | None = Field(default=None, description="the login token (never printed)")
    token_file: Path | None = Field(default=None, description="or a file holding it")
    poll_s: float = Field(
        default=1.0, gt=0, le=60, description="how often the incident store is read for live updates"
    )
    health_s: float = Field(
        default=10.0, gt=0, le=600, description="how often live health is read from the MCP server"
    )
    secure_cookie: bool = Field(
        default=False,
        description="mark the session cookie Secure (set it when the dashboard is served over https)",
    )
