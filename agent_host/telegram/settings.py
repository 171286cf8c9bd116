"""Telegram settings, nested in the agent's settings as `telegram` (environment variables
`INFRAGUARDIAN_AGENT__TELEGRAM__*`). With no token, or no allowed chat, Telegram is off.

    INFRAGUARDIAN_AGENT__TELEGRAM__TOKEN              the bot token from @BotFather
    INFRAGUARDIAN_AGENT__TELEGRAM__ALLOWED_CHAT_IDS   '[123456789]': chats obeyed and notified
    INFRAGUARDIAN_AGENT__TELEGRAM__ALLOWED_USER_IDS   '[123456789]': who may command/approve
    INFRAGUARDIAN_AGENT__TELEGRAM__BASE_URL           another Bot API server (tests: the stand-in)
    INFRAGUARDIAN_AGENT__TELEGRAM__WEBHOOK_URL        https://bot.example.org/tg: webhook instead of polling
    INFRAGUARDIAN_AGENT__TELEGRAM__WEBHOOK_SECRET     required with WEBHOOK_URL (A-Z a-z 0-9 _ -)
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TelegramSettings(BaseSettings):
    """How the agent talks to Telegram; `enabled` is False until a token and a chat are set."""

    # the prefix matters when this class reads the environment itself (AgentSettings builds it with
    # default_factory): without it, a bare TOKEN or NOTIFY variable of the shell would be taken
    model_config = SettingsConfigDict(env_prefix="INFRAGUARDIAN_AGENT__TELEGRAM__", extra="forbid")

    token: SecretStr | None = Field(default=None, description="bot token; None = Telegram off")
    base_url: str = Field(
        default="https://api.telegram.org/bot", description="Bot API URL the token is appended to"
    )
    allowed_chat_ids: list[int] = Field(
        default_factory=list, description="chats that are obeyed; notifications go to each of them"
    )
    allowed_user_ids: list[int] = Field(
        default_factory=list,
        description="users who may command and approve; empty = any member of an allowed chat",
    )
    poll_timeout_s: int = Field(default=30, ge=0, description="long-polling timeout of getUpdates")
    notify: bool = Field(default=True, description="send incident notifications to the allowed chats")
    webhook_url: str | None = Field(
        default=None, description="public https URL Telegram posts updates to; None = long polling"
    )
    webhook_listen: str = Field(
        default="127.0.0.1", description="address the webhook endpoint binds (behind a TLS proxy)"
    )
    webhook_port: int = Field(default=8443, ge=1, le=65535, description="port the webhook endpoint binds")
    webhook_secret: SecretStr | None = Field(
        default=None, description="X-Telegram-Bot-Api-Secret-Token; required with webhook_url"
    )
    webhook_allow_http: bool = Field(
        default=False, description="tests only: an http:// webhook_url (Telegram refuses those)"
    )

    @model_validator(mode="after")
    def _webhook_is_valid(self) -> TelegramSettings:
        from agent_host.telegram.webhook import config_from_settings

        config_from_settings(self)  # a wrong URL/port/secret fails at startup, naming the variable
        return self

    @property
    def enabled(self) -> bool:
        return self.token is not None and bool(self.token.get_secret_value()) and bool(self.allowed_chat_ids)
