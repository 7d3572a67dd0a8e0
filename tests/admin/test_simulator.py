"""The browser chat window: open in the demo, staff-only otherwise; signed (and encrypted) XML."""
from __future__ import annotations

import pytest

from tests.admin.conftest import PASSWORD, csrf_from
from tests.conftest import AES_KEY, load_bank


def say(client, token, **payload):
    return client.post("/simulator/send", json=payload, headers={"X-CSRF-Token": token})


def test_simulator_needs_login_when_not_the_demo(client):
    response = client.get("/simulator/")
    assert response.status_code == 302 and response.location.startswith("/admin/login")
    assert client.post("/simulator/send", json={"openid": "a", "kind": "text", "content": "帮助"}).status_code == 302


def test_staff_can_use_the_simulator(staff, runtime):
    load_bank(runtime.db)
    page = staff.get("/simulator/").get_data(as_text=True)
    assert '<option value="sim-user-1">' in page and '<option value="sim-user-2">' in page
    assert "有奖竞答" in page and "活动安排" in page
    token = csrf_from(staff, "/simulator/")
    reply = say(staff, token, openid="sim-user-1", kind="text", content="答题").get_json()
    assert reply["content"].startswith("第1次答题开始！共5题")


@pytest.mark.parametrize("config_overrides", [
    {"admin": {"password": PASSWORD}, "wechat": {"standin": True}},
    {"admin": {"password": PASSWORD}, "wechat": {"standin": True, "encoding_aes_key": AES_KEY}},
])
def test_demo_simulator_is_open_and_talks_to_the_webhook(client, runtime):
    load_bank(runtime.db)
    page = client.get("/simulator/")
    assert page.status_code == 200
    token = csrf_from(client, "/simulator/")
    assert say(client, token, openid="sim-demo-1", kind="subscribe").status_code == 200
    reply = say(client, token, openid="sim-demo-1", kind="click", key="quiz").get_json()
    assert reply["msg_type"] == "text" and "共5题" in reply["content"]
    assert client.get("/admin/").status_code == 302


def test_simulator_checks_csrf_and_input(staff):
    token = csrf_from(staff, "/simulator/")
    assert staff.post("/simulator/send", json={"openid": "sim-a", "kind": "text", "content": "x"}).status_code == 400
    assert say(staff, token, openid="bad id!", kind="text", content="x").status_code == 400
    assert say(staff, token, openid="sim-a", kind="voice").status_code == 400
    assert say(staff, token, openid="sim-a", kind="text", content="  ").status_code == 400


@pytest.mark.parametrize("config_overrides", [{"admin": {"password": PASSWORD}, "wechat": {"standin": True}}])
def test_the_window_never_speaks_for_a_real_follower(app, staff, runtime, wechat):
    """Open in the demo, but only as test users and "sim-" users: not as a follower who wrote for real."""
    from bot.storage.models import Follower, InboundMessage

    wechat.text("oReal_follower_0001", "帮助")
    visitor = app.test_client()
    for who in (visitor, staff):
        token = csrf_from(who, "/simulator/")
        refused = say(who, token, openid="oReal_follower_0001", kind="text", content="李冒名 13800001111")
        assert refused.status_code == 400
        assert refused.get_json()["error"] == ("模拟器只能以测试用户或以 sim- 开头的模拟用户发消息，"
                                               "不能以真实粉丝的 openid 发送。")
        assert say(who, token, openid="sim-", kind="text", content="帮助").status_code == 400
    with runtime.db.reader() as session:
        assert session.get(Follower, "oReal_follower_0001").name is None
        assert session.query(InboundMessage).filter_by(openid="oReal_follower_0001").count() == 1
    token = csrf_from(visitor, "/simulator/")
    for openid in ("sim-user-2", "sim-visitor"):
        assert "回复以下关键词" in say(visitor, token, openid=openid, kind="text", content="帮助").get_json()["content"]


DEMO = {"admin": {"password": PASSWORD}, "wechat": {"standin": True}, "quiz": {"testers": ["sim-user-1"]}}


@pytest.mark.parametrize("config_overrides", [DEMO])
def test_a_simulator_user_who_scores_full_marks_is_never_a_result(app, client, staff, runtime, wechat, players):
    """Issue 16 item 11: a sim- user who plays to 100 and registers is left out as a test account is."""
    import io

    from openpyxl import load_workbook

    from tests.bot.test_quiz_flow import TICKS, play

    token = csrf_from(client, "/simulator/")
    start = say(client, token, openid="sim-winner", kind="text", content="答题").get_json()["content"]
    assert "测试账号的成绩不参与评奖" in start
    play(wechat, runtime, "sim-winner", correct=5)
    wechat.text("sim-winner", "王冒领 13700137000", create_time=next(TICKS))
    rank = wechat.text("p-alice", "排名", create_time=next(TICKS)).content
    assert "排名第1名（共3人）" in rank  # alice, bob, carol: not sim-winner

    results = staff.get("/admin/results/").get_data(as_text=True)
    assert "王*" not in results and "137****7000" not in results and "sim-wi" not in results
    staff_token = csrf_from(staff, "/admin/")
    form = {"csrf_token": staff_token, "rule": "top", "tiers": "一等奖:5", "require_contact": "on"}
    drawn = staff.post("/admin/results/draw", data=form).get_data(as_text=True)
    assert "中奖名单（2 / 5 人）" in drawn and "137****7000" not in drawn
    book = load_workbook(io.BytesIO(staff.post("/admin/results/winners.xlsx", data=form).data), read_only=True)
    cells = {str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row}
    assert "王冒领" not in cells and "13700137000" not in cells and "sim-winner" not in cells
    dashboard = staff.get("/admin/").get_data(as_text=True)
    assert "sim-winner" not in dashboard


@pytest.mark.parametrize("config_overrides", [DEMO])
def test_new_simulator_users_are_throttled_per_address(app, runtime):
    from bot.console.simulator import NEW_USERS_PER_HOUR

    visitor = app.test_client()
    token = csrf_from(visitor, "/simulator/")
    for i in range(NEW_USERS_PER_HOUR):
        assert say(visitor, token, openid=f"sim-bulk-{i}", kind="text", content="帮助").status_code == 200
    refused = say(visitor, token, openid="sim-bulk-extra", kind="text", content="帮助")
    assert refused.status_code == 429
    assert refused.get_json()["error"] == (f"同一地址每小时最多新建 {NEW_USERS_PER_HOUR} 个模拟用户。"
                                           "请继续用已有的模拟用户，或一小时后再试。")
    # Users already made, and the configured test users, still speak; another address may add its own.
    assert say(visitor, token, openid="sim-bulk-0", kind="text", content="帮助").status_code == 200
    assert say(visitor, token, openid="sim-user-1", kind="text", content="帮助").status_code == 200
    other = app.test_client()
    other_token = csrf_from(other, "/simulator/")
    assert other.post("/simulator/send", json={"openid": "sim-elsewhere", "kind": "text", "content": "帮助"},
                      headers={"X-CSRF-Token": other_token},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200
    runtime.clock.advance(hours=1)
    assert say(visitor, token, openid="sim-bulk-extra", kind="text", content="帮助").status_code == 200
