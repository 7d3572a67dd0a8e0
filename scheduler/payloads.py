"""Mass-send and draft request bodies, clientmsgids and WeChat error codes, as pure functions."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from scheduler.plan import PlannedPush

CLIENT_MSG_ID_PREFIX = "ipweek-"
CLIENT_MSG_ID_BYTES = 64
CHUNK_SIZE = 10_000  # message/mass/send takes at most 10,000 openids per call

TRANSIENT_ERRORS = frozenset({-1, 45009, 45066})
ALREADY_SENT = 45065

ERROR_HINTS = {
    -1: "微信系统繁忙",
    40001: "access_token 无效",
    40007: "素材 media_id 无效或已过期（图文须用草稿的 media_id，草稿封面须用永久图片素材 id）",
    40013: "AppID 无效：请核对 wechat.app_id",
    40125: "AppSecret 错误：请核对 wechat.app_secret",
    40164: "本机 IP 不在公众号后台的 IP 白名单中",
    40130: "按 OpenID 群发至少需要 2 个接收者",
    42001: "access_token 已过期",
    45009: "接口调用超过频率限制",
    45028: "群发额度已用完（订阅号每天 1 次，服务号每月 4 次）",
    45065: "相同 clientmsgid 已群发过",
    45066: "群发过于频繁，请稍后再试",
    45103: "该接口已下线（永久图文素材已停止新增，请改用草稿箱）",
    45106: "该接口已下线（永久图文素材已停止新增，请改用草稿箱）",
    48001: "公众号没有该接口权限",
    61007: "素材不属于本公众号",
}


def client_msg_id(key: str, chunk: int | None = None) -> str:
    """Derive the idempotency id of a push (and of one openid chunk) from its key."""
    suffix = "" if chunk is None else f"#{chunk + 1}"
    cid = f"{CLIENT_MSG_ID_PREFIX}{key}{suffix}"
    if cid.isascii() and len(cid) <= CLIENT_MSG_ID_BYTES:
        return cid
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"{CLIENT_MSG_ID_PREFIX}{digest}{suffix}"


def chunks(openids: list[str], size: int = CHUNK_SIZE) -> list[list[str]]:
    """Split an openid list into sendable chunks."""
    return [openids[i:i + size] for i in range(0, len(openids), size)]


def upload_video_body(push: PlannedPush, media_id: str) -> dict[str, Any]:
    """Build the media/uploadvideo body that turns a video into an mpvideo media id."""
    return {"media_id": media_id, "title": push.title, "description": push.description}


def draft_body(push: PlannedPush, *, thumb_media_id: str) -> dict[str, Any]:
    """Build the draft/add body of an article push: one news article, its cover a permanent image id."""
    article: dict[str, Any] = {"article_type": "news", "title": push.title, "content": push.content,
                               "thumb_media_id": thumb_media_id}
    if push.description:
        article["digest"] = push.description
    return {"articles": [article]}


def draft_fingerprint(push: PlannedPush) -> str:
    """Identify what a push's draft holds, so an edited article gets a new draft, not a stale one."""
    parts = [push.title, push.content, push.description, push.cover, push.thumb_media_id]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def _content(push: PlannedPush, media_id: str, *, to_list: bool) -> dict[str, Any]:
    if push.kind == "video":
        video: dict[str, Any] = {"media_id": media_id}
        if to_list:
            video.update(title=push.title, description=push.description)
        return {"mpvideo": video, "msgtype": "mpvideo"}
    if push.kind == "article":
        return {"mpnews": {"media_id": media_id}, "msgtype": "mpnews", "send_ignore_reprint": 0}
    return {"text": {"content": push.content}, "msgtype": "text"}


def sendall_body(push: PlannedPush, *, media_id: str, client_msg_id: str) -> dict[str, Any]:
    """Build the message/mass/sendall body (all followers or one tag)."""
    tag = push.tag_id
    target = {"is_to_all": True} if tag is None else {"is_to_all": False, "tag_id": tag}
    return {"filter": target, **_content(push, media_id, to_list=False), "clientmsgid": client_msg_id}


def send_body(push: PlannedPush, *, media_id: str, openids: list[str], client_msg_id: str) -> dict[str, Any]:
    """Build the message/mass/send body (an openid list)."""
    return {"touser": list(openids), **_content(push, media_id, to_list=True), "clientmsgid": client_msg_id}


def preview_body(push: PlannedPush, *, media_id: str, openid: str) -> dict[str, Any]:
    """Build the message/mass/preview body (one staff member's phone)."""
    return {"touser": openid, **_content(push, media_id, to_list=False)}


def describe_error(errcode: int | None, errmsg: str) -> str:
    """Render a WeChat error for the push log and the organizers."""
    if errcode is None:
        return errmsg
    hint = ERROR_HINTS.get(errcode)
    return f"{errcode} {errmsg}" + (f"（{hint}）" if hint else "")
