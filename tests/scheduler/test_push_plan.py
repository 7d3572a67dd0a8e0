"""The push plan from the config: series, validation messages, quota and media warnings."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.config import ConfigError, parse_config
from scheduler.payloads import client_msg_id, preview_body, send_body, sendall_body
from scheduler.plan import build_plan, plan_warnings, scheduler_options

from tests.scheduler.conftest import config_data

SERIES = {"key": "lecture", "kind": "video", "at": dt.datetime(2027, 4, 21, 20, 0), "every_days": 2,
          "titles": ["专利入门", "商标那些事", "版权与短视频"], "media_ids": ["m1", "m2", "m3"],
          "urls": ["https://mp.weixin.qq.com/s/1", "", ""]}


def config(account_type="service", **kwargs):
    data = config_data(api_base="http://127.0.0.1:9/cgi-bin/", db_url="sqlite://",
                       wechat={"account_type": account_type}, **kwargs)
    return parse_config(data, "config.toml", environ={})


def test_series_expands_to_one_push_every_n_days():
    plan = build_plan(config(series=[SERIES], pushes=[
        {"key": "talk-1", "title": "专家线上讲座", "kind": "article", "at": dt.datetime(2027, 4, 22, 19, 0),
         "media_id": "n1", "audience": "tag:7"}]))
    assert [(p.key, p.at.strftime("%m-%d %H:%M"), p.title) for p in plan] == [
        ("lecture-1", "04-21 20:00", "专利入门"), ("talk-1", "04-22 19:00", "专家线上讲座"),
        ("lecture-2", "04-23 20:00", "商标那些事"), ("lecture-3", "04-25 20:00", "版权与短视频")]
    assert plan[0].url == "https://mp.weixin.qq.com/s/1" and plan[0].series == "lecture"
    assert plan[1].tag_id == 7 and plan[0].at.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize("entry, message", [
    ({"key": "a", "title": "t", "kind": "video", "at": "2027-04-21 20:00"},
     "config.toml: pushes[1].at: 应为本地日期时间，如 2027-04-21T20:00:00，当前为 '2027-04-21 20:00'"),
    ({"key": "a", "title": "t", "kind": "audio", "at": dt.datetime(2027, 4, 21)},
     "config.toml: pushes[1].kind: 应为video、article 或 text，当前为 'audio'"),
    ({"key": "a", "title": "t", "kind": "text", "at": dt.datetime(2027, 4, 21)},
     "config.toml: pushes[1].content: 应为文字推送的正文"),
    ({"key": "a", "title": "t", "kind": "video", "at": dt.datetime(2027, 4, 21), "audience": "tag:vip"},
     "config.toml: pushes[1].audience: 应为\"all\"（全部粉丝）、\"participants\"（答题参与者）或 \"tag:标签id\"，"
     "如 \"tag:100\"，当前为 'tag:vip'"),
])
def test_push_errors_name_file_entry_and_form(entry, message):
    with pytest.raises(ConfigError) as err:
        build_plan(config(pushes=[entry]))
    assert str(err.value) == message


def test_series_errors_and_duplicate_keys():
    with pytest.raises(ConfigError, match=r"push_series\[1\]\.media_ids: 应为3 项（与 count 一致），当前为 '2 项'"):
        build_plan(config(series=[SERIES | {"media_ids": ["m1", "m2"]}]))
    with pytest.raises(ConfigError, match=r"push_series\[1\]\.every_days: 应为正整数"):
        build_plan(config(series=[SERIES | {"every_days": 0}]))
    with pytest.raises(ConfigError, match="lecture-2.*重复"):
        build_plan(config(series=[SERIES], pushes=[{"key": "lecture-2", "title": "t", "kind": "text",
                                                     "at": dt.datetime(2027, 4, 21), "content": "x"}]))


def test_scheduler_options_are_validated():
    assert scheduler_options(config()).grace_minutes == 60
    with pytest.raises(ConfigError, match=r"config.toml: scheduler.grace_minutes: 应为分钟数"):
        scheduler_options(config(scheduler={"grace_minutes": "1h"}))


def test_subscription_account_warns_on_two_sends_a_day_and_participants():
    cfg = config("subscription", series=[SERIES], pushes=[
        {"key": "talk-1", "title": "专家讲座", "kind": "article", "at": dt.datetime(2027, 4, 21, 10, 0), "media_id": "n"},
        {"key": "winners", "title": "中奖名单", "kind": "text", "at": dt.datetime(2027, 4, 27, 10, 0),
         "content": "恭喜", "audience": "participants"}])
    warnings = plan_warnings(cfg, build_plan(cfg))
    assert any("4月21日 有 2 次群发" in w and "talk-1" in w and "lecture-1" in w for w in warnings)
    assert any("winners" in w and "订阅号" in w for w in warnings)
    assert len(warnings) == 2


def test_service_account_warns_past_four_a_month_and_missing_media(tmp_path):
    pushes = [{"key": f"t{i}", "title": f"第{i}条", "kind": "text", "at": dt.datetime(2027, 4, 20 + i, 9, 0),
               "content": "x"} for i in range(4)]
    pushes += [{"key": "nomedia", "title": "缺素材", "kind": "video", "at": dt.datetime(2027, 4, 25)},
               {"key": "nofile", "title": "缺文件", "kind": "video", "at": dt.datetime(2027, 5, 1),
                "file": "videos/missing.mp4"}]
    cfg = config(pushes=pushes)
    warnings = plan_warnings(cfg, build_plan(cfg))
    assert any(w.startswith("2027年4月 有 5 次群发") and "每月最多" in w for w in warnings)
    assert any("nomedia《缺素材》没有素材" in w for w in warnings)
    assert any("nofile《缺文件》的视频文件不存在" in w and "missing.mp4" in w for w in warnings)


def test_client_msg_id_is_deterministic_and_short():
    assert client_msg_id("video-1") == "ipweek-video-1"
    assert client_msg_id("video-1", 1) == "ipweek-video-1#2"
    long_key = "微讲堂-" + "x" * 60
    assert client_msg_id(long_key) == client_msg_id(long_key)
    assert len(client_msg_id(long_key, 2).encode()) <= 64 and client_msg_id(long_key).isascii()


def test_bodies_match_the_mass_send_api():
    push = build_plan(config(series=[SERIES | {"descriptions": ["d1", "d2", "d3"]}]))[0]
    assert sendall_body(push, media_id="mp1", client_msg_id="c") == {
        "filter": {"is_to_all": True}, "mpvideo": {"media_id": "mp1"}, "msgtype": "mpvideo", "clientmsgid": "c"}
    assert send_body(push, media_id="mp1", openids=["o1", "o2"], client_msg_id="c") == {
        "touser": ["o1", "o2"], "mpvideo": {"media_id": "mp1", "title": "专利入门", "description": "d1"},
        "msgtype": "mpvideo", "clientmsgid": "c"}
    assert preview_body(push, media_id="mp1", openid="staff") == {
        "touser": "staff", "mpvideo": {"media_id": "mp1"}, "msgtype": "mpvideo"}


def test_article_warnings_follow_the_draft_rules(tmp_path):
    cfg = config(pushes=[
        {"key": "bare", "title": "讲座", "kind": "article", "at": dt.datetime(2027, 4, 22, 19, 30)},
        {"key": "nocover", "title": "讲座", "kind": "article", "at": dt.datetime(2027, 4, 22, 19, 30),
         "content": "<p>正文</p>", "audience": "tag:1"},
        {"key": "long", "title": "专家线上讲座：" + "数据知识产权" * 5, "kind": "article",
         "at": dt.datetime(2027, 4, 22, 19, 30), "content": "<p>正文</p>", "cover": "covers/missing.jpg",
         "audience": "tag:1"},
        {"key": "both", "title": "讲座", "kind": "article", "at": dt.datetime(2027, 4, 22, 19, 30),
         "media_id": "d1", "content": "<p>正文</p>", "audience": "tag:1"},
        {"key": "ready", "title": "讲座", "kind": "article", "at": dt.datetime(2027, 4, 22, 19, 30),
         "content": "<p>正文</p>", "thumb_media_id": "t1", "audience": "tag:1"},
    ])
    warnings = plan_warnings(cfg, build_plan(cfg))
    assert "bare《讲座》没有素材：请填写 media_id（草稿箱中草稿的 media_id；永久图文素材已不能新增）" \
           "或 content（正文 HTML，发送时由调度器新建草稿）" in warnings
    assert "nocover《讲座》新建草稿需要封面：请填写 cover（本地图片文件）或 thumb_media_id（永久图片素材 id）" in warnings
    assert any(w.startswith("long《") and "的封面图片不存在" in w and "missing.jpg" in w for w in warnings)
    assert any(w.startswith("long《") and "的标题有 37 个字，草稿标题最多 32 个字" in w for w in warnings)
    assert "both《讲座》同时填写了 media_id 和 content：将直接群发 media_id 对应的草稿，content 不会使用" in warnings
    assert not [w for w in warnings if w.startswith("ready《")]
    assert len([w for w in warnings if "次群发" not in w]) == 5


def test_article_cover_and_thumb_are_one_or_the_other_and_series_take_lists():
    with pytest.raises(ConfigError) as err:
        build_plan(config(pushes=[{"key": "a", "title": "t", "kind": "article", "at": dt.datetime(2027, 4, 22),
                                   "content": "x", "cover": "c.jpg", "thumb_media_id": "t1"}]))
    assert str(err.value) == ("config.toml: pushes[1].cover: 应为cover（封面图片文件）与 thumb_media_id 二选一，"
                              "当前为 'c.jpg'")
    plan = build_plan(config(series=[{"key": "talk", "kind": "article", "at": dt.datetime(2027, 4, 22, 19, 30),
                                      "every_days": 2, "titles": ["讲座一", "讲座二"], "contents": ["<p>一</p>", "<p>二</p>"],
                                      "covers": ["c1.jpg", ""], "thumb_media_ids": ["", "t2"]}]))
    assert [(p.cover, p.thumb_media_id, p.makes_draft) for p in plan] == [("c1.jpg", "", True), ("", "t2", True)]
