"""The push log: one row per planned push, read and updated inside the caller's session."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import and_, not_, select
from sqlalchemy.orm import Session

from bot.storage.models import Attempt, Follower, KeyValue, PushLog

from scheduler.plan import PlannedPush

# Extra msg_ids of a push sent in several openid chunks: "push-msg:<msg_id>" -> {"key", "counts"}.
CHUNK_PREFIX = "push-msg:"
# The mpvideo media id made for a push, reused by its preview and send while WeChat keeps it.
MEDIA_PREFIX = "push-media:"


def log_rows(session: Session) -> dict[str, PushLog]:
    """Return every push-log row by key."""
    return {row.key: row for row in session.scalars(select(PushLog))}


def ensure_row(session: Session, push: PlannedPush, *, lock: bool = False) -> PushLog:
    """Return the push's row (locked for update if asked), creating it as planned."""
    row = session.get(PushLog, push.key, with_for_update=lock)
    if row is None:
        row = PushLog(key=push.key, title=push.title, kind=push.kind, planned_at=push.at_utc, status="planned",
                      tries=0, error="")
        session.add(row)
        session.flush()
    elif row.status not in ("sent", "delivered"):
        row.title, row.kind, row.planned_at = push.title, push.kind, push.at_utc
    return row


def mark_missed(session: Session, push: PlannedPush, *, now: dt.datetime, error: str = "") -> PushLog:
    """Record that a push's time passed beyond the grace period without it being sent."""
    row = ensure_row(session, push, lock=True)
    if row.status in ("sent", "delivered", "failed", "missed"):
        return row
    if row.status == "sending":
        row.status = "failed"
    else:
        row.status = "missed"
    row.error = error
    row.finished_at = now
    return row


def participant_openids(session: Session) -> list[str]:
    """Return the openids of quiz participants who have not unsubscribed, in a stable order."""
    unsubscribed = and_(Follower.subscribed.is_(False), Follower.unsubscribed_at.is_not(None))
    query = (select(Attempt.openid).join(Follower, Follower.openid == Attempt.openid)
             .where(not_(unsubscribed)).distinct().order_by(Attempt.openid))
    return list(session.scalars(query))


def remember_chunks(session: Session, key: str, msg_ids: list[str]) -> None:
    """Store the msg_id of every chunk so each chunk's delivery event finds its push."""
    for msg_id in msg_ids:
        row = session.get(KeyValue, CHUNK_PREFIX + msg_id)
        if row is None:
            session.add(KeyValue(key=CHUNK_PREFIX + msg_id, value=json.dumps({"key": key, "counts": None})))


def cached_media(session: Session, key: str, now: dt.datetime) -> str:
    """Return the mpvideo media id made earlier for this push, if WeChat still keeps it."""
    row = session.get(KeyValue, MEDIA_PREFIX + key)
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return ""
    return row.value


def cache_media(session: Session, key: str, media_id: str, expires_at: dt.datetime) -> None:
    """Remember the mpvideo media id made for this push until expires_at."""
    row = session.get(KeyValue, MEDIA_PREFIX + key)
    if row is None:
        session.add(KeyValue(key=MEDIA_PREFIX + key, value=media_id, expires_at=expires_at))
    else:
        row.value, row.expires_at = media_id, expires_at
