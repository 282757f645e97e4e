"""Credentials at rest: a dump of the database hands over no token or secret; the key is checked at
start-up, rotates, and the development path needs no configuration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from integrations.aliexpress.models import TokenPair
from models import AliExpressToken, Shop
from tests.support.cli import InProcess, in_process
from tests.support.dump import dump_database
from worker import secrets, secrets_startup
from worker.db import session_scope
from worker.settings import get_settings
from worker.shops import add_shop, ensure_env_shop
from worker.supplier.tokens import current_tokens, store_tokens

ADDED_TOKEN, ADDED_SECRET = "shpat_added_0f9e8d7c6b5a", "added-client-secret-5c4b3a29"
ENV_TOKEN, ENV_SECRET = "shpat_env_11aa22bb33cc", "env-client-secret-44dd55ee"
ALI_ENV, ALI_ACCESS, ALI_REFRESH = "ali-env-access-66ff77", "ali-refreshed-access-8899aa", "ali-refresh-bbccdd00"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set environment variables for one test; settings re-read before and after."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def _setenv(env: pytest.MonkeyPatch, **values: str | None) -> None:
    for name, value in values.items():
        if value is None:
            env.delenv(name, raising=False)
        else:
            env.setenv(name, value)
    get_settings.cache_clear()


def _store_everything(env: pytest.MonkeyPatch) -> None:
    _setenv(env, SHOPIFY_SHOP_DOMAIN="env-shop.myshopify.com", SHOPIFY_ACCESS_TOKEN=ENV_TOKEN,
            SHOPIFY_CLIENT_SECRET=ENV_SECRET)  # fmt: skip
    with session_scope() as session:
        ensure_env_shop(session, get_settings())
        add_shop(session, "added.myshopify.com", ADDED_TOKEN, ADDED_SECRET)
    store_tokens("app-1", TokenPair(ALI_ACCESS, ALI_REFRESH, 3600), seeded_from=ALI_ENV)


def test_a_database_dump_holds_no_credential(committed_db: Engine, env: pytest.MonkeyPatch) -> None:
    _store_everything(env)
    dump = dump_database(committed_db)
    assert "added.myshopify.com" in dump
    assert "env-shop.myshopify.com" in dump
    for value in (ADDED_TOKEN, ADDED_SECRET, ENV_TOKEN, ENV_SECRET, ALI_ENV, ALI_ACCESS, ALI_REFRESH):
        assert value not in dump
    # …and the code that uses them still reads them in clear.
    with session_scope() as session:
        added = session.query(Shop).filter_by(domain="added.myshopify.com").one()
        assert (added.access_token, added.client_secret) == (ADDED_TOKEN, ADDED_SECRET)
        env_shop = session.query(Shop).filter_by(domain="env-shop.myshopify.com").one()
        assert (env_shop.access_token, env_shop.client_secret) == (None, None)  # the environment's stay there
        row = session.get_one(AliExpressToken, "app-1")
        assert (row.access_token, row.refresh_token) == (ALI_ACCESS, ALI_REFRESH)
        assert row.seeded_from == secrets.fingerprint(ALI_ENV)
    assert current_tokens("app-1", ALI_ENV, None) == (ALI_ACCESS, ALI_REFRESH)
    assert current_tokens("app-1", "re-authorised-token", "r2") == ("re-authorised-token", "r2")


def test_an_old_copy_of_the_environment_shop_credentials_is_erased(
    committed_db: Engine, env: pytest.MonkeyPatch
) -> None:
    with session_scope() as session:
        add_shop(session, "env-shop.myshopify.com", ENV_TOKEN, ENV_SECRET)  # what older versions copied
    _store_everything(env)
    assert ENV_TOKEN not in dump_database(committed_db)


@pytest.fixture
def cli(committed_db: Engine, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[InProcess]:
    yield in_process(env, capsys, {})
    get_settings.cache_clear()


def test_a_missing_or_wrong_key_stops_start_up_in_one_line(
    cli: InProcess, env: pytest.MonkeyPatch, committed_db: Engine
) -> None:
    _store_everything(env)
    assert cli("secrets", "status")[0] == 0
    _setenv(env, DROPSYNC_SECRET_KEY=None, DROPSYNC_ENV="production")
    for command in (("secrets", "status"), ("web", "--port", "0")):
        code, _, err = cli(*command)
        assert code == 2
        assert err.strip() == (
            "dropsync: configuration error: DROPSYNC_SECRET_KEY is not set: credentials are stored "
            "encrypted with it (make one with `dropsync secrets generate-key`)"
        )
    _setenv(env, DROPSYNC_SECRET_KEY=Fernet.generate_key().decode())
    code, _, err = cli("web", "--port", "0")
    assert code == 2
    assert "DROPSYNC_SECRET_KEY opens none of the stored credentials: wrong key?" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as stopped:  # what the worker and beat run at start-up
        secrets_startup.refuse_unreadable_credentials()
    assert stopped.value.code == 2
    _setenv(env, DROPSYNC_SECRET_KEY="not-a-key")
    code, _, err = cli("secrets", "status")
    assert (code, "key #1 is not a Fernet key" in err) == (2, True)


def test_rotation_reseals_with_the_new_key(cli: InProcess, env: pytest.MonkeyPatch, committed_db: Engine) -> None:
    _store_everything(env)
    old = get_settings().secret_key
    assert old
    before = dump_database(committed_db)
    new = Fernet.generate_key().decode()
    _setenv(env, DROPSYNC_SECRET_KEY=f"{new},{old}")
    code, out, _ = cli("secrets", "rotate")
    assert code == 0
    assert "4 credential(s) re-sealed with the newest key" in out
    _setenv(env, DROPSYNC_SECRET_KEY=new)  # the old key dropped: everything still opens
    assert cli("secrets", "status")[0] == 0
    with session_scope() as session:
        assert session.query(Shop).filter_by(domain="added.myshopify.com").one().access_token == ADDED_TOKEN
    _setenv(env, DROPSYNC_SECRET_KEY=old)
    assert cli("secrets", "status")[0] == 2
    assert before != dump_database(committed_db)


def test_plain_text_left_by_an_older_version_is_read_then_sealed(
    cli: InProcess, env: pytest.MonkeyPatch, committed_db: Engine
) -> None:
    with committed_db.begin() as conn:
        conn.execute(text("INSERT INTO shops (domain, access_token, client_secret, active, created_at, updated_at) "
                          "VALUES ('legacy.myshopify.com', 'shpat_legacy_plain', 'legacy-secret', true, "
                          "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))  # fmt: skip
    with Session(committed_db) as session:
        assert session.query(Shop).filter_by(domain="legacy.myshopify.com").one().access_token == "shpat_legacy_plain"
    code, out, _ = cli("secrets", "rotate")
    assert (code, "2 sealed from plain text" in out) == (0, True)
    assert "shpat_legacy_plain" not in dump_database(committed_db)


def test_development_needs_no_key_production_does(
    env: pytest.MonkeyPatch, committed_db: Engine, tmp_path: Path
) -> None:
    key_file = tmp_path / "data" / "secret.key"
    _setenv(env, DROPSYNC_SECRET_KEY=None, DROPSYNC_ENV="development", DROPSYNC_SECRET_KEY_FILE=str(key_file))
    with session_scope() as session:
        add_shop(session, "dev.myshopify.com", ADDED_TOKEN, ADDED_SECRET)
    assert key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert ADDED_TOKEN not in dump_database(committed_db)
    with session_scope() as session:
        assert session.query(Shop).filter_by(domain="dev.myshopify.com").one().client_secret == ADDED_SECRET
    _setenv(env, DROPSYNC_ENV="production", DROPSYNC_SECRET_KEY_FILE=None)
    with pytest.raises(secrets.SecretKeyError, match="DROPSYNC_SECRET_KEY is not set"), session_scope() as session:
        add_shop(session, "prod.myshopify.com", ADDED_TOKEN, ADDED_SECRET)
