"""Exports built from quizzes played through the webhook, read back with openpyxl."""
from __future__ import annotations

import datetime as dt
import hashlib
import random

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from exports.cli import export as export_group
from tests.bot.test_quiz_flow import TICKS, current_snapshot, right
from tests.conftest import load_bank

QUESTIONS = [
    ("单选", "世界知识产权日是每年的哪一天？", ["4月26日", "3月15日", "5月1日", "6月1日"], ["A"], "2001年起设立。"),
    ("单选", "知识产权维权援助热线号码是？", ["12315", "12330", "12345", "110"], ["B"], "12330。"),
    ("多选", "下列属于知识产权的有？", ["专利权", "商标权", "著作权", "物权"], ["A", "B", "C"], "物权不是。"),
    ("判断", "发明专利权的期限为二十年，自申请日起计算。", [], [True], "专利法第四十二条。"),
    ("填空", "外观设计专利权的期限为____年。", [], ["15", "十五"], "2021年6月1日起为十五年。"),
]
DAY, HOTLINE, IP, PATENT, DESIGN = (q[1] for q in QUESTIONS)


class State:
    """What `python -m bot` hands to commands: the config and the database."""

    def __init__(self, runtime):
        self.config = runtime.config
        self.db = runtime.db
        self.runtime = runtime


def shown(snapshot: dict, texts: list[str]) -> str:
    """The letters under which the given option texts are shown in this attempt."""
    return "".join(sorted("ABCDEFGH"[snapshot["options"].index(t)] for t in texts))


def play_plan(wechat, runtime, clock, openid, *, minutes, wrong=None, contact=None):
    """Play one whole attempt taking `minutes`; `wrong` maps a stem to the wrong answer to give."""
    wrong = wrong or {}
    wechat.text(openid, "答题", create_time=next(TICKS))
    clock.advance(minutes=minutes)
    for _ in QUESTIONS:
        snap = current_snapshot(runtime, openid)
        answer = wrong.get(snap["stem"])
        if answer is None:
            text = right(snap)
        elif isinstance(answer, list):
            text = shown(snap, answer)
        else:
            text = answer
        wechat.text(openid, text, create_time=next(TICKS))
    if contact:
        reply = wechat.text(openid, contact, create_time=next(TICKS))
        assert reply.content.startswith("已登记领奖信息")
    clock.advance(minutes=1)


@pytest.fixture
def config_overrides():
    return {"quiz": {"testers": ["tester-1"], "pass_score": 40},
            "export": {"tiers": [{"name": "一等奖", "count": 1}, {"name": "二等奖", "count": 2}]}}


@pytest.fixture
def played(runtime, wechat, clock):
    """Eight players and a tester; every attempt draws all five questions of the bank."""
    load_bank(runtime.db, questions=QUESTIONS)
    play_plan(wechat, runtime, clock, "o-zhang", minutes=3, contact="张三 13800138000",
              wrong={HOTLINE: ["12315"]})                                        # 40, 3 min
    play_plan(wechat, runtime, clock, "o-li", minutes=2, contact="李四 13900139000")       # 50, 2 min
    play_plan(wechat, runtime, clock, "o-wang", minutes=3, contact="王五 13700137000",
              wrong={PATENT: "错"})                                               # 40, 3 min, after 张三
    play_plan(wechat, runtime, clock, "o-zhao", minutes=5, contact="赵六 138 0013 8000",
              wrong={HOTLINE: ["12315"]})                                         # 40, same phone as 张三
    play_plan(wechat, runtime, clock, "o-anon", minutes=1)                              # 50, no contact
    play_plan(wechat, runtime, clock, "o-zhou", minutes=4, contact="周八 13500135000",
              wrong={DESIGN: "十"})                                               # 40, 4 min
    play_plan(wechat, runtime, clock, "o-low", minutes=6,
              wrong={HOTLINE: ["110"], IP: ["专利权", "物权"], DESIGN: "十"})     # 20
    play_plan(wechat, runtime, clock, "o-zero", minutes=7,
              wrong={DAY: ["3月15日"], HOTLINE: ["12315"], IP: ["专利权"], PATENT: "错", DESIGN: "二十"})  # 0
    play_plan(wechat, runtime, clock, "tester-1", minutes=1, contact="测试 13300133000",
              wrong={DAY: ["5月1日"]})
    return runtime


def export(runtime, tmp_path, *args, name="out.xlsx"):
    out = tmp_path / name
    result = CliRunner().invoke(export_group, [*args[:1], str(out), *args[1:]], obj=State(runtime))
    return result, out


def rows(ws):
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_top_winners_sheets(played, tmp_path):
    result, out = export(played, tmp_path, "winners")
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    assert wb.sheetnames == ["中奖名单", "公示名单", "抽奖说明", "参与者成绩", "异常核查", "题目统计", "推送记录", "活动概况", "渠道统计", "单位与区县"]
    winners = rows(wb["中奖名单"])
    assert winners[0] == ["奖项", "名次", "姓名", "手机号", "得分", "用时", "交卷时间", "openid"]
    assert [r[:5] for r in winners[1:]] == [
        ["一等奖", 1, "李四", "13900139000", 50],
        ["二等奖", 2, "张三", "13800138000", 40],
        ["二等奖", 3, "王五", "13700137000", 40],
    ]
    assert winners[1][5] == dt.timedelta(minutes=2)
    assert [r[7] for r in winners[1:]] == ["o-li", "o-zhang", "o-wang"]
    public = rows(wb["公示名单"])
    assert public[0] == ["奖项", "名次", "姓名", "手机号", "得分", "用时", "交卷时间"]
    assert [r[2:4] for r in public[1:]] == [["李*", "139****9000"], ["张*", "138****8000"], ["王*", "137****7000"]]
    assert "13900139000" not in result.output and "李*" in result.output and "139****9000" in result.output


def test_winner_times_are_local(played, tmp_path):
    _, out = export(played, tmp_path, "winners")
    ws = load_workbook(out)["中奖名单"]
    finished = ws["G2"].value
    # The clock runs in UTC from 2027-04-21 02:00; Shanghai is eight hours ahead.
    assert dt.datetime(2027, 4, 21, 10, 0) < finished < dt.datetime(2027, 4, 21, 12, 0)
    assert ws["G2"].number_format == "yyyy-mm-dd hh:mm:ss"


def test_every_sheet_has_frozen_header_and_lists_have_filters(played, tmp_path):
    _, out = export(played, tmp_path, "winners")
    wb = load_workbook(out)
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws["A1"].font.b, ws.title
    assert wb["中奖名单"].auto_filter.ref == "A1:H4"
    assert wb["参与者成绩"].auto_filter.ref == "A1:L9"
    assert wb["题目统计"].auto_filter.ref == "A1:I6"
    assert wb["参与者成绩"].column_dimensions["L"].width >= 30


def test_players_sheet_in_standing_order_without_testers(played, tmp_path):
    _, out = export(played, tmp_path, "results")
    wb = load_workbook(out)
    assert wb.sheetnames == ["参与者成绩", "异常核查", "题目统计", "推送记录", "活动概况", "渠道统计", "单位与区县"]
    table = rows(wb["参与者成绩"])
    assert table[0][:4] == ["名次", "姓名", "手机号", "得分"]
    assert [r[11] for r in table[1:]] == ["o-anon", "o-li", "o-zhang", "o-wang", "o-zhou", "o-zhao", "o-low",
                                          "o-zero"]
    assert [r[0] for r in table[1:]] == list(range(1, 9))
    assert [r[3] for r in table[1:]] == [50, 50, 40, 40, 40, 40, 20, 0]
    assert [r[10] for r in table[1:]] == ["是"] * 6 + ["否"] * 2
    assert table[6][1:3] == ["赵六", "13800138000"]


def test_one_prize_per_phone_and_contact_required(played, tmp_path):
    result, out = export(played, tmp_path, "winners", "--count", "10")
    winners = rows(load_workbook(out)["中奖名单"])[1:]
    assert [r[7] for r in winners] == ["o-li", "o-zhang", "o-wang", "o-zhou"]
    assert {r[0] for r in winners} == {"获奖"}
    assert "6 个名额空缺" in result.output
    notes = dict(rows(load_workbook(out)["抽奖说明"])[1:])
    assert notes["未留姓名和手机号而跳过"] == 1
    assert notes["同一手机号重复而跳过（每人限领一份）"] == 1
    assert notes["排除名单（测试账号、export.exclude_openids 和待审核的异常玩家）"] == "tester-1"


def test_drawing_before_the_quiz_ends_says_the_list_is_not_final(played, clock, tmp_path):
    during, _ = export(played, tmp_path, "winners", "--count", "1", name="during.xlsx")
    assert "注意：竞答到 2027-04-26 23:59 才截止，现在抽出的名单不是最终结果；截止后请重新导出。" in during.output
    clock.now = dt.datetime(2027, 4, 26, 16, 0, 0)  # 00:00 on 27 April in Shanghai
    after, _ = export(played, tmp_path, "winners", "--count", "1", name="after.xlsx")
    assert after.exit_code == 0 and "不是最终结果" not in after.output


def test_without_contact_requirement_anonymous_player_wins(played, tmp_path):
    _, out = export(played, tmp_path, "winners", "--count", "1", "--no-require-contact")
    assert rows(load_workbook(out)["中奖名单"])[1][7] == "o-anon"


class TestStaffExcluded:
    @pytest.fixture
    def config_overrides(self):
        return {"quiz": {"testers": ["tester-1"], "pass_score": 40},
                "export": {"count": 5, "exclude_openids": ["o-li"], "rule": "top"}}

    def test_excluded_from_draw_and_file(self, played, tmp_path):
        listed = tmp_path / "staff.txt"
        listed.write_text("# 工作人员\no-wang\n", encoding="utf-8")
        _, out = export(played, tmp_path, "winners", "--exclude", str(listed))
        assert [r[7] for r in rows(load_workbook(out)["中奖名单"])[1:]] == ["o-zhang", "o-zhou"]


def lottery_winners(runtime, tmp_path, seed, name):
    result, out = export(runtime, tmp_path, "winners", "--rule", "lottery", "--count", "2", "--seed", seed,
                         name=name)
    assert result.exit_code == 0, result.output
    return [r[7] for r in rows(load_workbook(out)["中奖名单"])[1:]], dict(rows(load_workbook(out)["抽奖说明"])[1:])


def test_lottery_is_reproducible_and_documented(played, tmp_path):
    first, notes = lottery_winners(played, tmp_path, "2027-426", "a.xlsx")
    again, _ = lottery_winners(played, tmp_path, "2027-426", "b.xlsx")
    assert first == again and len(first) == 2
    others = {tuple(lottery_winners(played, tmp_path, f"s{i}", f"s{i}.xlsx")[0]) for i in range(6)}
    assert len(others) > 1
    # Re-run by hand from the documented method and the exported eligible list.
    eligible = sorted([("o-li", 50, 120), ("o-zhang", 40, 180), ("o-wang", 40, 180), ("o-zhou", 40, 240)])
    digest = hashlib.sha256("".join(f"{o}\t{s}\t{d}\n" for o, s, d in eligible).encode()).hexdigest()
    assert notes["合格名单摘要（SHA-256）"] == digest
    assert notes["随机种子"] == "2027-426"
    drawn = random.Random(f"2027-426:{digest}").sample(eligible, 2)
    assert first == [o for o, _, _ in drawn]
    assert f"random.Random(\"2027-426:{digest}\")" in notes["复核方法"]


def test_lottery_without_seed_prints_one(played, tmp_path):
    result, out = export(played, tmp_path, "winners", "--rule", "lottery")
    assert result.exit_code == 0
    seed = dict(rows(load_workbook(out)["抽奖说明"])[1:])["随机种子"]
    assert f"随机种子：{seed}" in result.output


def test_question_statistics(played, tmp_path):
    _, out = export(played, tmp_path, "results")
    table = rows(load_workbook(out)["题目统计"])
    assert table[0] == ["题号", "题型", "题目", "抽中次数", "作答次数", "答对次数", "正确率", "最多的错误答案",
                        "该错误答案次数"]
    by_stem = {r[2]: r for r in table[1:]}
    # Eight players (the tester left out) each answered all five questions.
    assert by_stem[HOTLINE][3:] == [8, 8, 4, 0.5, "A. 12315", 3]
    assert by_stem[DESIGN][3:] == [8, 8, 5, 0.625, "十", 2]
    assert by_stem[IP][3:6] == [8, 8, 6] and by_stem[IP][7:] == ["A. 专利权", 1]  # ties with "AD": the smaller answer
    assert by_stem[PATENT][3:] == [8, 8, 6, 0.75, "错", 2]
    assert by_stem[DAY][3:] == [8, 8, 7, 0.875, "B. 3月15日", 1]
    assert [r[2] for r in table[1:]] == [HOTLINE, DESIGN, IP, PATENT, DAY]  # hardest first
    assert load_workbook(out)["题目统计"]["G2"].number_format == "0.0%"


def test_overview_figures_and_chart(played, tmp_path):
    _, out = export(played, tmp_path, "results")
    ws = load_workbook(out)["活动概况"]
    table = rows(ws)
    figures = {r[0]: r[1] for r in table[1:16]}
    assert figures["参与答题人数"] == 8
    assert figures["答题次数"] == 8
    assert figures["完成次数（答完全部题目）"] == 8
    assert figures["平均最好成绩"] == 35.0  # (50+50+40*4+20+0)/8
    assert figures["达到合格分（40分）人数"] == 6
    assert figures["登记领奖信息人数"] == 5
    start = next(i for i, r in enumerate(table) if r[0] == "最好成绩")
    assert [r[:2] for r in table[start + 1:]] == [["0分", 1], ["20分", 1], ["40分", 4], ["50分", 2]]
    [chart] = ws._charts
    assert chart.tagname == "barChart"


def test_bad_input_writes_nothing(played, tmp_path):
    cases = [
        (["winners", "--rule", "best"], "--rule"),
        (["winners", "--count", "0"], "正整数"),
        (["winners", "--tiers", "一等奖5"], "奖项:人数"),
        (["winners", "--count", "99999999999999999999999"],
         "--count: 获奖人数合计 99999999999999999999999 过大，最多 100000 人；请检查是否多输了数字"),
        (["winners", "--tiers", "一等奖:60000,二等奖:60000"], "--tiers: 获奖人数合计 120000 过大"),
    ]
    for args, message in cases:
        result, out = export(played, tmp_path, *args)
        assert result.exit_code != 0 and message in result.output, result.output
        assert not out.exists()
    result, _ = export(played, tmp_path, "results", name="out.csv")
    assert result.exit_code != 0 and ".xlsx" in result.output
    result = CliRunner().invoke(export_group, ["results", str(tmp_path / "missing" / "a.xlsx")],
                                obj=State(played))
    assert result.exit_code != 0 and "不存在" in result.output
    assert [p.name for p in tmp_path.iterdir() if "xlsx" in p.name or "export" in p.name] == []


def test_pushes_in_local_time_and_player_text_never_a_formula(runtime, wechat, clock, tmp_path):
    from bot.storage.models import PushLog

    load_bank(runtime.db, questions=QUESTIONS)
    play_plan(wechat, runtime, clock, "o-x", minutes=2, wrong={DESIGN: "=1+1"})
    with runtime.db.session() as session:
        session.add(PushLog(key="video-1", title="专利保护那些事", kind="video", status="delivered",
                            planned_at=dt.datetime(2027, 4, 21, 12, 0), sent_at=dt.datetime(2027, 4, 21, 12, 0, 5),
                            total_count=1000, filter_count=990, sent_count=985, error_count=5))
    _, out = export(runtime, tmp_path, "results")
    wb = load_workbook(out)
    assert rows(wb["推送记录"])[1] == [dt.datetime(2027, 4, 21, 20, 0), dt.datetime(2027, 4, 21, 20, 0, 5),
                                    "专利保护那些事", "视频", "已送达", 1000, 990, 985, 5, None]
    cell = wb["题目统计"]["H2"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")
    figures = {r[0]: r[1] for r in rows(wb["活动概况"])[1:16]}
    assert (figures["已发送推送条数"], figures["推送送达人次"]) == (1, 985)


def test_a_prize_with_no_places_says_the_count_is_wrong_not_the_format():
    from exports.winners import RuleError, parse_tiers

    with pytest.raises(RuleError) as err:
        parse_tiers("一等奖:0,二等奖:2")
    assert str(err.value) == "--tiers: 「一等奖:0」的人数应至少为 1"
