"""Log lines carry the task/request/order context and never contain a planted token, secret or email.

The leak test runs the same lines through the pipeline twice: with redaction disabled (to prove the
planted values really reach the output, so the test can fail) and enabled (they must be absent).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from sqlalchemy.orm import Session

from models import Shop
from worker.observability import logging as obs_logging
from worker.observability.logging import bind_context, bound_context, configure_logging
from worker.observability.redaction import forget_secrets
from worker.settings import Settings

TOKEN = "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"
CLIENT_SECRET = "whsec-client-secret-7Q2x9LmP"  # no recognisable shape: only the settings literal catches it
EMAIL = "jane.doe@example.com"
PLANTED = (TOKEN, CLIENT_SECRET, EMAIL)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    forget_secrets()


def _settings(log_format: str) -> Settings:
    return Settings(
        SHOPIFY_ACCESS_TOKEN=TOKEN,
        SHOPIFY_CLIENT_SECRET=CLIENT_SECRET,
        DROPSYNC_LOG_FORMAT=log_format,
        DROPSYNC_ENV="test",
    )


def _emit_leaky_lines() -> None:
    """What careless code might log: a settings dump, a raw payload, a stdlib message, a traceback."""
    log = structlog.get_logger("dropsync.test")
    with bound_context(shop=1, order=1001, intent=7):
        log.info("calling shopify", token=TOKEN, headers={"X-Shopify-Hmac-Sha256": "abc=", "X-Client": CLIENT_SECRET})
        log.info("order payload", payload={"contact": EMAIL, "note": f"secret is {CLIENT_SECRET}"})
        logging.getLogger("celery.app.trace").warning("task failed for %s with %s", EMAIL, TOKEN)
        try:
            raise RuntimeError(f"401 for token {TOKEN} ({EMAIL})")
        except RuntimeError:
            log.exception("shopify call failed")


def _capture(log_format: str, *, redaction: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    if not redaction:
        monkeypatch.setattr(obs_logging, "redact", lambda value: value)
        monkeypatch.setattr(obs_logging, "register_secrets", lambda values: None)
    stream = io.StringIO()
    configure_logging(_settings(log_format), stream=stream)
    _emit_leaky_lines()
    monkeypatch.undo()
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_planted_secrets_never_reach_the_log(log_format: str, monkeypatch: pytest.MonkeyPatch) -> None:
    unredacted = _capture(log_format, redaction=False, monkeypatch=monkeypatch)
    for value in PLANTED:
        assert value in unredacted, "the test plants every value on a path that would log it"
    forget_secrets()
    output = _capture(log_format, redaction=True, monkeypatch=monkeypatch)
    assert output.count("\n") >= 4
    for value in PLANTED:
        assert value not in output, f"{value!r} leaked into the log"
    assert "[REDACTED]" in output


def test_json_lines_carry_the_bound_context() -> None:
    stream = io.StringIO()
    configure_logging(_settings("json"), stream=stream)
    bind_context(task_id="t-1", task_name="mirror.apply_inbox")
    with bound_context(shop=3, order=42, intent=9):
        structlog.get_logger("x").info("applied")
        logging.getLogger("sqlalchemy.engine").warning("slow query")
    structlog.get_logger("x").info("after")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["applied", "slow query", "after"]
    for line in lines[:2]:
        assert (line["shop_id"], line["order_id"], line["intent_id"], line["task_id"]) == (3, 42, 9, "t-1")
        assert line["level"] in ("info", "warning")
        assert line["timestamp"].endswith("Z")
    assert "order_id" not in lines[2], "bound_context restores the outer scope"
    assert lines[2]["task_id"] == "t-1"


def test_production_defaults_to_json_and_development_to_console() -> None:
    assert obs_logging.wants_json(Settings(DROPSYNC_ENV="production"))
    assert not obs_logging.wants_json(Settings(DROPSYNC_ENV="development"))
    assert obs_logging.wants_json(Settings(DROPSYNC_ENV="development", DROPSYNC_LOG_FORMAT="json"))
    stream = io.StringIO()
    configure_logging(Settings(DROPSYNC_ENV="development"), stream=stream)
    structlog.get_logger("x").info("hello", order_id=5)
    assert "hello" in stream.getvalue()
    assert "order_id=5" in stream.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(stream.getvalue())


def test_configuring_twice_keeps_one_handler_and_the_level() -> None:
    settings = Settings(DROPSYNC_LOG_LEVEL="WARNING", DROPSYNC_LOG_FORMAT="json")
    stream = io.StringIO()
    configure_logging(settings, stream=io.StringIO())
    configure_logging(settings, stream=stream)
    structlog.get_logger("x").info("dropped")
    structlog.get_logger("x").warning("kept")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["kept"]
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_dropsync_handler", False)]
    assert len(ours) == 1


def test_credentials_of_shops_in_the_ledger_are_masked_too(session: Session) -> None:
    stored_secret = "per-shop-client-secret-91xQ"  # no recognisable shape: only the ledger knows it
    stream = io.StringIO()
    configure_logging(_settings("json"), stream=stream)
    shop = Shop(domain="second-store.myshopify.com", client_secret=stored_secret, access_token="opaque-token-77aa")
    session.add(shop)
    session.flush()
    structlog.get_logger("x").warning("hmac mismatch", detail=f"verified with {stored_secret}")
    forget_secrets()
    session.expire_all()
    reloaded = session.get(Shop, shop.id)
    assert reloaded is not None
    assert reloaded.access_token == "opaque-token-77aa"  # loading the row registers its credentials again
    logging.getLogger("httpx").error("401 with opaque-token-77aa")
    assert stored_secret not in stream.getvalue()
    assert "opaque-token-77aa" not in stream.getvalue()
    assert stream.getvalue().count("[REDACTED]") == 2, "one mask per line, no duplicated message field"
