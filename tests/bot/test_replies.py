"""The passive reply XML: exactly what wechatpy's TextReply renders, with CDATA kept intact."""
from __future__ import annotations

import pytest
from wechatpy.replies import TextReply

from bot.wechat.replies import SILENT, Outgoing, render_reply


@pytest.mark.parametrize("text, to_user, from_user, create_time", [
    ("回答正确！\n第2/10题【单选】", "oUser-1", "gh_account", 1_800_000_000),
    ("a & b < c > d \"quoted\" 'single'", "u<&>1", "gh", 0),
    ("多行\n\n  缩进\t制表", "o" * 64, "g" * 64, 2**40),
])
def test_reply_is_what_wechatpy_renders(text, to_user, from_user, create_time):
    expected = TextReply(source=from_user, target=to_user, time=create_time, content=text).render()
    assert render_reply(Outgoing(text=text), to_user=to_user, from_user=from_user,
                        create_time=create_time) == expected


def test_cdata_terminators_from_the_sender_cannot_close_the_section():
    xml = render_reply(Outgoing(text="答案]]><x/>"), to_user="evil]]><a/>", from_user="gh", create_time=1)
    assert "<Content><![CDATA[答案]]]]><![CDATA[><x/>]]></Content>" in xml
    assert "<ToUserName><![CDATA[evil]]]]><![CDATA[><a/>]]></ToUserName>" in xml


def test_silent_reply_renders_nothing():
    assert render_reply(SILENT, to_user="u", from_user="gh", create_time=1) == ""
