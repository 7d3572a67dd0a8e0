"""Telling the winners of the final draw in force, each by the channel WeChat allows, every try recorded.

- A winner who wrote to the account within the last 48 hours gets a customer-service message
  (message/custom/send): WeChat allows those only inside that window (errcode 45015 outside it)
  and only a few per window (45047).
- The rest are sent one mass message addressed to exactly them: on a service account by openid
  list (message/mass/send, which needs two or more openids), otherwise by a tag made for this draw
  (tags/create, tags/members/batchtagging, then message/mass/sendall to the tag; on a
  subscription account this uses the day's one mass send).
- A winner already told is not told again; a failure is recorded with WeChat's errcode and never
  stops the others. `record_notice` is the one writer of notices.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from bot.masking import short_openid
from bot.storage.models import FinalDraw, FinalWinner, Follower, WinnerNotice
from bot.quiz.prizes import notice_text
from exports.final import notices_of, winners_of

logger = logging.getLogger(__name__)

CUSTOM, OPENIDS, TAG = "custom", "openids", "tag"
CHANNEL_NAMES = {CUSTOM: "客服消息", OPENIDS: "按 openid 群发", TAG: "按标签群发"}
# WeChat's customer-service window, less the precision of followers.last_message_at (5 minutes).
SERVICE_WINDOW = dt.timedelta(hours=48) - dt.timedelta(minutes=10)
OUT_OF_WINDOW = 45015
BATCH = 50  # openids per tags/members/batchtagging call


@dataclass
class NotifyReport:
    told: int = 0
    failed: list[tuple[str, int, str]] = field(default_factory=list)  # (openid, errcode, errmsg)
    already: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


def record_notice(session: Session, *, winner_id: int, channel: str, errcode: int, errmsg: str,
                  now: dt.datetime) -> None:
    session.add(WinnerNotice(winner_id=winner_id, channel=channel, errcode=errcode, errmsg=errmsg[:500], at=now))


def _call(api, path: str, body: dict) -> tuple[int, str, dict]:
    """Make one API call; (errcode, errmsg, answer), errcode 0 on success, never raised."""
    try:
        answer = api.post(path, data=body)
    except WeChatClientException as exc:
        return int(exc.errcode or -1), str(exc.errmsg or exc), {}
    except Exception as exc:  # noqa: BLE001 - a network failure is recorded like any other
        return -1, f"网络错误：{type(exc).__name__}", {}
    answer = answer if isinstance(answer, dict) else {}
    return int(answer.get("errcode", 0) or 0), str(answer.get("errmsg", "")), answer


def notify_winners(*, runtime, draw_id: int, now: dt.datetime | None = None, api=None) -> NotifyReport:
    """Tell every winner of draw `draw_id` not yet told; return what happened."""
    now = now or runtime.clock()
    api = api or runtime.api
    config = runtime.config
    report = NotifyReport()
    with runtime.db.reader() as session:
        draw = session.get(FinalDraw, draw_id)
        winners = winners_of(session, draw_id) if draw else []
        notices = notices_of(session, draw_id)
        done = {wid for wid, tries in notices.items() if any(n.errcode == 0 for n in tries)}
        last = dict(session.execute(select(Follower.openid, Follower.last_message_at)
                                    .where(Follower.openid.in_([w.openid for w in winners]))).all())
    pending: list[FinalWinner] = []
    for winner in winners:
        if winner.id in done:
            report.already += 1
            continue
        text = notice_text(config, winner.tier)
        seen = last.get(winner.openid)
        # WeChat already said 45015 for this winner since their last message: straight to the mass message.
        refused = any(n.channel == CUSTOM and n.errcode == OUT_OF_WINDOW and seen is not None and n.at >= seen
                      for n in notices.get(winner.id, []))
        if seen is not None and now - seen < SERVICE_WINDOW and not refused:
            code, message, _ = _call(api, "message/custom/send",
                                     {"touser": winner.openid, "msgtype": "text", "text": {"content": text}})
            _record(runtime, report, winner, CUSTOM, code, message, now)
            if code == 0 or code != OUT_OF_WINDOW:
                continue
        pending.append(winner)
    if pending:
        _mass(runtime, api, report, draw_id, pending, now)
    logger.info("winners of final draw %d told: %d, failed %d, already %d", draw_id, report.told,
                len(report.failed), report.already)
    return report


def _mass(runtime, api, report: NotifyReport, draw_id: int, pending: list[FinalWinner], now: dt.datetime) -> None:
    """One mass message per prize to exactly these winners (its text names the prize)."""
    config = runtime.config
    by_tier: dict[str, list[FinalWinner]] = {}
    for winner in pending:
        by_tier.setdefault(winner.tier, []).append(winner)
    for tier, group in by_tier.items():
        text = {"msgtype": "text", "text": {"content": notice_text(config, tier)}}
        openids = [w.openid for w in group]
        if config.wechat.account_type == "service" and len(openids) >= 2:
            code, message, _ = _call(api, "message/mass/send", {"touser": openids, **text})
            for winner in group:
                _record(runtime, report, winner, OPENIDS, code, message, now)
            continue
        code, message, tag_id = _tag(api, f"中奖者{draw_id}-{tier}"[:30])
        if tag_id is not None:
            for start in range(0, len(openids), BATCH):
                code, message, _ = _call(api, "tags/members/batchtagging",
                                         {"openid_list": openids[start:start + BATCH], "tagid": tag_id})
                if code:
                    break
        if code == 0:
            code, message, _ = _call(api, "message/mass/sendall",
                                     {"filter": {"is_to_all": False, "tag_id": tag_id}, **text})
        for winner in group:
            _record(runtime, report, winner, TAG, code, message, now)


def _tag(api, name: str) -> tuple[int, str, int | None]:
    """The tag of this name (made by an earlier try), or a new one; (errcode, errmsg, tag id)."""
    code, message, answer = _call(api, "tags/get", {})
    if code == 0:
        for tag in answer.get("tags") or []:
            if isinstance(tag, dict) and tag.get("name") == name:
                return 0, "", tag.get("id")
    code, message, answer = _call(api, "tags/create", {"tag": {"name": name}})
    return code, message, (answer.get("tag") or {}).get("id") if code == 0 else None


def _record(runtime, report: NotifyReport, winner: FinalWinner, channel: str, code: int, message: str,
            now: dt.datetime) -> None:
    with runtime.db.session() as session:
        record_notice(session, winner_id=winner.id, channel=channel, errcode=code, errmsg=message, now=now)
    if code == 0:
        report.told += 1
        report.by_channel[channel] = report.by_channel.get(channel, 0) + 1
    else:
        report.failed.append((winner.openid, code, message))
        logger.warning("winner %s not told by %s: errcode %s", short_openid(winner.openid), channel, code)
