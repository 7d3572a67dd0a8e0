"""Per-follower rate limiting: a flood is answered briefly and never graded; retries still get their reply."""
from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import ConfigError
from bot.storage.db import Database
from bot.storage.models import Attempt, AttemptItem, Follower, KeyValue
from bot.conversation.ratelimit import THROTTLED_TEXT, counts_toward_limit
from bot.runtime import Runtime
from bot.wechat.simulator import WeChatSimulator
from tests.bot.test_quiz_flow import active, current_snapshot, right
from tests.conftest import flask_poster, load_bank, make_config

LIMIT = 4
TICKS = itertools.count(3_500_000_000, 10)


@pytest.fixture
def config_overrides():
    return {"ratelimit": {"messages": LIMIT, "window_seconds": 10}}


@pytest.fixture(autouse=True)
def bank(runtime):
    return load_bank(runtime.db)


def answered(runtime, openid) -> int:
    with runtime.db.reader() as session:
        return session.scalar(select(func.count()).select_from(AttemptItem).join(Attempt).where(
            Attempt.openid == openid, AttemptItem.answered_at.is_not(None)))


def test_a_burst_of_answers_is_graded_up_to_the_limit_then_again_after_the_window(wechat, runtime, clock):
    wechat.text("flood", "答题", create_time=next(TICKS))
    replies = [wechat.text("flood", right(current_snapshot(runtime, "flood")), create_time=next(TICKS))
               for _ in range(25)]

    graded = [r for r in replies if THROTTLED_TEXT not in r.content]
    assert len(graded) == LIMIT - 1  # the start message used one of the window's messages
    assert all(r.status == 200 and r.content == THROTTLED_TEXT for r in replies[LIMIT - 1:])
    assert answered(runtime, "flood") == LIMIT - 1
    assert active(runtime, "flood").current_index == LIMIT - 1

    clock.advance(seconds=11)
    reply = wechat.text("flood", right(current_snapshot(runtime, "flood")), create_time=next(TICKS))
    assert "回答正确" in reply.content
    assert active(runtime, "flood").current_index == LIMIT


def test_retry_of_an_answered_message_gets_its_stored_reply_over_the_limit(wechat, runtime):
    wechat.text("retry", "答题", create_time=next(TICKS))
    snap = current_snapshot(runtime, "retry")
    first = wechat.text("retry", right(snap), create_time=next(TICKS), msg_id=9_001)
    for _ in range(LIMIT):
        wechat.text("retry", "帮助", create_time=next(TICKS))
    again = wechat.text("retry", right(snap), create_time=2_000_000_000, msg_id=9_001)
    assert "回答正确" in first.content
    assert again.raw == first.raw


def test_retry_of_a_throttled_message_is_not_graded_later(wechat, runtime, clock):
    wechat.text("late", "答题", create_time=next(TICKS))
    for _ in range(LIMIT - 1):
        wechat.text("late", "帮助", create_time=next(TICKS))
    snap = current_snapshot(runtime, "late")
    throttled = wechat.text("late", right(snap), create_time=next(TICKS), msg_id=9_100)
    clock.advance(seconds=11)
    retried = wechat.text("late", right(snap), create_time=2_000_000_000, msg_id=9_100)
    assert throttled.content == retried.content == THROTTLED_TEXT
    assert answered(runtime, "late") == 0


def test_one_follower_flooding_does_not_slow_another(wechat):
    for _ in range(LIMIT + 3):
        wechat.text("noisy", "帮助", create_time=next(TICKS))
    assert "回复以下关键词" in wechat.text("quiet", "帮助", create_time=next(TICKS)).content


def test_subscription_changes_are_recorded_even_over_the_limit(wechat, runtime):
    for _ in range(LIMIT + 1):
        wechat.text("leaver", "帮助", create_time=next(TICKS))
    assert wechat.event("leaver", "CLICK", "schedule", create_time=next(TICKS)).content == THROTTLED_TEXT
    wechat.event("leaver", "unsubscribe", create_time=next(TICKS))
    with runtime.db.reader() as session:
        assert session.get(Follower, "leaver").subscribed is False


def test_the_limit_is_shared_by_workers_on_separate_engines(runtime, db_url):
    """Two web workers (each with its own engine) and four threads each: the window admits LIMIT in all."""
    second = Runtime(runtime.config, Database(db_url), clock=runtime.clock)
    apps = [create_app(runtime=runtime), create_app(runtime=second)]
    barrier = threading.Barrier(4)
    replies = []
    lock = threading.Lock()

    def worker(app, start):
        sim = WeChatSimulator(token="spamtest", post=flask_poster(app.test_client()))
        barrier.wait()
        for i in range(3):
            reply = sim.text("shared", "帮助", create_time=4_000_000_000 + start + i, msg_id=70_000 + start + i)
            with lock:
                replies.append(reply)

    threads = [threading.Thread(target=worker, args=(apps[i % 2], i * 10)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    second.db.dispose()
    assert {r.status for r in replies} == {200}
    assert sum(THROTTLED_TEXT not in r.content for r in replies) == LIMIT


class TestDefaults:
    @pytest.fixture
    def config_overrides(self):
        return {}

    def test_twenty_messages_in_ten_seconds_by_default(self, wechat, runtime):
        assert (runtime.config.ratelimit.messages, runtime.config.ratelimit.window_seconds) == (20, 10)
        replies = [wechat.text("busy", "帮助", create_time=next(TICKS)).content for _ in range(25)]
        assert [THROTTLED_TEXT in r for r in replies] == [False] * 20 + [True] * 5


class TestSwitchedOff:
    @pytest.fixture
    def config_overrides(self):
        return {"ratelimit": {"messages": 0}}

    def test_zero_turns_the_limit_off(self, wechat):
        replies = [wechat.text("free", "帮助", create_time=next(TICKS)).content for _ in range(30)]
        assert not any(THROTTLED_TEXT in r for r in replies)


@pytest.mark.parametrize("table,key", [({"messages": -1}, "ratelimit.messages"),
                                       ({"messages": "20"}, "ratelimit.messages"),
                                       ({"window_seconds": 0}, "ratelimit.window_seconds"),
                                       ({"window_seconds": True}, "ratelimit.window_seconds")])
def test_bad_settings_name_the_key(table, key):
    with pytest.raises(ConfigError, match=key):
        make_config({"ratelimit": table})


@pytest.mark.parametrize("msg_type,event,counted", [
    ("text", "", True), ("image", "", True), ("event", "click", True), ("event", "view", True),
    ("event", "subscribe", False), ("event", "unsubscribe", False), ("event", "masssendjobfinish", False),
])
def test_which_messages_count(msg_type, event, counted):
    assert counts_toward_limit(msg_type, event) is counted


def test_each_message_counts_once_even_when_the_quick_answer_falls_back(wechat, runtime):
    """Over the limit, an answer is counted by the quick path (committed on PostgreSQL), then answered
    the general way: the window's count still goes up by one per message."""
    wechat.text("counted", "答题", create_time=next(TICKS))
    replies = [wechat.text("counted", right(current_snapshot(runtime, "counted")), create_time=next(TICKS))
               for _ in range(LIMIT + 2)]
    assert [r.content == THROTTLED_TEXT for r in replies] == [False] * (LIMIT - 1) + [True] * 3
    with runtime.db.reader() as session:
        assert session.get(KeyValue, "rate:counted").value == str(LIMIT + 3)


def test_a_window_deleted_after_it_ended_starts_afresh(wechat, runtime, clock):
    from bot.storage.counters import purge_expired_counts

    for _ in range(LIMIT + 1):
        wechat.text("tidy", "帮助", create_time=next(TICKS))
    wechat.text("busy", "帮助", create_time=next(TICKS))
    clock.advance(seconds=11)
    wechat.text("busy", "帮助", create_time=next(TICKS))  # a new window, still open
    with runtime.db.session() as session:
        assert purge_expired_counts(session=session, now=clock()) == 1
    with runtime.db.reader() as session:
        assert session.get(KeyValue, "rate:tidy") is None
        assert session.get(KeyValue, "rate:busy").value == "1"
    assert "回复以下关键词" in wechat.text("tidy", "帮助", create_time=next(TICKS)).content
