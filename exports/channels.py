"""Channel codes: create one (the one writer, for the console and the CLI), list them, count what each brought.

A channel code is a permanent QR code (QR_LIMIT_STR_SCENE) with a scene string; a follow through it
arrives as `subscribe` with EventKey `qrscene_<scene>`, a scan by a follower as `SCAN` with the bare
scene. The conversation engine records those in follower_channels (the first channel of a follower)
and channel_scans (every follow or scan); the figures here are read from them.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exists, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from bot.quiz.standings import ENDED, real_players
from bot.runtime import Runtime
from bot.storage.models import Attempt, Channel, ChannelScan, FollowerChannel
from bot.wechat.api import image_kind

logger = logging.getLogger(__name__)

NAME_MAX = 64
SCENE_MAX = 64  # WeChat: scene_str is 1 to 64 characters
SCENE_PREFIX = "ch-"
# ASCII only: the scene comes back in event XML and in URLs; qrscene_ is what WeChat prefixes on a follow.
SCENE = re.compile(r"[A-Za-z0-9_.-]+")
SUBSCRIBE_PREFIX = "qrscene_"
PERMANENT_LIMIT = 100_000  # permanent codes per account
IMAGE_SUFFIXES = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg"}
FOLDER = "channels"
UNREGISTERED = "（未在本系统创建的渠道码）"

ERROR_HINTS = {
    -1: "微信系统繁忙，请稍后重试",
    40001: "access_token 无效",
    40013: "AppID 无效：请核对 wechat.app_id",
    40053: "场景值不合法（应为 1–64 个字符）",
    40125: "AppSecret 错误：请核对 wechat.app_secret",
    40164: "本机 IP 不在公众号后台的 IP 白名单中",
    42001: "access_token 已过期",
    45009: "接口调用超过频率限制，请稍后重试",
    45029: "永久二维码数量已达上限（每个公众号最多 10 万个）",
    48001: "公众号没有该接口权限：只有已认证的服务号能生成带参数二维码",
}


class ChannelError(ValueError):
    """A problem with a channel a person can fix; str() is one Chinese line."""


@dataclass(frozen=True)
class Created:
    """What create_channel did: the recorded channel, and where its image went (or why it did not)."""

    channel: Channel
    image_path: Path | None
    image_error: str = ""
    note: str = ""  # e.g. the file was saved under another suffix than asked for


@dataclass(frozen=True)
class ChannelFigure:
    """One channel's figures; test accounts are left out, as in the results."""

    name: str
    scene: str
    registered: bool  # False: the scene came in events but no code of this system has it
    created_at: dt.datetime | None
    followers: int  # followers this channel brought first (follower_channels)
    scans: int  # every follow or scan through the code (channel_scans)
    players: int  # brought followers who started an attempt
    qualified: int  # brought followers whose best ended attempt reached quiz.pass_score


def describe_error(exc: WeChatClientException) -> str:
    """Render a WeChat error for staff: the code and what it means in Chinese."""
    if exc.errcode is None:
        status = getattr(exc.response, "status_code", None)
        return exc.errmsg or (f"微信接口返回 HTTP {status}" if status else "微信接口没有正常回答")
    hint = ERROR_HINTS.get(exc.errcode)
    if hint:
        return f"微信返回错误码 {exc.errcode}：{hint}"
    return f"微信返回错误码 {exc.errcode}（{exc.errmsg}）" if exc.errmsg else f"微信返回错误码 {exc.errcode}"


def check_name(raw: str | None) -> str:
    """Return the channel name with its spaces tidied, or raise ChannelError saying what a name should be."""
    name = " ".join((raw or "").split())
    if not name:
        raise ChannelError("渠道名称不能为空：请填写二维码放在哪里，如「开幕式现场」「某某中学」「抖音」")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ChannelError("渠道名称不能含控制字符，请重新输入")
    if len(name) > NAME_MAX:
        raise ChannelError(f"渠道名称最多 {NAME_MAX} 个字，当前为 {len(name)} 个字")
    return name


def check_scene(raw: str) -> str:
    """Return a scene string given by staff, or raise ChannelError naming the expected form."""
    scene = raw.strip()
    expected = f"场景值应为 1–{SCENE_MAX} 个英文字母、数字或 - _ .，如 ch-001、school-01"
    if not scene:
        raise ChannelError(f"{expected}；不填则自动编号")
    if len(scene) > SCENE_MAX:
        raise ChannelError(f"{expected}，当前为 {len(scene)} 个字符")
    if not SCENE.fullmatch(scene):
        raise ChannelError(f"{expected}，当前为 {scene!r}")
    if scene.lower().startswith(SUBSCRIBE_PREFIX):
        raise ChannelError(f"场景值不能以 {SUBSCRIBE_PREFIX} 开头：微信在关注事件里会加上这个前缀，扫码事件就分不清了")
    return scene


def check_out(out: str) -> Path:
    """Return the image file asked for, or raise ChannelError if it cannot be a .png or .jpg we may write."""
    path = Path(out)
    if path.is_dir():
        raise ChannelError(f"{out}: 这是一个文件夹，请给出文件名，如 {path / '开幕式现场.png'}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ChannelError(f"{out}: 图片文件名应以 .png 或 .jpg 结尾，如 开幕式现场.png")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ChannelError(f"{out}: 文件夹 {parent} 不存在，请先创建或换一个位置")
    return path


def image_folder(database_url: str) -> Path:
    """Return the default folder for code images: `channels/` beside a SQLite file, else instance/channels."""
    url = make_url(database_url)
    path = url.database or ""
    if url.get_backend_name() == "sqlite" and path and path != ":memory:" and not path.startswith("file:"):
        return Path(path).resolve().parent / FOLDER
    return Path("instance", FOLDER).resolve()


def next_scene(session: Session) -> str:
    """Return the next free automatic scene string: ch-001, ch-002, ..."""
    used = set(session.scalars(select(Channel.scene)))
    number = len(used) + 1
    while f"{SCENE_PREFIX}{number:03d}" in used:
        number += 1
    return f"{SCENE_PREFIX}{number:03d}"


def save_image(data: bytes, target: Path) -> Path:
    """Write an image beside `target` and rename it there; return where it went.

    WeChat's codes are JPEG and the stand-in's PNG: the file gets the suffix of what it holds.
    """
    kind = image_kind(data) or "png"
    path = target if IMAGE_SUFFIXES.get(target.suffix.lower()) == kind else target.with_suffix(f".{kind}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".channel-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path.resolve()


def fetch_image(*, runtime: Runtime, channel: Channel, target: Path) -> Path:
    """Download a channel's image from WeChat and save it; raise ChannelError with the reason if that fails."""
    try:
        data = runtime.api.qrcode_image(channel.ticket)
    except WeChatClientException as exc:
        raise ChannelError(f"二维码图片下载失败：{describe_error(exc)}") from None
    except OSError as exc:
        raise ChannelError(f"二维码图片下载失败：连接微信失败（{type(exc).__name__}）") from None
    try:
        return save_image(data, target)
    except OSError as exc:
        reason = "没有写入权限" if isinstance(exc, PermissionError) else f"系统错误 {exc.errno}"
        raise ChannelError(f"二维码图片无法保存到文件夹 {target.parent}（{reason}）") from None


def create_channel(*, runtime: Runtime, name: str | None, scene: str | None = None,
                   out: str | None = None) -> Created:
    """Create a permanent channel code through the WeChat API, save its image and record the channel.

    A name or scene already recorded is refused. No transaction is open while WeChat answers: the
    row is written afterwards, and the unique name and scene turn away a second creator who raced
    this one. Once WeChat has made the code it is recorded even if its image could not be saved,
    since the code exists (and counts against the limit); the console can download the image later.
    """
    name = check_name(name)
    scene = check_scene(scene) if scene is not None and scene.strip() else None
    target = check_out(out) if out else None
    with runtime.db.reader() as session:
        same = session.scalar(select(Channel).where(Channel.name == name))
        if same is not None:
            raise ChannelError(f"渠道「{name}」已存在（场景值 {same.scene}），不再重复创建；换一个名称，或查看已有的渠道码")
        if scene is not None:
            taken = session.scalar(select(Channel).where(Channel.scene == scene))
            if taken is not None:
                raise ChannelError(f"场景值 {scene} 已被渠道「{taken.name}」使用，请换一个，或不填让系统自动编号")
        else:
            scene = next_scene(session)
        count = session.scalar(select(func.count()).select_from(Channel))
    if count >= PERMANENT_LIMIT:
        raise ChannelError(f"已有 {count} 个渠道码：每个公众号最多 {PERMANENT_LIMIT} 个永久二维码")
    try:
        answer = runtime.api.create_channel_qrcode(scene)
    except WeChatClientException as exc:
        raise ChannelError(f"创建渠道码失败：{describe_error(exc)}") from None
    except OSError as exc:
        raise ChannelError(f"创建渠道码失败：连接微信接口 {runtime.config.wechat.api_base_url} 失败"
                           f"（{type(exc).__name__}）") from None
    if not isinstance(answer, dict) or not answer.get("ticket"):
        raise ChannelError("创建渠道码失败：微信的回答里没有 ticket，请稍后重试")
    channel = Channel(scene=scene, name=name, ticket=str(answer["ticket"]), url=str(answer.get("url", "")),
                      image_path="", created_at=runtime.clock())
    image_path, image_error, note = None, "", ""
    try:
        image_path = fetch_image(runtime=runtime, channel=channel,
                                 target=target or image_folder(runtime.config.database_url) / f"{scene}.png")
        channel.image_path = str(image_path)
    except ChannelError as exc:
        image_error = str(exc)
    if target is not None and image_path is not None and image_path.suffix != target.suffix:
        note = f"微信给的是 {image_path.suffix[1:].upper()} 图片，已保存为 {image_path.name}（不是 {target.name}）"
    try:
        with runtime.db.session() as session:
            session.add(channel)
    except IntegrityError:
        raise ChannelError(f"渠道「{name}」或场景值 {scene} 刚被另一位工作人员创建，请刷新后查看") from None
    logger.info("channel code created: %s (%s)", scene, "image saved" if image_path else "no image")
    return Created(channel=channel, image_path=image_path, image_error=image_error, note=note)


def record_image(*, runtime: Runtime, scene: str) -> Channel:
    """Make sure a channel's image is on this machine (downloading it again if need be); return the channel."""
    with runtime.db.reader() as session:
        channel = session.scalar(select(Channel).where(Channel.scene == scene))
    if channel is None:
        raise ChannelError("没有这个渠道码，请回到渠道页刷新")
    if channel.image_path and Path(channel.image_path).is_file():
        return channel
    path = fetch_image(runtime=runtime, channel=channel,
                       target=image_folder(runtime.config.database_url) / f"{channel.scene}.png")
    with runtime.db.session() as session:
        row = session.get(Channel, channel.id)
        row.image_path = str(path)
    return row


def list_channels(session: Session) -> list[Channel]:
    """Return every channel code, oldest first."""
    return list(session.scalars(select(Channel).order_by(Channel.created_at, Channel.id)))


def channel_figures(session: Session, *, testers: tuple[str, ...] | frozenset[str],
                    pass_score: int) -> list[ChannelFigure]:
    """Count per channel the followers it brought, its scans, and of those followers the players and qualified.

    Scenes that came in events without a code of this system (made in the WeChat back office, or
    deleted here) are listed after the recorded channels.
    """
    brought = real_players(FollowerChannel.openid, testers)
    played = exists().where(Attempt.openid == FollowerChannel.openid)
    passed = exists().where(Attempt.openid == FollowerChannel.openid, Attempt.best.is_(True),
                            Attempt.status.in_(ENDED), Attempt.score >= pass_score)

    def per_scene(column, *where) -> dict[str, int]:
        return {scene: int(n) for scene, n in session.execute(
            select(column, func.count()).where(*where).group_by(column))}

    followers = per_scene(FollowerChannel.scene, brought)
    scans = per_scene(ChannelScan.scene, real_players(ChannelScan.openid, testers))
    players = per_scene(FollowerChannel.scene, brought, played)
    qualified = per_scene(FollowerChannel.scene, brought, passed)

    def figure(scene: str, name: str, created_at: dt.datetime | None, registered: bool = True) -> ChannelFigure:
        return ChannelFigure(name=name, scene=scene, registered=registered, created_at=created_at,
                             followers=followers.get(scene, 0), scans=scans.get(scene, 0),
                             players=players.get(scene, 0), qualified=qualified.get(scene, 0))

    channels = list_channels(session)
    known = {c.scene for c in channels}
    rows = [figure(c.scene, c.name, c.created_at) for c in channels]
    unknown = sorted((set(followers) | set(scans)) - known)
    rows += [figure(scene, UNREGISTERED, None, registered=False) for scene in unknown]
    return rows
