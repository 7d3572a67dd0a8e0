"""Whole quizzes played through the webhook with signed XML: every reply and every stored score."""
from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from bot.storage.models import Attempt, AttemptItem, Bank, Follower
from bot.wechat.simulator import WeChatSimulator
from tests.conftest import flask_poster, load_bank


@pytest.fixture(autouse=True)
def bank(runtime):
    return load_bank(runtime.db)


def active(runtime, openid) -> Attempt | None:
    with runtime.db.reader() as session:
        return session.scalars(select(Attempt).where(Attempt.openid == openid, Attempt.status == "active")).first()


def attempts(runtime, openid) -> list[Attempt]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(Attempt).where(Attempt.openid == openid).order_by(Attempt.id)))


def current_snapshot(runtime, openid) -> dict:
    attempt = active(runtime, openid)
    with runtime.db.reader() as session:
        return session.scalars(select(AttemptItem.snapshot).where(AttemptItem.attempt_id == attempt.id,
                                                                  AttemptItem.position == attempt.current_index)).one()


def right(snapshot: dict) -> str:
    if snapshot["qtype"] == "判断":
        return "对" if snapshot["answer"][0] else "错"
    return "".join(snapshot["answer"]) if snapshot["qtype"] in ("单选", "多选") else snapshot["answer"][0]


def wrong(snapshot: dict) -> str:
    if snapshot["qtype"] == "判断":
        return "错" if snapshot["answer"][0] else "对"
    if snapshot["qtype"] == "填空":
        return "不知道"
    letters = "ABCDEFGH"[: len(snapshot["options"])]
    return next(ch for ch in letters if ch not in snapshot["answer"])


TICKS = itertools.count(3_000_000_000, 10)  # CreateTime of answers: later than any start in these tests


def play(wechat, runtime, openid, *, correct=5, total=5):
    """Answer a started attempt to the end: the first `correct` right, the rest wrong."""
    reply = None
    for i in range(total):
        snap = current_snapshot(runtime, openid)
        reply = wechat.text(openid, right(snap) if i < correct else wrong(snap), create_time=next(TICKS))
    return reply


def test_start_shows_rules_and_first_question(wechat):
    reply = wechat.text("p1", "答题")
    lines = reply.content.splitlines()
    assert lines[0] == "第1次答题开始！共5题，满分50分；30分钟内不作答将自动交卷，回复“放弃”可提前交卷。"
    assert lines[1] == "成绩达到50分且排名前10名可获奖。"  # [export] rule "top", 10 places: the defaults
    assert lines[3].startswith("第1/5题【") and lines[3].endswith("】")
    assert reply.content.rstrip().endswith("）")


def test_choice_question_lists_options_on_own_lines(wechat, runtime):
    reply = wechat.text("p1", "答题")
    while current_snapshot(runtime, "p1")["qtype"] not in ("单选", "多选"):
        reply = wechat.text("p1", right(current_snapshot(runtime, "p1")), create_time=next(TICKS))
    snap = current_snapshot(runtime, "p1")
    lines = reply.content.splitlines()
    for letter, option in zip("ABCDEFGH", snap["options"]):
        assert f"{letter}. {option}" in lines
    assert lines[-1] in ("（请回复一个选项字母，如 A）", "（多选题，请回复全部正确选项的字母，如 AC）")


def test_whole_quiz_all_right_qualifies_and_collects_contact(wechat, runtime):
    wechat.text("p2", "开始答题")
    reply = play(wechat, runtime, "p2", correct=5)
    content = reply.content
    assert "✅ 回答正确！+10分" in content
    assert "答题结束！" in content
    assert "得分：50分（满分50分）" in content
    assert "答对：5/5题" in content
    assert "排名：第1名（共1人参与）" in content
    assert "剩余答题机会：2次（今天的次数已用完，4月22日可再来）" in content
    assert "请回复“姓名 手机号”登记领奖信息" in content
    assert "信息仅用于本次活动" in content

    reply = wechat.text("p2", "张三 138 0013 8000", create_time=next(TICKS))
    assert reply.content.startswith("已登记领奖信息：张三，手机号 138****8000。")
    reply = wechat.text("p2", "姓名：李四，电话：13900139000", create_time=next(TICKS))
    assert reply.content.startswith("已更新领奖信息：李四，手机号 139****9000。")
    with runtime.db.reader() as session:
        follower = session.get(Follower, "p2")
        assert (follower.name, follower.phone) == ("李四", "13900139000")
    [attempt] = attempts(runtime, "p2")
    assert (attempt.status, attempt.score, attempt.correct_count, attempt.best) == ("finished", 50, 5, True)


@pytest.mark.parametrize("text,message", [
    ("张三 12345678901", "没有找到有效的手机号"),
    ("13800138000", "请同时发送姓名"),
    ("张3 13800138000", "看起来不对"),
])
def test_contact_is_checked(wechat, runtime, text, message):
    wechat.text("p3", "答题")
    play(wechat, runtime, "p3", correct=5)
    reply = wechat.text("p3", text, create_time=next(TICKS))
    assert message in reply.content
    with runtime.db.reader() as session:
        assert session.get(Follower, "p3").phone is None


def test_below_pass_score_is_not_asked_for_contact(wechat, runtime):
    wechat.text("p4", "答题")
    reply = play(wechat, runtime, "p4", correct=2)
    assert "得分：20分" in reply.content
    assert "登记领奖信息" not in reply.content
    assert "成绩达到50分且排名前10名可获奖，继续加油！" in reply.content
    reply = wechat.text("p4", "领奖", create_time=next(TICKS))
    assert "成绩达到50分即可登记领奖信息。你目前的最好成绩是20分。" in reply.content
    reply = wechat.text("p4", "王小明 13900000100", create_time=next(TICKS))
    assert reply.content.startswith("成绩达到50分即可登记领奖信息。你目前的最好成绩是20分。")
    with runtime.db.reader() as session:
        assert session.get(Follower, "p4").phone is None


@pytest.mark.parametrize("text", ["欧阳娜娜 +8613944445555", "欧阳娜娜 8613944445555", "欧阳娜娜 +86 139-4444-5555"])
def test_a_mobile_with_the_country_code_is_registered(wechat, runtime, text):
    """Also as a correction, when the bot is no longer waiting for details and must recognise them."""
    wechat.text("p86", "答题")
    play(wechat, runtime, "p86", correct=5)
    assert wechat.text("p86", "张三 13800138000", create_time=next(TICKS)).content.startswith("已登记领奖信息")
    reply = wechat.text("p86", text, create_time=next(TICKS))
    assert reply.content.startswith("已更新领奖信息：欧阳娜娜，手机号 139****5555。")
    with runtime.db.reader() as session:
        assert session.get(Follower, "p86").phone == "13944445555"


def test_wrong_answer_shows_correct_answer_and_explanation(wechat, runtime):
    wechat.text("p5", "答题")
    snap = current_snapshot(runtime, "p5")
    reply = wechat.text("p5", wrong(snap), create_time=2_000_000_000)
    assert "❌ 回答错误" in reply.content
    assert f"正确答案：{right(snap) if snap['qtype'] != '填空' else snap['answer'][0]}" in reply.content
    assert "解析：" + snap["explanation"] in reply.content
    assert "第2/5题" in reply.content


def test_unrecognised_answer_reasks_without_counting(wechat, runtime):
    wechat.text("p6", "答题")
    while current_snapshot(runtime, "p6")["qtype"] == "填空":  # any text answers a fill-in question
        wechat.text("p6", right(current_snapshot(runtime, "p6")), create_time=next(TICKS))
    index = active(runtime, "p6").current_index
    reply = wechat.text("p6", "我也不知道呢", create_time=next(TICKS))
    assert "没有识别出你的答案" in reply.content
    assert "这条回复不计入作答" in reply.content
    assert f"第{index + 1}/5题" in reply.content
    assert active(runtime, "p6").current_index == index


def test_retry_of_an_answer_grades_once_and_replies_the_same(wechat, runtime):
    wechat.text("p7", "答题")
    snap = current_snapshot(runtime, "p7")
    first = wechat.text("p7", right(snap), create_time=2_000_000_000, msg_id=111)
    second = wechat.text("p7", right(snap), create_time=2_000_000_000, msg_id=111)
    assert first.content == second.content
    attempt = active(runtime, "p7")
    assert (attempt.current_index, attempt.score) == (1, 10)


def test_double_tap_does_not_skip_a_question(wechat, runtime):
    wechat.text("p8", "答题")
    snap = current_snapshot(runtime, "p8")
    wechat.text("p8", right(snap), create_time=2_000_000_000, msg_id=201)
    reply = wechat.text("p8", right(snap), create_time=2_000_000_000, msg_id=202)
    assert "已收到你的上一题答案" in reply.content and "第2/5题" in reply.content
    attempt = active(runtime, "p8")
    assert (attempt.current_index, attempt.score) == (1, 10)


def test_concurrent_double_tap_on_two_workers_grades_once(runtime, app):
    wechat = WeChatSimulator(token="spamtest", post=flask_poster(app.test_client()))
    wechat.text("p9", "答题")
    snap = current_snapshot(runtime, "p9")
    barrier = threading.Barrier(3)
    replies = []

    def tap(msg_id):
        sim = WeChatSimulator(token="spamtest", post=flask_poster(app.test_client()))
        barrier.wait()
        replies.append(sim.text("p9", right(snap), create_time=2_000_000_000, msg_id=msg_id))

    threads = [threading.Thread(target=tap, args=(300 + i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status == 200 for r in replies)
    graded = [r for r in replies if "回答正确" in r.content]
    assert len(graded) == 1
    attempt = active(runtime, "p9")
    assert (attempt.current_index, attempt.score) == (1, 10)


def test_keywords_work_mid_quiz(wechat, runtime):
    wechat.text("p10", "答题")
    while current_snapshot(runtime, "p10")["qtype"] == "填空":
        # A configured reply word could be a fill-in answer; that case has its own test below.
        wechat.text("p10", right(current_snapshot(runtime, "p10")), create_time=next(TICKS))
    index = active(runtime, "p10").current_index
    reply = wechat.text("p10", "帮助", create_time=next(TICKS))
    assert "回复以下关键词" in reply.content and f"答题进行中：当前第{index + 1}/5题" in reply.content
    reply = wechat.text("p10", "12330", create_time=next(TICKS))
    assert "12330" in reply.content and "答题进行中" in reply.content
    assert active(runtime, "p10").current_index == index


def test_fill_in_answer_wins_over_a_reply_word(wechat, runtime):
    load_bank(runtime.db, "fill", [("填空", "知识产权维权援助热线号码是____。", [], ["12330"], "12330。")])
    with runtime.db.session() as session:  # make it the bank named in quiz.bank
        session.scalars(select(Bank).where(Bank.name == "default")).one().name = "old"
        session.scalars(select(Bank).where(Bank.name == "fill")).one().name = "default"
    wechat.text("p21", "答题")
    reply = wechat.text("p21", "12330", create_time=next(TICKS))
    assert "✅ 回答正确！+10分" in reply.content


def test_quit_scores_the_attempt(wechat, runtime):
    wechat.text("p11", "答题")
    snap = current_snapshot(runtime, "p11")
    wechat.text("p11", right(snap), create_time=2_000_000_000)
    reply = wechat.text("p11", "放弃", create_time=2_000_000_010)
    assert reply.content.startswith("确定要交卷吗？本次还有4题未答")
    reply = wechat.text("p11", "确定", create_time=2_000_000_015)
    assert "已交卷，本次答题结束。" in reply.content and "得分：10分（满分50分）" in reply.content
    assert "答对：1/5题" in reply.content
    [attempt] = attempts(runtime, "p11")
    assert attempt.status == "abandoned" and attempt.best
    assert "你当前没有进行中的答题" in wechat.text("p11", "放弃", create_time=2_000_000_020).content


def test_idle_attempt_expires_and_next_message_says_so(wechat, runtime, clock):
    wechat.text("p12", "答题")
    snap = current_snapshot(runtime, "p12")
    wechat.text("p12", right(snap), create_time=2_000_000_000)
    clock.advance(minutes=31)
    reply = wechat.text("p12", "A", create_time=next(TICKS))
    assert "超过30分钟未作答，已自动交卷，未答的题目记0分。本次得分：10分。" in reply.content
    [attempt] = attempts(runtime, "p12")
    assert attempt.status == "expired" and attempt.score == 10
    assert attempt.duration_seconds == 30 * 60


def test_daily_and_total_limits(wechat, runtime, clock):
    wechat.text("p13", "答题")
    play(wechat, runtime, "p13", correct=3)
    reply = wechat.text("p13", "答题", create_time=next(TICKS))
    assert "今天的答题次数已用完（每天1次），4月22日0点后可再来。你的最好成绩：30分" in reply.content
    for n in range(2):
        clock.advance(days=1)
        reply = wechat.text("p13", "答题", create_time=next(TICKS))
        assert reply.content.startswith(f"第{n + 2}次答题开始！")
        play(wechat, runtime, "p13", correct=4 - n)
    clock.advance(days=1)
    reply = wechat.text("p13", "答题", create_time=next(TICKS))
    assert reply.content.startswith("你已用完全部3次答题机会。你的最好成绩：40分")
    best = [a for a in attempts(runtime, "p13") if a.best]
    assert len(best) == 1 and best[0].score == 40


def test_later_attempt_gets_fresh_questions(wechat, runtime, clock):
    wechat.text("p14", "答题")
    play(wechat, runtime, "p14")
    clock.advance(days=1)
    wechat.text("p14", "答题", create_time=next(TICKS))
    with runtime.db.reader() as session:
        first, second = session.scalars(select(Attempt).where(Attempt.openid == "p14").order_by(Attempt.id)).all()
        seen = set(session.scalars(select(AttemptItem.question_id).where(AttemptItem.attempt_id == first.id)))
        now = set(session.scalars(select(AttemptItem.question_id).where(AttemptItem.attempt_id == second.id)))
    assert len(now) == 5
    # The bank has 7 questions: the 2 not seen before must be in the second attempt.
    assert len(now - seen) == 2


@pytest.mark.parametrize("utc,opens", [
    (dt.datetime(2027, 4, 19, 15, 59, 59), False),  # 23:59:59 on 19 April in Shanghai
    (dt.datetime(2027, 4, 19, 16, 0, 0), True),  # 00:00 on 20 April in Shanghai
    (dt.datetime(2027, 4, 26, 15, 59, 59), True),  # 23:59:59 on 26 April
    (dt.datetime(2027, 4, 26, 16, 0, 0), False),
])
def test_window_edges_are_local_time(wechat, clock, utc, opens):
    clock.now = utc
    reply = wechat.text("p15", "答题")
    if opens:
        assert reply.content.startswith("第1次答题开始！")
    elif utc.day == 19:
        assert reply.content.startswith("2027年知识产权宣传周有奖竞答将于4月20日 00:00开始")
    else:
        assert reply.content == "本届有奖竞答已于4月26日 23:59截止答题，感谢参与！获奖名单将在本公众号公布，敬请关注。"


class TestTesters:
    @pytest.fixture
    def config_overrides(self):
        return {"quiz": {"testers": ["tester-1"]}}

    def test_tester_may_play_before_launch_without_limits(self, wechat, runtime, clock):
        clock.now = dt.datetime(2027, 4, 1, 2, 0)
        assert wechat.text("tester-1", "答题").content.startswith("第1次答题开始！")
        assert "将于4月20日" in wechat.text("someone", "答题").content
        reply = play(wechat, runtime, "tester-1")
        assert "测试账号：不限答题次数，成绩不计入结果" in reply.content
        for n in range(3):
            assert wechat.text("tester-1", "答题", create_time=next(TICKS)).content.startswith(f"第{n + 2}次答题开始！")
            play(wechat, runtime, "tester-1")

    def test_testers_are_left_out_of_every_rank(self, wechat, runtime):
        """Real players' ranks and counts never include a tester; a tester sees where they would rank."""
        wechat.text("real-1", "答题")
        assert "排名：第1名（共1人参与）" in play(wechat, runtime, "real-1", correct=3).content
        wechat.text("tester-1", "答题")
        assert "排名：第1名（共2人参与）" in play(wechat, runtime, "tester-1", correct=5).content
        wechat.text("real-2", "答题")
        assert "排名：第1名（共2人参与）" in play(wechat, runtime, "real-2", correct=4).content
        assert "排名第2名（共2人）" in wechat.text("real-1", "排名", create_time=next(TICKS)).content
        wechat.text("real-3", "答题", create_time=next(TICKS))
        play(wechat, runtime, "real-3", correct=1, total=1)
        wechat.text("real-3", "放弃", create_time=next(TICKS))
        quit_reply = wechat.text("real-3", "确定", create_time=next(TICKS)).content
        assert "已交卷" in quit_reply and "排名：第3名（共3人参与）" in quit_reply
        assert "排名第1名（共4人）" in wechat.text("tester-1", "排名", create_time=next(TICKS)).content


def test_rank_orders_by_score_then_time(wechat, runtime, clock):
    wechat.text("fast", "答题")
    play(wechat, runtime, "fast", correct=4)
    wechat.text("slow", "答题")
    clock.advance(minutes=5)
    play(wechat, runtime, "slow", correct=4)
    wechat.text("best", "答题")
    clock.advance(minutes=10)
    play(wechat, runtime, "best", correct=5)
    assert "排名第1名（共3人）" in wechat.text("best", "排名", create_time=next(TICKS)).content
    assert "排名第2名（共3人）" in wechat.text("fast", "成绩", create_time=next(TICKS)).content
    assert "排名第3名（共3人）" in wechat.text("slow", "排名", create_time=next(TICKS)).content


def test_one_active_attempt_is_a_database_constraint(runtime, wechat):
    wechat.text("p16", "答题")
    attempt = active(runtime, "p16")
    with pytest.raises(IntegrityError):
        with runtime.db.session() as session:
            session.add(Attempt(openid="p16", bank_id=attempt.bank_id, status="active", local_day=attempt.local_day,
                                total_questions=1))


class TestEmptyBank:
    @pytest.fixture
    def config_overrides(self):
        return {"quiz": {"bank": "missing"}}

    def test_no_questions(self, wechat):
        assert "题库正在准备中" in wechat.text("p18", "答题").content


def test_reimporting_the_bank_mid_attempt_keeps_the_attempt_questions(wechat, runtime, tmp_path):
    from bot.quiz.banks import import_bank
    from questions.importers import read_bank

    wechat.text("p19", "答题")
    drawn = current_snapshot(runtime, "p19")
    new_bank = tmp_path / "new.csv"
    new_bank.write_text("题型,题目,选项A,选项B,答案,解析\n"
                        + "".join(f"单选,新题{i}：商标注册有效期是几年？,10年,20年,A,商标法第三十九条。\n" for i in range(6)),
                        encoding="utf-8")
    with runtime.db.session() as session:
        import_bank(session=session, name="default", report=read_bank(new_bank), source="new.csv")
    reply = wechat.text("p19", right(drawn), create_time=next(TICKS))
    assert "✅ 回答正确！+10分" in reply.content
    play(wechat, runtime, "p19", total=4)
    [attempt] = attempts(runtime, "p19")
    assert (attempt.status, attempt.score) == ("finished", 50)
    assert "新题" in wechat.text("p20", "答题", create_time=next(TICKS)).content


def statements_for(runtime, send, caplog) -> tuple[int, int]:
    """Count the SQL statements one webhook turn executes: through SQLAlchemy, and on the driver connection."""
    seen = []

    def count(*_args):
        seen.append(1)

    caplog.clear()
    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        with caplog.at_level(logging.DEBUG, logger="bot.storage.driver_sql"):
            send()
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)
    return len(seen), sum(1 for r in caplog.records if r.name == "bot.storage.driver_sql")


def test_a_turn_does_a_fixed_number_of_queries_whatever_the_number_of_players(wechat, runtime, caplog):
    def start_turn(openid):
        return statements_for(runtime, lambda: wechat.text(openid, "答题", create_time=next(TICKS)), caplog)

    def last_answer_turn(openid):
        wechat.text(openid, "答题", create_time=next(TICKS))
        for _ in range(4):
            wechat.text(openid, right(current_snapshot(runtime, openid)), create_time=next(TICKS))
        snap = current_snapshot(runtime, openid)
        return statements_for(runtime, lambda: wechat.text(openid, right(snap), create_time=next(TICKS)), caplog)

    def middle_turn(openid):
        wechat.text(openid, "答题", create_time=next(TICKS))
        snap = current_snapshot(runtime, openid)
        return statements_for(runtime, lambda: wechat.text(openid, right(snap), create_time=next(TICKS)), caplog)

    # The first start in a process reads the bank (the general path); later ones reuse it.
    assert start_turn("q-warm")[0] > 0
    few = (start_turn("q-zero"), middle_turn("q-first"), last_answer_turn("q-second"))
    for i in range(30):
        wechat.text(f"crowd-{i}", "答题", create_time=next(TICKS))
        play(wechat, runtime, f"crowd-{i}", correct=i % 6)
    many = (start_turn("q-fifth"), middle_turn("q-third"), last_answer_turn("q-fourth"))
    assert few == many, (few, many)
    # The three turns that make up nearly all traffic run on the driver connection (no SQLAlchemy
    # statement at all), each in a handful of statements: read, then one short write transaction.
    for through_sqlalchemy, on_driver in many:
        assert through_sqlalchemy == 0 and 0 < on_driver <= 14, many


def test_a_typed_menu_label_does_what_the_button_does(wechat):
    # "热线" is no keyword and no reply word: only the menu label lookup knows it.
    assert wechat.text("p22", "热线").content == "知识产权维权援助热线：12330"


def test_a_mistyped_phone_after_registering_gets_a_hint_and_keeps_the_number(wechat, runtime):
    wechat.text("p23", "答题")
    play(wechat, runtime, "p23", correct=5)
    wechat.text("p23", "张三 13800138000", create_time=next(TICKS))
    reply = wechat.text("p23", "李四 1380013800", create_time=next(TICKS))
    assert "没有找到有效的手机号（11位" in reply.content
    with runtime.db.reader() as session:
        assert session.get(Follower, "p23").phone == "13800138000"


def test_a_date_or_long_number_from_a_qualified_player_is_not_read_as_a_phone(wechat, runtime):
    wechat.text("p24", "答题")
    play(wechat, runtime, "p24", correct=5)
    wechat.text("p24", "张三 13800138000", create_time=next(TICKS))
    for text in ("颁奖是2027-04-26吗", "订单号 20270426123456"):
        reply = wechat.text("p24", text, create_time=next(TICKS))
        assert "手机号" not in reply.content and "没有听懂" in reply.content, reply.content


class TestNoContactCollection:
    @pytest.fixture
    def config_overrides(self):
        return {"quiz": {"collect_contact": False}}

    def test_details_are_not_asked_for_nor_stored(self, wechat, runtime):
        wechat.text("p-nc", "答题")
        assert "登记领奖信息" not in play(wechat, runtime, "p-nc", correct=5).content
        for text in ("张三 13800138000", "领奖"):
            reply = wechat.text("p-nc", text, create_time=next(TICKS))
            assert reply.content == "本次活动无需登记领奖信息，获奖名单将在本公众号公布。"
        with runtime.db.reader() as session:
            assert session.get(Follower, "p-nc").phone is None


@pytest.mark.parametrize("text, name", [
    ("我叫王五，电话13912345678", "王五"),
    ("你好，我叫欧阳修，手机号是13800138000。", "欧阳修"),
    ("本人赵六，联系电话：139 1234 5678", "赵六"),
    ("姓名：李雷 手机：13800138000", "李雷"),
    ("name Tom Lee 13800138000", "Tom Lee"),
])
def test_contact_details_are_read_as_people_write_them(text, name):
    from bot.quiz.registration import parse_contact

    assert parse_contact(text).name == name


def test_a_keyword_beside_a_number_is_not_a_name(wechat, runtime):
    wechat.text("p-kw", "答题")
    play(wechat, runtime, "p-kw", correct=5)
    reply = wechat.text("p-kw", "答题 13912345678", create_time=next(TICKS))
    assert reply.content.startswith("「答题」不是姓名。请按“姓名 手机号”发送")
    with runtime.db.reader() as session:
        assert session.get(Follower, "p-kw").name is None
