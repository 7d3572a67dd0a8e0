"""Send and preview pushes through the WeChat API, exactly once, recording every step in the push log.

The "sending" status and the clientmsgid are committed before the API is called, so a crash or
restart mid-send re-sends with the same clientmsgid and WeChat answers 45065 instead of sending twice.

An article goes out as WeChat now requires (scheduler/plan.py): mpnews with a draft's media_id,
the draft added here through `draft/add` when the push gives its content. The draft is made once
per content and reused by the preview and the send.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import requests
from wechatpy.exceptions import WeChatClientException

from bot.storage.models import utcnow
from bot.runtime import Runtime
from bot.wechat.api import TOKEN_ERRORS, ApiClient, rejected_token

from scheduler.payloads import (ALREADY_SENT, TRANSIENT_ERRORS, chunks, client_msg_id, describe_error, draft_body,
                                draft_fingerprint, preview_body, send_body, sendall_body, upload_video_body)
from scheduler.plan import PlannedPush, SchedulerOptions, protected_pushes, resolve_file, scheduler_options
from scheduler.pushlog import cache_media, cached_media, ensure_row, participant_openids, remember_chunks

logger = logging.getLogger(__name__)

# How long a made mpvideo media id is reused (WeChat keeps temporary media for three days).
MEDIA_REUSE = dt.timedelta(days=1)
# Drafts stay until sent or deleted; after a week staff may well have tidied the drafts box.
DRAFT_REUSE = dt.timedelta(days=7)
_SECRET_IN_TEXT = re.compile(r"(access_token|secret)=[^&\s'\"]+")


@dataclass(frozen=True)
class SendResult:
    """What became of one send: status sent, failed or skipped (already sent)."""

    key: str
    status: str
    msg_id: str = ""
    error: str = ""
    already_sent: bool = False  # WeChat answered 45065: an earlier try had gone out
    tries: int = 0


@dataclass(frozen=True)
class PreviewResult:
    """What became of one preview to one staff member."""

    key: str
    openid: str
    ok: bool
    error: str = ""


class SendError(Exception):
    """A WeChat or network error that ends a send; str() is what the push log shows."""

    def __init__(self, message: str, errcode: int | None = None):
        super().__init__(message)
        self.errcode = errcode


def mass_client(runtime: Runtime) -> ApiClient:
    """Build an API client that leaves token replacement and retries to this module."""
    return ApiClient(runtime.config.wechat, runtime.db, timeout=30, retry_rejected_token=False)


class _Caller:
    """Call the API with the retry policy: backoff on transient errors, one token refresh."""

    def __init__(self, api: ApiClient, options: SchedulerOptions, sleep: Callable[[float], None]):
        self.api = api
        self.options = options
        self.sleep = sleep
        self.tries = 0

    def __call__(self, what: str, call: Callable[[], Any]) -> dict:
        refreshed = False
        replace = False  # replace the rejected token before the next try
        rejected: str | None = None
        retries = 0
        while True:
            self.tries += 1
            try:
                if replace:
                    self.api.replace_rejected_token(rejected)
                    replace = False
                result = call()
                return result if isinstance(result, dict) else {}
            except WeChatClientException as exc:
                code = exc.errcode
                if code == ALREADY_SENT:
                    return {"errcode": code, **_json(exc.response)}
                if code in TOKEN_ERRORS and not refreshed:
                    logger.info("%s: access token rejected (%s), replacing it", what, code)
                    replace, rejected, refreshed = True, rejected_token(exc), True
                    continue
                message = describe_error(code, str(exc.errmsg)) if code is not None else _http_error(exc)
                transient = code is None or code in TRANSIENT_ERRORS
            except requests.RequestException as exc:
                message = "网络错误：" + _SECRET_IN_TEXT.sub(r"\1=***", f"{type(exc).__name__}: {exc}")
                transient = True
                code = None
            if not transient or retries >= self.options.max_retries:
                raise SendError(message, code)
            delay = self.options.retry_seconds * (2 ** retries)
            retries += 1
            logger.warning("%s failed (%s); retry %d/%d in %.1f s", what, message, retries,
                           self.options.max_retries, delay)
            self.sleep(delay)


def _json(response: Any) -> dict:
    try:
        data = response.json()
    except (AttributeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _http_error(exc: WeChatClientException) -> str:
    status = getattr(exc.response, "status_code", None)
    return f"微信接口 HTTP 错误 {status}" if status else "微信接口无响应"


def _upload_file(api: ApiClient, path, *, endpoint: str = "media/upload", kind: str = "video") -> dict:
    with open(path, "rb") as fh:
        return api.post(endpoint, params={"type": kind}, files={"media": (path.name, fh)})


def _draft_media_id(runtime: Runtime, api: ApiClient, caller: _Caller, push: PlannedPush) -> str:
    """Return the media id of the push's draft, adding the draft (and uploading its cover) when needed."""
    cache_key = f"{push.key}@draft-{draft_fingerprint(push)}"
    now = utcnow()
    with runtime.db.reader() as session:
        cached = cached_media(session, cache_key, now)
    if cached:
        return cached
    thumb = push.thumb_media_id
    if not thumb:
        if not push.cover:
            raise SendError("没有封面：新建草稿需要 cover（本地图片文件）或 thumb_media_id")
        path = resolve_file(runtime.config, push.cover)
        if not path.is_file():
            raise SendError(f"封面图片不存在：{path}")
        # draft/add takes only a permanent media id as the cover, so not media/upload's temporary one.
        uploaded = caller(f"cover {push.key}", lambda: _upload_file(api, path, endpoint="material/add_material",
                                                                    kind="image"))
        thumb = str(uploaded.get("media_id", ""))
        if not thumb:
            raise SendError("上传封面失败：微信没有返回 media_id")
        logger.info("push %s: uploaded cover %s", push.key, path.name)
    made = caller(f"draft/add {push.key}", lambda: api.post("draft/add", data=draft_body(push, thumb_media_id=thumb)))
    draft = str(made.get("media_id", ""))
    if not draft:
        raise SendError("新建草稿失败：微信没有返回 media_id")
    logger.info("push %s: added draft %s", push.key, draft)
    with runtime.db.session() as session:
        cache_media(session, cache_key, draft, now + DRAFT_REUSE)
    return draft


def _media_id(runtime: Runtime, api: ApiClient, caller: _Caller, push: PlannedPush) -> str:
    """Return the media id the message carries, uploading the video or adding the draft first when needed."""
    if push.kind == "text":
        return ""
    if push.kind == "article":
        if push.media_id:
            return push.media_id  # a draft made beforehand
        if not push.content.strip():
            raise SendError("没有素材：图文推送需要 media_id（草稿的 media_id）或 content（正文）")
        return _draft_media_id(runtime, api, caller, push)
    now = utcnow()
    with runtime.db.reader() as session:
        cached = cached_media(session, push.key, now)
    if cached:
        return cached
    source = push.media_id
    if not source:
        if not push.file:
            raise SendError("没有素材：视频推送需要 media_id 或 file")
        path = resolve_file(runtime.config, push.file)
        if not path.is_file():
            raise SendError(f"视频文件不存在：{path}")
        uploaded = caller(f"upload {push.key}", lambda: _upload_file(api, path))
        source = str(uploaded.get("media_id", ""))
        if not source:
            raise SendError("上传视频失败：微信没有返回 media_id")
        logger.info("push %s: uploaded %s", push.key, path.name)
    made = caller(f"uploadvideo {push.key}",
                  lambda: api.post("media/uploadvideo", data=upload_video_body(push, source)))
    mpvideo = str(made.get("media_id", ""))
    if not mpvideo:
        raise SendError("生成群发视频素材失败：微信没有返回 media_id")
    with runtime.db.session() as session:
        cache_media(session, push.key, mpvideo, now + MEDIA_REUSE)
    return mpvideo


def _claim(runtime: Runtime, push: PlannedPush) -> SendResult | None:
    """Mark the push "sending" and commit, unless it went out already."""
    with runtime.db.session() as session:
        row = ensure_row(session, push, lock=True)
        if row.status in ("sent", "delivered"):
            return SendResult(key=push.key, status="skipped", msg_id=row.msg_id or "", error="已发送过，不再重复发送")
        if row.status != "sending":
            row.started_at = utcnow()
        row.status = "sending"
        row.client_msg_id = client_msg_id(push.key)
        row.error = ""
        row.finished_at = None
    return None


def _record_sent(runtime: Runtime, push: PlannedPush, *, msg_ids: list[str], media_id: str, tries: int) -> None:
    with runtime.db.session() as session:
        row = ensure_row(session, push, lock=True)
        row.status = "sent"
        row.msg_id = msg_ids[0] if msg_ids else None
        row.media_id = media_id or None
        row.sent_at = utcnow()
        row.tries = (row.tries or 0) + tries
        row.error = ""
        if len(msg_ids) > 1:
            remember_chunks(session, push.key, msg_ids)


def _record_failed(runtime: Runtime, push: PlannedPush, *, error: str, tries: int, msg_ids: list[str]) -> None:
    with runtime.db.session() as session:
        row = ensure_row(session, push, lock=True)
        row.status = "failed"
        row.error = error
        row.tries = (row.tries or 0) + tries
        row.finished_at = utcnow()
        if msg_ids:
            row.msg_id = msg_ids[0]
            remember_chunks(session, push.key, msg_ids)


def _send_calls(runtime: Runtime, api: ApiClient, caller: _Caller, push: PlannedPush, media_id: str,
                msg_ids: list[str]) -> bool:
    """Make the mass-send calls, appending each msg_id; return True if WeChat had any already."""
    already = False
    if push.audience == "participants":
        with runtime.db.reader() as session:
            openids = participant_openids(session)
        if not openids:
            raise SendError("没有答题参与者可发送（attempts 表为空）")
        parts = chunks(openids)
        calls = [("message/mass/send", send_body(push, media_id=media_id, openids=part,
                                                 client_msg_id=client_msg_id(push.key, i if len(parts) > 1 else None)))
                 for i, part in enumerate(parts)]
    else:
        calls = [("message/mass/sendall", sendall_body(push, media_id=media_id,
                                                      client_msg_id=client_msg_id(push.key)))]
    for i, (path, body) in enumerate(calls, 1):
        try:
            answer = caller(f"{path} {push.key}", lambda: api.post(path, data=body))
        except SendError as exc:
            if len(calls) > 1:
                raise SendError(f"第 {i}/{len(calls)} 批失败：{exc}", exc.errcode) from None
            raise
        already = already or answer.get("errcode") == ALREADY_SENT
        msg_ids.append(str(answer.get("msg_id", "")))
    return already


def send_push(*, runtime: Runtime, push: PlannedPush, api: ApiClient | None = None,
              sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """Send one push now, exactly once, and record the outcome in the push log."""
    skipped = _claim(runtime, push)
    if skipped is not None:
        logger.info("push %s already sent (msg_id %s); not sending again", push.key, skipped.msg_id)
        return skipped
    api = api or mass_client(runtime)
    options = scheduler_options(runtime.config)
    caller = _Caller(api, options, sleep)  # counts the mass-send calls only, as the push log's tries
    msg_ids: list[str] = []
    try:
        media_id = _media_id(runtime, api, _Caller(api, options, sleep), push)
        already = _send_calls(runtime, api, caller, push, media_id, msg_ids)
    except SendError as exc:
        logger.error("push %s failed after %d call(s): %s", push.key, caller.tries, exc)
        _record_failed(runtime, push, error=str(exc), tries=caller.tries, msg_ids=msg_ids)
        return SendResult(key=push.key, status="failed", error=str(exc), tries=caller.tries)
    _record_sent(runtime, push, msg_ids=msg_ids, media_id=media_id, tries=caller.tries)
    logger.info("push %s sent: msg_id %s%s%s", push.key, ", ".join(msg_ids),
                " (WeChat had it already: 45065)" if already else "",
                "; with API mass-send protection on, an administrator must confirm it in WeChat within 30 minutes"
                if protected_pushes([push]) else "")
    return SendResult(key=push.key, status="sent", msg_id=msg_ids[0], already_sent=already, tries=caller.tries)


def preview_push(*, runtime: Runtime, push: PlannedPush, openid: str, api: ApiClient | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> PreviewResult:
    """Send a preview of one push to one staff member's WeChat and note it in the push log."""
    api = api or mass_client(runtime)
    caller = _Caller(api, scheduler_options(runtime.config), sleep)
    try:
        media_id = _media_id(runtime, api, caller, push)
        body = preview_body(push, media_id=media_id, openid=openid)
        caller(f"preview {push.key}", lambda: api.post("message/mass/preview", data=body))
    except SendError as exc:
        logger.warning("preview of push %s failed: %s", push.key, exc)
        return PreviewResult(key=push.key, openid=openid, ok=False, error=str(exc))
    with runtime.db.session() as session:
        row = ensure_row(session, push, lock=True)
        row.previewed_at = utcnow()
        if row.status == "planned":
            row.status = "previewed"
    logger.info("push %s previewed", push.key)
    return PreviewResult(key=push.key, openid=openid, ok=True)
