"""The push plan page, preview to an openid, and send-now behind a confirmation."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.console import pushes as push_views
from scheduler.sending import PreviewResult, SendResult


@pytest.fixture
def sent(monkeypatch):
    calls = []

    def fake_send(*, runtime, push):
        calls.append(("send", push.key))
        return SendResult(key=push.key, status="sent", msg_id="1000001")

    def fake_preview(*, runtime, push, openid):
        calls.append(("preview", push.key, openid))
        return PreviewResult(key=push.key, openid=openid, ok=True)

    monkeypatch.setattr(push_views, "send_push", fake_send)
    monkeypatch.setattr(push_views, "preview_push", fake_preview)
    return calls


def test_plan_lists_pushes_with_status(staff):
    text = staff.get("/admin/pushes/").get_data(as_text=True)
    assert "《专利保护那些事》" in text and "04-21 20:00" in text and "微讲堂视频" in text
    assert "状态：<b>待发送</b>" in text
    assert "调度器未运行" in text


def test_preview_goes_to_the_openid_given(staff, token, sent):
    response = staff.post("/admin/pushes/video-1/preview", data={"csrf_token": token, "openid": "oStaff123456"})
    assert sent == [("preview", "video-1", "oStaff123456")]
    assert "已发送预览《专利保护那些事》" in staff.get(response.location).get_data(as_text=True)


def test_send_now_needs_a_second_confirming_post(staff, token, sent):
    page = staff.get("/admin/pushes/video-1/send").get_data(as_text=True)
    assert "确认立即发送" in page and "全部粉丝" in page and "群发不能撤回" in page
    staff.post("/admin/pushes/video-1/send", data={"csrf_token": token})
    assert sent == []
    response = staff.post("/admin/pushes/video-1/send", data={"csrf_token": token, "confirm": "yes"})
    assert sent == [("send", "video-1")]
    assert "已发送《专利保护那些事》：msg_id 1000001" in staff.get(response.location).get_data(as_text=True)


def test_unknown_push_is_not_found(staff):
    assert staff.get("/admin/pushes/nope/send").status_code == 404


@pytest.mark.parametrize("config_overrides", [{
    "admin": {"password": "correct horse battery"},
    "pushes": [{"key": "a", "title": "甲", "kind": "text", "content": "一", "at": dt.datetime(2027, 4, 21, 9)},
               {"key": "b", "title": "乙", "kind": "text", "content": "二",
                "at": dt.datetime(2027, 4, 21, 20)}],
}])
def test_confirmation_shows_the_quota_warning(staff):
    page = staff.get("/admin/pushes/b/send").get_data(as_text=True)
    assert "订阅号每天只能群发 1 次" in page


def test_delivery_counts_are_shown(staff, runtime):
    from bot.storage.models import PushLog
    with runtime.db.session() as session:
        session.add(PushLog(key="video-1", title="专利保护那些事", kind="video", status="delivered", msg_id="42",
                            total_count=120, filter_count=118, sent_count=117, error_count=1,
                            delivery_status="send success", tries=1, error=""))
    text = staff.get("/admin/pushes/").get_data(as_text=True)
    assert "已送达 117/120 人" in text
    assert "<td>120</td><td>118</td><td>117</td><td>1</td>" in text
    assert "立即发送…" not in text
