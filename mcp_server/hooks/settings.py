"""Settings of the webhook endpoints `/hooks/alertmanager` and `/hooks/uptime-kuma` (nested in the main
settings as `hooks`; environment names use the nested delimiter, e.g. `INFRAGUARDIAN_HOOKS__TOKEN`).

The endpoints are served beside `/mcp` when the server runs over HTTP (`serve --transport
streamable-http` or `sse`). Over stdio (the agent's default) and in `watch` there is no HTTP server:
set `port` to serve the webhooks alone there (`mcp_server/server/hooks_listener.py`).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

# Same floor as the MCP bearer token (transports.MIN_TOKEN_LENGTH): a webhook token guards the same door.
MIN_HOOK_TOKEN_LENGTH = 16
# Prometheus label names (https://prometheus.io/docs/concepts/data_model/).
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _split_labels(value: Any) -> Any:
    """'app, team' or '["app", "team"]' (one environment string) → ['app', 'team']; lists pass through."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("not a JSON list; give label names comma-separated, e.g. app,team") from None
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value) if part]
    return value


class HookSettings(BaseModel):
    """Who may post alerts to the webhooks, and how Alertmanager alerts name a service.

    Credentials (any one configured credential is enough for a request):
    - `token`: the bearer token senders put in `Authorization: Bearer <token>` (Alertmanager's
      `http_config.authorization`, Uptime Kuma's "Additional Headers"). None = the MCP bearer token of
      this server (INFRAGUARDIAN_MCP_TOKEN or the generated `<state_dir>/mcp-token`).
    - `basic_user` + `basic_password`: Alertmanager's `basic_auth`. Both or neither.
    - `allow_query_token`: also accept `?token=<token>` in the URL, for senders that cannot set a
      header. Off by default: URLs end up in access logs and settings pages.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = Field(
        default=True, description="Serve /hooks/alertmanager and /hooks/uptime-kuma beside /mcp over HTTP."
    )
    token: SecretStr | None = Field(
        default=None,
        description="Bearer token webhook senders use; default: the MCP bearer token of this server.",
    )
    basic_user: str | None = Field(
        default=None,
        max_length=200,
        description="User name for Alertmanager's basic_auth (with basic_password).",
    )
    basic_password: SecretStr | None = Field(
        default=None, description="Password for Alertmanager's basic_auth (with basic_user)."
    )
    allow_query_token: bool = Field(
        default=False, description="Also accept ?token=<token> in the webhook URL (header preferred)."
    )
    port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Where no MCP HTTP listener runs (`serve` over stdio, as the agent spawns it, and "
        "`watch`): serve only the webhooks on this port, on mcp_host. Unused over HTTP (they are beside /mcp).",
    )
    target_labels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra Alertmanager label names that name a service (besides compose_service, "
        "container, instance, job), e.g. app; comma-separated in the environment.",
    )

    @field_validator("token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_HOOK_TOKEN_LENGTH:
            raise ValueError(
                f"shorter than {MIN_HOOK_TOKEN_LENGTH} characters; use a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, or leave it unset to "
                "use the MCP bearer token"
            )
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    @field_validator("basic_user")
    @classmethod
    def _user_without_colon(cls, value: str | None) -> str | None:
        if value is not None and (not value or ":" in value):
            raise ValueError("must be a non-empty name without ':' (basic auth splits user:password at ':')")
        return value

    @field_validator("target_labels", mode="before")
    @classmethod
    def _labels_from_text(cls, value: Any) -> Any:
        return _split_labels(value)

    @field_validator("target_labels")
    @classmethod
    def _label_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"{name!r:.60} is not a Prometheus label name (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _basic_pair(self) -> HookSettings:
        has_password = self.basic_password is not None and bool(self.basic_password.get_secret_value())
        if (self.basic_user is None) != (not has_password):
            raise ValueError(
                "basic_user and basic_password go together; set both (Alertmanager basic_auth) or neither"
            )
        return self

    def bearer_token(self, mcp_token: str | None) -> str | None:
        """The token webhook requests must carry: ours if set, else the MCP bearer token (None: none)."""
        if self.token is not None:
            return self.token.get_secret_value()
        return mcp_token or None

    def password(self) -> str | None:
        return self.basic_password.get_secret_value() if self.basic_password is not None else None
