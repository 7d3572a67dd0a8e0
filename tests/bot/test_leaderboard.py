"""Issue 18, the leaderboard: 排行榜 shows the top 10 masked, the follower's own standing and how many play."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from bot.quiz.leaderboard import leaderboard_params, leaderboard_sql
from tests.bot.test_quiz_flow import TICKS, play
from tests.conftest import load_bank

NAMES = ["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九", "吴十", "郑一", "冯二", "陈三", "褚四"]


@pytest.fixture
def config_overrides():
    return {"quiz": {"testers": ["t-tester"]}}


@pytest.fixture
def field(runtime, wechat, clock):
    """Twelve players: the i-th answers 5 - i // 3 questions right; a tester and a simulator user score full marks."""
    load_bank(runtime.db)
    for i, name in enumerate(NAMES):
        openid = f"o-lb-{i:02d}"
        wechat.text(openid, "答题", create_time=next(TICKS))
        clock.advance(seconds=30 + i)
        play(wechat, runtime, openid, correct=5 - i // 3)
        wechat.text(openid, f"{name} 139{i:08d}", create_time=next(TICKS))
    for openid in ("t-tester", "sim-lb"):
        wechat.text(openid, "答题", create_time=next(TICKS))
        play(wechat, runtime, openid, correct=5)
    return runtime


def test_the_top_ten_masked_the_own_standing_and_how_many_play(field, wechat):
    reply = wechat.text("o-lb-11", "排行榜", create_time=next(TICKS)).content
    lines = reply.splitlines()
    assert lines[0] == "🏆 有奖竞答排行榜（前10名，共12人参与）"
    # Only qualified players (full marks here) leave a name; the others show as 微信用户.
    assert [line.split(" ")[1] for line in lines[1:11]] == ["张*", "李*", "王*"] + ["微信用户"] * 7
    assert lines[1].startswith("1. 张* 50分 用时") and lines[10].startswith("10. 微信用户 20分 用时")
    assert "测试" not in reply and "sim-" not in reply and "张三" not in reply and "139" not in reply
    assert lines[-1].startswith("你的最好成绩：20分，") and lines[-1].endswith("排名第12名（共12人）。")


def test_a_follower_who_has_not_played_and_the_menu_key(field, wechat):
    reply = wechat.event("o-new", "CLICK", "leaderboard").content
    assert reply.startswith("🏆 有奖竞答排行榜（前10名，共12人参与）")
    assert reply.endswith("你还没有完成过答题。回复“答题”参加。")


def test_nobody_yet(wechat, runtime):
    assert wechat.text("o-first", "排行榜").content == "还没有人完成答题。回复“答题”参加有奖竞答，争当第一名！"


def test_the_reply_costs_the_same_statements_however_many_play(runtime, wechat, clock, caplog):
    load_bank(runtime.db)

    def statements_for_one_look() -> int:
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="bot.storage.driver_sql"):
            wechat.text("o-look", "排行榜", create_time=next(TICKS))
        return len([r for r in caplog.records if r.name == "bot.storage.driver_sql"])

    def add_players(n: int, start: int) -> None:
        for i in range(start, start + n):
            wechat.text(f"o-many-{i}", "答题", create_time=next(TICKS))
            play(wechat, runtime, f"o-many-{i}", correct=i % 6)

    add_players(2, 0)
    wechat.text("o-look", "帮助")  # a known follower: both looks write the same
    few = statements_for_one_look()
    add_players(20, 2)
    assert statements_for_one_look() == few


def test_the_query_reads_the_standing_index_in_order(runtime):
    sql = leaderboard_sql(1).replace(":size", "10")
    params = {k: v for k, v in leaderboard_params(("t-1",)).items() if k != "size"}
    with runtime.db.engine.connect() as conn:
        if runtime.db.is_sqlite:
            plan = " ".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql), params))
            assert "ix_attempts_leaderboard" in plan and "TEMP B-TREE" not in plan, plan
        else:
            conn.execute(text("SET enable_seqscan = off"))
            plan = " ".join(r[0] for r in conn.execute(text("EXPLAIN " + sql), params))
            assert "ix_attempts_leaderboard" in plan and " Sort " not in f" {plan} ", plan
