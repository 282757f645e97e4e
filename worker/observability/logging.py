"""Structured logs: one pipeline for structlog and stdlib loggers (celery, uvicorn, sqlalchemy, httpx).

* JSON lines in production (``DROPSYNC_ENV=production`` or ``DROPSYNC_LOG_FORMAT=json``), a readable
  console renderer in development.
* Context travels in ``structlog.contextvars``: :func:`bind_context` / :func:`bound_context` add the
  shop, order and intent ids; the Celery hooks bind the task id and name, the web middleware a request
  id. Every line logged inside that scope, from structlog or stdlib, carries them.
* Every line passes :func:`redact_event` last before rendering, so secrets and customer PII never reach
  the output (see ``worker.observability.redaction``). Tracebacks are formatted *before* redaction for
  the same reason.

``configure_logging`` may be called again (a Celery signal after the CLI did): it replaces its own
handler instead of adding a second one.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer
from structlog.types import EventDict, Processor, WrappedLogger

from worker.observability.redaction import redact, register_secrets
from worker.settings import Settings

#: Libraries that are chatty (or print URLs with credentials) at INFO: they log from WARNING up.
_QUIET_LOGGERS = (
    "sqlalchemy", "amqp", "kombu", "httpx", "httpcore", "urllib3", "asyncio", "multipart",
    "alembic.runtime.plugins",  # "setup plugin …" on every start-up
)  # fmt: skip
_HANDLER_MARK = "_dropsync_handler"
_LEADING_KEYS = ("timestamp", "level", "logger", "event")

CONTEXT_KEYS = ("shop_id", "order_id", "intent_id", "supplier_order_id", "task_id", "task_name", "request_id")


def wants_json(settings: Settings) -> bool:
    if settings.log_format != "auto":
        return settings.log_format == "json"
    return settings.environment == "production"


def settings_secrets(settings: Settings) -> list[str | None]:
    """The literal secret values in the settings: masked wherever they appear in a log line."""
    return [
        settings.shopify_access_token,
        settings.shopify_client_secret,
        settings.aliexpress_app_secret,
        settings.aliexpress_access_token,
        settings.aliexpress_refresh_token,
        _url_password(settings.database_url),
        _url_password(settings.redis_url),
        *settings.ops_tokens,
        settings.smtp_password,
        settings.notify_webhook_url,
        *_url_tokens(settings.notify_webhook_url),
    ]


def _url_tokens(url: str | None) -> list[str]:
    """The path segments of a webhook URL that carry its secret (Slack: /services/T…/B…/<token>)."""
    if not url or "://" not in url:
        return []
    path = url.split("://", 1)[1].partition("/")[2].split("?", 1)[0]
    return [part for part in path.split("/") if len(part) >= 8]


def _url_password(url: str | None) -> str | None:
    if not url or "@" not in url or "://" not in url:
        return None
    credentials = url.split("://", 1)[1].rsplit("@", 1)[0]
    return credentials.split(":", 1)[1] if ":" in credentials else None


def watch_stored_credentials() -> None:
    """Shops added with ``dropsync shops add`` keep their token and client secret in the ledger: every
    shop row this process loads or writes has its credentials registered for masking too."""
    from sqlalchemy import event

    from models import Shop

    for name, listener in (("load", _shop_seen), ("refresh", _shop_seen)):
        if not event.contains(Shop, name, listener):
            event.listen(Shop, name, listener)
    for name in ("after_insert", "after_update"):
        if not event.contains(Shop, name, _shop_written):
            event.listen(Shop, name, _shop_written)


def _shop_seen(target: Any, *_: Any) -> None:
    register_secrets([target.__dict__.get("access_token"), target.__dict__.get("client_secret")])


def _shop_written(_mapper: Any, _connection: Any, target: Any) -> None:
    _shop_seen(target)


def redact_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the last step before rendering; masks by key name and by value."""
    redacted: EventDict = redact(dict(event_dict))
    head = {key: redacted.pop(key) for key in _LEADING_KEYS if key in redacted}
    return {**head, **redacted}


def _shared_processors(json_output: bool) -> list[Processor]:
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        _drop_formatted_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if json_output:
        # Locals stay out: a frame's variables are exactly where tokens and addresses sit.
        processors.append(ExceptionRenderer(ExceptionDictTransformer(show_locals=False)))
    else:
        processors.append(structlog.processors.format_exc_info)
    return processors


def _drop_formatted_message(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # Another handler's Formatter may have set record.message first: the same text as "event", twice.
    if event_dict.get("message") == event_dict.get("event"):
        event_dict.pop("message", None)
    return event_dict


def _renderer(json_output: bool) -> Processor:
    if json_output:
        return structlog.processors.JSONRenderer(default=str, sort_keys=False)
    return structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Route structlog and the stdlib root logger through one redacting renderer; returns the handler.

    ``stream`` defaults to the current ``sys.stderr`` (captured now: Celery later swaps ``sys.stderr``
    for a proxy that logs, and writing to that proxy from the handler would loop).
    """
    register_secrets(settings_secrets(settings))
    watch_stored_credentials()
    json_output = wants_json(settings)
    shared = _shared_processors(json_output)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact_event, _renderer(json_output)],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    _install_root_handler(handler, _level(settings.log_level))
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return handler


def is_dropsync_handler(handler: logging.Handler) -> bool:
    """Whether ``configure_logging`` installed ``handler`` (it replaces its own, never another's)."""
    return bool(getattr(handler, _HANDLER_MARK, False))


def _level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    return level if isinstance(level, int) else logging.INFO


def _install_root_handler(handler: logging.Handler, level: int) -> None:
    root = logging.getLogger()
    for existing in list(root.handlers):
        if is_dropsync_handler(existing):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        # uvicorn's and celery's own configs may have attached handlers: one line per event, ours.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def bind_context(*, shop: int | None = None, order: int | None = None, intent: int | None = None, **extra: Any) -> None:
    """Add ids to every following log line in this task, request or thread (``None`` values are skipped)."""
    values = {"shop_id": shop, "order_id": order, "intent_id": intent, **extra}
    structlog.contextvars.bind_contextvars(**{key: value for key, value in values.items() if value is not None})


@contextlib.contextmanager
def bound_context(
    *, shop: int | None = None, order: int | None = None, intent: int | None = None, **extra: Any
) -> Iterator[None]:
    """Like :func:`bind_context` for a block only: the previous values come back afterwards."""
    values = {"shop_id": shop, "order_id": order, "intent_id": intent, **extra}
    tokens = structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()


def configure_logging_from_env() -> None:
    """For process entry points: configure from the environment; a bad environment is left to the command
    (which reports it as one line), so ``--help`` still works with a broken ``.env``."""
    from worker.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError:
        return
    configure_logging(settings)
