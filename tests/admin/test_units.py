"""Issue 18, units and districts: figures per 工作单位 and 所在区县, the organisation award, in the console
and the workbook; and the leaderboard showing units when the config says so."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.admin.conftest import PASSWORD
from tests.bot.test_quiz_flow import TICKS, play
from tests.conftest import load_bank

REGISTRATION = {"fields": ["unit", "district"], "districts": ["新华区", "桥西区", "长安区"]}


@pytest.fixture
def config_overrides():
    return {"admin": {"password": PASSWORD}, "quiz": {"max_attempts_per_day": 3},
            "registration": {**REGISTRATION, "leaderboard_shows": "unit", "award_units": 2}}


@pytest.fixture
def field(runtime, wechat):
    load_bank(runtime.db)
    for openid, correct, details in (("u-1", 5, "王五 13900000001 单位：市第一中学 区县：新华"),
                                     ("u-2", 5, "李四 13900000002 单位：市第一中学 区县：桥西"),
                                     ("u-3", 5, "赵六 13900000003 单位：市第二中学 区县：新华区"),
                                     ("u-4", 2, None)):
        wechat.text(openid, "答题", create_time=next(TICKS))
        play(wechat, runtime, openid, correct=correct)
        if details:
            assert wechat.text(openid, details, create_time=next(TICKS)).content.startswith("已登记领奖信息")
    wechat.text("u-1", "答题", create_time=next(TICKS))
    play(wechat, runtime, "u-1", correct=3)  # a second finished attempt; the best stays 50
    return runtime


def test_the_console_shows_units_districts_and_the_award(field, staff):
    page = staff.get("/admin/units/").get_data(as_text=True)
    units = page.split('id="units"', 1)[1].split("</table>", 1)[0]
    assert "<td>市第一中学</td><td>2</td><td>3</td><td>2</td><td>50.0</td>" in units
    assert "<td>市第二中学</td><td>1</td><td>1</td><td>1</td><td>50.0</td>" in units
    districts = page.split('id="districts"', 1)[1].split("</table>", 1)[0]
    assert "<td>新华区</td><td>2</td><td>3</td><td>2</td>" in districts
    assert "<td>桥西区</td><td>1</td>" in districts and "<td>长安区</td><td>0</td><td>0</td><td>0</td><td>—</td>" in districts
    award = page.split('id="award"', 1)[1].split("</section>", 1)[0]
    assert "组织奖（按参与人数）" in award and award.index("市第一中学") < award.index("市第二中学")


def test_the_workbook_carries_the_same_figures(field, staff):
    book = load_workbook(io.BytesIO(staff.get("/admin/results/results.xlsx").data), read_only=True)
    rows = [list(r) + [None] * (8 - len(r)) for r in book["单位与区县"].iter_rows(values_only=True)]
    assert rows[0] == ["分组", "名称", "参与人数", "完成答题次数", "合格人数", "平均最好成绩", "单位人数", "组织奖名次"]
    assert ["工作单位", "市第一中学", 2, 3, 2, 50, None, 1] in rows
    assert ["工作单位", "市第二中学", 1, 1, 1, 50, None, 2] in rows
    assert ["所在区县", "长安区", 0, 0, 0, None, None, None] in rows


def test_the_leaderboard_can_name_units_instead_of_people(field, wechat):
    lines = wechat.text("u-4", "排行榜", create_time=next(TICKS)).content.splitlines()
    assert [line.split(" ")[1] for line in lines[1:5]] == ["市第一中学", "市第一中学", "市第二中学", "未登记单位"]


class TestAwardByHeadCount:
    @pytest.fixture
    def config_overrides(self):
        return {"admin": {"password": PASSWORD}, "quiz": {"max_attempts_per_day": 3},
                "registration": {**REGISTRATION, "headcounts": {"市第一中学": 100, "市第二中学": 10}}}

    def test_players_per_head_decide_the_award(self, field, staff):
        award = staff.get("/admin/units/").get_data(as_text=True).split('id="award"', 1)[1].split("</section>", 1)[0]
        assert "组织奖（按参与率（参与人数 ÷ 单位人数））" in award
        assert "市第二中学：1 人参与，单位 10 人，参与率 10.0%" in award
        assert award.index("市第二中学") < award.index("市第一中学")


def test_the_winners_sheet_carries_the_registration_details_for_staff(field, staff):
    from tests.admin.conftest import csrf_from

    token = csrf_from(staff, "/admin/results/")
    data = staff.post("/admin/results/winners.xlsx", data={"csrf_token": token, "rule": "top", "tiers": "一等奖:3",
                                                           "require_contact": "on"}).data
    rows = [list(r) for r in load_workbook(io.BytesIO(data), read_only=True)["中奖名单"].iter_rows(values_only=True)]
    assert rows[0][-2:] == ["工作单位", "所在区县"]
    assert {tuple(r[-2:]) for r in rows[1:]} == {("市第一中学", "新华区"), ("市第一中学", "桥西区"), ("市第二中学", "新华区")}
