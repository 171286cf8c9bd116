"""Settings of the agent host: environment variables `INFRAGUARDIAN_AGENT__*`, defaults that work
on a fresh machine (SQLite under the state directory, no Dokploy, no model).

    INFRAGUARDIAN_AGENT__STATE_DIR      where the checkpoints and the incident store live
    INFRAGUARDIAN_AGENT__DATABASE_URL   postgresql://… to keep both in PostgreSQL instead
    INFRAGUARDIAN_AGENT__SERVER_URL     a running server's MCP URL (else one is started over stdio)
    INFRAGUARDIAN_AGENT__POLL_S         how often the server's signals are read (default 2 s)

Flap protection (how often one target may be touched) and verification windows are settings
too, so a lab or a test can shorten them; the decision record always shows the values used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_host.dashboard.settings import DashboardSettings
from agent_host.memory.settings import MemorySettings
from agent_host.model.settings import ModelSettings
from agent_host.server_link.settings import LinkSettings
from agent_host.telegram.settings import TelegramSettings

if TYPE_CHECKING:
    from agent_host.incidents.database import Database


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "infraguardian" / "agent"


class AgentSettingsError(ValueError):
    """A setting is invalid; the message names it (never its value, which may be a secret)."""


class FlapSettings(BaseModel):
    """How often one target may be touched (the decision record shows these values)."""

    model_config = ConfigDict(extra="forbid")

    cooldown_s: float = Field(
        default=300, ge=0, description="after a fix, wait this long before touching it again"
    )
    backoff_base_s: float = Field(default=60, ge=0, description="backoff = min(base·2^(n−1), max)")
    backoff_max_s: float = Field(default=600, ge=0)
    failures_to_block: int = Field(default=3, ge=1, description="failed fixes in a row that block the target")
    block_s: float = Field(default=3600, ge=0)
    recurrences_to_escalate: int = Field(
        default=5, ge=1, description="incidents on one target within the window"
    )
    recurrence_window_s: float = Field(default=4 * 3600, gt=0)
    never_auto_after_failures: int = Field(
        default=2, ge=1, description="a fix that failed this often needs a human"
    )
    escalation_hold_s: float = Field(
        default=3600,
        ge=0,
        description="after an escalation, the target's new signals join the escalated incident for "
        "this long instead of opening another (a flapping target is escalated once)",
    )


class LearningSettings(BaseModel):
    """How what the agent remembers about a target's past fixes changes its next decision (the
    decision record shows the adjustment and these values)."""

    model_config = ConfigDict(extra="forbid")

    failure_penalty: float = Field(
        default=0.15, ge=0, le=1,
        description="a fix that failed for this target loses this much confidence per failure; a "
        "candidate that did not fail here is tried before it",
    )  # fmt: skip
    trust_after: int = Field(
        default=2, ge=1,
        description="a fix that worked this many times for the same problem on this target, and has not "
        "failed since, may be applied at a lower threshold (never above low risk, never past `approval: always`)",
    )  # fmt: skip
    threshold_discount: float = Field(default=0.1, ge=0, le=0.5, description="how much lower")
    threshold_floor: float = Field(default=0.5, ge=0, le=1, description="never lower than this")


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INFRAGUARDIAN_AGENT__", env_nested_delimiter="__", extra="ignore"
    )

    state_dir: Path = Field(default_factory=default_state_dir)
    server_url: str | None = Field(
        default=None, description="a running server's MCP URL; unset: start one (stdio)"
    )
    server_token: SecretStr | None = Field(default=None, description="that server's bearer token")
    server_token_file: Path | None = Field(default=None, description="or a file holding it")
    database_url: str | None = Field(
        default=None, description="postgresql://… (default: SQLite in state_dir)"
    )
    poll_s: float = Field(default=2.0, gt=0, le=60)
    evidence_wait_s: float = Field(
        default=10.0, ge=0, le=120,
        description="a signal whose evidence is still being gathered opens its incident once the "
        "evidence is in, or after this long",
    )  # fmt: skip
    approval_expiry_s: float = Field(default=900, gt=0)
    verify_interval_s: float = Field(default=5.0, gt=0)
    verify_window_max_s: float | None = Field(
        default=None, gt=0, description="cap every runbook's verification window (labs and tests)"
    )
    max_follow_depth: int = Field(default=2, ge=0, le=5)
    related_fix_window_s: float = Field(
        default=60, ge=0,
        description="before restarting a service, an incident of the same app that fixed a dependency "
        "of it (or grouped it among its victims) less than this long ago, or is fixing one now, is "
        "waited for: the service often recovers by itself and is then closed with nothing done",
    )  # fmt: skip
    related_settle_s: float = Field(
        default=10, ge=0,
        description="after that incident's verification ends, how long the service gets to recover "
        "before the agent goes on with its own fix",
    )  # fmt: skip
    flap: FlapSettings = Field(default_factory=FlapSettings)
    learning: LearningSettings = Field(default_factory=LearningSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)

    def link_settings(self) -> LinkSettings:
        return LinkSettings(
            server_url=self.server_url,
            server_token=self.server_token,
            server_token_file=self.server_token_file,
        )

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "checkpoints.sqlite3"

    @property
    def incident_path(self) -> Path:
        return self.state_dir / "incidents.sqlite3"

    def open_database(self) -> Database:
        """The incident store's and approval book's database (PostgreSQL by URL, else SQLite)."""
        from agent_host.incidents.database import open_database

        return open_database(self.database_url, self.incident_path)


def load_agent_settings(**overrides: object) -> AgentSettings:
    """Settings from the environment (and `overrides`), or `AgentSettingsError` naming the bad one."""
    try:
        return AgentSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "INFRAGUARDIAN_AGENT__" + "__".join(str(p) for p in err["loc"]).upper()
        raise AgentSettingsError(f"invalid setting {name}: {err['msg']}") from None
