"""Fixtures for the bank tests: a database per backend and a CLI object like the root CLI's."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import pytest

from bot.config import Config, parse_config
from bot.storage.db import Database
from bot.storage.models import Base

BANK_PG_URL = os.environ.get("TEST_DATABASE_URL")
BANK_BACKENDS = ["sqlite"] + (["postgresql"] if BANK_PG_URL else [])


def bank_config(db_url: str = "sqlite://", **quiz) -> Config:
    """Build a valid config with the given quiz settings."""
    return parse_config({
        "wechat": {"app_id": "wx0000000000000000", "app_secret": "s", "token": "token"},
        "database": {"url": db_url},
        "activity": {"name": "知识产权宣传周", "start": dt.datetime(2027, 4, 20),
                     "end": dt.datetime(2027, 4, 26, 23, 59, 59)},
        "quiz": {"bank": "default", **quiz},
    }, "test.toml", environ={})


@pytest.fixture(params=BANK_BACKENDS)
def bank_db(request, tmp_path):
    """A fresh database with the tables created: SQLite, and PostgreSQL when TEST_DATABASE_URL is set."""
    url = f"sqlite:///{tmp_path / 'bank.db'}" if request.param == "sqlite" else BANK_PG_URL
    db = Database(url)
    if request.param == "postgresql":
        Base.metadata.drop_all(db.engine)
    db.create_all()
    yield db
    if request.param == "postgresql":
        Base.metadata.drop_all(db.engine)
    db.dispose()


@dataclass
class BankCliState:
    """What the root CLI puts in ctx.obj."""

    config: Config
    db: Database | None = None


@pytest.fixture
def offline_state():
    """A CLI object with a config and no database, as `template` and `check` must work."""
    return BankCliState(config=bank_config())


@pytest.fixture
def cli_state(bank_db):
    """A CLI object on the test database with quiz.bank = "default"."""
    return BankCliState(config=bank_config(bank_db.url), db=bank_db)
