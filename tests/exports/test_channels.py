"""The 渠道统计 sheet: per channel code, followers brought, scans, players and qualified players, read back."""
from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import load_workbook

from bot.storage.models import Channel, ChannelScan, FollowerChannel
from exports.channels import UNREGISTERED, channel_figures
from tests.bot.test_quiz_flow import play
from tests.conftest import load_bank
from tests.exports.test_export import export, rows

AT = dt.datetime(2027, 4, 21, 3, 0)  # 11:00 in Shanghai


@pytest.fixture
def config_overrides():
    return {"quiz": {"testers": ["tester-1"], "pass_score": 40}}


@pytest.fixture
def channels(runtime, wechat):
    """Two channel codes and who they brought: zhang 50, li 40 (qualified), wang 30, fan never played."""
    load_bank(runtime.db)
    for openid, correct in (("o-zhang", 5), ("o-li", 4), ("o-wang", 3), ("tester-1", 5), ("sim-user-9", 5)):
        wechat.text(openid, "答题")
        play(wechat, runtime, openid, correct=correct)
    with runtime.db.session() as session:
        session.add_all([Channel(scene="ch-001", name="开幕式现场", ticket="t1", url="http://weixin.qq.com/q/1",
                                 created_at=AT),
                         Channel(scene="=cmd", name="=HYPERLINK(\"x\")", ticket="t2", url="http://weixin.qq.com/q/2",
                                 created_at=AT + dt.timedelta(hours=1)),
                         Channel(scene="dy", name="抖音", ticket="t3", url="http://weixin.qq.com/q/3",
                                 created_at=AT + dt.timedelta(hours=2))])
        first = {"o-zhang": "ch-001", "o-wang": "ch-001", "o-fan": "ch-001", "tester-1": "ch-001",
                 "sim-user-9": "ch-001", "o-li": "dy", "o-old": "gone-1"}
        session.add_all(FollowerChannel(openid=o, scene=s, at=AT) for o, s in first.items())
        scans = [("o-zhang", "ch-001"), ("o-zhang", "ch-001"), ("o-wang", "ch-001"), ("o-fan", "ch-001"),
                 ("tester-1", "ch-001"), ("sim-user-9", "ch-001"), ("o-li", "dy"), ("o-zhang", "dy")]
        session.add_all(ChannelScan(openid=o, scene=s, event="scan", at=AT) for o, s in scans)
    return runtime


def test_channel_figures_leave_out_test_accounts(channels):
    with channels.db.reader() as session:
        figures = channel_figures(session, testers=("tester-1",), pass_score=40)
    assert [(f.name, f.scene, f.followers, f.scans, f.players, f.qualified, f.registered) for f in figures] == [
        ("开幕式现场", "ch-001", 3, 4, 2, 1, True),
        ("=HYPERLINK(\"x\")", "=cmd", 0, 0, 0, 0, True),
        ("抖音", "dy", 1, 2, 1, 1, True),
        (UNREGISTERED, "gone-1", 1, 0, 0, 0, False),
    ]


def test_the_results_workbook_has_the_channel_sheet(channels, tmp_path):
    result, out = export(channels, tmp_path, "results")
    assert result.exit_code == 0, result.output
    assert "渠道统计" in result.output
    sheet = load_workbook(out)["渠道统计"]
    assert rows(sheet) == [
        ["渠道", "场景值", "带来关注人数", "扫码次数", "参与答题人数", "达到合格分人数", "创建时间"],
        ["开幕式现场", "ch-001", 3, 4, 2, 1, dt.datetime(2027, 4, 21, 11, 0)],
        ["=HYPERLINK(\"x\")", "=cmd", 0, 0, 0, 0, dt.datetime(2027, 4, 21, 12, 0)],
        ["抖音", "dy", 1, 2, 1, 1, dt.datetime(2027, 4, 21, 13, 0)],
        [UNREGISTERED, "gone-1", 1, 0, 0, 0, None],
    ]
    assert sheet["A3"].data_type == "s" and sheet.freeze_panes == "A2"
    assert sheet["G2"].number_format == "yyyy-mm-dd hh:mm:ss"


def test_without_channel_codes_the_sheet_says_so(runtime, tmp_path):
    result, out = export(runtime, tmp_path, "results")
    assert result.exit_code == 0, result.output
    assert rows(load_workbook(out)["渠道统计"])[1:] == [["（还没有渠道码）", None, None, None, None, None, None]]
