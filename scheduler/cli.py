"""`python -m bot pushes ...`: see the push plan and its log, preview a push, send one now."""
from __future__ import annotations

import datetime as dt

import click

from bot.storage.models import Lease, PushLog, utcnow
from bot.dates import WEEKDAYS

from scheduler.lease import LEASE_NAME
from scheduler.plan import (KIND_LABELS, PROTECTION_NOTE, PlannedPush, audience_label, build_plan, plan_warnings,
                            protected_pushes, push_warnings, scheduler_options)
from scheduler.pushlog import log_rows
from scheduler.sending import preview_push, send_push
from scheduler.timing import STATUS_LABELS


def _local(value: dt.datetime, tz) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc).astimezone(tz)


def _when(value: dt.datetime) -> str:
    return f"{value:%m-%d} 周{WEEKDAYS[value.weekday()]} {value:%H:%M}"


def status_line(push: PlannedPush, row: PushLog | None, *, now: dt.datetime, grace: dt.timedelta, tz) -> str:
    """Describe where a push stands, for organizers."""
    status = row.status if row is not None else "planned"
    if status in ("planned", "previewed") and now - push.at_utc > grace:
        return "已错过（计划时间已过，未发送）"
    label = STATUS_LABELS.get(status, status)
    if row is None:
        return label
    if status == "previewed" and row.previewed_at:
        return f"{label}（{_when(_local(row.previewed_at, tz))}）"
    if status == "sending":
        return f"{label}（已尝试 {row.tries or 0} 次，clientmsgid {row.client_msg_id}）"
    if status == "sent":
        when = _when(_local(row.sent_at, tz)) if row.sent_at else ""
        held = "；如开启了 API 群发保护，需管理员在微信上确认后才会发出" if protected_pushes([push]) else ""
        return f"{label} {when}（msg_id {row.msg_id}，等待微信送达报告{held}）"
    if status == "delivered":
        return (f"{label} {row.sent_count or 0}/{row.total_count or 0} 人"
                f"（过滤后 {row.filter_count or 0}，失败 {row.error_count or 0}，{row.delivery_status or ''}，"
                f"msg_id {row.msg_id}）")
    if status in ("failed", "missed") and row.error:
        return f"{label}：{row.error}"
    return label


def _find(plan: list[PlannedPush], key: str) -> PlannedPush:
    for push in plan:
        if push.key == key:
            return push
    keys = "、".join(p.key for p in plan) or "（计划为空）"
    raise click.ClickException(f"没有 key 为 {key!r} 的推送。可用的 key：{keys}")


@click.group(help="推送计划：查看（plan）、预览（preview）、立即发送（send）。")
def pushes() -> None:
    """Push plan commands: plan, preview, send."""


@pushes.command("plan", help="列出每条推送的时间、类型、标题、对象和状态，并提示群发额度和素材问题。")
def plan_command() -> None:
    """Print every planned push with its status, and warn about quota and media problems."""
    state = click.get_current_context().obj
    config = state.config
    plan = build_plan(config)
    grace = dt.timedelta(minutes=scheduler_options(config).grace_minutes)
    tz = config.activity.tz
    now = utcnow()
    with state.db.reader() as session:
        rows = log_rows(session)
        lease = session.get(Lease, LEASE_NAME)
    account = "订阅号" if config.wechat.account_type == "subscription" else "服务号"
    click.echo(f"推送计划（{config.source}，{account}，时间为 {config.activity.timezone}）：")
    if not plan:
        click.echo("  （没有推送；在配置中添加 [[pushes]] 或 [[push_series]]）")
    for push in plan:
        click.echo(f"  {_when(push.at)}  {KIND_LABELS[push.kind]}  《{push.title}》 → {audience_label(push.audience)}"
                   f"  [{push.key}]")
        click.echo(f"      状态：{status_line(push, rows.get(push.key), now=now, grace=grace, tz=tz)}")
    for key in sorted(set(rows) - {p.key for p in plan}):
        click.echo(f"  （日志中有已不在计划里的推送 {key}：{STATUS_LABELS.get(rows[key].status, rows[key].status)}）")
    warnings = plan_warnings(config, plan)
    if warnings:
        click.echo("")
        for warning in warnings:
            click.echo(f"警告：{warning}")
    held = protected_pushes(plan)
    if held:
        click.echo("")
        click.echo(f"提示：{'、'.join(p.key for p in held)} 发给全部粉丝。{PROTECTION_NOTE}；"
                   "请安排管理员在推送时守候确认，或在公众号后台关闭该保护。")
    click.echo("")
    if lease is not None and lease.expires_at > now:
        click.echo(f"调度器：运行中（{lease.holder}，租约至 {_when(_local(lease.expires_at, tz))}）")
    else:
        click.echo("调度器：未运行——推送不会自动发出。请运行 python -m scheduler（或 python -m bot serve）")


@pushes.command("send", help="立即发送一条推送（只发一次：已发送的不会重发）。")
@click.argument("key")
@click.option("--yes", is_flag=True, help="不询问，直接发送")
def send_command(key: str, yes: bool) -> None:
    """Send one push now (exactly once: a push already sent is not sent again)."""
    state = click.get_current_context().obj
    plan = build_plan(state.config)
    push = _find(plan, key)
    with state.db.reader() as session:
        rows = log_rows(session)
    for warning in push_warnings(state.config, plan, push, rows, now=utcnow()):
        click.echo(f"注意：{warning}")
    if not yes:
        click.confirm(f"现在向「{audience_label(push.audience)}」群发 {KIND_LABELS[push.kind]}《{push.title}》"
                      f"（计划 {_when(push.at)}）？群发不能撤回。", abort=True)
    result = send_push(runtime=state.runtime, push=push)
    if result.status == "skipped":
        click.echo(f"《{push.title}》已发送过（msg_id {result.msg_id}），不再重复发送。")
    elif result.status == "sent":
        note = "（微信表示此前已发出，未重复发送）" if result.already_sent else ""
        click.echo(f"已发送《{push.title}》：msg_id {result.msg_id}{note}")
        if protected_pushes([push]) and not result.already_sent:
            click.echo(f"注意：{PROTECTION_NOTE}。")
    else:
        raise click.ClickException(f"发送《{push.title}》失败：{result.error}")


@pushes.command("preview", help="把一条推送预览发到工作人员的微信。")
@click.argument("key")
@click.option("--to", "openids", multiple=True, metavar="OPENID",
              help="接收预览的微信 openid（可重复；默认取 wechat.staff_openids）")
def preview_command(key: str, openids: tuple[str, ...]) -> None:
    """Send a preview of one push to a staff member's WeChat."""
    state = click.get_current_context().obj
    push = _find(build_plan(state.config), key)
    targets = openids or state.config.wechat.staff_openids
    if not targets:
        raise click.ClickException("请用 --to OPENID 指定接收预览的微信号（或在配置中填写 wechat.staff_openids）")
    failed = []
    for openid in targets:
        result = preview_push(runtime=state.runtime, push=push, openid=openid)
        if result.ok:
            click.echo(f"已发送预览《{push.title}》到 {openid}，请在手机上查看")
        else:
            failed.append(f"{openid}：{result.error}")
    if failed:
        raise click.ClickException("预览发送失败：" + "；".join(failed))
