"""The scheduler against the stand-in over real HTTP: on time, exactly once, honest about failure."""
from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import PushLog
from scheduler import sending
from scheduler.payloads import client_msg_id
from scheduler.plan import build_plan

from tests.scheduler.conftest import local_now, wait_for


def row(db, key):
    with db.reader() as session:
        return session.get(PushLog, key)


def status_is(db, key, *statuses):
    return lambda: (r := row(db, key)) is not None and r.status in statuses and r


def video(key="video-1", seconds=2.0, **extra):
    return {"key": key, "title": "专利保护那些事", "kind": "video", "at": local_now(seconds), "media_id": "m1",
            "description": "第一期微讲堂", **extra}


def test_video_goes_out_on_time_with_exact_bodies(sched_make, sched_runners, sched_standin, sched_db):
    runtime = sched_make(pushes=[video()])
    sched_runners(runtime)
    sent = wait_for(status_is(sched_db, "video-1", "sent"))
    assert sched_standin.bodies("media/uploadvideo") == [
        {"media_id": "m1", "title": "专利保护那些事", "description": "第一期微讲堂"}]
    mpvideo = sched_standin.calls("media/uploadvideo")[0]
    assert sched_standin.bodies("message/mass/sendall") == [{
        "filter": {"is_to_all": True}, "mpvideo": {"media_id": sent.media_id}, "msgtype": "mpvideo",
        "clientmsgid": "ipweek-video-1"}]
    assert sent.media_id.startswith("standin_media_") and mpvideo
    assert sent.msg_id and sent.client_msg_id == "ipweek-video-1" and sent.sent_at and sent.tries == 1
    assert sched_standin.bodies("stable_token") == [{"grant_type": "client_credential", "appid": "wx_sched_test",
                                                     "secret": "sched-secret", "force_refresh": False}]
    assert sched_standin.calls("token") == []


def test_article_to_tag_and_text_to_all(sched_make, sched_runners, sched_standin, sched_db):
    runtime = sched_make(pushes=[
        {"key": "talk-1", "title": "专家线上讲座", "kind": "article", "at": local_now(1.5), "media_id": "news1",
         "audience": "tag:100"},
        {"key": "notice", "title": "竞答提醒", "kind": "text", "at": local_now(1.5), "content": "今晚八点有奖竞答！"},
    ])
    sched_runners(runtime)
    wait_for(status_is(sched_db, "talk-1", "sent"))
    wait_for(status_is(sched_db, "notice", "sent"))
    bodies = sorted(sched_standin.bodies("message/mass/sendall"), key=lambda b: b["msgtype"])
    assert bodies == [
        {"filter": {"is_to_all": False, "tag_id": 100}, "mpnews": {"media_id": "news1"}, "msgtype": "mpnews",
         "send_ignore_reprint": 0, "clientmsgid": "ipweek-talk-1"},
        {"filter": {"is_to_all": True}, "text": {"content": "今晚八点有奖竞答！"}, "msgtype": "text",
         "clientmsgid": "ipweek-notice"},
    ]
    assert sched_standin.calls("media/uploadvideo") == []
    assert sched_standin.calls("draft/add") == []  # media_id names a draft made beforehand: sent as it is


def test_transient_errors_retry_with_the_same_clientmsgid(sched_make, sched_runners, sched_standin, sched_db):
    sched_standin.fail("message/mass/sendall", -1, 45009)
    sched_runners(sched_make(pushes=[video()]))
    sent = wait_for(status_is(sched_db, "video-1", "sent"))
    ids = [b["clientmsgid"] for b in sched_standin.bodies("message/mass/sendall")]
    assert ids == ["ipweek-video-1"] * 3
    assert sent.tries == 3


def test_retries_are_bounded_and_the_failure_is_visible(sched_make, sched_runners, sched_standin, sched_db):
    sched_standin.fail("message/mass/sendall", -1, -1, 45066, -1)
    sched_runners(sched_make(pushes=[video()], scheduler={"max_retries": 2}))
    failed = wait_for(status_is(sched_db, "video-1", "failed"))
    assert len(sched_standin.calls("message/mass/sendall")) == 3
    assert failed.error.startswith("45066 ") and "频繁" in failed.error


def test_quota_error_fails_at_once(sched_make, sched_runners, sched_standin, sched_db):
    sched_standin.fail("message/mass/sendall", 45028)
    sched_runners(sched_make(pushes=[video()]))
    failed = wait_for(status_is(sched_db, "video-1", "failed"))
    assert len(sched_standin.calls("message/mass/sendall")) == 1
    assert "45028" in failed.error and "额度" in failed.error


def test_expired_token_is_refreshed_once(sched_make, sched_standin, sched_db):
    runtime = sched_make(pushes=[video()])
    push = build_plan(runtime.config)[0]
    runtime.api.access_token  # a token is stored, then WeChat forgets it
    sched_standin.expire_tokens()
    result = sending.send_push(runtime=runtime, push=push)
    assert result.status == "sent"
    paths = [c["path"] for c in sched_standin.calls()]
    # WeChat's current token is a new one, so the normal mode gives it: no forced refresh.
    assert paths == ["stable_token", "media/uploadvideo", "stable_token", "media/uploadvideo", "message/mass/sendall"]
    assert [b["force_refresh"] for b in sched_standin.bodies("stable_token")] == [False, False]


def test_a_rejected_current_token_is_force_refreshed_for_the_send(sched_make, sched_standin, sched_db):
    runtime = sched_make(pushes=[video(media_id="", file="", kind="text", content="hi")])
    push = build_plan(runtime.config)[0]
    sched_standin.fail("message/mass/sendall", 40001)  # WeChat rejects the token it still calls current
    result = sending.send_push(runtime=runtime, push=push)
    assert result.status == "sent"
    assert [c["path"] for c in sched_standin.calls()] == [
        "stable_token", "message/mass/sendall", "stable_token", "stable_token", "message/mass/sendall"]
    assert [b["force_refresh"] for b in sched_standin.bodies("stable_token")] == [False, False, True]
    first, second = [c["query"]["access_token"] for c in sched_standin.calls("message/mass/sendall")]
    assert first != second and len(sched_standin.sent()) == 1


def test_a_wrong_app_secret_fails_the_send_with_what_to_fix(sched_make, sched_standin, sched_db):
    runtime = sched_make(pushes=[video(media_id="", file="", kind="text", content="hi")],
                         wechat={"app_secret": "not-the-secret"})
    result = sending.send_push(runtime=runtime, push=build_plan(runtime.config)[0])
    assert result.status == "failed"
    assert result.error == "40125 invalid appsecret（AppSecret 错误：请核对 wechat.app_secret）"
    assert sched_standin.calls("message/mass/sendall") == [] and len(sched_standin.calls("stable_token")) == 1
    assert "not-the-secret" not in result.error


def test_token_refresh_is_tried_only_once(sched_make, sched_standin, sched_db):
    runtime = sched_make(pushes=[video(media_id="", file="", kind="text", content="hi")])
    push = build_plan(runtime.config)[0]
    sched_standin.fail("message/mass/sendall", 40001, 40001)
    result = sending.send_push(runtime=runtime, push=push)
    assert result.status == "failed" and result.error.startswith("40001")
    assert len(sched_standin.calls("message/mass/sendall")) == 2


def test_already_sent_45065_is_recorded_with_its_msg_id(sched_make, sched_standin, sched_db):
    runtime = sched_make(pushes=[{"key": "notice", "title": "提醒", "kind": "text", "at": local_now(60),
                                  "content": "今晚八点有奖竞答"}])
    push = build_plan(runtime.config)[0]
    earlier = sched_standin.send_directly({"filter": {"is_to_all": True}, "text": {"content": "今晚八点有奖竞答"},
                                           "msgtype": "text", "clientmsgid": client_msg_id("notice")})
    result = sending.send_push(runtime=runtime, push=push)
    assert result.status == "sent" and result.already_sent
    assert row(sched_db, "notice").msg_id == str(earlier["msg_id"])
    again = sending.send_push(runtime=runtime, push=push)
    assert again.status == "skipped"
    assert len(sched_standin.calls("message/mass/sendall")) == 2  # the earlier send and ours (45065)


def test_restart_in_the_middle_never_sends_twice(sched_make, sched_runners, sched_standin, sched_db, monkeypatch):
    runtime = sched_make(pushes=[video()])

    def crash(*args, **kwargs):
        raise RuntimeError("process killed after the API call, before recording it")

    monkeypatch.setattr(sending, "_record_sent", crash)
    first = sched_runners(runtime, holder="first")
    wait_for(lambda: sched_standin.calls("message/mass/sendall"))
    first.shutdown()
    assert row(sched_db, "video-1").status == "sending"
    monkeypatch.undo()

    sched_runners(sched_make(pushes=[video(seconds=-5)]), holder="second")
    sent = wait_for(status_is(sched_db, "video-1", "sent"))
    calls = sched_standin.calls("message/mass/sendall")
    assert len(calls) == 2 and calls[0]["body"] == calls[1]["body"]
    assert calls[0]["body"]["clientmsgid"] == "ipweek-video-1"
    assert len(sched_standin.calls("media/uploadvideo")) == 1  # the mpvideo id is reused
    assert [s["msg_id"] for s in sched_standin.sent()] == [int(sent.msg_id)]
    assert sent.started_at <= sent.sent_at


def test_missed_push_is_never_sent_late(sched_make, sched_runners, sched_standin, sched_db):
    runtime = sched_make(pushes=[video("old", seconds=-3 * 3600), video("recent", seconds=-10 * 60)],
                         scheduler={"grace_minutes": 60})
    sched_runners(runtime)
    wait_for(status_is(sched_db, "recent", "sent"))
    missed = row(sched_db, "old")
    assert missed.status == "missed" and "宽限期 60 分钟" in missed.error
    assert [b["clientmsgid"] for b in sched_standin.bodies("message/mass/sendall")] == ["ipweek-recent"]


def test_interrupted_send_beyond_grace_is_not_resent(sched_make, sched_runners, sched_standin, sched_db):
    runtime = sched_make(pushes=[video(seconds=-3 * 3600)])
    with sched_db.session() as session:
        session.add(PushLog(key="video-1", status="sending", client_msg_id="ipweek-video-1", tries=1, error=""))
    sched_runners(runtime)
    failed = row(sched_db, "video-1")
    assert failed.status == "failed" and "核实" in failed.error
    assert sched_standin.calls("message/mass/sendall") == []


def test_sent_push_is_not_sent_again_on_restart(sched_make, sched_runners, sched_standin, sched_db):
    first = sched_runners(sched_make(pushes=[video()]))
    wait_for(status_is(sched_db, "video-1", "sent"))
    first.shutdown()
    second = sched_runners(sched_make(pushes=[video(seconds=-2)]))
    assert second.scheduler.get_jobs(jobstore="default") == []
    assert len(sched_standin.calls("message/mass/sendall")) == 1


def test_restart_rereads_the_plan(sched_make, sched_runners, sched_standin, sched_db):
    first = sched_runners(sched_make(pushes=[video("a", seconds=3600), video("b", seconds=7200)]))
    assert sorted(j.id for j in first.scheduler.get_jobs(jobstore="default")) == ["push:a", "push:b"]
    first.shutdown()
    moved = local_now(5400)
    second = sched_runners(sched_make(pushes=[video("b", seconds=0) | {"at": moved}, video("c", seconds=9000)]))
    jobs = {j.id: j for j in second.scheduler.get_jobs(jobstore="default")}
    assert sorted(jobs) == ["push:b", "push:c"]
    assert jobs["push:b"].next_run_time.replace(tzinfo=None) == moved
    with sched_db.reader() as session:
        assert sorted(session.scalars(select(PushLog.key))) == ["b", "c"]


def test_second_scheduler_is_refused(sched_make, sched_runners, sched_standin, sched_db):
    from scheduler.runner import Runner, start_background

    runtime = sched_make(pushes=[video(seconds=3600)])
    sched_runners(runtime, holder="host-a:1")
    second = Runner(runtime, holder="host-b:2")
    state = second.start()
    assert not state.acquired and state.holder == "host-a:1" and not second.running
    embedded = start_background(runtime)
    assert not embedded.running
    embedded.shutdown()


def test_scheduler_that_lost_its_lease_stops_sending(sched_make, sched_runners, sched_standin, sched_db):
    from bot.storage.models import Lease

    runner = sched_runners(sched_make(pushes=[video(seconds=3600)]), holder="mine")
    with sched_db.session() as session:
        lease = session.get(Lease, "scheduler")
        lease.holder = "someone-else"
    runner.renew()
    assert runner.lost and runner.stopped.is_set()
    runner.run_push("video-1")
    assert sched_standin.calls("message/mass/sendall") == []


def test_automatic_preview_to_staff(sched_make, sched_runners, sched_standin, sched_db):
    runtime = sched_make(pushes=[video(seconds=62)], scheduler={"preview_minutes_before": 1},
                         wechat={"staff_openids": ["staff-1", "staff-2"]})
    sched_runners(runtime)
    previewed = wait_for(status_is(sched_db, "video-1", "previewed"))

    def both_previews():  # the log says "previewed" after the first staff member's; wait for the second
        bodies = sched_standin.bodies("message/mass/preview")
        return bodies if len(bodies) >= 2 else None

    bodies = wait_for(both_previews)
    assert bodies == [{"touser": "staff-1", "mpvideo": {"media_id": bodies[0]["mpvideo"]["media_id"]},
                       "msgtype": "mpvideo"},
                      {"touser": "staff-2", "mpvideo": {"media_id": bodies[0]["mpvideo"]["media_id"]},
                       "msgtype": "mpvideo"}]
    assert previewed.previewed_at and sched_standin.calls("message/mass/sendall") == []


def test_the_scheduler_deletes_ended_rate_limit_windows(sched_make, sched_runners, sched_db):
    import datetime as dt

    from bot.storage.models import KeyValue, utcnow
    from scheduler.runner import TIDY_MINUTES

    now = utcnow()
    with sched_db.session() as session:
        session.add_all([KeyValue(key="rate:ended", value="20", expires_at=now - dt.timedelta(seconds=1)),
                         KeyValue(key="rate:open", value="3", expires_at=now + dt.timedelta(seconds=9)),
                         KeyValue(key="access_token", value="kept", expires_at=now - dt.timedelta(hours=1))])
    runner = sched_runners(sched_make(pushes=[video(seconds=3600)]))
    tidy = runner.scheduler.get_job("tidy")
    assert tidy.trigger.interval == dt.timedelta(minutes=TIDY_MINUTES)

    assert runner.tidy() == 1
    with sched_db.reader() as session:
        assert sorted(session.scalars(select(KeyValue.key))) == ["access_token", "rate:open"]


def test_the_scheduler_ends_open_attempts_at_the_close(sched_make, sched_runners, monkeypatch):
    """The job at quiz.closes_at runs the engine's close_open_attempts (tested in tests/bot/test_closing.py)."""
    import bot.conversation.engine as engine

    runner = sched_runners(sched_make(pushes=[video(seconds=3600)]))
    job = runner.scheduler.get_job("close-quiz")
    assert job.next_run_time == runner.config.quiz.closes_at
    called = []
    monkeypatch.setattr(engine, "close_open_attempts", lambda *, runtime: called.append(runtime) or 2)
    assert runner.close_quiz() == 2 and called == [runner.runtime]
