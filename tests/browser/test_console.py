"""Staff work through the console in real headless Chromium: log in, load a bank, play, draw, download."""
from __future__ import annotations

from openpyxl import load_workbook
from sqlalchemy import select

from bot.storage.models import Attempt, AttemptItem
from bot.wechat.simulator import WeChatSimulator, http_poster
from tests.bot.test_quiz_flow import right
from tests.browser.conftest import DESKTOP, PASSWORD, shoot

HEADER = "题型,题目,选项A,选项B,选项C,选项D,答案,解析,分类\n"
ROWS = [
    "单选,世界知识产权日是每年的哪一天？,4月26日,3月15日,5月4日,10月1日,{answer},2001年起设立。,综合",
    "单选,知识产权维权援助热线号码是？,12315,12330,12345,110,B,12330。,综合",
    "多选,下列属于知识产权的有？,专利权,商标权,著作权,物权,ABC,物权不是知识产权。,综合",
    "判断,发明专利权的期限为二十年，自申请日起计算。,,,,,对,专利法第四十二条。,专利",
    "判断,实用新型专利权的期限为十五年。,,,,,错,实用新型为十年。,专利",
    "单选,注册商标的有效期为多少年？,5年,10年,20年,50年,B,商标法第三十九条。,商标",
]
PLAYER = "sim-browser-player"
FOLLOWER = "oBrowserFollower000000000001"


def write_bank(path, answer: str):
    path.write_text(HEADER + "\n".join(ROWS).format(answer=answer) + "\n", encoding="utf-8")
    return path


def right_answer(runtime, openid: str) -> str:
    with runtime.db.reader() as session:
        attempt = session.scalars(select(Attempt).where(Attempt.openid == openid, Attempt.status == "active")).one()
        snapshot = session.scalars(select(AttemptItem.snapshot).where(
            AttemptItem.attempt_id == attempt.id, AttemptItem.position == attempt.current_index)).one()
    return right(snapshot)


def bot_replies(page) -> int:
    return page.locator("#sim-chat .msg.bot").count()


def say(page, text: str) -> str:
    """Type a message in the chat window and return the bot's reply."""
    before = bot_replies(page)
    page.fill("#sim-input", text)
    page.click("#sim-send")
    page.wait_for_function("n => document.querySelectorAll('#sim-chat .msg.bot').length > n", arg=before)
    return page.locator("#sim-chat .msg.bot .bubble").last.inner_text()


def test_staff_run_the_week_in_the_browser(page, server, tmp_path):
    base, runtime = server

    # Log in (every console page sends you to the login first).
    page.goto(f"{base}/admin/banks/")
    assert "/admin/login" in page.url
    shoot(page, "01-login")
    page.fill('input[name="password"]', "wrong")
    page.click('button[type="submit"]')
    assert "密码不正确" in page.inner_text("main")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{base}/admin/banks/")

    # A bank with an answer letter that has no option is reported, not imported.
    page.set_input_files('input[name="file"]', str(write_bank(tmp_path / "题库.csv", "E")))
    page.click("button:has-text('上传并检查')")
    report = page.text_content(".report")
    assert "错误  第2行  答案「E」没有对应的选项（只有 A–D）" in report
    assert "检查未通过：1 个错误" in report
    assert page.locator("button:has-text('导入')").count() == 0
    shoot(page, "02-bank-report-error")

    # Fixed, it passes the check and is imported into the active bank.
    page.click("text=← 重新上传")
    page.set_input_files('input[name="file"]', str(write_bank(tmp_path / "题库.csv", "A")))
    page.click("button:has-text('上传并检查')")
    assert "检查通过：没有错误" in page.inner_text(".report")
    page.click("button:has-text('导入 6 道题')")
    assert "已导入题库「default」第 1 版，共 6 题" in page.inner_text("main")
    shoot(page, "03-bank-imported")

    # Play a whole quiz in the simulator as a user added in the window: a test account, never a result.
    page.goto(f"{base}/simulator/")
    page.fill("#sim-new", PLAYER)
    page.click("#sim-add button")
    assert page.is_visible("#sim-warning")
    page.click("#sim-follow")
    page.wait_for_function("document.querySelectorAll('#sim-chat .msg.bot').length >= 1")
    before = bot_replies(page)
    page.click(".menu-btn[data-key='quiz']")
    page.wait_for_function("n => document.querySelectorAll('#sim-chat .msg.bot').length > n", arg=before)
    assert "共5题" in page.locator("#sim-chat .msg.bot .bubble").last.inner_text()
    for _ in range(5):
        reply = say(page, right_answer(runtime, PLAYER))
    assert "答题结束！" in reply and "得分：50分（满分50分）" in reply and "测试账号的成绩不参与评奖" in reply
    page.click(".menu-top:has-text('更多')")
    assert page.is_visible(".menu-sub .menu-btn:has-text('活动安排')")
    shoot(page, "04-simulator", full_page=False)
    page.click(".menu-sub .menu-btn:has-text('活动安排')")

    # A follower plays for real through the webhook and leaves contact details.
    follower = WeChatSimulator(token=runtime.config.wechat.token, post=http_poster(f"{base}/wechat"))
    follower.event(FOLLOWER, "subscribe")
    follower.text(FOLLOWER, "答题")
    for _ in range(5):
        reply = follower.text(FOLLOWER, right_answer(runtime, FOLLOWER)).content
    assert "得分：50分（满分50分）" in reply
    assert follower.text(FOLLOWER, "张三 13800138000").content.startswith("已登记领奖信息：张三，手机号 138****8000。")

    # Draw the winners, see them masked, download the workbook with full details.
    page.goto(f"{base}/admin/results/")
    assert "张*" in page.inner_text("main") and "sim-br" not in page.inner_text("main")
    page.check("input[name='rule'][value='top']")
    page.fill("input[name='tiers']", "一等奖:1")
    page.click("button:has-text('抽取中奖者')")
    winners = page.inner_text("#winners")
    assert "中奖名单（1 / 1 人）" in winners and "138****8000" in winners and "13800138000" not in winners
    shoot(page, "05-results-draw")
    with page.expect_download() as info:
        page.click("text=下载中奖名单工作簿（Excel）")
    download = info.value
    assert download.suggested_filename.startswith("中奖名单-") and download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / "winners.xlsx"
    download.save_as(saved)
    book = load_workbook(saved, read_only=True)
    assert book.sheetnames[0] == "中奖名单"
    cells = [str(v) for row in book["中奖名单"].iter_rows(values_only=True) for v in row if v is not None]
    assert "张三" in cells and "13800138000" in cells and "一等奖" in cells

    # The other pages, on the phone and on a desktop screen.
    page.goto(f"{base}/admin/")
    assert page.locator("svg.chart").count() == 2
    shoot(page, "06-dashboard")
    page.goto(f"{base}/admin/pushes/")
    assert "专利保护那些事" in page.inner_text("main")
    shoot(page, "07-pushes")
    page.goto(f"{base}/admin/banks/default?q=专利")
    shoot(page, "08-questions-search")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}/admin/")
    shoot(page, "09-dashboard-desktop")
    page.goto(f"{base}/simulator/")
    shoot(page, "10-simulator-desktop", full_page=False)
