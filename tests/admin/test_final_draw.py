"""Issue 19, telling the winners: a draw confirmed as final is recorded and never changed; winners are told."""
from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.storage.models import FinalDraw, FinalWinner
from exports.cli import export as export_group
from tests.admin.conftest import PASSWORD, csrf_from, login
from tests.bot.test_cli import standin  # noqa: F401 - the fixture
from tests.bot.test_quiz_flow import TICKS
from tests.exports.test_export import State

AFTER_CLOSE = dt.datetime(2027, 4, 26, 16, 30)  # 27 April 00:30 in Shanghai: answering closed at 23:59:59
FORM = {"rule": "top", "tiers": "一等奖:1,二等奖:1", "require_contact": "on"}


@pytest.fixture
def config_overrides():
    return {"admin": {"password": PASSWORD},
            "notify": {"claim": "请于5月10日前携身份证到市知识产权局领取。"}}


def confirm(staff, by="刘老师"):
    token = csrf_from(staff, "/admin/results/")
    return staff.post("/admin/results/final", data={"csrf_token": token, "by": by, **FORM}, follow_redirects=True)


def count(runtime, model) -> int:
    with runtime.db.reader() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_draw_is_confirmed_as_final_only_after_the_close_and_each_confirmation_is_kept(staff, players, runtime,
                                                                                         clock):
    early = confirm(staff)
    assert early.status_code == 400
    assert "竞答到 2027-04-26 23:59 才截止，现在抽出的名单不是最终结果，截止后才能确认最终名单。" in early.get_data(as_text=True)
    assert count(runtime, FinalDraw) == 0

    clock.now = AFTER_CLOSE
    login(staff)  # a staff session lasts 12 hours
    assert "请填写经办人后再确认最终名单。" in confirm(staff, by="").get_data(as_text=True)
    page = confirm(staff).get_data(as_text=True)
    assert "已确认为最终名单（第 1 号记录，中奖 2 人，经办人 刘老师）。" in page
    assert "第 1 号记录（现行）" in page and "后台，刘老师，中奖 2 人" in page
    again = confirm(staff, by="王科长").get_data(as_text=True)
    assert "第 2 号记录（现行）" in again and "第 1 号记录：" in again  # the first stays, beside it
    with runtime.db.reader() as session:
        first, second = session.scalars(select(FinalDraw).order_by(FinalDraw.id)).all()
        assert (first.drawn_by, second.drawn_by) == ("刘老师", "王科长")
        assert first.eligible_digest == second.eligible_digest and first.winners_digest == second.winners_digest
        assert first.rule == "top" and first.tiers == "一等奖:1,二等奖:1" and first.eligible_count == 2
        tiers = session.execute(select(FinalWinner.tier, FinalWinner.openid).where(FinalWinner.draw_id == first.id)
                                .order_by(FinalWinner.rank)).all()
        assert [t for t, _ in tiers] == ["一等奖", "二等奖"] and {o for _, o in tiers} == {"p-alice", "p-bob"}
    assert "13800138000" not in again  # masked on the page


def test_the_cli_records_a_final_draw_with_final(players, runtime, clock, tmp_path):
    out = tmp_path / "w.xlsx"
    early = CliRunner().invoke(export_group, ["winners", str(out), "--final"], obj=State(runtime))
    assert early.exit_code == 1 and "截止后才能确认最终名单" in early.output and not out.exists()
    clock.now = AFTER_CLOSE
    done = CliRunner().invoke(export_group, ["winners", str(out), "--final", "--tiers", "一等奖:2"], obj=State(runtime))
    assert done.exit_code == 0, done.output
    assert "已记录为最终名单：第 1 号记录，中奖 2 人；合格名单摘要 " in done.output
    second = CliRunner().invoke(export_group, ["winners", str(out), "--final", "--tiers", "一等奖:2"],
                                obj=State(runtime))
    assert "此前已有 1 份最终名单，均保留；以本次（第 2 号记录）为准。" in second.output
    with runtime.db.reader() as session:
        assert [r.source for r in session.scalars(select(FinalDraw))] == ["命令行", "命令行"]


def test_a_winner_who_writes_afterwards_is_told_their_prize_and_how_to_claim_it(staff, players, runtime, clock,
                                                                               wechat):
    clock.now = AFTER_CLOSE
    login(staff)
    confirm(staff)
    told = wechat.text("p-alice", "你好", create_time=next(TICKS)).content
    assert told.startswith("🎉 恭喜你在2027年知识产权宣传周有奖竞答中获得「一等奖」！请于5月10日前携身份证到市知识产权局领取。\n\n")
    assert "本届有奖竞答已截止答题" in told
    assert "获得「二等奖」" in wechat.text("p-bob", "排名", create_time=next(TICKS)).content
    assert "🎉" not in wechat.text("p-carol", "你好", create_time=next(TICKS)).content


@pytest.fixture
def standin_url(standin):
    """The WeChat API stand-in on its own port (tests/bot/test_cli.py's), for the notification calls."""
    return standin


class TestNotifyingTheWinners:
    @pytest.fixture
    def config_overrides(self, standin_url):
        return {"admin": {"password": PASSWORD}, "wechat": {"api_base_url": f"{standin_url}/cgi-bin/"},
                "notify": {"claim": "请于5月10日前携身份证到市知识产权局领取。"}}

    def test_by_customer_service_inside_48_hours_else_by_tag_every_failure_shown(self, staff, players, runtime,
                                                                               clock, wechat, standin_url):
        import time

        import requests

        clock.now = AFTER_CLOSE
        login(staff)
        confirm(staff)
        for openid in ("p-alice", "p-bob"):  # both write after the close: inside 48 hours by the bot's records
            wechat.text(openid, "你好", create_time=next(TICKS))
        # WeChat knows alice's message; bob's it does not (say, it came through another channel): 45015.
        requests.post(f"{standin_url}/_standin/interact", json={"openid": "p-alice", "at": time.time()}, timeout=5)
        requests.post(f"{standin_url}/_standin/fail", json={"path": "message/mass/sendall", "errcodes": [45028]},
                      timeout=5)
        token = csrf_from(staff, "/admin/results/")
        first = staff.post("/admin/results/notify", data={"csrf_token": token, "draw_id": "1"}, follow_redirects=True)
        text = first.get_data(as_text=True)
        assert "已通知 1 人；客服消息 1 人；2 次失败（微信错误码 45015、45028，见下表）。" in text
        assert "客服消息：<span class=\"badge ok\">已发出</span>" in text
        assert "客服消息：<span class=\"badge bad\">失败 45015</span>" in text
        assert "按标签群发：<span class=\"badge bad\">失败 45028</span>" in text
        [custom] = requests.get(f"{standin_url}/_standin/customs", timeout=5).json()
        assert custom["touser"] == "p-alice"
        assert custom["body"]["text"]["content"] == ("恭喜你在2027年知识产权宣传周有奖竞答中获得「一等奖」！"
                                                    "请于5月10日前携身份证到市知识产权局领取。")

        again = staff.post("/admin/results/notify", data={"csrf_token": token, "draw_id": "1"}, follow_redirects=True)
        assert "已通知 1 人；按标签群发 1 人；1 人此前已通知，未重发。" in again.get_data(as_text=True)
        [sent] = requests.get(f"{standin_url}/_standin/sent", timeout=5).json()
        assert sent["to"] == ["p-bob"] and sent["body"]["filter"] == {"is_to_all": False, "tag_id": sent["body"][
            "filter"]["tag_id"]} and "获得「二等奖」" in sent["body"]["text"]["content"]
        assert len(requests.get(f"{standin_url}/_standin/customs", timeout=5).json()) == 1  # alice not told twice

        import io

        from openpyxl import load_workbook
        book = load_workbook(io.BytesIO(staff.get("/admin/results/results.xlsx").data), read_only=True)
        rows = [list(r) for r in book["通知记录"].iter_rows(values_only=True)]
        assert rows[0][:9] == ["最终名单", "奖项", "名次", "姓名", "手机号", "openid", "通知方式", "结果", "微信错误码"]
        assert [r[6:9] for r in rows[1:]] == [["客服消息", "已发出", 0], ["客服消息", "失败", 45015],
                                              ["按标签群发", "失败", 45028], ["按标签群发", "已发出", 0]]
        assert rows[1][3:5] == ["张三", "13800138000"]

    def test_the_stand_in_refuses_customer_service_outside_48_hours(self, standin_url):
        import time

        import requests

        api = f"{standin_url}/cgi-bin/"
        token = requests.post(api + "stable_token", json={"grant_type": "client_credential", "appid": "x",
                                                          "secret": "y"}, timeout=5).json()["access_token"]
        body = {"touser": "o-late", "msgtype": "text", "text": {"content": "hi"}}
        requests.post(f"{standin_url}/_standin/interact", json={"openid": "o-late", "at": time.time() - 49 * 3600},
                      timeout=5)
        late = requests.post(api + "message/custom/send", params={"access_token": token}, json=body, timeout=5).json()
        assert late["errcode"] == 45015
        requests.post(f"{standin_url}/_standin/interact", json={"openid": "o-late"}, timeout=5)
        answers = [requests.post(api + "message/custom/send", params={"access_token": token}, json=body,
                                 timeout=5).json()["errcode"] for _ in range(6)]
        assert answers == [0, 0, 0, 0, 0, 45047]


class TestNotifyingOnAServiceAccount:
    @pytest.fixture
    def config_overrides(self, standin_url):
        return {"admin": {"password": PASSWORD}, "export": {"tiers": [{"name": "优秀奖", "count": 2}]},
                "wechat": {"api_base_url": f"{standin_url}/cgi-bin/", "account_type": "service"}}

    def test_winners_outside_48_hours_get_one_mass_message_by_openid(self, staff, players, runtime, clock,
                                                                    standin_url):
        import requests

        clock.now = AFTER_CLOSE + dt.timedelta(days=3)  # nobody has written for more than 48 hours
        login(staff)
        token = csrf_from(staff, "/admin/results/")
        staff.post("/admin/results/final", data={"csrf_token": token, "by": "刘老师", "rule": "top",
                                                 "tiers": "优秀奖:2", "require_contact": "on"})
        page = staff.post("/admin/results/notify", data={"csrf_token": token, "draw_id": "1"},
                          follow_redirects=True).get_data(as_text=True)
        assert "已通知 2 人；按 openid 群发 2 人。" in page
        [sent] = requests.get(f"{standin_url}/_standin/sent", timeout=5).json()
        assert sent["path"] == "message/mass/send" and sorted(sent["body"]["touser"]) == ["p-alice", "p-bob"]
        assert requests.get(f"{standin_url}/_standin/customs", timeout=5).json() == []
