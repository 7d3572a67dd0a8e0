"""The conversation engine through the webhook: states, keywords in every state, quitting, wording,
and copies of one message that arrive together (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from bot.storage.models import Attempt, Follower, KeyValue
from bot.wechat.simulator import WeChatSimulator
from tests.bot.test_quiz_flow import TICKS, active, attempts, current_snapshot, play, right, wrong
from tests.conftest import SAMPLE_QUESTIONS, flask_poster, load_bank


@pytest.fixture(autouse=True)
def bank(runtime):
    return load_bank(runtime.db)


HINT = "（登记领奖信息：请回复“姓名 手机号”，例如：张三 13800138000）"


def qualify(wechat, runtime, openid):
    wechat.text(openid, "答题", create_time=next(TICKS))
    return play(wechat, runtime, openid, correct=5)


class TestWaitingForContactDetails:
    """A qualified player who has not registered is never stuck: keywords answer, other text gets a hint."""

    @pytest.mark.parametrize("text,expected", [
        ("12330", "知识产权维权援助热线：12330"),
        ("维权", "知识产权维权援助热线：12330"),
        ("热线", "知识产权维权援助热线：12330"),  # a menu label
    ])
    def test_replies_and_menu_labels_answer(self, wechat, runtime, text, expected):
        assert "请回复“姓名 手机号”登记领奖信息" in qualify(wechat, runtime, "c1").content
        assert wechat.text("c1", text, create_time=next(TICKS)).content == expected

    def test_keywords_answer(self, wechat, runtime):
        qualify(wechat, runtime, "c2")
        assert "回复以下关键词" in wechat.text("c2", "帮助", create_time=next(TICKS)).content
        assert "你的最好成绩：50分" in wechat.text("c2", "排名", create_time=next(TICKS)).content

    def test_other_text_gets_the_normal_reply_and_one_line_on_registering(self, wechat, runtime):
        qualify(wechat, runtime, "c3")
        reply = wechat.text("c3", "你好", create_time=next(TICKS)).content
        assert reply == "没有听懂这条消息。回复“答题”参加有奖竞答，回复“帮助”查看全部关键词。\n" + HINT
        # ... and the details, when they come, are still taken.
        reply = wechat.text("c3", "张三 13800138000", create_time=next(TICKS)).content
        assert reply.startswith("已登记领奖信息：张三，手机号 138****8000。")
        assert "没有听懂" in wechat.text("c3", "你好", create_time=next(TICKS)).content
        assert HINT not in wechat.text("c3", "你好", create_time=next(TICKS)).content

    def test_a_registered_player_asking_again_is_not_awaited(self, wechat, runtime):
        qualify(wechat, runtime, "c5")
        wechat.text("c5", "张三 13800138000", create_time=next(TICKS))
        assert wechat.text("c5", "领奖", create_time=next(TICKS)).content.startswith("你已登记：张三，手机号 138****8000。")
        assert HINT not in wechat.text("c5", "你好", create_time=next(TICKS)).content
        assert "已更新领奖信息：李四" in wechat.text("c5", "李四 13900139000", create_time=next(TICKS)).content

    def test_tapping_the_register_button_does_not_trap_anyone(self, wechat, runtime):
        qualify(wechat, runtime, "c4")
        wechat.text("c4", "张三 13800138000", create_time=next(TICKS))
        assert "你已登记：张三" in wechat.event("c4", "CLICK", "contact", create_time=next(TICKS)).content
        assert wechat.text("c4", "12330", create_time=next(TICKS)).content == "知识产权维权援助热线：12330"
        assert wechat.text("nobody", "登记", create_time=next(TICKS)).content.startswith("成绩达到50分即可登记")
        assert wechat.text("nobody", "维权", create_time=next(TICKS)).content == "知识产权维权援助热线：12330"


def test_a_msgid_reused_by_another_sender_is_another_message(wechat, runtime):
    qualify(wechat, runtime, "m1")
    first = wechat.text("m1", "张三 13800138000", create_time=next(TICKS), msg_id=777_000)
    assert "138****8000" in first.content
    other = wechat.text("m2", "帮助", create_time=next(TICKS), msg_id=777_000)
    assert "回复以下关键词" in other.content and "张三" not in other.content


def test_copies_of_one_answer_arriving_together_count_once_toward_the_rate_limit(runtime, app):
    """Each answer sent as three copies at once (three workers): graded once, one reply, counted once."""
    sim = WeChatSimulator(token="spamtest", post=flask_poster(app.test_client()))
    sim.text("rc", "答题", create_time=next(TICKS))
    workers = [WeChatSimulator(token="spamtest", post=flask_poster(app.test_client())) for _ in range(3)]
    for n in range(4):
        snap = current_snapshot(runtime, "rc")
        barrier = threading.Barrier(3)
        replies = []
        create_time, msg_id = next(TICKS), 880_000 + n

        def copy(worker):
            barrier.wait()
            replies.append(worker.text("rc", right(snap), create_time=create_time, msg_id=msg_id))

        threads = [threading.Thread(target=copy, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({r.raw for r in replies}) == 1 and "回答正确" in replies[0].content
    with runtime.db.reader() as session:
        assert session.get(KeyValue, "rate:rc").value == "5"  # the start and four answers
    assert active(runtime, "rc").current_index == 4


class TestQuitting:
    @pytest.mark.parametrize("word", ["交卷", "退出", "结束", "放弃"])
    def test_each_quit_word_asks_first_then_ends_on_yes(self, wechat, runtime, word):
        wechat.text("q1", "答题", create_time=next(TICKS))
        wechat.text("q1", right(current_snapshot(runtime, "q1")), create_time=next(TICKS))
        ask = wechat.text("q1", word, create_time=next(TICKS)).content
        assert ask.startswith("确定要交卷吗？本次还有4题未答，交卷后未答的题目记0分，并占用一次答题机会。")
        assert "第2/5题" in ask
        assert active(runtime, "q1") is not None
        done = wechat.text("q1", "确定", create_time=next(TICKS)).content
        assert done.startswith("已交卷，本次答题结束。") and "得分：10分（满分50分）" in done
        [attempt] = attempts(runtime, "q1")
        assert attempt.status == "abandoned"

    def test_anything_else_carries_on_and_an_answer_is_graded(self, wechat, runtime):
        wechat.text("q2", "答题", create_time=next(TICKS))
        while current_snapshot(runtime, "q2")["qtype"] == "填空":  # a fill-in question takes any text as its answer
            wechat.text("q2", right(current_snapshot(runtime, "q2")), create_time=next(TICKS))
        number = active(runtime, "q2").current_index + 1
        wechat.text("q2", "交卷", create_time=next(TICKS))
        assert wechat.text("q2", "继续", create_time=next(TICKS)).content.startswith(f"好的，继续答题：\n\n第{number}/5题")
        wechat.text("q2", "交卷", create_time=next(TICKS))
        reply = wechat.text("q2", right(current_snapshot(runtime, "q2")), create_time=next(TICKS)).content
        assert "回答正确" in reply and f"第{number + 1}/5题" in reply
        # The confirmation was for that moment: a later 确定 is not a quit.
        assert "确定要交卷" not in reply
        assert "已交卷" not in wechat.text("q2", "确定", create_time=next(TICKS)).content
        assert active(runtime, "q2") is not None

    def test_a_keyword_carries_on_and_a_second_quit_word_confirms(self, wechat, runtime):
        wechat.text("q4", "答题", create_time=next(TICKS))
        ask = wechat.text("q4", "放弃", create_time=next(TICKS)).content
        assert "回复“确定”（或再次回复“放弃”）交卷" in ask
        assert "回复以下关键词" in wechat.text("q4", "帮助", create_time=next(TICKS)).content
        assert "已交卷" not in wechat.text("q4", "确定", create_time=next(TICKS)).content  # the keyword carried on
        assert active(runtime, "q4") is not None
        wechat.text("q4", "交卷", create_time=next(TICKS))
        assert wechat.text("q4", "退出", create_time=next(TICKS)).content.startswith("已交卷，本次答题结束。")

    def test_the_confirmation_does_not_outlive_its_attempt(self, wechat, runtime, clock):
        wechat.text("q3", "答题", create_time=next(TICKS))
        wechat.text("q3", "退出", create_time=next(TICKS))
        clock.advance(days=1)  # the attempt ran out of time; a new day's attempt starts
        assert "已自动交卷" in wechat.text("q3", "答题", create_time=next(TICKS)).content
        with runtime.db.reader() as session:
            assert session.get(Follower, "q3").state is None
        assert "确定要交卷吗" in wechat.text("q3", "交卷", create_time=next(TICKS)).content


class TestPrizeWording:
    def test_top_rule_names_the_places(self, wechat, runtime):
        start = wechat.text("w1", "答题", create_time=next(TICKS)).content
        assert "成绩达到50分且排名前10名可获奖。" in start
        assert "成绩达到50分且排名前10名可获奖，继续加油！" in play(wechat, runtime, "w1", correct=2).content

    def test_a_qualified_player_who_quits_later_is_not_told_to_reach_the_score(self, wechat, runtime, clock):
        wechat.text("w2", "答题", create_time=next(TICKS))
        play(wechat, runtime, "w2", correct=5)
        wechat.text("w2", "张三 13800138000", create_time=next(TICKS))
        clock.advance(days=1)
        start = wechat.text("w2", "答题", create_time=next(TICKS)).content
        assert "你已达到获奖分数线（50分），活动结束后按成绩排名取前10名获奖。" in start
        wechat.text("w2", "放弃", create_time=next(TICKS))
        done = wechat.text("w2", "确定", create_time=next(TICKS)).content
        assert "达到50分" not in done.replace("达到获奖分数线（50分）", "") and "继续加油" not in done
        assert "你已达到获奖分数线（50分）" in done and "领奖信息已登记（张三，138****8000）" in done


class TestLotteryWording:
    @pytest.fixture
    def config_overrides(self):
        return {"export": {"rule": "lottery"}}

    def test_lottery_rule_speaks_of_the_draw(self, wechat, runtime):
        assert "达到50分可获得抽奖资格。" in wechat.text("l1", "答题", create_time=next(TICKS)).content
        assert "达到50分可获得抽奖资格，继续加油！" in play(wechat, runtime, "l1", correct=2).content
        wechat.text("l2", "答题", create_time=next(TICKS))
        assert "你已获得抽奖资格（最好成绩50分）" in play(wechat, runtime, "l2", correct=5).content


class TestFillInEcho:
    @pytest.fixture(autouse=True)
    def bank(self, runtime):
        fill = [q for q in SAMPLE_QUESTIONS if q[0] == "填空"] * 5
        return load_bank(runtime.db, questions=fill)

    def test_a_fill_in_answer_is_echoed_as_typed(self, wechat, runtime):
        wechat.text("f1", "答题", create_time=next(TICKS))
        reply = wechat.text("f1", "Fifteen Years", create_time=next(TICKS)).content
        assert "❌ 回答错误（你的答案 Fifteen Years）" in reply
        assert wrong(current_snapshot(runtime, "f1")) == "不知道"


def test_non_text_messages_in_every_state(wechat, runtime):
    image = ("<xml><ToUserName><![CDATA[gh_standin_account]]></ToUserName><FromUserName><![CDATA[nt]]></FromUserName>"
             "<CreateTime>{t}</CreateTime><MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/y.jpg]]>"
             "</PicUrl><MediaId><![CDATA[m]]></MediaId><MsgId>{m}</MsgId></xml>")
    assert "没有听懂" in wechat.send_xml(image.format(t=next(TICKS), m=990_001)).content
    wechat.text("nt", "答题", create_time=next(TICKS))
    assert "答题只接受文字回复" in wechat.send_xml(image.format(t=next(TICKS), m=990_002)).content
    with runtime.db.reader() as session:
        assert session.scalars(select(Attempt.current_index).where(Attempt.openid == "nt")).one() == 0


def test_two_letters_for_a_single_choice_question_are_explained(wechat, runtime):
    wechat.text("sc", "答题", create_time=next(TICKS))
    while current_snapshot(runtime, "sc")["qtype"] != "单选":
        wechat.text("sc", right(current_snapshot(runtime, "sc")), create_time=next(TICKS))
    index = active(runtime, "sc").current_index
    reply = wechat.text("sc", "AB", create_time=next(TICKS)).content
    assert reply.startswith("这是单选题，只能选一个选项。请回复一个选项字母，如 A。这条回复不计入作答：")
    assert active(runtime, "sc").current_index == index


class TestTesterQuit:
    @pytest.fixture
    def config_overrides(self):
        return {"quiz": {"testers": ["tester-q"]}}

    def test_a_tester_is_not_told_quitting_uses_an_attempt_nor_what_wins(self, wechat, runtime):
        start = wechat.text("tester-q", "答题", create_time=next(TICKS)).content
        assert "测试账号的成绩不参与评奖。" in start and "可获奖" not in start
        ask = wechat.text("tester-q", "交卷", create_time=next(TICKS)).content
        assert ask.startswith("确定要交卷吗？") and "占用" not in ask
        done = wechat.text("tester-q", "确定", create_time=next(TICKS)).content
        assert "测试账号的成绩不参与评奖。" in done and "继续加油" not in done
