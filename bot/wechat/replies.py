"""What the bot sends back, and its rendering as passive-reply XML."""
from __future__ import annotations

from dataclasses import dataclass

from questions.render import REPLY_LIMIT_BYTES, clip


@dataclass(frozen=True)
class Outgoing:
    """One passive text reply, or nothing (WeChat is told "success")."""

    text: str = ""

    @property
    def silent(self) -> bool:
        return not self.text


SILENT = Outgoing()


def _cdata_safe(value: str) -> str:
    """Split "]]>" so that a value wechatpy writes into a CDATA section cannot close it early."""
    return value.replace("]]>", "]]]]><![CDATA[>")


def render_reply(out: Outgoing, *, to_user: str, from_user: str, create_time: int) -> str:
    """Render a reply as WeChat XML; "" for a silent reply."""
    if out.silent:
        return ""
    # The openids and echoed answers come from the sender and may hold "]]>".
    to_user, from_user = _cdata_safe(to_user), _cdata_safe(from_user)
    # Replies are built to fit; clipping to WeChat's size is the last guard, never a broken message.
    return _TEXT_REPLY.format(content=_cdata_safe(clip(out.text, REPLY_LIMIT_BYTES)), source=from_user,
                              target=to_user, time=int(create_time))


# wechatpy's TextReply(...).render(), field for field (tests/bot/test_replies.py holds them equal),
# without building a reply object per message.
_TEXT_REPLY = ("<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[{content}]]></Content>\n"
               "<FromUserName><![CDATA[{source}]]></FromUserName>\n<ToUserName><![CDATA[{target}]]></ToUserName>\n"
               "<CreateTime>{time}</CreateTime>\n</xml>")
