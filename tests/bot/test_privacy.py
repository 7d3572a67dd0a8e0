"""`python -m bot data purge`: contact details go after the retention period; scores stay."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from bot.commands.cli import cli
from bot.commands.data import data
from bot.storage.models import Attempt, Follower, InboundMessage
from bot.storage.privacy import contacts_before, cutoff_utc, purge_contacts, retained_until
from exports.workbook import write_workbook
from tests.bot.test_quiz_flow import TICKS, play
from tests.conftest import load_bank

TZ = ZoneInfo("Asia/Shanghai")
END = dt.date(2027, 4, 26)
CONTACTS = {"p-alice": ("张三", "13800138000"), "p-bob": ("李四", "13900139000")}


def utc(year, month, day, hour=0):
    """A local Shanghai time as the naive UTC the clock and the database use."""
    return dt.datetime(year, month, day, hour, tzinfo=TZ).astimezone(dt.timezone.utc).replace(tzinfo=None)


def test_cutoff_is_local_midnight_in_utc():
    assert cutoff_utc(dt.date(2027, 8, 1), TZ) == dt.datetime(2027, 7, 31, 16, 0)


@pytest.mark.parametrize("given,until", [(dt.date(2027, 4, 21), dt.date(2027, 7, 25)),
                                         (END, dt.date(2027, 7, 25)),
                                         (dt.date(2027, 5, 10), dt.date(2027, 8, 8))])
def test_contacts_are_kept_ninety_days_after_the_activity_or_after_a_late_claim(given, until):
    assert retained_until(given, activity_end=END, retention_days=90) == until


@pytest.fixture
def players(runtime, wechat):
    """Two qualified players who left contact details during the week, and one who did not qualify."""
    load_bank(runtime.db)
    for openid, correct in (("p-alice", 5), ("p-bob", 5), ("p-carol", 2)):
        wechat.text(openid, "答题", create_time=next(TICKS))
        play(wechat, runtime, openid, correct=correct)
        if openid in CONTACTS:
            name, phone = CONTACTS[openid]
            assert wechat.text(openid, f"{name} {phone}", create_time=next(TICKS)).content.startswith("已登记")
    return runtime


def invoke(runtime, *args, input=None):
    obj = SimpleNamespace(config=runtime.config, db=runtime.db, runtime=runtime)
    return CliRunner().invoke(data, ["purge", *args], obj=obj, input=input)


def followers(runtime) -> dict[str, tuple]:
    with runtime.db.reader() as session:
        return {f.openid: (f.name, f.phone, f.contact_at) for f in session.scalars(select(Follower))}


def scores(runtime) -> list[tuple]:
    with runtime.db.reader() as session:
        return sorted(session.execute(select(Attempt.openid, Attempt.status, Attempt.score, Attempt.best)).all())


def workbook_text(runtime, path) -> str:
    with runtime.db.reader() as session:
        write_workbook(path=path, session=session, config=runtime.config)
    book = load_workbook(path, read_only=True)
    return "\n".join(str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                     for v in row if v is not None)


def test_purge_after_retention_clears_contacts_and_keeps_scores(players, clock, tmp_path):
    runtime = players
    before_scores = scores(runtime)
    assert "13800138000" in workbook_text(runtime, tmp_path / "before.xlsx")
    clock.now = utc(2027, 7, 26, 9)

    result = invoke(runtime, "--before", "2027-07-26", input="y\n")

    assert result.exit_code == 0, result.output
    assert "保留期：活动结束（2027-04-26）后 90 天（privacy.retention_days），到 2027-07-25 为止" in result.output
    assert "2027-07-26 之前登记的联系方式：2 人" in result.output
    assert "已清除 2 人的姓名和手机号" in result.output
    assert all(contact == (None, None, None) for contact in followers(runtime).values())
    assert scores(runtime) == before_scores
    text = workbook_text(runtime, tmp_path / "after.xlsx")
    assert "p-alice" in text and "50" in text
    for name, phone in CONTACTS.values():
        assert phone not in text and name not in text
    with runtime.db.reader() as session:
        replies = list(session.scalars(select(InboundMessage.reply)))
    assert replies and not any(name in reply for name, _ in CONTACTS.values() for reply in replies)


def test_the_cleared_values_are_gone_from_the_database_files(players, clock):
    """Not only unreadable through SQL: SQLite's pages and write-ahead log no longer hold them."""
    runtime = players
    clock.now = utc(2027, 7, 26, 9)
    result = invoke(runtime, "--before", "2027-07-26", "--yes")
    assert result.exit_code == 0, result.output
    if not runtime.db.is_sqlite:
        assert result.output.rstrip().endswith("已对 followers、inbound_messages 表执行 VACUUM，清除前的旧行版本已回收。")
        return
    assert result.output.rstrip().endswith("数据库日志已写回并清空，文件中不再留有清除前的内容。")
    path = Path(runtime.db.engine.url.database)
    stored = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                                  if path.with_name(path.name + "-wal").exists() else b"")
    for name, phone in CONTACTS.values():
        assert phone.encode() not in stored and name.encode() not in stored


def test_refused_inside_the_retention_period_unless_forced(players, clock):
    runtime = players
    clock.now = utc(2027, 7, 25, 23)
    refused = invoke(runtime, "--before", "2027-05-01", "--yes")
    assert refused.exit_code == 1
    assert "最近的一条登记于 2027-04-21，要保留到 2027-07-25，2027-07-26 起才能删除" in refused.output
    assert "--force" in refused.output
    assert followers(runtime)["p-alice"][:2] == CONTACTS["p-alice"]

    forced = invoke(runtime, "--before", "2027-05-01", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert "保留期未满（到 2027-07-25），按 --force 删除" in forced.output
    assert followers(runtime)["p-alice"] == (None, None, None)


def test_contacts_given_on_or_after_the_date_are_kept(players, clock, wechat):
    runtime = players
    clock.now = utc(2027, 5, 10, 12)  # a late correction: bob sends his details again
    wechat.text("p-bob", "李四 13900139001", create_time=next(TICKS))
    clock.now = utc(2027, 8, 1)
    result = invoke(runtime, "--before", "2027-05-01", "--yes")
    assert result.exit_code == 0, result.output
    assert "已清除 1 人的姓名和手机号" in result.output
    contacts = followers(runtime)
    assert contacts["p-alice"] == (None, None, None)
    assert contacts["p-bob"][:2] == ("李四", "13900139001")
    refused = invoke(runtime, "--before", "2027-06-01", "--yes")
    assert "最近的一条登记于 2027-05-10，要保留到 2027-08-08" in refused.output


def test_nothing_changes_without_confirmation(players, clock):
    runtime = players
    clock.now = utc(2027, 9, 1)
    result = invoke(runtime, "--before", "2027-09-01", input="n\n")
    assert result.exit_code == 1
    assert "确认删除？" in result.output
    assert followers(runtime)["p-alice"][:2] == CONTACTS["p-alice"]


@pytest.mark.parametrize("value", ["2027/08/01", "明天", "2027-13-01"])
def test_a_bad_date_names_the_option_and_the_form(runtime, value):
    result = invoke(runtime, "--before", value, "--yes")
    assert result.exit_code == 1
    assert "--before: 应为日期 YYYY-MM-DD" in result.output


def test_before_is_required(runtime):
    result = invoke(runtime, "--yes")
    assert result.exit_code == 2 and "--before" in result.output


def test_service_counts_then_purges_in_the_callers_session(players):
    runtime = players
    cutoff = utc(2027, 4, 27)
    with runtime.db.reader() as session:
        found = contacts_before(session=session, before_utc=cutoff)
    assert found.count == 2 and found.newest is not None and found.newest < cutoff
    with runtime.db.session() as session:
        first = purge_contacts(session=session, before_utc=cutoff)
    with runtime.db.session() as session:
        again = purge_contacts(session=session, before_utc=cutoff)
    assert (first.contacts, again.contacts, again.replies) == (2, 0, 0)
    assert first.replies > 0


def test_wired_into_python_m_bot(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[wechat]\napp_id = "wx1"\napp_secret = "s"\ntoken = "t"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n'
        '[activity]\nname = "宣传周"\nstart = 2020-04-20T00:00:00\nend = 2020-04-26T23:59:59\n[quiz]\n'
        "[privacy]\nretention_days = 30\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "data", "purge", "--before", "2020-06-01", "--yes"])
    assert result.exit_code == 0, result.output
    assert "活动结束（2020-04-26）后 30 天" in result.output
    assert "已清除 0 人的姓名和手机号" in result.output
