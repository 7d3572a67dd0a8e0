"""The 微讲堂 reply: episodes released so far with links, and when the next one is due."""
from __future__ import annotations

import datetime as dt

from bot.config import parse_config
from bot.storage.models import PushLog
from scheduler.lectures import lectures_text

from tests.scheduler.conftest import config_data

SERIES = {"key": "lecture", "kind": "video", "at": dt.datetime(2027, 4, 21, 20, 0), "every_days": 2,
          "titles": ["专利入门", "商标那些事", "版权与短视频"], "media_ids": ["m1", "m2", "m3"],
          "urls": ["https://mp.weixin.qq.com/s/ep1", "https://mp.weixin.qq.com/s/ep2", ""]}
TALK = {"key": "talk-1", "title": "专家讲座", "kind": "article", "at": dt.datetime(2027, 4, 22, 19, 0),
        "media_id": "n1"}


def config(series=SERIES):
    return parse_config(config_data(api_base="http://127.0.0.1:9/cgi-bin/", db_url="sqlite://", series=[series],
                                    pushes=[TALK]), "config.toml", environ={})


def utc(local: dt.datetime) -> dt.datetime:
    return local - dt.timedelta(hours=8)


def test_before_the_first_episode(sched_db):
    with sched_db.reader() as session:
        text = lectures_text(session=session, config=config(), now=utc(dt.datetime(2027, 4, 20, 9, 0)))
    assert text == ("2027年知识产权宣传周 · 知识产权微讲堂（共3期）\n\n"
                    "第一期将于 4月21日（周三）20:00《专利入门》发布，敬请关注！")


def test_released_episodes_with_links_and_the_next_one(sched_db):
    with sched_db.session() as session:
        session.add(PushLog(key="lecture-2", status="sent", msg_id="1", tries=1, error=""))
    with sched_db.reader() as session:
        text = lectures_text(session=session, config=config(), now=utc(dt.datetime(2027, 4, 23, 20, 1)))
    assert text == ("2027年知识产权宣传周 · 知识产权微讲堂（共3期）\n\n已发布：\n"
                    '第1期 4月21日 <a href="https://mp.weixin.qq.com/s/ep1">《专利入门》</a>\n'
                    '第2期 4月23日 <a href="https://mp.weixin.qq.com/s/ep2">《商标那些事》</a>\n\n'
                    "下一期：4月25日（周日）20:00《版权与短视频》")


def test_missed_episode_is_not_listed_and_all_done(sched_db):
    with sched_db.session() as session:
        session.add(PushLog(key="lecture-1", status="missed", tries=0, error=""))
    with sched_db.reader() as session:
        text = lectures_text(session=session, config=config(), now=utc(dt.datetime(2027, 4, 26, 9, 0)))
    assert "专利入门" not in text and "第2期" in text and text.endswith("全部 3 期已发布完毕，感谢观看！")


def test_long_series_stays_under_the_reply_limit(sched_db):
    titles = [f"知识产权保护系列第{i}讲：从创意到市场的全过程" for i in range(40)]
    long = SERIES | {"titles": titles, "count": 40, "every_days": 1, "media_ids": ["m"] * 40,
                     "urls": [f"https://mp.weixin.qq.com/s/episode-{i:03d}-long-link" for i in range(40)]}
    with sched_db.reader() as session:
        text = lectures_text(session=session, config=config(long), now=utc(dt.datetime(2027, 5, 25, 9, 0)))
    assert len(text.encode("utf-8")) <= 2000
    assert "期略）" in text and "第34讲" in text and text.startswith("2027年知识产权宣传周")
