"""Followers: first seen, subscribed and unsubscribed times, last message."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from .db import upsert_insert
from .models import Follower

# last_message_at only needs minute precision (the 48-hour customer-service window), so a
# busy follower does not cost an UPDATE on every turn.
LAST_MESSAGE_RESOLUTION = dt.timedelta(minutes=5)


def touch_follower(*, session: Session, openid: str, now: dt.datetime, is_event: bool = False) -> Follower:
    """Return the follower row, creating it if new (safe when two messages race)."""
    follower = session.get(Follower, openid)
    if follower is None:
        insert = upsert_insert(session)
        session.execute(insert(Follower).values(openid=openid, first_seen_at=now, subscribed=not is_event)
                        .on_conflict_do_nothing(index_elements=["openid"]))
        follower = session.get(Follower, openid)
    if not is_event and last_message_stale(follower.last_message_at, now):
        follower.last_message_at = now
    return follower


def last_message_stale(last_message_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Say whether a message now should update the follower's last_message_at."""
    return last_message_at is None or now - last_message_at >= LAST_MESSAGE_RESOLUTION
