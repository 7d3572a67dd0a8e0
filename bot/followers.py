"""Followers: first seen, subscribed and unsubscribed times, last message."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .models import Follower


def touch_follower(*, session: Session, openid: str, now: dt.datetime, is_event: bool = False) -> Follower:
    """Return the follower row, creating it if new (safe when two messages race)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(Follower).values(openid=openid, first_seen_at=now, subscribed=not is_event)
                    .on_conflict_do_nothing(index_elements=["openid"]))
    if not is_event:
        session.execute(update(Follower).where(Follower.openid == openid).values(last_message_at=now))
    return session.get(Follower, openid, populate_existing=True)
