"""Sign (and encrypt) messages exactly as WeChat's servers do, and read the replies.

Used by `python -m bot simulate`, the browser chat window and the tests.
"""
from __future__ import annotations

import hashlib
import itertools
import random
import string
import time
from dataclasses import dataclass
from typing import Callable
from xml.sax.saxutils import escape

import xmltodict
from wechatpy.crypto import WeChatCrypto

ACCOUNT_ID = "gh_standin_account"

# post(query: dict, body: bytes) -> (status, text)
Poster = Callable[[dict, bytes], tuple[int, str]]


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_xml(openid: str, content: str, create_time: int, msg_id: int, account: str = ACCOUNT_ID) -> str:
    """Build a text message as WeChat posts it."""
    return (f"<xml><ToUserName>{_cdata(account)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(content)}</Content><MsgId>{msg_id}</MsgId></xml>")


def event_xml(openid: str, event: str, create_time: int, key: str = "", account: str = ACCOUNT_ID,
              extra: dict[str, str | int] | None = None) -> str:
    """Build an event (subscribe, CLICK, MASSSENDJOBFINISH...) as WeChat posts it."""
    parts = [f"<ToUserName>{_cdata(account)}</ToUserName>", f"<FromUserName>{_cdata(openid)}</FromUserName>",
             f"<CreateTime>{create_time}</CreateTime>", "<MsgType><![CDATA[event]]></MsgType>",
             f"<Event>{_cdata(event)}</Event>"]
    if key:
        parts.append(f"<EventKey>{_cdata(key)}</EventKey>")
    for name, value in (extra or {}).items():
        parts.append(f"<{name}>{escape(str(value))}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


@dataclass(frozen=True)
class SimReply:
    """What the follower would see: status, the reply's MsgType and text."""

    status: int
    msg_type: str
    content: str
    raw: str


def sign(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """Compute a WeChat signature."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, *extra))).encode("utf-8")).hexdigest()


class WeChatSimulator:
    """Post signed (and, with an AES key, encrypted) XML to a webhook and decode replies."""

    def __init__(self, *, token: str, post: Poster, encoding_aes_key: str = "", app_id: str = "",
                 account: str = ACCOUNT_ID, realtime: bool = False):
        self.token = token
        self.post = post
        self.account = account
        self.crypto = WeChatCrypto(token, encoding_aes_key, app_id) if encoding_aes_key else None
        self._msg_ids = itertools.count(int(time.time() * 1000) * 1000 + random.randrange(1000))
        self._last_time: dict[str, int] = {}
        # Real time: wait for the next second instead of running ahead of the clock, so that a
        # script piped into `simulate` behaves like a person (and a second run follows on).
        self.realtime = realtime

    def next_msg_id(self) -> int:
        return next(self._msg_ids)

    def next_create_time(self, openid: str) -> int:
        """Return now in seconds, but later than this follower's last message.

        A person cannot read a question and answer it within the same second, so the bot treats
        such an answer as a double tap; scripted senders therefore keep their clocks apart.
        """
        last = self._last_time.get(openid, 0)
        if self.realtime:
            while int(time.time()) <= last:
                time.sleep(0.05)
        now = max(int(time.time()), last + 1)
        self._last_time[openid] = now
        return now

    def request(self, xml: str, *, timestamp: int | None = None, nonce: str | None = None) -> tuple[dict, bytes]:
        """Return the query and body WeChat would send for this message."""
        ts = str(timestamp or int(time.time()))
        nonce = nonce or "".join(random.choices(string.digits, k=10))
        query = {"signature": sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce,
                 "openid": ""}
        if self.crypto is None:
            return query, xml.encode("utf-8")
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, ts))["xml"]
        query.update({"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]})
        body = (f"<xml><ToUserName>{_cdata(self.account)}</ToUserName>"
                f"<Encrypt>{_cdata(envelope['Encrypt'])}</Encrypt></xml>")
        return query, body.encode("utf-8")

    def decode(self, status: int, text: str, query: dict) -> SimReply:
        """Decrypt and parse a reply as the WeChat client would show it."""
        if status != 200 or not text or text == "success":
            return SimReply(status=status, msg_type="", content="", raw=text)
        plain = text
        if self.crypto is not None and "<Encrypt>" in text:
            outer = xmltodict.parse(text)["xml"]
            plain = self.crypto.decrypt_message(text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
        doc = xmltodict.parse(plain)["xml"]
        return SimReply(status=status, msg_type=doc.get("MsgType", ""), content=doc.get("Content") or "", raw=plain)

    def send_xml(self, xml: str, **kwargs) -> SimReply:
        query, body = self.request(xml, **kwargs)
        status, text = self.post(query, body)
        return self.decode(status, text, query)

    def text(self, openid: str, content: str, *, create_time: int | None = None, msg_id: int | None = None) -> SimReply:
        """Send a text message from a follower."""
        return self.send_xml(text_xml(openid, content, create_time or self.next_create_time(openid),
                                      msg_id or self.next_msg_id(), self.account))

    def event(self, openid: str, event: str, key: str = "", *, create_time: int | None = None,
              extra: dict | None = None) -> SimReply:
        """Send an event (subscribe, unsubscribe, CLICK, ...) from a follower."""
        return self.send_xml(event_xml(openid, event, create_time or self.next_create_time(openid), key, self.account,
                                       extra))


def http_poster(url: str, timeout: float = 10) -> Poster:
    """Post to a running server over HTTP."""
    import requests

    session = requests.Session()

    def post(query: dict, body: bytes) -> tuple[int, str]:
        response = session.post(url, params=query, data=body, timeout=timeout,
                                headers={"Content-Type": "text/xml"})
        return response.status_code, response.content.decode("utf-8", "replace")

    return post
