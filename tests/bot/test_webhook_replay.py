"""Signed requests expire and are used once: issue 16 item 1 (replay) and item 2 (safe mode)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import ConfigError
from bot.runtime import Runtime
from bot.storage.db import Database
from bot.storage.models import Follower, InboundMessage
from bot.wechat.simulator import sign, text_xml
from tests.bot.test_webhook import count
from tests.conftest import AES_KEY, make_config


def query_at(timestamp: str, nonce: str = "8237461") -> dict:
    return {"signature": sign("spamtest", timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


def post(client, query, openid, content, msg_id):
    body = text_xml(openid, content, 1_800_000_000 + msg_id, msg_id).encode()
    return client.post("/wechat", query_string=query, data=body, content_type="text/xml")


@pytest.mark.parametrize("timestamp", [
    -5 * 24 * 3600, -400, +400,  # seconds from now, when the request is sent: signed five days ago, ...
    "abc", "99999999999", "", "-5", "1.5e9",
])
def test_a_stale_or_malformed_timestamp_is_refused_and_stores_nothing(client, runtime, timestamp):
    if isinstance(timestamp, int):
        timestamp = str(int(time.time()) + timestamp)
    response = post(client, query_at(timestamp), "user-old", "帮助", 1)
    assert response.status_code == 403
    assert count(runtime, InboundMessage) == 0 and count(runtime, Follower) == 0


def test_a_timestamp_inside_the_window_is_answered(client, runtime):
    response = post(client, query_at(str(int(time.time()) - 290)), "user-fresh", "帮助", 1)
    assert response.status_code == 200 and "回复以下关键词" in response.get_data(as_text=True)


def test_the_verification_get_is_refused_when_stale(client):
    stale = query_at(str(int(time.time()) - 3600))
    assert client.get("/wechat", query_string={**stale, "echostr": "e"}).status_code == 403


def test_the_window_is_set_in_the_config(runtime, db_url):
    config = make_config({"wechat": {"timestamp_window_seconds": 30}}, db_url)
    app = create_app(runtime=Runtime(config, runtime.db, clock=runtime.clock))
    response = post(app.test_client(), query_at(str(int(time.time()) - 60)), "user-w", "帮助", 1)
    assert response.status_code == 403


def test_a_signed_query_string_brings_one_message_only(client, runtime):
    query = query_at(str(int(time.time())))
    first = post(client, query, "user-real", "帮助", 101)
    assert first.status_code == 200
    # The same query string with another body, or another sender: refused, and nothing of it stored.
    assert post(client, query, "user-real", "答题", 102).status_code == 403
    assert post(client, query, "user-forged", "帮助", 103).status_code == 403
    assert count(runtime, InboundMessage) == 1
    with runtime.db.reader() as session:
        assert session.get(Follower, "user-forged") is None


def test_a_retry_with_the_same_query_string_gets_the_stored_reply(client, runtime):
    query = query_at(str(int(time.time())))
    first = post(client, query, "user-retry", "帮助", 201)
    again = post(client, query, "user-retry", "帮助", 201)
    assert again.status_code == 200 and again.get_data() == first.get_data()
    assert count(runtime, InboundMessage) == 1


def test_a_used_pair_is_refused_on_another_worker(runtime, db_url):
    if db_url == "sqlite://":
        pytest.skip("needs a shared database")
    # A second process's view: its own engine and app on the same database.
    other_db = Database(db_url)
    other = create_app(runtime=Runtime(runtime.config, other_db, clock=runtime.clock))
    try:
        query = query_at(str(int(time.time())))
        assert post(create_app(runtime=runtime).test_client(), query, "user-a", "帮助", 301).status_code == 200
        assert post(other.test_client(), query, "user-b", "帮助", 302).status_code == 403
        assert post(other.test_client(), query, "user-a", "帮助", 301).status_code == 200  # WeChat's retry
    finally:
        other_db.dispose()


def test_the_tidy_job_forgets_used_pairs_after_their_window(runtime):
    from bot.storage import signed_requests
    from bot.storage.models import KeyValue

    app = create_app(runtime=runtime)
    assert post(app.test_client(), query_at(str(int(time.time()))), "user-t", "帮助", 401).status_code == 200
    later = runtime.clock() + __import__("datetime").timedelta(seconds=601)
    with runtime.db.session() as session:
        assert signed_requests.purge_expired(session=session, now=runtime.clock()) == 0
        assert signed_requests.purge_expired(session=session, now=later) == 1
        assert session.scalar(select(func.count()).select_from(KeyValue)
                              .where(KeyValue.key.startswith("signed:"))) == 0


class TestSafeModeRefusesPlaintext:
    @pytest.fixture
    def config_overrides(self):
        return {"wechat": {"encoding_aes_key": AES_KEY, "message_mode": "safe"}}

    def test_a_plaintext_post_carrying_only_signature_is_refused(self, client, runtime):
        response = post(client, query_at(str(int(time.time()))), "user-p", "帮助", 501)
        assert response.status_code == 403
        assert count(runtime, InboundMessage) == 0

    def test_encrypted_messages_are_answered(self, wechat):
        reply = wechat.text("user-e", "帮助")
        assert reply.status == 200 and "回复以下关键词" in reply.content


class TestCompatibleModeTakesBoth:
    @pytest.fixture
    def config_overrides(self):
        return {"wechat": {"encoding_aes_key": AES_KEY, "message_mode": "compatible"}}

    def test_plaintext_and_encrypted_are_answered(self, client, wechat):
        assert post(client, query_at(str(int(time.time()))), "user-c", "帮助", 601).status_code == 200
        assert "回复以下关键词" in wechat.text("user-c2", "帮助").content


@pytest.mark.parametrize("wechat_section, message", [
    ({"message_mode": "safe"}, "wechat.message_mode: 应为\"plaintext\"，或者同时填写 wechat.encoding_aes_key（安全模式需要它）"),
    ({"message_mode": "encrypted"}, "wechat.message_mode: 应为\"plaintext\"（明文模式）"),
    ({"timestamp_window_seconds": 0}, "wechat.timestamp_window_seconds: 应为正整数"),
    ({"timestamp_windows_seconds": 60}, "是否想写 wechat.timestamp_window_seconds"),
])
def test_config_errors_name_the_key(wechat_section, message):
    with pytest.raises(ConfigError) as err:
        make_config({"wechat": wechat_section})
    assert message in str(err.value)


def test_an_aes_key_without_a_mode_means_compatible():
    assert make_config({"wechat": {"encoding_aes_key": AES_KEY}}).wechat.message_mode == "compatible"
    assert make_config().wechat.message_mode == "plaintext"
