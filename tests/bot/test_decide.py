"""The decision as a pure function: facts and a message in, a reply and changes out (no database)."""
from __future__ import annotations

import datetime as dt
import random

import pytest

from bot.conversation import states
from bot.conversation.changes import ClaimMessage, CountMessage, SetState, TouchFollower
from bot.conversation.decide import ACTIONS, STATES, decide
from bot.conversation.engine import context
from bot.conversation.facts import AttemptFacts, Best, Facts, FollowerFacts, ItemFacts, Missing, RateWindow, Rank
from bot.conversation.message import Inbound
from bot.conversation.ratelimit import THROTTLED_TEXT
from bot.quiz.changes import MarkBest, MoveAttempt, RecordAnswer
from bot.quiz.rules import StandingKey
from tests.conftest import IN_WEEK, make_config

NOW = IN_WEEK
CONFIG = make_config()
SNAP = {"qtype": "单选", "stem": "世界知识产权日是每年的哪一天？", "options": ["4月26日", "3月15日"], "answer": ["A"],
        "explanation": "", "points": 10, "category": ""}


def ctx():
    return context(CONFIG, NOW, random.Random(1))


def text(content: str, create_time: int = 2_000_000_100, msg_id: int = 1) -> Inbound:
    return Inbound(openid="o1", account="gh", create_time=create_time, msg_type="text", msg_id=msg_id,
                   content=content, event="", raw={})


def facts(*, index=0, total=5, state=None, rate=None, last_answer=2_000_000_000) -> Facts:
    attempt = AttemptFacts(id=7, current_index=index, total_questions=total, last_activity_at=NOW,
                           last_answer_create_time=last_answer, score=10 * index, correct_count=index, max_score=50,
                           started_at=NOW - dt.timedelta(minutes=2))
    items = (ItemFacts(position=index, snapshot=SNAP, option_order=[0, 1]),)
    if index + 1 < total:
        items += (ItemFacts(position=index + 1, snapshot=SNAP, option_order=[1, 0]),)
    follower = FollowerFacts(openid="o1", state=state, name=None, phone=None, last_message_at=NOW, subscribed=True)
    return Facts(stored_reply=None, stored_create_time=None, follower=follower, attempt=attempt, items=items,
                 rate=rate)


def test_a_middle_answer_is_graded_and_moves_the_attempt_on():
    decision = decide(facts(index=1), text("A"), ctx())
    assert decision.reply.startswith("✅ 回答正确！+10分") and "第3/5题" in decision.reply
    kinds = [type(c) for c in decision.changes]
    assert kinds == [CountMessage, RecordAnswer, MoveAttempt, ClaimMessage]
    move = decision.changes[2]
    assert (move.index, move.next_index, move.score, move.status) == (1, 2, 20, "active")
    assert decision.changes[-1].reply == decision.reply


def test_the_last_answer_asks_for_the_facts_it_needs_then_ends_the_attempt():
    f = facts(index=4)
    with pytest.raises(Missing) as missing:
        decide(f, text("A"), ctx())
    assert (missing.value.fact, missing.value.more) == ("best", ("used",))  # asked for together
    f.loaded["best"] = None
    f.loaded["used"] = (1, 1)
    key = StandingKey(score=50, duration_seconds=120, finished_at=NOW, id=7)
    with pytest.raises(Missing) as missing:
        decide(f, text("A"), ctx())
    assert (missing.value.fact, missing.value.arg) == ("rank", key)
    f.loaded[("rank", key)] = Rank(ahead=2, players=9)
    decision = decide(f, text("A"), ctx())
    assert "排名：第3名（共10人参与）" in decision.reply  # a new player: one more than the 9 read
    assert [type(c) for c in decision.changes] == [CountMessage, RecordAnswer, MoveAttempt, MarkBest, SetState,
                                                  ClaimMessage]
    assert decision.changes[4].new == "contact"  # qualified without details: they are asked for them


def test_an_attempt_that_is_not_the_best_keeps_the_best():
    f = facts(index=4)
    better = StandingKey(score=50, duration_seconds=60, finished_at=NOW - dt.timedelta(days=1), id=3)
    f.loaded.update({"best": Best(key=better, ended=1), ("rank", better): Rank(ahead=0, players=4), "used": (2, 1)})
    decision = decide(f, text("B"), ctx())
    assert "你的最好成绩：50分，用时1分0秒，排名第1名（共4人）。" in decision.reply
    assert not any(isinstance(c, MarkBest) for c in decision.changes)


def test_a_double_tap_changes_nothing_but_its_own_claim():
    decision = decide(facts(index=1, last_answer=2_000_000_100), text("A"), ctx())
    assert decision.reply.startswith("已收到你的上一题答案")
    assert [type(c) for c in decision.changes] == [CountMessage, ClaimMessage]


def test_over_the_limit_only_the_count_and_the_claim_are_written():
    window = RateWindow(count=CONFIG.ratelimit.messages, expires_at=NOW + dt.timedelta(seconds=5))
    decision = decide(facts(rate=window), text("A"), ctx())
    assert decision.reply == THROTTLED_TEXT
    assert decision.changes == (CountMessage(openid="o1", allowed=False),
                                ClaimMessage(key="msg:o1:1", openid="o1", msg_type="text",
                                             create_time=2_000_000_100, reply=THROTTLED_TEXT))


def test_an_ended_window_counts_from_one():
    window = RateWindow(count=99, expires_at=NOW)
    decision = decide(facts(rate=window), text("A"), ctx())
    assert decision.changes[0] == CountMessage(openid="o1", allowed=True) and "回答正确" in decision.reply


def test_quit_asks_and_ties_the_confirmation_to_the_attempt():
    decision = decide(facts(index=1), text("交卷"), ctx())
    assert decision.reply.startswith("确定要交卷吗？本次还有4题未答")
    assert SetState(openid="o1", old=None, new="quit:7") in decision.changes
    confirmed = facts(index=1, state="quit:7")
    assert states.state_of(confirmed) == states.CONFIRM_QUIT
    assert states.state_of(facts(index=1, state="quit:6")) == states.IN_QUIZ


def test_a_new_follower_is_created_by_their_first_message():
    f = Facts(stored_reply=None, stored_create_time=None, follower=None, attempt=None, items=(), rate=None)
    decision = decide(f, text("你好"), ctx())
    assert decision.changes[1] == TouchFollower(openid="o1", create=True, subscribed_if_new=True, last_message=True)
    assert decision.reply.startswith("没有听懂这条消息")


def test_every_state_and_action_has_a_handler_and_declared_transitions():
    assert set(STATES) == set(states.TRANSITIONS) == {states.IDLE, states.IN_QUIZ, states.CONFIRM_QUIT,
                                                      states.AWAIT_CONTACT}
    assert set(ACTIONS) == set(CONFIG.keywords)
