"""Fuzz the webhook with malformed, oversized, hostile and wrongly signed bodies, plaintext and safe mode.

Whatever arrives, the caller sees 200, 400 or 403 and never a traceback; a rejected request stores
nothing; an accepted one is answered with "success" or a well-formed reply.
"""
from __future__ import annotations

import base64
from xml.sax.saxutils import escape

import xmltodict
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from bot.conversation.engine import BUSY_TEXT
from bot.wechat.simulator import sign
from tests.conftest import load_bank

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "MsgID", "Event", "EventKey",
          "Status", "TotalCount", "SentCount")
TRICKS = ("]]>", "<![CDATA[x]]>", "<![CDATA[<![CDATA[a]]>]]>", "]]]]><![CDATA[>", "&amp;", "&lt;xml&gt;", "&#0;",
          "&#x1F600;", "&#xD800;", "&unknown;", "&lol;", "<a><b>1</b></a>", "<xml><xml/></xml>", "<!-- c -->",
          "<?pi x?>", "\ufeff", "\x00", "\x1b[31m", "\u202e", "%s%s%n", "{0}", "'; DROP TABLE followers; --")
WORDS = ("答题", "帮助", "领奖", "排名", "放弃", "活动安排", "微讲堂", "张三 13800138000", "A", "ABC", "对", "15",
         "text", "event", "image", "subscribe", "unsubscribe", "CLICK", "VIEW", "MASSSENDJOBFINISH", "quiz", "rank",
         "contact", "gh_standin_account", "o" + "x" * 27)
NUMBERS = ("", "abc", "1e10", "1.5", " 12 ", "0x10", "+5", "-1", "1_000", "١٢٣", "NaN", "9" * 19, "9" * 40,
           str(2**63), str(-(2**63) - 1), "0")

text_values = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(TRICKS),
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=0x1F), max_size=8),
    st.builds(lambda n, ch: ch * n, st.integers(1990, 20_000), st.sampled_from("x中\u200b")),
)
number_values = st.one_of(st.sampled_from(NUMBERS), st.integers(-(2**80), 2**80).map(str), text_values)


def element(name: str, value: str, form: str) -> str:
    """One element, its value written raw (tags and entities pass through), escaped or as CDATA."""
    if form == "escaped":
        value = escape(value)
    elif form == "cdata":
        value = "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    return f"<{name}>{value}</{name}>"


forms = st.sampled_from(("escaped", "cdata", "cdata", "raw"))


@st.composite
def valid_fields(draw) -> dict[str, str]:
    """The fields of a well-formed text message or event from a plausible follower."""
    openid = draw(st.sampled_from(("o" + "x" * 27, "fuzz-a", "fuzz-b")))
    fields = {"ToUserName": "gh_standin_account", "FromUserName": openid,
              "CreateTime": str(draw(st.integers(1_700_000_000, 1_900_000_000)))}
    if draw(st.booleans()):
        fields.update(MsgType="text", Content=draw(st.sampled_from(WORDS)),
                      MsgId=str(draw(st.integers(1, 2**62))))
    else:
        fields.update(MsgType="event", Event=draw(st.sampled_from(("subscribe", "unsubscribe", "CLICK", "VIEW",
                                                                   "MASSSENDJOBFINISH", "SCAN", "LOCATION"))),
                      EventKey=draw(st.sampled_from(("quiz", "rank", "schedule", "hotline", "contact", ""))))
    return fields


@st.composite
def message_xml(draw) -> str:
    """A WeChat-shaped document: a valid message with a few fields made hostile, dropped, repeated or added."""
    fields = draw(valid_fields())
    hostile = draw(st.sampled_from((0, 0, 0, 1, 1, 2, 3)))
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=hostile, max_size=hostile)):
        numeric = name in ("CreateTime", "MsgId", "MsgID", "TotalCount", "SentCount")
        fields[name] = draw(number_values if numeric else text_values)
    if draw(st.integers(0, 9)) == 0:
        del fields[draw(st.sampled_from(sorted(fields)))]
    parts = [element(name, value, draw(forms)) for name, value in fields.items()]
    parts += draw(st.lists(st.sampled_from(("<Extra/>", "<Extra a='1'>x</Extra>", "<MsgType>text</MsgType>",
                                            "<Content></Content>", "<FromUserName><x>1</x></FromUserName>")),
                           max_size=draw(st.sampled_from((0, 0, 0, 1, 2)))))
    parts = draw(st.permutations(parts))
    root = draw(st.sampled_from(("xml",) * 6 + ("XML", "root")))
    prolog = draw(st.sampled_from(("", "", '<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.1"?>',
                                   "\ufeff")))
    return f"{prolog}<{root}>{''.join(parts)}</{root}>"


encodings = st.sampled_from(("utf-8",) * 9 + ("gb18030", "latin-1", "utf-16"))


def encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, "replace")


FRESH = "1700000000"  # the fuzz targets' wall clock (conftest.FUZZ_NOW)
# A signed pair brings one message only, so a usable query draws a nonce of its own.
queries = st.fixed_dictionaries({
    "timestamp": st.sampled_from((FRESH,) * 5 + ("", "x" * 200, "-1", "1699990000", "99999999999")),
    "nonce": st.one_of(st.integers(0, 10**15).map(str), st.integers(0, 10**15).map(str),
                       st.sampled_from(("", "\u4e2d", "n" * 500))),
})


def stored_and_answer(target, query: dict, body: bytes):
    """Post a body; return the row counts before and the response."""
    target.runtime.clock.advance(seconds=1)  # a second per message: followers stay under the rate limit
    before = target.stored()
    response = target.client.post("/wechat", query_string=query, data=body, content_type="text/xml")
    return before, response


def check(target, before, response, query: dict) -> str:
    """Assert the response contract; return the reply's plaintext XML ("" for success or a rejection)."""
    body = response.get_data(as_text=True)
    assert response.status_code in (200, 400, 403), (response.status_code, body[:300])
    assert "Traceback" not in body and "File \"" not in body
    if response.status_code != 200:
        assert body in ("bad request", "forbidden")
        assert target.stored() == before, "a rejected request stored something"
        return ""
    if body in ("success", ""):
        return ""
    plain = body
    if target.crypto is not None and "<Encrypt>" in body:
        outer = xmltodict.parse(body)["xml"]
        assert outer["TimeStamp"] == query["timestamp"] and outer["Nonce"] == query["nonce"]
        plain = target.crypto.decrypt_message(body, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
    doc = xmltodict.parse(plain)["xml"]  # a reply WeChat cannot parse is lost to the follower
    assert doc["MsgType"] in ("text", "news")
    assert all(isinstance(doc[k], str) and doc[k] for k in ("ToUserName", "FromUserName", "CreateTime"))
    assert BUSY_TEXT not in plain, "an internal error was turned into the busy reply"
    return plain


def signed(token: str, query: dict) -> dict:
    return {**query, "signature": sign(token, query["timestamp"], query["nonce"])}


@FUZZ
@given(body=st.binary(max_size=2048), query=queries, sign_it=st.booleans())
def test_random_bytes(target, body, query, sign_it):
    query = signed(target.token, query) if sign_it else query
    before, response = stored_and_answer(target, query, body)
    check(target, before, response, query)
    if sign_it and query["timestamp"] == FRESH and query["nonce"]:
        assert response.status_code == 400
    else:
        assert response.status_code in (400, 403)


OVERFLOW = ("<xml><ToUserName>gh</ToUserName><FromUserName>fuzz-a</FromUserName><CreateTime>9999999999999999999"
            "</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>")


@FUZZ
@given(xml=message_xml(), encoding=encodings, query=queries)
@example(xml=OVERFLOW, encoding="utf-8", query={"timestamp": "1700000000", "nonce": "42"})
@example(xml=OVERFLOW.replace("event</MsgType><Event>subscribe</Event>", "text</MsgType><MsgId>-1</MsgId>")
         .replace("9" * 19, "1700000000"), encoding="utf-8", query={"timestamp": "1700000000", "nonce": "42"})
def test_hostile_wechat_xml_correctly_signed(target, xml, encoding, query):
    query = signed(target.token, query)
    before, response = stored_and_answer(target, query, encoded(xml, encoding))
    check(target, before, response, query)


@FUZZ
@given(xml=message_xml(), query=queries,
       wrong=st.sampled_from(("none", "zeros", "other token", "swapped", "upper", "truncated")))
def test_wrongly_signed_is_forbidden_and_stores_nothing(target, xml, query, wrong):
    good = sign(target.token, query["timestamp"], query["nonce"])
    bad = {"none": "", "zeros": "0" * 40, "other token": sign("not-the-token", query["timestamp"], query["nonce"]),
           "swapped": sign(target.token, query["nonce"], query["timestamp"] + "1"), "upper": good.upper(),
           "truncated": good[:39]}[wrong]
    query = {**query, "signature": bad}
    before, response = stored_and_answer(target, query, xml.encode("utf-8"))
    check(target, before, response, query)
    assert response.status_code in (400, 403)


def _envelope(target, inner: bytes, query: dict, app_id: str) -> tuple[dict, bytes]:
    """Encrypt a body as WeChat does (for `app_id`) and sign it; return the query and the envelope."""
    crypto = WeChatCrypto(target.token, target.runtime.config.wechat.encoding_aes_key, app_id)
    timestamp = query["timestamp"] or FRESH
    nonce = query["nonce"] or "42"
    envelope = xmltodict.parse(crypto.encrypt_message(inner, nonce, timestamp))["xml"]
    query = {"timestamp": timestamp, "nonce": nonce, "encrypt_type": "aes",
             "msg_signature": envelope["MsgSignature"]}
    body = f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    return query, body.encode("utf-8")


@FUZZ
@given(xml=message_xml(), encoding=encodings, query=queries, other_app=st.booleans(), data=st.data())
def test_encrypted_hostile_xml(aes_target, xml, encoding, query, other_app, data):
    target = aes_target
    app_id = "wx_another_app_00" if other_app else target.runtime.config.wechat.app_id
    query, body = _envelope(target, encoded(xml, encoding), query, app_id)
    tamper = data.draw(st.sampled_from(("none", "none", "msg_signature", "plain signature only", "no encrypt_type")))
    if tamper == "msg_signature":
        query["msg_signature"] = "0" * 40
    elif tamper == "plain signature only":
        query = {**query, "msg_signature": "", "signature": sign(target.token, query["timestamp"], query["nonce"])}
    elif tamper == "no encrypt_type":
        del query["encrypt_type"]
    before, response = stored_and_answer(target, query, body)
    check(target, before, response, query)
    if tamper in ("msg_signature", "plain signature only", "no encrypt_type") or other_app:
        assert response.status_code in (400, 403)


@FUZZ
@given(encrypt=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())),
       query=queries)
def test_encrypt_field_garbage_correctly_signed(aes_target, encrypt, query):
    target = aes_target
    timestamp, nonce = query["timestamp"] or FRESH, query["nonce"] or "2"
    body = f"<xml><Encrypt>{escape(encrypt)}</Encrypt></xml>".encode()
    query = {"timestamp": timestamp, "nonce": nonce, "encrypt_type": "aes",
             "msg_signature": sign(target.token, timestamp, nonce, encrypt.strip())}
    before, response = stored_and_answer(target, query, body)
    check(target, before, response, query)


def test_oversized_bodies_are_refused_before_reading(target):
    limit = target.runtime.config.server.max_body_bytes
    query = signed(target.token, {"timestamp": FRESH, "nonce": "42"})
    for size in (limit + 1, limit * 4, 20 * 1024 * 1024):
        before, response = stored_and_answer(target, query, b"<xml>" + b"x" * size + b"</xml>")
        check(target, before, response, query)
        assert response.status_code == 400


FILL_IN = [("填空", f"第{i}题：外观设计专利权的期限为____年。", [], ["15"], "") for i in range(5)]


def test_text_echoed_from_the_sender_cannot_break_the_reply(runtime, wechat):
    """Openids and answers are written into CDATA sections; a "]]>" in them must not end one early."""
    load_bank(runtime.db, questions=FILL_IN)
    assert "欢迎" in wechat.event("a]]>b", "subscribe").content
    wechat.text("a]]>b", "答题")
    reply = wechat.text("a]]>b", "x]]><msgtype>news</msgtype>")
    assert reply.msg_type == "text"
    assert "你的答案 x]]><msgtype>news</msgtype>" in reply.content
    assert "<ToUserName><![CDATA[a]]]]><![CDATA[>b]]></ToUserName>" in reply.raw
