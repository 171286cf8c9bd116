"""Settings of the MCP server: environment variables, an optional YAML file, defaults.

Dokploy's own variable names are used where they exist (`DOKPLOY_URL`, `DOKPLOY_API_KEY`, as the
official Dokploy MCP server and CLI read them) and Docker's (`DOCKER_HOST`); everything else is
`INFRAGUARDIAN_*`. The YAML file (`INFRAGUARDIAN_CONFIG=/path/config.yaml`, keys are the field
names below) is read after the environment, so an environment variable always wins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, HttpUrl, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from mcp_server.detectors.settings import DetectorSettings
from mcp_server.hooks.settings import HookSettings
from mcp_server.safety.settings import SafetySettings
from mcp_server.transport_settings import HostNames, Origins


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "infraguardian"


class _BoundedYamlSource(YamlConfigSettingsSource):
    """The config file, read through safe_yaml (size and alias expansion bounded)."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        # PyYAML (~20 ms) only when a config file is given: most commands are configured by env
        from mcp_server.safe_yaml import load_yaml, read_yaml_file

        data = load_yaml(read_yaml_file(file_path, what="the config file"), what="the config file")
        return data or {}


class SettingsError(ValueError):
    """Invalid configuration, rendered as one line that names the setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INFRAGUARDIAN_",
        extra="forbid",
        populate_by_name=True,
        validate_default=True,
        env_nested_delimiter="__",  # INFRAGUARDIAN_SAFETY__MODE=read-only
    )

    # -- Dokploy ------------------------------------------------------------------------------
    dokploy_url: HttpUrl | None = Field(
        default=None,
        validation_alias=AliasChoices("DOKPLOY_URL", "dokploy_url"),
        description="Base URL of the Dokploy panel, e.g. https://dokploy.example.com (no /api).",
    )
    dokploy_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DOKPLOY_API_KEY", "dokploy_api_key"),
        description="Dokploy API key (create it with rateLimitEnabled:false).",
    )
    dokploy_openapi_file: Path | None = Field(
        default=None,
        description="Dokploy OpenAPI document to use instead of fetching it from the panel.",
    )
    dokploy_timeout_s: float = Field(default=30.0, gt=0, le=600)
    dokploy_max_retries: int = Field(default=3, ge=0, le=10)
    dokploy_rate_per_s: float = Field(
        default=10.0,
        gt=0,
        le=1000,
        description="Client-side limit of calls per second to Dokploy, sustained (bursts pass at once).",
    )
    dokploy_burst: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Calls to Dokploy that may go out at once before the per-second limit spaces them.",
    )
    dokploy_base_dir: Path = Field(
        default=Path("/etc/dokploy"),
        description="Dokploy's directory on this host. Compose files not served by Dokploy's API are "
        "read only from <dir>/compose/<appName>/code (symlinks resolved), never from elsewhere.",
    )

    # -- Docker -------------------------------------------------------------------------------
    docker_host: str = Field(
        default="unix:///var/run/docker.sock",
        validation_alias=AliasChoices("DOCKER_HOST", "docker_host"),
    )

    docker_host_name: str = Field(
        default="local",
        min_length=1,
        max_length=100,
        description="Name of this Docker host in audit rows, budgets and signals.",
    )

    # -- Local state (SQLite stores, cached OpenAPI documents) --------------------------------
    state_dir: Path = Field(default_factory=default_state_dir)

    runbooks_dir: Path | None = Field(default=None, description="Runbook YAML folder (default: runbooks/).")

    # -- MCP server ----------------------------------------------------------------------------
    mcp_transport: Literal["stdio", "sse", "streamable-http"] = "stdio"
    mcp_host: str = Field(
        default="127.0.0.1", description="HTTP transports bind here (localhost by default)."
    )
    mcp_port: int = Field(default=8765, ge=0, le=65535)
    mcp_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the HTTP transports; generated into <state_dir>/mcp-token if unset.",
    )
    mcp_allowed_hosts: HostNames = Field(
        default_factory=list,
        description="Host names clients use besides the bound addresses (e.g. the TLS proxy's domain).",
    )
    mcp_allowed_origins: Origins = Field(
        default_factory=list, description="Browser origins allowed besides the allowed hosts."
    )
    mcp_behind_tls_proxy: bool = Field(
        default=False, description="A TLS reverse proxy is in front: allows a non-loopback bind."
    )
    mcp_insecure_plain_http: bool = Field(
        default=False, description="Allow a non-loopback bind without TLS (trusted private networks only)."
    )

    mcp_result_max_kib: int = Field(
        default=256, ge=16, le=16384, description="Largest answer one tool call may return (KiB)."
    )
    mcp_read_timeout_s: float = Field(
        default=120.0, gt=0, le=3600, description="A read-only tool call is stopped after this long."
    )

    # -- Policy and detection ------------------------------------------------------------------
    safety: SafetySettings = Field(default_factory=SafetySettings)
    detectors: DetectorSettings = Field(default_factory=DetectorSettings)
    hooks: HookSettings = Field(
        default_factory=HookSettings,
        description="Webhook endpoints for Alertmanager and Uptime Kuma, served beside /mcp over HTTP.",
    )

    @field_validator("dokploy_url")
    @classmethod
    def _no_api_suffix(cls, v: HttpUrl | None) -> HttpUrl | None:
        if v is not None and v.path and v.path.rstrip("/").endswith("/api"):
            raise ValueError(
                "give the panel URL without the trailing /api (e.g. https://dokploy.example.com)"
            )
        return v

    @field_validator("docker_host")
    @classmethod
    def _docker_scheme(cls, v: str) -> str:
        if not v.startswith(("unix://", "tcp://", "ssh://", "npipe://", "http://", "https://")):
            raise ValueError("must start with unix://, tcp://, ssh:// or http(s)://")
        return v

    @property
    def dokploy_configured(self) -> bool:
        return self.dokploy_url is not None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("INFRAGUARDIAN_CONFIG")
        if config_file:
            sources.append(_BoundedYamlSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


_ENV_NAMES = {
    "dokploy_url": "DOKPLOY_URL",
    "dokploy_api_key": "DOKPLOY_API_KEY",
    "docker_host": "DOCKER_HOST",
}


def _setting_name(loc: tuple[Any, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    if field.isupper():
        return field
    if field in _ENV_NAMES:
        return _ENV_NAMES[field]
    nested = "__".join(str(part) for part in loc if not isinstance(part, int))
    return f"INFRAGUARDIAN_{nested.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Load settings or raise SettingsError with one line naming the bad setting.

    The offending value is never echoed: it may be a secret.
    """
    config_file = os.environ.get("INFRAGUARDIAN_CONFIG")
    if config_file and not Path(config_file).is_file():
        raise SettingsError(f"INFRAGUARDIAN_CONFIG: config file {config_file} does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        raise SettingsError(
            f"invalid setting {_setting_name(tuple(err.get('loc', ())))}: {msg}{more}"
        ) from None
    except Exception as exc:  # e.g. malformed YAML in the config file
        raise SettingsError(
            f"INFRAGUARDIAN_CONFIG: cannot read {config_file}: {exc}".splitlines()[0]
        ) from None
