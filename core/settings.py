"""Settings from the environment (and a `.env` file): the one place that reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ConfigError


class Settings(BaseSettings):
    """Every setting of CONTRACT section 3, plus tuning knobs with safe defaults."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token"),
        description="Bot token (xoxb-...) used for chat.postMessage and friends.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret"),
        description="Signing secret that verifies requests from Slack.",
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "slack_app_token"),
        description="App-level token (xapp-...) for Socket Mode.",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        validation_alias=AliasChoices("SLACK_API_URL", "slack_api_url"),
        description="Slack Web API base URL; tests and the demo point it at a local stand-in.",
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url"),
        description="redis:// or rediss:// URL; unset starts an embedded Valkey server.",
    )
    feeds_file: Path = Field(
        default=Path("feeds.yaml"),
        validation_alias=AliasChoices("REEWATCH_FEEDS_FILE", "feeds_file"),
        description="Path of feeds.yaml.",
    )
    redis_prefix: str = Field(
        default="reewatch:",
        validation_alias=AliasChoices("REEWATCH_REDIS_PREFIX", "redis_prefix"),
        description="Prefix of every Redis key and RQ queue name the project writes.",
    )
    command: str = Field(
        default="/ree", validation_alias=AliasChoices("REEWATCH_COMMAND", "command"),
        description="The slash command.",
    )
    admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("REEWATCH_ADMINS", "admins"),
        description="Slack user ids (comma separated) allowed to change feeds, status and on-call.",
    )
    allow_private_networks: bool = Field(
        default=False,
        validation_alias=AliasChoices("REEWATCH_ALLOW_PRIVATE_NETWORKS", "allow_private_networks"),
        description="Allow feed URLs on loopback, private, link-local or reserved addresses.",
    )
    log_format: Literal["console", "json"] = Field(
        default="console", validation_alias=AliasChoices("REEWATCH_LOG_FORMAT", "log_format"),
        description="Log line format.",
    )
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("REEWATCH_LOG_LEVEL", "log_level"),
        description="Log level name.",
    )
    retention_days: int = Field(
        default=30, ge=1, le=3650,
        validation_alias=AliasChoices("REEWATCH_RETENTION_DAYS", "retention_days"),
        description="How long seen items and events are kept.",
    )
    fetch_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024,
        validation_alias=AliasChoices("REEWATCH_FETCH_MAX_BYTES", "fetch_max_bytes"),
        description="Largest feed body accepted, counted after decompression.",
    )
    fetch_timeout: float = Field(
        default=20.0, gt=0,
        validation_alias=AliasChoices("REEWATCH_FETCH_TIMEOUT", "fetch_timeout"),
        description="Total deadline of one feed fetch in seconds.",
    )
    feed_cache_max: float = Field(
        default=3600.0, ge=0,
        validation_alias=AliasChoices("REEWATCH_FEED_CACHE_MAX", "feed_cache_max"),
        description="Longest wait (s) a feed server may impose by Cache-Control, Expires or Retry-After.",
    )
    feed_backoff_max: float = Field(
        default=6 * 3600.0, ge=1,
        validation_alias=AliasChoices("REEWATCH_FEED_BACKOFF_MAX", "feed_backoff_max"),
        description="Cap (s) of the exponential backoff between polls of a failing feed.",
    )
    feed_disable_4xx_after: float = Field(
        default=3 * 86400.0, ge=60,
        validation_alias=AliasChoices("REEWATCH_FEED_DISABLE_4XX_AFTER", "feed_disable_4xx_after"),
        description="A feed failing with client errors (4xx, not a feed, too large) this long (s) is disabled.",
    )
    feed_disable_5xx_after: float = Field(
        default=7 * 86400.0, ge=60,
        validation_alias=AliasChoices("REEWATCH_FEED_DISABLE_5XX_AFTER", "feed_disable_5xx_after"),
        description="A feed failing with server or network errors this long (s) is disabled.",
    )
    poll_concurrency: int = Field(
        default=8, ge=1, le=64,
        validation_alias=AliasChoices("REEWATCH_POLL_CONCURRENCY", "poll_concurrency"),
        description="Feeds fetched at once by one poll job.",
    )
    poll_per_host: int = Field(
        default=2, ge=1, le=16,
        validation_alias=AliasChoices("REEWATCH_POLL_PER_HOST", "poll_per_host"),
        description="Concurrent requests to one host within a poll job.",
    )
    summarizer_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REEWATCH_SUMMARIZER_URL", "summarizer_url"),
        description="OpenAI-compatible base URL for the optional LLM summarizer (off when unset).",
    )
    summarizer_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("REEWATCH_SUMMARIZER_API_KEY", "summarizer_api_key"),
        description="API key for the optional LLM summarizer.",
    )
    summarizer_model: str = Field(
        default="gpt-4o-mini",
        validation_alias=AliasChoices("REEWATCH_SUMMARIZER_MODEL", "summarizer_model"),
        description="Model name for the optional LLM summarizer.",
    )
    timezone: str = Field(
        default="UTC", validation_alias=AliasChoices("REEWATCH_TIMEZONE", "timezone"),
        description="IANA time zone of digest times (digest=HH:MM) and other wall-clock times users type.",
    )
    metrics_port: int | None = Field(
        default=None, validation_alias=AliasChoices("REEWATCH_METRICS_PORT", "metrics_port"),
        description="Port of the worker's /metrics endpoint (off when unset).",
    )
    slack_channel_rate: float = Field(
        default=1.0, gt=0, le=100,
        validation_alias=AliasChoices("REEWATCH_SLACK_CHANNEL_RATE", "slack_channel_rate"),
        description="Messages per second posted to one channel, shared by every worker (Slack allows ~1).",
    )
    slack_channel_burst: int = Field(
        default=3, ge=1, le=100,
        validation_alias=AliasChoices("REEWATCH_SLACK_CHANNEL_BURST", "slack_channel_burst"),
        description="Messages a quiet channel may receive at once before pacing applies.",
    )
    delivery_lease: float = Field(
        default=300.0, ge=0.5, le=3600,
        validation_alias=AliasChoices("REEWATCH_DELIVERY_LEASE", "delivery_lease"),
        description="Seconds a delivery may stay claimed before another worker reconciles and retries it.",
    )
    summarizer_timeout: float = Field(
        default=10.0, gt=0,
        validation_alias=AliasChoices("REEWATCH_SUMMARIZER_TIMEOUT", "summarizer_timeout"),
        description="Seconds the optional LLM summarizer may take before the extractive one is used.",
    )

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value) or "*" in value:
            raise ValueError("must be non-empty, without spaces or '*'")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from core.feeds import check_zone  # feeds.yaml validates its zones the same way

        return check_zone(value)

    @field_validator("command")
    @classmethod
    def _command_shape(cls, value: str) -> str:
        if not value.startswith("/") or len(value) < 2:
            raise ValueError("must start with '/', e.g. /ree")
        return value

    def require_slack(self) -> None:
        """Raise ConfigError naming the missing variables when real Slack credentials are absent."""
        missing = [name for name, value in (
            ("SLACK_BOT_TOKEN", self.slack_bot_token),
            ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
        ) if value is None or not value.get_secret_value()]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} must be set to talk to Slack "
                "(see README, 'Slack app set-up'; `make demo` runs without them)"
            )

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.admins


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation errors into one readable ConfigError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
