"""One settings class, read from the environment (and a ``.env`` file). Documented in ``.env.example``."""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class SettingsError(Exception):
    """The environment is wrong; the message names the variable and fits on one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///dropsync.sqlite3", alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    redis_key_prefix: str = Field("", alias="DROPSYNC_REDIS_KEY_PREFIX")
    embedded_broker_path: str = Field("dropsync-broker.sqlite3", alias="DROPSYNC_EMBEDDED_BROKER_PATH")

    shopify_api_version: str = Field("2026-10", alias="SHOPIFY_API_VERSION")
    shopify_shop_domain: str | None = Field(None, alias="SHOPIFY_SHOP_DOMAIN")
    shopify_access_token: str | None = Field(None, alias="SHOPIFY_ACCESS_TOKEN")
    shopify_client_secret: str | None = Field(None, alias="SHOPIFY_CLIENT_SECRET")
    shopify_api_url: str | None = Field(None, alias="SHOPIFY_API_URL")
    shopify_timeout_seconds: float = Field(10.0, gt=0, alias="SHOPIFY_TIMEOUT_SECONDS")

    aliexpress_app_key: str | None = Field(None, alias="ALIEXPRESS_APP_KEY")
    aliexpress_app_secret: str | None = Field(None, alias="ALIEXPRESS_APP_SECRET")
    aliexpress_access_token: str | None = Field(None, alias="ALIEXPRESS_ACCESS_TOKEN")
    aliexpress_refresh_token: str | None = Field(None, alias="ALIEXPRESS_REFRESH_TOKEN")
    aliexpress_api_url: str = Field("https://api-sg.aliexpress.com", alias="ALIEXPRESS_API_URL")
    aliexpress_timeout_seconds: float = Field(10.0, gt=0, alias="ALIEXPRESS_TIMEOUT_SECONDS")
    aliexpress_gateway_timezone: str = Field("America/Los_Angeles", alias="ALIEXPRESS_GATEWAY_TIMEZONE")
    supplier_handling_days: int = Field(7, ge=1, le=60, alias="DROPSYNC_SUPPLIER_HANDLING_DAYS")
    supplier_tracking_due_days: int = Field(5, ge=1, le=60, alias="DROPSYNC_SUPPLIER_TRACKING_DUE_DAYS")
    supplier_refund_due_days: int = Field(15, ge=3, le=60, alias="DROPSYNC_SUPPLIER_REFUND_DUE_DAYS")
    seller_silence_hours: int = Field(48, ge=1, alias="DROPSYNC_SELLER_SILENCE_HOURS")
    buyer_protection_days: int = Field(60, ge=1, alias="DROPSYNC_BUYER_PROTECTION_DAYS")
    protection_warning_days: int = Field(5, ge=0, alias="DROPSYNC_PROTECTION_WARNING_DAYS")
    supplier_dispute_window_days: int = Field(15, ge=1, le=90, alias="DROPSYNC_SUPPLIER_DISPUTE_WINDOW_DAYS")
    deadline_warning_hours: int = Field(24, ge=0, alias="DROPSYNC_DEADLINE_WARNING_HOURS")
    return_goods_wait_days: int = Field(21, ge=1, le=365, alias="DROPSYNC_RETURN_GOODS_WAIT_DAYS")
    supplier_poll_batch: int = Field(100, ge=1, alias="DROPSYNC_SUPPLIER_POLL_BATCH")
    intent_stale_seconds: int = Field(120, ge=1, alias="DROPSYNC_INTENT_STALE_SECONDS")
    inbox_retention_days: int = Field(30, ge=1, alias="DROPSYNC_INBOX_RETENTION_DAYS")
    intent_dispatch_lease_seconds: int = Field(60, ge=1, alias="DROPSYNC_INTENT_DISPATCH_LEASE_SECONDS")

    secret_key: str | None = Field(None, alias="DROPSYNC_SECRET_KEY")
    secret_key_file: str | None = Field(None, alias="DROPSYNC_SECRET_KEY_FILE")

    policy_file: str | None = Field(None, alias="DROPSYNC_POLICY_FILE")
    public_url: str | None = Field(None, alias="DROPSYNC_PUBLIC_URL")
    environment: Literal["development", "production", "test"] = Field("development", alias="DROPSYNC_ENV")
    log_format: Literal["auto", "json", "console"] = Field("auto", alias="DROPSYNC_LOG_FORMAT")
    log_level: str = Field("INFO", alias="DROPSYNC_LOG_LEVEL")
    holiday_country: str = Field("US", alias="DROPSYNC_HOLIDAY_COUNTRY")
    timezone: str = Field("UTC", alias="DROPSYNC_TIMEZONE")
    webhook_max_body_bytes: int = Field(1_048_576, gt=0, alias="DROPSYNC_WEBHOOK_MAX_BODY_BYTES")
    reconcile_interval_seconds: int = Field(300, gt=0, alias="DROPSYNC_RECONCILE_INTERVAL_SECONDS")
    reconcile_overlap_seconds: int = Field(300, ge=0, alias="DROPSYNC_RECONCILE_OVERLAP_SECONDS")
    task_visibility_timeout_seconds: int = Field(3600, gt=0, alias="DROPSYNC_TASK_VISIBILITY_TIMEOUT")
    task_time_limit_seconds: int = Field(900, gt=0, alias="DROPSYNC_TASK_TIME_LIMIT")
    worker_metrics_port: int | None = Field(None, ge=0, le=65535, alias="DROPSYNC_WORKER_METRICS_PORT")
    # Loopback unless configured: the endpoint shows task and Shopify activity (see worker.observability.access).
    worker_metrics_host: str = Field("127.0.0.1", alias="DROPSYNC_WORKER_METRICS_HOST")
    task_events: bool = Field(False, alias="DROPSYNC_TASK_EVENTS")
    ops_token: str | None = Field(None, alias="DROPSYNC_OPS_TOKEN")
    web_read_timeout_seconds: float = Field(10.0, gt=0, le=300, alias="DROPSYNC_WEB_READ_TIMEOUT_SECONDS")

    @field_validator("ops_token")
    @classmethod
    def _check_ops_token(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if any(len(token.strip()) < 16 for token in value.split(",")):
            raise ValueError("each token must be at least 16 characters (e.g. `openssl rand -hex 24`)")
        return value

    @property
    def ops_tokens(self) -> list[str]:
        """``DROPSYNC_OPS_TOKEN`` split on commas (several during a rotation)."""
        return [token.strip() for token in (self.ops_token or "").split(",") if token.strip()]

    @property
    def ops_protected(self) -> bool:
        """/metrics and /readyz details need the bearer token: when one is set, and always in production."""
        return bool(self.ops_tokens) or self.environment == "production"

    # Chargebacks (worker/chargebacks): the card network's fee per chargeback, in the shop currency.
    chargeback_fee: Decimal = Field(Decimal("15"), ge=0, alias="DROPSYNC_CHARGEBACK_FEE")
    # Reasons whose evidence is submitted without a person (comma-separated, e.g. PRODUCT_NOT_RECEIVED).
    chargeback_auto_submit: str = Field("", alias="DROPSYNC_CHARGEBACK_AUTO_SUBMIT")
    chargeback_warning_days: int = Field(3, ge=0, alias="DROPSYNC_CHARGEBACK_WARNING_DAYS")

    # Cross-checks (Shopify <-> ledger <-> AliExpress) and alert notifications (worker.crosscheck, worker.notify).
    crosscheck_interval_seconds: int = Field(60, gt=0, alias="DROPSYNC_CROSSCHECK_INTERVAL_SECONDS")
    crosscheck_unlinked_hours: int = Field(48, ge=1, alias="DROPSYNC_CROSSCHECK_UNLINKED_HOURS")
    crosscheck_window_days: int = Field(60, ge=1, alias="DROPSYNC_CROSSCHECK_WINDOW_DAYS")
    crosscheck_amount_tolerance: Decimal = Field(Decimal("0.01"), ge=0, alias="DROPSYNC_CROSSCHECK_AMOUNT_TOLERANCE")
    notify_webhook_url: str | None = Field(None, alias="DROPSYNC_NOTIFY_WEBHOOK_URL")
    notify_email_to: str | None = Field(None, alias="DROPSYNC_NOTIFY_EMAIL_TO")
    notify_email_from: str = Field("dropsync@localhost", alias="DROPSYNC_NOTIFY_EMAIL_FROM")
    smtp_host: str | None = Field(None, alias="DROPSYNC_SMTP_HOST")
    smtp_port: int = Field(587, gt=0, le=65535, alias="DROPSYNC_SMTP_PORT")
    smtp_username: str | None = Field(None, alias="DROPSYNC_SMTP_USERNAME")
    smtp_password: str | None = Field(None, alias="DROPSYNC_SMTP_PASSWORD")
    smtp_security: Literal["starttls", "ssl", "none"] = Field("starttls", alias="DROPSYNC_SMTP_SECURITY")
    notify_min_severity: Literal["info", "warning", "critical"] = Field("warning", alias="DROPSYNC_NOTIFY_MIN_SEVERITY")
    notify_max_attempts: int = Field(8, ge=1, alias="DROPSYNC_NOTIFY_MAX_ATTEMPTS")
    notify_timeout_seconds: float = Field(10.0, gt=0, alias="DROPSYNC_NOTIFY_TIMEOUT_SECONDS")
    notify_stale_seconds: int = Field(120, ge=1, alias="DROPSYNC_NOTIFY_STALE_SECONDS")
    # Development and tests only: read "now" from a sandbox's clock (GET URL -> {"now": iso}) so advancing
    # the sandbox's clock moves dropsync's deadlines too. Refused in production.
    sandbox_clock_url: str | None = Field(None, alias="DROPSYNC_SANDBOX_CLOCK_URL")

    @model_validator(mode="after")
    def _visibility_outlasts_tasks(self) -> Settings:
        if self.task_visibility_timeout_seconds <= self.task_time_limit_seconds:
            raise ValueError(
                "DROPSYNC_TASK_VISIBILITY_TIMEOUT must exceed DROPSYNC_TASK_TIME_LIMIT "
                "(or a running task is delivered a second time)"
            )
        return self

    @model_validator(mode="after")
    def _no_sandbox_clock_in_production(self) -> Settings:
        if self.sandbox_clock_url and self.environment == "production":
            raise ValueError("DROPSYNC_SANDBOX_CLOCK_URL is for development and tests only (DROPSYNC_ENV=production)")
        return self

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"backend {url.get_backend_name()!r} is not supported (use sqlite or postgresql)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @property
    def sqlalchemy_url(self) -> str:
        """``DATABASE_URL`` with a driver: plain ``postgresql://`` (as platforms give it) uses psycopg 3."""
        url = make_url(self.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)

    @property
    def broker_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return f"dropsync-sqlite://localhost/{Path(self.embedded_broker_path).resolve()}"

    @property
    def uses_embedded_broker(self) -> bool:
        return not self.redis_url


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    if not first["loc"]:
        return str(first["msg"]).removeprefix("Value error, ")
    name = str(first["loc"][0])
    field = Settings.model_fields.get(name)
    variable = (field.alias if field else None) or name
    message = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    shown = "" if _is_secret(variable) else f" (got {value!r})"
    return f"{variable}: {message}{shown}"


def _is_secret(variable: str) -> bool:
    return any(word in variable for word in ("TOKEN", "SECRET", "KEY"))


def load_settings() -> Settings:
    """Read the environment; a bad value raises ``SettingsError`` naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()
