"""Issue 19, fair play: scripted-looking attempts and shared identities are flagged, reviewed and held out of draws."""
from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from bot.config import ConfigError
from bot.storage.models import FairPlayClearance
from exports.cli import export as export_group
from tests.exports.test_export import State
from exports.fairplay import review
from tests.admin.conftest import PASSWORD, csrf_from
from tests.bot.test_quiz_flow import TICKS, current_snapshot, right
from tests.conftest import load_bank, make_config

FAIR = {"min_median_seconds": 2.0, "min_answer_seconds": 0.5, "max_accounts_per_contact": 1}


@pytest.fixture
def config_overrides():
    return {"admin": {"password": PASSWORD}, "fairplay": FAIR, "quiz": {"pass_score": 50}}


def play(wechat, runtime, clock, openid, gaps, contact=None):
    """Answer all five questions right, each `gaps[i]` seconds after the question was sent."""
    wechat.text(openid, "答题", create_time=next(TICKS))
    for gap in gaps:
        clock.advance(seconds=gap)
        wechat.text(openid, right(current_snapshot(runtime, openid)), create_time=next(TICKS))
    if contact:
        assert wechat.text(openid, contact, create_time=next(TICKS)).content.startswith("已登记领奖信息")
    clock.advance(minutes=5)


@pytest.fixture
def field(runtime, wechat, clock):
    load_bank(runtime.db)
    play(wechat, runtime, clock, "o-human", [8, 12, 6, 9, 10], "张三 13800138000")
    play(wechat, runtime, clock, "o-script", [0.3, 0.3, 0.4, 0.3, 0.3], "李四 13900139000")
    play(wechat, runtime, clock, "o-twin-a", [7, 8, 9, 7, 8], "王五 13700137000")
    play(wechat, runtime, clock, "o-twin-b", [9, 8, 7, 9, 8], "王五 13700137000")
    play(wechat, runtime, clock, "o-onefast", [5, 0.2, 4, 3, 6], "赵六 13600136000")
    return runtime


def flags_of(runtime) -> dict[str, list[tuple[str, str]]]:
    with runtime.db.reader() as session:
        return {r.openid: [(f.reason, f.evidence) for f in r.flags] for r in review(session, runtime.config)}


def draw(staff, token) -> str:
    """The draw's section of the results page (the leaderboard above it lists every player for staff)."""
    page = staff.post("/admin/results/draw", data={"csrf_token": token, "rule": "top", "tiers": "一等奖:10",
                                                   "require_contact": "on"}).get_data(as_text=True)
    return page.split('id="winners"', 1)[1].split("</section>", 1)[0]


def test_each_rule_flags_with_its_evidence(field):
    assert flags_of(field) == {
        "o-script": [("答题过快", "第1次答题 5 题：中位用时 0.3 秒，最快 0.3 秒（阈值：中位 2 秒、单题 0.5 秒）")],
        "o-onefast": [("答题过快", "第1次答题 5 题：中位用时 4.0 秒，最快 0.2 秒（阈值：中位 2 秒、单题 0.5 秒）")],
        "o-twin-a": [("多个账号登记同一信息", "手机号 137****7000 登记在 2 个账号：o-twin-a、o-twin-b")],
        "o-twin-b": [("多个账号登记同一信息", "手机号 137****7000 登记在 2 个账号：o-twin-a、o-twin-b")],
    }


def test_flagged_players_are_listed_masked_and_left_out_of_the_draw_until_cleared(field, staff, runtime):
    page = staff.get("/admin/fairplay/").get_data(as_text=True)
    assert "答题过快" in page and "中位用时 0.3 秒" in page and "李*" in page and "139****9000" in page
    assert "13900139000" not in page and "李四" not in page and page.count("待审核，不参加抽奖") == 4
    token = csrf_from(staff, "/admin/results/")
    drawn = draw(staff, token)
    assert "中奖名单（1 / 10 人）" in drawn and "138****8000" in drawn and "139****9000" not in drawn

    refused = staff.post("/admin/fairplay/clear", data={"csrf_token": token, "openid": "o-script", "by": "",
                                                        "note": "核实"}, follow_redirects=True)
    assert "请填写经办人和放行理由后再放行。" in refused.get_data(as_text=True)
    cleared = staff.post("/admin/fairplay/clear", data={"csrf_token": token, "openid": "o-script", "by": "刘老师",
                                                        "note": "电话核实为本人作答"}, follow_redirects=True)
    text = cleared.get_data(as_text=True)
    assert "已放行 o-script：今后抽奖会把他/她算在内（经办人 刘老师）。" in text
    assert "已放行</span> 刘老师，04-21" in text and "电话核实为本人作答" in text
    with runtime.db.reader() as session:
        [row] = session.scalars(select(FairPlayClearance)).all()
        assert (row.openid, row.cleared_by, row.note, row.cleared_at) == (
            "o-script", "刘老师", "电话核实为本人作答", runtime.clock())
    again = draw(staff, token)
    assert "中奖名单（2 / 10 人）" in again and "139****9000" in again and "137****7000" not in again


def test_the_workbook_carries_the_review_and_the_cli_draw_holds_the_same_players_back(field, staff, tmp_path, runtime):
    token = csrf_from(staff, "/admin/fairplay/")
    staff.post("/admin/fairplay/clear", data={"csrf_token": token, "openid": "o-twin-a", "by": "刘老师",
                                              "note": "夫妻共用手机号，已核实"})
    out = tmp_path / "winners.xlsx"
    result = CliRunner().invoke(export_group, ["winners", str(out), "--tiers", "一等奖:10"], obj=State(runtime))
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    review_rows = [list(r) for r in book["异常核查"].iter_rows(values_only=True)]
    assert review_rows[0] == ["openid", "姓名", "手机号", "原因", "依据", "审核结果", "经办人", "放行时间", "放行说明"]
    by_player = {r[0]: r for r in review_rows[1:]}
    assert by_player["o-twin-a"][5:7] == ["已放行", "刘老师"] and by_player["o-twin-a"][8] == "夫妻共用手机号，已核实"
    assert by_player["o-script"][1:6] == ["李四", "13900139000", "答题过快",
                                          "第1次答题 5 题：中位用时 0.3 秒，最快 0.3 秒（阈值：中位 2 秒、单题 0.5 秒）",
                                          "待审核（不参加抽奖）"]
    winners = {r[-1] for r in book["中奖名单"].iter_rows(min_row=2, values_only=True)}
    assert winners == {"o-human", "o-twin-a"}
    public = [str(v) for r in book["公示名单"].iter_rows(values_only=True) for v in r if v]
    assert not any("李" in v or "赵" in v or "13900139000" in v for v in public)


def test_test_accounts_and_humans_are_never_flagged(runtime, wechat, clock):
    load_bank(runtime.db)
    play(wechat, runtime, clock, "sim-fast", [0.1] * 5)
    play(wechat, runtime, clock, "o-reader", [2.5, 3, 2, 4, 2.2])
    assert flags_of(runtime) == {}


@pytest.mark.parametrize("fairplay, message", [
    ({"min_median_seconds": -1}, "fairplay.min_median_seconds: 应为秒数（0 表示不查），当前为 -1"),
    ({"max_accounts_per_contact": 0}, "fairplay.max_accounts_per_contact: 应为正整数，当前为 0"),
    ({"min_median_second": 2}, "是否想写 fairplay.min_median_seconds"),
])
def test_config_errors_name_the_key(fairplay, message):
    with pytest.raises(ConfigError) as err:
        make_config({"fairplay": fairplay})
    assert message in str(err.value)


class TestOneIdNumberOnTwoAccounts:
    @pytest.fixture
    def config_overrides(self):
        return {"admin": {"password": PASSWORD}, "fairplay": FAIR, "quiz": {"pass_score": 50},
                "registration": {"fields": ["id_number"]}}

    def test_the_same_id_number_on_two_accounts_is_flagged_masked(self, runtime, wechat, clock):
        load_bank(runtime.db)
        play(wechat, runtime, clock, "o-id-a", [8, 9, 7, 8, 9], "王五 13700137000 身份证：110105199003071239")
        play(wechat, runtime, clock, "o-id-b", [9, 8, 7, 9, 8], "王小五 13700137001 身份证：110105199003071239")
        evidence = "身份证号 1101**********1239 登记在 2 个账号：o-id-a、o-id-b"
        assert flags_of(runtime) == {"o-id-a": [("多个账号登记同一信息", evidence)],
                                     "o-id-b": [("多个账号登记同一信息", evidence)]}


class TestTooManyAttempts:
    @pytest.fixture
    def config_overrides(self):
        return {"admin": {"password": PASSWORD}, "fairplay": {**FAIR, "max_attempts_per_person": 1},
                "quiz": {"pass_score": 50, "max_attempts_per_day": 3}}

    def test_more_attempts_than_the_limit_by_one_account_is_flagged(self, runtime, wechat, clock):
        load_bank(runtime.db)
        play(wechat, runtime, clock, "o-again", [6, 7, 8, 6, 7])
        play(wechat, runtime, clock, "o-again", [7, 6, 8, 7, 6])
        play(wechat, runtime, clock, "o-once", [7, 6, 8, 7, 6])
        assert flags_of(runtime) == {"o-again": [("答题次数过多", "本账号答题 2 次（上限 1 次）")]}
