"""Leaderboard, the draw (masked on the page, full in the workbook) and the results workbook."""
from __future__ import annotations

import io

from openpyxl import load_workbook


def rows(sheet):
    return [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]


def test_leaderboard_is_masked_and_leaves_out_testers(staff, players, wechat, runtime):
    from tests.bot.test_quiz_flow import play
    wechat.text("sim-user-1", "答题")
    play(wechat, runtime, "sim-user-1", correct=5)
    text = staff.get("/admin/results/").get_data(as_text=True)
    assert "张*" in text and "138****8000" in text and "李*" in text
    assert "13800138000" not in text and "张三" not in text
    assert "sim-user-1" not in text
    assert text.index("50/50") < text.index("20/50")


def test_top_draw_shows_masked_winners_and_downloads_full_workbook(staff, token, players):
    page = staff.post("/admin/results/draw", data={"csrf_token": token, "rule": "top", "tiers": "一等奖:1,二等奖:1",
                                                    "require_contact": "on"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "中奖名单（2 / 2 人）" in text
    assert "一等奖" in text and "138****8000" in text and "139****9000" in text
    assert "13800138000" not in text
    response = staff.post("/admin/results/winners.xlsx", data={"csrf_token": token, "rule": "top",
                                                               "tiers": "一等奖:1,二等奖:1", "require_contact": "on"})
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert book.sheetnames[:3] == ["中奖名单", "公示名单", "抽奖说明"]
    flat = [str(v) for row in rows(book["中奖名单"]) for v in row if v is not None]
    assert "13800138000" in flat and "13900139000" in flat and "张三" in flat


def test_lottery_draw_is_repeatable_with_its_seed(staff, token, players):
    form = {"csrf_token": token, "rule": "lottery", "tiers": "1", "require_contact": "on"}
    text = staff.post("/admin/results/draw", data=form).get_data(as_text=True)
    seed = text.split('name="seed" value="', 1)[1].split('"', 1)[0]
    assert seed and f"随机种子 {seed}" in text
    again = staff.post("/admin/results/draw", data={**form, "seed": seed}).get_data(as_text=True)
    winner = lambda page: page.split("<tbody>", 1)[1].split("</tr>", 1)[0]  # noqa: E731
    assert winner(text) == winner(again)


def test_lottery_download_without_seed_asks_to_draw_first(staff, token, players):
    response = staff.post("/admin/results/winners.xlsx", data={"csrf_token": token, "rule": "lottery", "tiers": "1"})
    assert response.status_code == 400
    assert "请先抽奖" in response.get_data(as_text=True)


def test_bad_tiers_are_explained(staff, token, players):
    response = staff.post("/admin/results/draw", data={"csrf_token": token, "rule": "top", "tiers": "一等奖"})
    assert response.status_code == 400
    assert "奖项和人数: 「一等奖」应为 奖项:人数" in response.get_data(as_text=True)


def test_a_mistyped_huge_number_of_places_is_refused_not_drawn(staff, token, players):
    """A number far beyond any prize list once made the draw build a list of every place and run out of memory."""
    for tiers in ("99999999999999999999999", "一等奖:99999999999999999999999"):
        response = staff.post("/admin/results/draw", data={"csrf_token": token, "rule": "top", "tiers": tiers})
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "奖项和人数: 获奖人数合计 99999999999999999999999 过大，最多 100000 人" in page
        assert "--tiers" not in page


def test_results_workbook_download(staff, players):
    response = staff.get("/admin/results/results.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert "参与者成绩" in book.sheetnames and "中奖名单" not in book.sheetnames


def test_a_draw_before_the_end_says_it_is_not_final_like_the_cli(staff, token, players, clock):
    """The console and `export winners` warn alike (exports.winners.not_final_warning)."""
    data = {"csrf_token": token, "rule": "top", "tiers": "一等奖:1", "require_contact": "on"}
    early = staff.post("/admin/results/draw", data=data).get_data(as_text=True)
    assert "注意：竞答到 2027-04-26 23:59 才截止，现在抽出的名单不是最终结果；截止后请重新导出。" in early
    clock.advance(days=6)
    assert "不是最终结果" not in staff.post("/admin/results/draw", data=data).get_data(as_text=True)
