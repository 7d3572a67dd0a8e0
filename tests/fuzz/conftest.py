"""Fuzz fixtures: one SQLite app per module (plaintext and safe mode), cheap enough for hundreds of requests."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from bot.app import create_app
from bot.storage.db import Database
from bot.storage.models import Attempt, Follower, InboundMessage, KeyValue
from bot.runtime import Runtime
from tests.conftest import AES_KEY, IN_WEEK, Clock, load_bank, make_config

FUZZ_NOW = 1_700_000_000.0
STORED = (InboundMessage, Follower, Attempt, KeyValue)


@dataclass
class Target:
    """A webhook under fuzz: its runtime, a test client and, in safe mode, the crypto WeChat uses."""

    runtime: Runtime
    client: FlaskClient
    crypto: WeChatCrypto | None

    @property
    def token(self) -> str:
        return self.runtime.config.wechat.token

    def stored(self) -> tuple[int, ...]:
        """Count the rows a message could add: dedupe records, followers, attempts, counters."""
        with self.runtime.db.reader() as session:
            return tuple(session.scalar(select(func.count()).select_from(model)) for model in STORED)


def _target(tmp_path_factory, aes: str):
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'bot.db'}"
    config = make_config({"wechat": {"encoding_aes_key": aes}}, url)
    db = Database(url)
    db.create_all()
    load_bank(db)
    # Requests are signed at FUZZ_NOW (test_webhook_fuzz.FRESH); each example draws its own nonce.
    runtime = Runtime(config, db, clock=Clock(IN_WEEK), wall_clock=lambda: FUZZ_NOW)
    crypto = WeChatCrypto(config.wechat.token, aes, config.wechat.app_id) if aes else None
    return Target(runtime=runtime, client=create_app(runtime=runtime).test_client(), crypto=crypto)


@pytest.fixture(scope="module")
def aes_target(tmp_path_factory):
    """The webhook in safe mode (compatible mode too: plaintext messages are still accepted)."""
    target = _target(tmp_path_factory, AES_KEY)
    yield target
    target.runtime.db.dispose()


@pytest.fixture(scope="module", params=["plaintext", "aes"])
def target(request, tmp_path_factory, aes_target):
    """The webhook in plaintext mode, then in safe mode."""
    if request.param == "aes":
        yield aes_target
        return
    target = _target(tmp_path_factory, "")
    yield target
    target.runtime.db.dispose()
