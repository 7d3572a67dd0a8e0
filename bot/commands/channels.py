"""`python -m bot channels ...`: channel QR codes (开幕式现场, a school, an enterprise, 抖音) and what each brought."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import click

from exports.channels import ChannelError, channel_figures, create_channel, image_folder, list_channels


@click.group("channels", help="渠道二维码：为每个推广渠道生成永久带参数二维码，统计各渠道带来的关注和答题。")
def channels() -> None:
    """Channel QR code commands."""


@channels.command("create", help="通过微信接口生成一个渠道的永久二维码，保存图片供印刷；同名渠道不重复创建。")
@click.argument("name")
@click.option("--scene", default=None, metavar="S",
              help="场景值：1–64 个英文字母、数字或 - _ .（默认自动编号 ch-001、ch-002…）")
@click.option("--out", default=None, metavar="FILE.png",
              help="图片保存到这个文件（默认保存在数据库旁的 channels/ 文件夹，文件名为场景值）")
@click.pass_obj
def create(state, name: str, scene: str | None, out: str | None) -> None:
    """Create a channel's permanent code through the WeChat API and save its image."""
    try:
        created = create_channel(runtime=state.runtime, name=name, scene=scene, out=out)
    except ChannelError as exc:
        raise click.ClickException(str(exc)) from None
    channel = created.channel
    click.echo(f"已创建渠道「{channel.name}」：场景值 {channel.scene}（永久二维码）")
    if created.image_path:
        click.echo(f"二维码图片：{created.image_path}（可直接印刷）")
        if created.note:
            click.echo(f"注意：{created.note}")
    else:
        click.echo(f"注意：{created.image_error}；渠道已记录，可在后台“渠道”页重新下载图片。")
    click.echo(f"二维码内容：{channel.url}")
    click.echo(f"新粉丝扫码关注时，微信推送 subscribe 事件，EventKey 为 qrscene_{channel.scene}；"
               f"已关注者扫码推送 SCAN 事件，EventKey 为 {channel.scene}。")


@channels.command("list", help="列出全部渠道码及各渠道带来的关注、扫码、答题和达到合格分人数（不含测试账号）。")
@click.pass_obj
def list_(state) -> None:
    """List the channel codes and their figures."""
    config = state.config
    with state.db.reader() as session:
        rows = list_channels(session)
        figures = {f.scene: f for f in channel_figures(session, testers=config.quiz.testers,
                                                       pass_score=config.quiz.pass_score)}
    if not figures:
        click.echo(f"还没有渠道码。用 python -m bot channels create 名称 创建；图片默认保存在 "
                   f"{image_folder(config.database_url)}")
        return
    images = {c.scene: c.image_path for c in rows}
    click.echo(f"渠道码 {len(rows)} 个（合格分 {config.quiz.pass_score} 分；不含测试账号）：")
    for f in figures.values():
        created = f"，创建于 {_local(f.created_at, config.activity.tz):%Y-%m-%d %H:%M}" if f.created_at else ""
        click.echo(f"- {f.name}  场景值 {f.scene}{created}")
        click.echo(f"  带来关注 {f.followers} 人，扫码 {f.scans} 次，参与答题 {f.players} 人，达到合格分 {f.qualified} 人")
        if f.registered:
            click.echo(f"  图片：{images.get(f.scene) or '未保存（可在后台“渠道”页下载）'}")


def _local(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(tz)
