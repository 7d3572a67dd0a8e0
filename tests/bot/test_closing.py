"""Issue 19, closing and timing: answering closes at quiz.closes_at, and a question may have a time limit."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.config import ConfigError
from bot.conversation.engine import close_open_attempts
from bot.storage.models import Attempt, AttemptItem
from tests.bot.test_quiz_flow import TICKS, active, current_snapshot, right, wrong
from tests.conftest import load_bank, make_config

# 25 April, 20:00 in Shanghai: the ceremony is on the 26th, so answering closes the evening before.
CLOSE = {"quiz": {"closes_at": dt.datetime(2027, 4, 25, 20, 0), "results_at": dt.datetime(2027, 4, 26, 10, 0)}}
CLOSE_UTC = dt.datetime(2027, 4, 25, 12, 0)


@pytest.fixture(autouse=True)
def bank(runtime):
    return load_bank(runtime.db)


def attempt_of(runtime, openid) -> Attempt:
    with runtime.db.reader() as session:
        return session.scalars(select(Attempt).where(Attempt.openid == openid).order_by(Attempt.id.desc())).first()


def items_of(runtime, attempt_id) -> list[AttemptItem]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(AttemptItem).where(AttemptItem.attempt_id == attempt_id)
                                    .order_by(AttemptItem.position)))


class TestClosing:
    @pytest.fixture
    def config_overrides(self):
        return CLOSE

    def test_after_the_close_no_attempt_starts_and_followers_are_told_when_results_come(self, wechat, clock):
        clock.now = CLOSE_UTC + dt.timedelta(seconds=1)
        reply = wechat.text("c1", "答题")
        assert reply.content == ("本届有奖竞答已于4月25日 20:00截止答题，感谢参与！"
                                 "获奖名单将于4月26日 10:00在本公众号公布，敬请关注。")
        clock.now = CLOSE_UTC
        assert wechat.text("c2", "答题").content.startswith("第1次答题开始！")

    def test_an_attempt_open_at_the_close_is_ended_and_scored_at_the_close(self, wechat, runtime, clock):
        clock.now = CLOSE_UTC - dt.timedelta(minutes=3)
        wechat.text("c3", "答题")
        wechat.text("c3", right(current_snapshot(runtime, "c3")), create_time=next(TICKS))
        wechat.text("c3", right(current_snapshot(runtime, "c3")), create_time=next(TICKS))
        late = right(current_snapshot(runtime, "c3"))
        clock.now = CLOSE_UTC + dt.timedelta(minutes=5)
        reply = wechat.text("c3", late, create_time=next(TICKS))
        assert reply.content.startswith("本届有奖竞答已于4月25日 20:00截止答题，你的答题已按截止时的作答交卷，"
                                        "未答的题目记0分。本次得分：20分。\n\n本次答题已结束。\n得分：20分")
        attempt = attempt_of(runtime, "c3")
        assert (attempt.status, attempt.score, attempt.finished_at, attempt.duration_seconds) == (
            "closed", 20, CLOSE_UTC, 180)
        assert attempt.best is True
        assert [i.answered_at is not None for i in items_of(runtime, attempt.id)] == [True, True, False, False, False]

    def test_the_close_ends_attempts_nobody_writes_to_again(self, wechat, runtime, clock):
        clock.now = CLOSE_UTC - dt.timedelta(minutes=10)
        wechat.text("c4", "答题")
        wechat.text("c4", right(current_snapshot(runtime, "c4")), create_time=next(TICKS))
        wechat.text("c5", "答题")
        assert close_open_attempts(runtime=runtime, now=CLOSE_UTC) == 0  # not closed yet
        assert close_open_attempts(runtime=runtime, now=CLOSE_UTC + dt.timedelta(seconds=30)) == 2
        c4, c5 = attempt_of(runtime, "c4"), attempt_of(runtime, "c5")
        assert (c4.status, c4.score, c4.finished_at, c4.duration_seconds, c4.best) == (
            "closed", 10, CLOSE_UTC, 600, True)
        assert (c5.status, c5.score, c5.finished_at) == ("closed", 0, CLOSE_UTC)
        assert close_open_attempts(runtime=runtime, now=CLOSE_UTC + dt.timedelta(minutes=10)) == 0
        clock.now = CLOSE_UTC + dt.timedelta(hours=1)
        assert "你的最好成绩：10分，用时10分" in wechat.text("c4", "排名").content

    def test_an_attempt_that_timed_out_before_the_close_stays_expired(self, wechat, runtime, clock):
        clock.now = CLOSE_UTC - dt.timedelta(hours=2)
        wechat.text("c6", "答题")
        clock.now = CLOSE_UTC + dt.timedelta(hours=1)
        reply = wechat.text("c6", "A", create_time=next(TICKS))
        assert reply.content.startswith("你上次的答题超过30分钟未作答，已自动交卷")
        assert attempt_of(runtime, "c6").status == "expired"

    def test_a_results_text_from_the_config_is_used(self, runtime, wechat, clock, db_url):
        from bot.app import create_app
        from bot.runtime import Runtime
        from bot.wechat.simulator import WeChatSimulator
        from tests.conftest import flask_poster

        config = make_config({"quiz": {**CLOSE["quiz"], "results_text": "获奖名单将于4月26日在市知识产权局网站公布。"}},
                             db_url)
        app = create_app(runtime=Runtime(config, runtime.db, clock=clock))
        sim = WeChatSimulator(token="spamtest", post=flask_poster(app.test_client()))
        clock.now = CLOSE_UTC + dt.timedelta(days=1)
        assert sim.text("c7", "答题").content.endswith("感谢参与！获奖名单将于4月26日在市知识产权局网站公布。")


class TestTestersAfterTheClose:
    @pytest.fixture
    def config_overrides(self):
        return {"quiz": {**CLOSE["quiz"], "testers": ["t-1"]}}

    def test_a_test_account_still_plays(self, wechat, runtime, clock):
        clock.now = CLOSE_UTC + dt.timedelta(hours=1)
        assert wechat.text("t-1", "答题").content.startswith("第1次答题开始！")
        assert close_open_attempts(runtime=runtime, now=clock.now) == 0
        assert active(runtime, "t-1") is not None


class TestSecondsPerQuestion:
    @pytest.fixture
    def config_overrides(self):
        return {"quiz": {"seconds_per_question": 60}}

    def test_each_question_shows_its_limit(self, wechat):
        reply = wechat.text("s1", "答题")
        assert "第1/5题【" in reply.content and "】（限时60秒）\n" in reply.content

    def test_an_answer_after_the_limit_scores_zero_says_so_and_the_next_follows(self, wechat, runtime, clock):
        wechat.text("s2", "答题")
        clock.advance(seconds=59)
        assert "✅ 回答正确！+10分" in wechat.text("s2", right(current_snapshot(runtime, "s2")),
                                                create_time=next(TICKS)).content
        snap = current_snapshot(runtime, "s2")
        clock.advance(seconds=61)
        reply = wechat.text("s2", right(snap), create_time=next(TICKS)).content
        assert reply.startswith("⏰ 本题限时60秒，你用了61秒，超时作答不得分。正确答案：")
        assert "第3/5题【" in reply
        attempt = active(runtime, "s2")
        assert (attempt.current_index, attempt.score) == (2, 10)
        second = items_of(runtime, attempt.id)[1]
        assert (second.correct, second.points_awarded, second.response) == (False, 0, right(snap))

    def test_timing_is_by_the_servers_clock_not_the_messages_create_time(self, wechat, runtime, clock):
        wechat.text("s3", "答题")
        sent = int(clock.now.replace(tzinfo=dt.timezone.utc).timestamp())
        clock.advance(seconds=90)  # arrives late, though the phone claims it was written 5 s after the question
        reply = wechat.text("s3", right(current_snapshot(runtime, "s3")), create_time=sent + 5).content
        assert reply.startswith("⏰ 本题限时60秒，你用了90秒")
        clock.advance(seconds=10)  # arrives in time, though the phone claims an hour
        reply = wechat.text("s3", right(current_snapshot(runtime, "s3")), create_time=sent + 3600).content
        assert reply.startswith("✅ 回答正确！+10分")

    def test_a_keyword_after_the_limit_is_answered_and_costs_nothing(self, wechat, runtime, clock):
        wechat.text("s4", "答题")
        clock.advance(seconds=120)
        assert "回复以下关键词" in wechat.text("s4", "帮助").content
        assert active(runtime, "s4").current_index == 0
        reply = wechat.text("s4", wrong(current_snapshot(runtime, "s4")), create_time=next(TICKS)).content
        assert reply.startswith("⏰ 本题限时60秒，你用了120秒")


@pytest.mark.parametrize("quiz, message", [
    ({"closes_at": dt.datetime(2027, 4, 27, 12, 0)},
     "quiz.closes_at: 应为activity.start 与 activity.end 之间的本地时间（答题截止时间）"),
    ({"closes_at": dt.datetime(2027, 4, 25, 20, 0), "results_at": dt.datetime(2027, 4, 25, 19, 0)},
     "quiz.results_at: 应为不早于答题截止时间（quiz.closes_at）的本地时间"),
    ({"seconds_per_question": 5}, "quiz.seconds_per_question: 应为0（不限时）或至少 10 秒（读题也要时间），当前为 5"),
    ({"closes_ta": dt.datetime(2027, 4, 25, 20, 0)}, "是否想写 quiz.closes_at"),
])
def test_config_errors_name_the_key(quiz, message):
    with pytest.raises(ConfigError) as err:
        make_config({"quiz": quiz})
    assert message in str(err.value)


class TestAfterTheClose:
    @pytest.fixture
    def config_overrides(self):
        return CLOSE

    def test_replies_stop_inviting_and_the_schedule_shows_the_close(self, wechat, runtime, clock):
        clock.now = CLOSE_UTC - dt.timedelta(hours=1)
        wechat.text("c8", "答题")
        for _ in range(5):
            wechat.text("c8", right(current_snapshot(runtime, "c8")), create_time=next(TICKS))
        assert "4月20日 00:00 — 4月25日 20:00 线上有奖竞答" in wechat.text("c8", "活动安排").content
        clock.now = CLOSE_UTC + dt.timedelta(hours=1)
        rank = wechat.text("c8", "排名").content
        assert rank.endswith("本届竞答已截止答题。获奖名单将于4月26日 10:00在本公众号公布，敬请关注。")
        assert wechat.text("c8", "随便说点什么").content.startswith(
            "本届有奖竞答已截止答题，感谢参与！获奖名单将于4月26日 10:00在本公众号公布，敬请关注。回复“帮助”查看其他关键词。")


def test_continue_in_the_quit_question_is_never_graded_even_on_a_fill_in(wechat, runtime):
    fill = [("填空", f"第{i}题：外观设计专利权的期限为____年。", [], ["15"], "") for i in range(5)]
    load_bank(runtime.db, name="fill", questions=fill)
    runtime.config = make_config({"quiz": {"bank": "fill"}}, runtime.config.database_url)
    wechat.text("c9", "答题")
    assert "回复“确定”" in wechat.text("c9", "放弃").content
    reply = wechat.text("c9", "继续").content
    assert reply.startswith("好的，继续答题：\n\n第1/5题【填空】")
    assert active(runtime, "c9").current_index == 0
