"""`python -m bot data`: personal data past its retention period."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import click

from bot.storage.privacy import contacts_before, cutoff_utc, purge_contacts, retained_until, scrub_files


@click.group(help="个人信息：保留期满后删除参与者的姓名和手机号。")
def data() -> None:
    """Personal data commands."""


def _parse_day(text: str) -> dt.date:
    """Read a YYYY-MM-DD date, or fail with a message naming the option."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise click.ClickException(f"--before: 应为日期 YYYY-MM-DD（活动时区），如 2027-08-01，当前为 {text!r}") from None


@data.command(help="清除在某日之前登记的姓名和手机号（成绩和答题记录保留）；保留期未满时需加 --force。")
@click.option("--before", "before_text", required=True, metavar="YYYY-MM-DD",
              help="清除在这一天（活动时区 0 点）之前登记的姓名和手机号")
@click.option("--force", is_flag=True, help="保留期未满也删除（如本人要求删除）")
@click.option("--yes", is_flag=True, help="不再询问，直接删除")
@click.pass_obj
def purge(state, before_text: str, force: bool, yes: bool) -> None:
    """Clear names and phone numbers given before a date; scores and attempts stay."""
    before = _parse_day(before_text)
    config = state.config
    tz = config.activity.tz
    end = config.activity.end.date()
    days = config.privacy.retention_days
    until = retained_until(end, activity_end=end, retention_days=days)
    click.echo(f"保留期：活动结束（{end}）后 {days} 天（privacy.retention_days），到 {until} 为止；"
               f"活动期间登记的联系方式 {until + dt.timedelta(days=1)} 起可以删除。")
    before_utc = cutoff_utc(before, tz)
    with state.db.reader() as session:
        found = contacts_before(session=session, before_utc=before_utc)
    if found.newest is not None:
        newest = _local_day(found.newest, tz)
        keep_until = retained_until(newest, activity_end=end, retention_days=days)
        today = _local_day(state.runtime.clock(), tz)
        if today <= keep_until:
            if not force:
                raise click.ClickException(
                    f"--before {before}：其中最近的一条登记于 {newest}，要保留到 {keep_until}，"
                    f"{keep_until + dt.timedelta(days=1)} 起才能删除；确需提前删除（如本人要求），请加 --force。")
            click.echo(f"注意：其中有的联系方式保留期未满（到 {keep_until}），按 --force 删除。")
    click.echo(f"{before} 之前登记的联系方式：{found.count} 人。将清除他们的姓名和手机号，成绩和答题记录保留；"
               "这之前保存的全部聊天回复（只用于识别微信的重发；登记时的回复回显了姓名）也一并清除。")
    if not yes:
        click.confirm("确认删除？删除后无法恢复", abort=True)
    with state.db.session() as session:
        result = purge_contacts(session=session, before_utc=before_utc)
    click.echo(f"已清除 {result.contacts} 人的姓名和手机号，以及 {result.replies} 条保存的回复。")
    click.echo(scrub_files(state.db))


def _local_day(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(tz).date()
