"""The common turns on the driver connection (bot.answer_turn, bot.start_turn): when they hand a
message to the general path, the follower still gets the right reply and nothing is counted twice."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot import answer_turn
from bot.models import AttemptItem, Follower, InboundMessage
from tests.bot.test_quiz_flow import TICKS, active, attempts, current_snapshot, play, right, wrong
from tests.conftest import load_bank


@pytest.fixture(autouse=True)
def bank(runtime):
    return load_bank(runtime.db)


def answered(runtime, attempt_id) -> list[tuple[int, str]]:
    with runtime.db.reader() as session:
        return list(session.execute(select(AttemptItem.position, AttemptItem.response)
                                    .where(AttemptItem.attempt_id == attempt_id, AttemptItem.response.is_not(None))
                                    .order_by(AttemptItem.position)))


def test_an_answer_whose_attempt_moved_after_it_was_read_is_not_graded_twice(wechat, runtime, monkeypatch):
    wechat.text("m1", "答题")
    first = current_snapshot(runtime, "m1")
    slow, fast = next(TICKS), next(TICKS)
    real_plan = answer_turn._plan
    raced = []

    def plan_then_race(*args, **kwargs):
        planned = real_plan(*args, **kwargs)
        if not raced:  # while this answer is being graded, another device answers the same question
            raced.append(True)
            raced.append(wechat.text("m1", right(first), create_time=fast))
        return planned

    monkeypatch.setattr(answer_turn, "_plan", plan_then_race)
    reply = wechat.text("m1", wrong(first), create_time=slow)

    assert "✅ 回答正确！+10分" in raced[1].content
    # The slower copy's write matched nothing; the general path saw it was sent before the
    # question it would answer was shown, and re-asked instead of grading it.
    assert reply.content.startswith("已收到你的上一题答案，请回答当前题目：")
    attempt = active(runtime, "m1")
    assert (attempt.current_index, attempt.score, attempt.correct_count) == (1, 10, 1)
    assert answered(runtime, attempt.id) == [(0, right(first))]
    with runtime.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)
                              .where(InboundMessage.openid == "m1")) == 3
    assert wechat.text("m1", wrong(first), create_time=slow).content == reply.content  # WeChat's retry


def test_a_final_answer_that_is_not_the_best_names_the_best_attempt(wechat, runtime, clock):
    wechat.text("m2", "答题")
    best = play(wechat, runtime, "m2", correct=4)
    assert "排名：第1名（共1人参与）" in best.content
    clock.advance(days=1)
    wechat.text("m2", "答题", create_time=next(TICKS))
    worse = play(wechat, runtime, "m2", correct=2)
    assert "得分：20分（满分50分）" in worse.content
    assert "你的最好成绩：40分" in worse.content and "排名第1名（共1人）" in worse.content
    assert [(a.score, a.best) for a in attempts(runtime, "m2")] == [(40, True), (20, False)]


def test_a_better_later_attempt_becomes_the_best(wechat, runtime, clock):
    wechat.text("m3", "答题")
    play(wechat, runtime, "m3", correct=1)
    clock.advance(days=1)
    wechat.text("m3", "答题", create_time=next(TICKS))
    reply = play(wechat, runtime, "m3", correct=5)
    assert "得分：50分（满分50分）" in reply.content and "排名：第1名（共1人参与）" in reply.content
    assert "剩余答题机会：1次" in reply.content
    assert [(a.score, a.best) for a in attempts(runtime, "m3")] == [(10, False), (50, True)]


def test_a_new_follower_who_starts_the_quiz_is_recorded(wechat, runtime):
    wechat.text("m4", "答题")  # the first start in a process reads the bank the general way
    reply = wechat.text("m5", "答题")
    assert reply.content.startswith("第1次答题开始！共5题，满分50分")
    with runtime.db.reader() as session:
        follower = session.get(Follower, "m5")
    assert follower.subscribed and follower.last_message_at is not None and follower.first_seen_at is not None
    assert active(runtime, "m5").total_questions == 5
