"""`pushes plan | send | preview`, delivery reports, participants and local video files."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from click.testing import CliRunner

from bot.storage.models import Attempt, Bank, Follower, PushLog, utcnow
from scheduler.cli import pushes
from scheduler.delivery import record_delivery
from bot.storage.driver_sql import driver_connection
from scheduler.plan import build_plan
from scheduler.sending import send_push

from tests.scheduler.conftest import local_now


def invoke(runtime, *args, input=None):
    obj = SimpleNamespace(config=runtime.config, db=runtime.db, runtime=runtime)
    return CliRunner().invoke(pushes, list(args), obj=obj, input=input)


def plan_runtime(sched_make, **extra):
    return sched_make(pushes=[
        {"key": "video-1", "title": "专利入门", "kind": "video", "at": local_now(3600), "media_id": "m1"},
        {"key": "talk-1", "title": "专家讲座", "kind": "article", "at": local_now(7200), "audience": "tag:100"},
        {"key": "old", "title": "开幕", "kind": "text", "at": local_now(-5 * 3600), "content": "开幕啦"},
    ], **extra)


def test_plan_lists_pushes_statuses_and_warnings(sched_make, sched_standin):
    runtime = plan_runtime(sched_make)
    result = invoke(runtime, "plan")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "服务号" in lines[0]
    assert any("文字  《开幕》 → 全部粉丝  [old]" in line for line in lines)
    assert any("图文  《专家讲座》 → 标签 100  [talk-1]" in line for line in lines)
    assert "状态：已错过（计划时间已过，未发送）" in result.output
    assert "状态：待发送" in result.output
    assert "警告：talk-1《专家讲座》没有素材" in result.output
    assert "调度器：未运行" in result.output


def test_send_asks_then_sends_once(sched_make, sched_standin, sched_db):
    runtime = plan_runtime(sched_make)
    refused = invoke(runtime, "send", "video-1", input="n\n")
    assert refused.exit_code == 1 and "全部粉丝" in refused.output
    assert sched_standin.calls("message/mass/sendall") == []
    sent = invoke(runtime, "send", "video-1", "--yes")
    assert sent.exit_code == 0 and "已发送《专利入门》：msg_id" in sent.output
    again = invoke(runtime, "send", "video-1", "--yes")
    assert "已发送过" in again.output
    assert len(sched_standin.calls("message/mass/sendall")) == 1
    plan = invoke(runtime, "plan")
    assert "状态：已发送" in plan.output


def test_send_failure_and_unknown_key(sched_make, sched_standin):
    runtime = plan_runtime(sched_make)
    sched_standin.fail("message/mass/sendall", 45028)
    failed = invoke(runtime, "send", "old", "--yes")
    assert failed.exit_code == 1 and "发送《开幕》失败：45028" in failed.output
    assert "失败：45028" in invoke(runtime, "plan").output
    unknown = invoke(runtime, "send", "nope", "--yes")
    assert unknown.exit_code == 1 and "没有 key 为 'nope' 的推送" in unknown.output and "video-1" in unknown.output


def test_preview_goes_to_one_phone(sched_make, sched_standin, sched_db):
    runtime = plan_runtime(sched_make)
    result = invoke(runtime, "preview", "old", "--to", "staff-openid")
    assert result.exit_code == 0 and "已发送预览《开幕》到 staff-openid" in result.output
    assert sched_standin.bodies("message/mass/preview") == [
        {"touser": "staff-openid", "text": {"content": "开幕啦"}, "msgtype": "text"}]
    with sched_db.reader() as session:
        assert session.get(PushLog, "old").previewed_at is not None
    missing = invoke(runtime, "preview", "old")
    assert missing.exit_code == 1 and "--to OPENID" in missing.output


def test_delivery_event_is_recorded_and_reported(sched_make, sched_standin, sched_db):
    runtime = plan_runtime(sched_make)
    invoke(runtime, "send", "video-1", "--yes")
    with sched_db.reader() as session:
        msg_id = session.get(PushLog, "video-1").msg_id
    fields = {"MsgID": msg_id, "Status": "send success", "TotalCount": "1200", "FilterCount": "1180",
              "SentCount": "1175", "ErrorCount": "5", "Event": "MASSSENDJOBFINISH"}
    with driver_connection(sched_db) as conn, conn.transaction():
        assert record_delivery(conn, fields, now=utcnow()) is True
        assert record_delivery(conn, fields | {"MsgID": "999"}, now=utcnow()) is False
    with sched_db.reader() as session:
        row = session.get(PushLog, "video-1")
        assert (row.status, row.delivery_status, row.total_count, row.filter_count, row.sent_count,
                row.error_count) == ("delivered", "send success", 1200, 1180, 1175, 5)
    assert "已送达 1175/1200 人" in invoke(runtime, "plan").output


def test_participants_get_an_openid_list(sched_make, sched_standin, sched_db):
    runtime = sched_make(pushes=[{"key": "thanks", "title": "感谢参与", "kind": "text", "at": local_now(60),
                                  "content": "感谢参与竞答", "audience": "participants"}])
    with sched_db.session() as session:
        bank = Bank(name="default")
        session.add(bank)
        session.flush()
        for openid, gone in (("o-b", False), ("o-a", False), ("o-left", True), ("o-none", False)):
            session.add(Follower(openid=openid, subscribed=not gone, unsubscribed_at=utcnow() if gone else None))
        session.flush()
        for openid in ("o-b", "o-a", "o-a", "o-left"):
            session.add(Attempt(openid=openid, bank_id=bank.id, status="finished", local_day=dt.date(2027, 4, 21),
                                total_questions=10))
    result = send_push(runtime=runtime, push=build_plan(runtime.config)[0])
    assert result.status == "sent"
    assert sched_standin.bodies("message/mass/send") == [
        {"touser": ["o-a", "o-b"], "text": {"content": "感谢参与竞答"}, "msgtype": "text", "clientmsgid": "ipweek-thanks"}]


def test_local_video_file_is_uploaded_first(sched_make, sched_standin, sched_db, tmp_path):
    (tmp_path / "ep1.mp4").write_bytes(b"\x00" * 2048)
    runtime = sched_make(pushes=[{"key": "video-1", "title": "专利入门", "kind": "video", "at": local_now(60),
                                  "file": "ep1.mp4", "description": "第一期"}])
    result = send_push(runtime=runtime, push=build_plan(runtime.config)[0])
    assert result.status == "sent"
    upload = sched_standin.calls("media/upload")
    assert upload[0]["query"]["type"] == "video"
    assert upload[0]["body"]["files"] == {"media": {"filename": "ep1.mp4", "size": 2048}}
    uploaded = sched_standin.bodies("media/uploadvideo")[0]
    assert uploaded["media_id"].startswith("standin_media_") and uploaded["title"] == "专利入门"


def test_delivery_of_a_push_sent_in_chunks_adds_up(sched_db):
    from scheduler.pushlog import remember_chunks

    with sched_db.session() as session:
        session.add(PushLog(key="thanks", status="sent", msg_id="11", tries=2, error=""))
        remember_chunks(session, "thanks", ["11", "12"])
    with driver_connection(sched_db) as conn, conn.transaction():
        for msg_id, sent in (("11", "9990"), ("12", "480"), ("12", "480")):
            assert record_delivery(conn, {"MsgID": msg_id, "Status": "send success", "TotalCount": sent,
                                          "FilterCount": sent, "SentCount": sent, "ErrorCount": "0"}, now=utcnow())
    with sched_db.reader() as session:
        row = session.get(PushLog, "thanks")
        assert (row.status, row.sent_count, row.total_count) == ("delivered", 10470, 10470)


def test_send_warns_of_a_second_mass_send_on_a_subscription_account_day(sched_make, sched_standin):
    """The CLI tells staff what the console tells them (one function, scheduler.plan.push_warnings)."""
    runtime = plan_runtime(sched_make, wechat={"account_type": "subscription"})
    first = invoke(runtime, "send", "video-1", "--yes")
    assert first.exit_code == 0 and "今天已群发过" not in first.output
    second = invoke(runtime, "send", "talk-1", input="n\n")
    assert "注意：今天已群发过 《专利入门》，订阅号每天只能群发 1 次，现在发送很可能因额度不足失败" in second.output
    assert second.exit_code == 1 and len(sched_standin.calls("message/mass/sendall")) == 1


PROTECTION = ("如公众号开启了 API 群发保护（设置-安全中心-风险操作保护），发给全部粉丝的群发需管理员在 30 分钟内于微信上确认后"
              "才会发出，管理员拒绝或超时未确认则本次群发失败")


def test_plan_tells_staff_which_sends_wait_for_mass_send_protection(sched_make, sched_standin):
    result = invoke(plan_runtime(sched_make), "plan")
    assert (f"提示：old、video-1 发给全部粉丝。{PROTECTION}；请安排管理员在推送时守候确认，或在公众号后台关闭该保护。"
            in result.output)


def test_a_send_to_all_followers_reminds_staff_of_the_confirmation(sched_make, sched_standin):
    runtime = sched_make(pushes=[
        {"key": "video-1", "title": "专利入门", "kind": "video", "at": local_now(3600), "media_id": "m1"},
        {"key": "talk-1", "title": "专家讲座", "kind": "article", "at": local_now(7200), "media_id": "d1",
         "audience": "tag:100"}])
    sent = invoke(runtime, "send", "video-1", input="y\n")
    assert sent.exit_code == 0, sent.output
    before, after = sent.output.split("已发送《专利入门》：msg_id")
    assert f"注意：{PROTECTION}" in before and f"注意：{PROTECTION}。" in after
    plan = invoke(runtime, "plan").output
    assert "已发送" in plan and "等待微信送达报告；如开启了 API 群发保护，需管理员在微信上确认后才会发出" in plan
    to_tag = invoke(runtime, "send", "talk-1", "--yes")  # a tag is not "all followers": no confirmation
    assert to_tag.exit_code == 0 and "已发送《专家讲座》" in to_tag.output and "群发保护" not in to_tag.output
