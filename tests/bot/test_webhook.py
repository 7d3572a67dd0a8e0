"""The webhook as WeChat's servers and hostile clients see it."""
from __future__ import annotations

import logging
import random
import threading
import time

import pytest
from sqlalchemy import func, select

from bot.app import request_log_level
from bot.storage.models import Follower, InboundMessage
from bot.wechat.simulator import WeChatSimulator, event_xml, sign, text_xml
from tests.conftest import AES_KEY, flask_poster

# Tencent's published sample (WXBizMsgCrypt demo): token spamtest, this appid and key.
SAMPLE_TIMESTAMP = "1409735669"
SAMPLE_NONCE = "1320562132"
SAMPLE_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9"
    "FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3"
    "yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue"
    "1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def count(runtime, model) -> int:
    with runtime.db.reader() as session:
        return session.scalar(select(func.count()).select_from(model))


def signed_query(token="spamtest", timestamp=None, nonce=None):
    """A query string signed now, with a nonce of its own (a used pair is refused for another message)."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(random.randrange(10**12))
    return {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


def test_get_verification_echoes_echostr(client):
    response = client.get("/wechat", query_string={**signed_query(), "echostr": "hello123"})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "hello123"


def test_get_verification_with_bad_signature_is_forbidden(client):
    query = {**signed_query(), "echostr": "x"}
    query["signature"] = "0" * 40
    assert client.get("/wechat", query_string=query).status_code == 403


def test_text_message_gets_help_reply(wechat):
    reply = wechat.text("user-a", "今天天气怎么样")
    assert reply.status == 200
    assert reply.msg_type == "text"
    assert "没有听懂" in reply.content and "答题" in reply.content and "帮助" in reply.content


def test_subscribe_gets_welcome_with_theme_dates_and_keywords(wechat, runtime):
    reply = wechat.event("user-new", "subscribe")
    assert "2027年知识产权宣传周" in reply.content
    assert "知识产权与创新发展" in reply.content
    assert "4月20日—4月26日" in reply.content
    for word in ("答题", "微讲堂", "活动安排", "帮助", "12330"):
        assert word in reply.content
    with runtime.db.reader() as session:
        follower = session.get(Follower, "user-new")
        assert follower.subscribed and follower.subscribed_at is not None


def test_follow_through_a_qr_code_gets_the_welcome(wechat, runtime):
    reply = wechat.event("user-qr", "subscribe", key="qrscene_campus-7")
    assert "2027年知识产权宣传周" in reply.content
    with runtime.db.reader() as session:
        assert session.get(Follower, "user-qr").subscribed
        # Read as wechatpy reads it: a follow through a QR code, not a plain subscribe.
        assert session.scalar(select(InboundMessage.msg_type).where(InboundMessage.openid == "user-qr")) == \
            "subscribe_scan"


def test_message_without_msgtype_is_400_and_stores_nothing(client, runtime):
    body = ("<xml><ToUserName>gh</ToUserName><FromUserName>user-x</FromUserName>"
            "<CreateTime>1800000000</CreateTime><Content>答题</Content><MsgId>5</MsgId></xml>")
    assert client.post("/wechat", query_string=signed_query(), data=body.encode()).status_code == 400
    assert count(runtime, InboundMessage) == 0


def test_unsubscribe_is_recorded_and_silent(wechat, runtime):
    wechat.event("user-b", "subscribe", create_time=1_800_000_000)
    reply = wechat.event("user-b", "unsubscribe", create_time=1_800_000_100)
    assert reply.status == 200 and reply.content == "" and reply.raw == "success"
    with runtime.db.reader() as session:
        follower = session.get(Follower, "user-b")
        assert not follower.subscribed and follower.unsubscribed_at is not None


@pytest.mark.parametrize("word,expected", [("12330", "维权援助热线：12330"), ("维权", "12330"),
                                           ("帮助", "回复以下关键词"), ("ＨＥＬＰ", "回复以下关键词"),
                                           (" 活动安排 ", "活动安排（4月20日—4月26日）")])
def test_keywords_answer_at_once(wechat, word, expected):
    assert expected in wechat.text("user-c", word).content


def test_schedule_is_generated_from_config_dates_and_plan(wechat):
    content = wechat.text("user-c", "活动安排").content
    assert "4月20日 00:00 — 4月26日 23:59 线上有奖竞答" in content
    assert "4月21日（周三） 20:00 微讲堂：专利保护那些事" in content
    assert "4月26日 世界知识产权日" in content


@pytest.mark.parametrize("key,expected", [("schedule", "活动安排"), ("hotline", "12330"), ("nonsense", "没有听懂")])
def test_menu_clicks_map_to_the_same_actions(wechat, key, expected):
    assert expected in wechat.event("user-d", "CLICK", key).content


def test_retry_returns_identical_reply_and_stores_once(wechat, runtime):
    xml = text_xml("user-e", "帮助", 1_800_000_000, 987654321)
    first = wechat.send_xml(xml)
    second = wechat.send_xml(xml)
    third = wechat.send_xml(xml, nonce="999")
    assert first.raw == second.raw == third.raw
    assert count(runtime, InboundMessage) == 1


def test_event_retry_deduplicated_by_sender_and_create_time(wechat, runtime):
    first = wechat.event("user-f", "subscribe", create_time=1_800_000_001)
    second = wechat.event("user-f", "subscribe", create_time=1_800_000_001)
    assert first.raw == second.raw
    assert count(runtime, InboundMessage) == 1


def test_concurrent_copies_on_two_workers_change_nothing_twice(runtime, app, db_url):
    """Two copies of one message arrive at once on two threads (two app clients)."""
    xml = text_xml("user-g", "帮助", 1_800_000_000, 555)
    replies = []
    barrier = threading.Barrier(4)

    def worker():
        sim = WeChatSimulator(token="spamtest", post=flask_poster(app.test_client()))
        barrier.wait()
        replies.append(sim.send_xml(xml))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status for r in replies} == {200}
    assert len({r.raw for r in replies}) == 1
    assert "回复以下关键词" in replies[0].content
    assert count(runtime, InboundMessage) == 1


def test_bad_signature_is_forbidden_and_stores_nothing(client, runtime):
    query = signed_query()
    query["signature"] = "f" * 40
    body = text_xml("user-h", "帮助", 1_800_000_000, 1).encode()
    assert client.post("/wechat", query_string=query, data=body).status_code == 403
    assert count(runtime, InboundMessage) == 0
    assert count(runtime, Follower) == 0


def test_request_log_keeps_refusals_and_leaves_quick_answers_to_nginx(wechat, client, caplog):
    caplog.set_level(logging.INFO, logger="bot.requests")
    wechat.text("user-log", "帮助", create_time=1_800_000_000)
    query = signed_query()
    query["signature"] = "f" * 40
    client.post("/wechat", query_string=query, data=b"<xml/>")
    client.get("/healthz")
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "bot.requests"]
    assert [line for _, line in lines if line.startswith("POST /wechat 200")] == []
    assert [level for level, line in lines if line.startswith("POST /wechat 403")] == ["INFO"]
    assert [level for level, line in lines if line.startswith("GET /healthz 200")] == ["INFO"]


def test_slow_or_failed_webhook_answers_are_logged_at_info():
    assert request_log_level("/wechat", 200, 3.0, "/wechat") == logging.DEBUG
    assert request_log_level("/wechat", 200, 1500.0, "/wechat") == logging.INFO
    assert request_log_level("/wechat", 400, 1.0, "/wechat") == logging.INFO
    assert request_log_level("/admin/", 200, 1.0, "/wechat") == logging.INFO


@pytest.mark.parametrize("body", [
    b"not xml at all",
    b"<xml><ToUserName>a</ToUserName>",
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
    b"<xml><FromUserName>&lol2;</FromUserName></xml>",
    b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>abc</CreateTime>"
    b"<MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>",
    b"<xml><ToUserName>a</ToUserName><FromUserName><x>1</x></FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType></xml>",
    "<xml><Content>中文</Content></xml>".encode("gb18030"),
    b"\xff\xfe\x00<xml/>",
    b"",
    b"<html><body>hi</body></html>",
])
def test_hostile_bodies_get_400_and_store_nothing(client, runtime, body):
    response = client.post("/wechat", query_string=signed_query(), data=body)
    assert response.status_code == 400
    assert count(runtime, InboundMessage) == 0


def test_a_message_that_merely_mentions_a_doctype_is_answered(wechat, runtime):
    reply = wechat.text("user-doctype", "<!DOCTYPE html> 是什么？", create_time=1_800_000_000)
    assert reply.status == 200 and reply.content
    assert count(runtime, InboundMessage) == 1


def test_a_long_pasted_text_is_answered(wechat, runtime):
    reply = wechat.text("user-long", "知识产权" * 1500, create_time=1_800_000_000)  # 6,000 characters, 18 KB
    assert reply.status == 200 and "没有听懂" in reply.content
    assert count(runtime, InboundMessage) == 1


def test_huge_body_is_rejected(client, runtime):
    body = text_xml("user-i", "x" * 200_000, 1_800_000_000, 2).encode()
    assert client.post("/wechat", query_string=signed_query(), data=body).status_code == 400
    assert count(runtime, InboundMessage) == 0


def test_unknown_message_type_gets_a_reply_not_an_error(wechat):
    xml = ("<xml><ToUserName>gh</ToUserName><FromUserName>user-j</FromUserName><CreateTime>1800000000</CreateTime>"
           "<MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl><MediaId>m</MediaId><MsgId>77</MsgId></xml>")
    reply = wechat.send_xml(xml)
    assert reply.status == 200 and "没有听懂" in reply.content


class TestSafeMode:
    @pytest.fixture
    def config_overrides(self):
        return {"wechat": {"encoding_aes_key": AES_KEY, "message_mode": "safe"}}

    def test_tencent_sample_vector_decrypts_and_gets_encrypted_reply(self, client, runtime):
        runtime.wall_clock = lambda: int(SAMPLE_TIMESTAMP) + 10  # the sample was signed in 2014
        body = f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{SAMPLE_ENCRYPT}]]></Encrypt></xml>"
        query = {"timestamp": SAMPLE_TIMESTAMP, "nonce": SAMPLE_NONCE, "encrypt_type": "aes",
                 "msg_signature": SAMPLE_MSG_SIGNATURE, "signature": "ignored-in-safe-mode"}
        response = client.post("/wechat", query_string=query, data=body.encode())
        assert response.status_code == 200
        sim = WeChatSimulator(token="spamtest", encoding_aes_key=AES_KEY, app_id="wx2c2769f8efd9abc2", post=None)
        reply = sim.decode(200, response.get_data(as_text=True), query)
        # The sample says "abcdteT" from oyORnuP8q7ou2gfYjqLzSIWZf0rs: an unknown text, so the help reply.
        assert "<Encrypt>" in response.get_data(as_text=True)
        assert "没有听懂" in reply.content
        assert "<ToUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></ToUserName>" in reply.raw
        with runtime.db.reader() as session:
            assert session.get(Follower, "oyORnuP8q7ou2gfYjqLzSIWZf0rs") is not None

    def test_round_trip_through_simulator(self, wechat):
        reply = wechat.text("user-k", "12330")
        assert reply.status == 200 and "12330" in reply.content

    def test_a_plaintext_post_with_only_a_signature_is_refused(self, client, runtime):
        body = text_xml("user-plain", "帮助", 1_800_000_000, 31338).encode()
        response = client.post("/wechat", query_string=signed_query(), data=body)
        assert response.status_code == 403
        assert count(runtime, InboundMessage) == 0

    def test_wrong_msg_signature_is_forbidden(self, client, runtime):
        runtime.wall_clock = lambda: int(SAMPLE_TIMESTAMP)
        body = f"<xml><Encrypt><![CDATA[{SAMPLE_ENCRYPT}]]></Encrypt></xml>"
        query = {"timestamp": SAMPLE_TIMESTAMP, "nonce": SAMPLE_NONCE, "encrypt_type": "aes",
                 "msg_signature": "0" * 40}
        assert client.post("/wechat", query_string=query, data=body.encode()).status_code == 403
        assert count(runtime, InboundMessage) == 0

    def test_garbage_ciphertext_is_400(self, client, runtime):
        encrypt = "bm90IHJlYWxseSBlbmNyeXB0ZWQ="
        body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        now = str(int(time.time()))
        query = {"timestamp": now, "nonce": "2", "encrypt_type": "aes",
                 "msg_signature": sign("spamtest", now, "2", encrypt)}
        assert client.post("/wechat", query_string=query, data=body.encode()).status_code == 400
        assert count(runtime, InboundMessage) == 0


class TestCompatibleMode:
    @pytest.fixture
    def config_overrides(self):
        return {"wechat": {"encoding_aes_key": AES_KEY, "message_mode": "compatible"}}

    def test_plaintext_part_is_accepted_with_plain_signature(self, client):
        # In compatible mode a message may arrive without encrypt_type; the plain signature applies.
        body = text_xml("user-l", "帮助", 1_800_000_000, 31337).encode()
        response = client.post("/wechat", query_string=signed_query(), data=body)
        assert response.status_code == 200
        assert "回复以下关键词" in response.get_data(as_text=True)


def test_event_xml_helper_builds_parseable_events(wechat):
    reply = wechat.send_xml(event_xml("user-m", "VIEW", 1_800_000_000, "http://example.org"))
    assert reply.status == 200 and reply.raw == "success"
