"""Counters in kv_store rows: per-follower message counts for the rate limit, and capped counts.

The rate counter is a fixed window that opens at the follower's first message: one upsert either
starts a new window or adds one to the current one and returns the count, so concurrent
workers never lose a count. The rule (how many are allowed) is bot.conversation.ratelimit's.

A capped count (count_below) refuses to go past its cap in the same upsert that counts, so
however many callers arrive at once, at most `cap` of them are counted in a window: the staff
login reserves its attempt this way before it checks a password.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import Integer, Text, case, cast, delete, or_, update
from sqlalchemy.orm import Session

from bot.storage.db import upsert_insert
from bot.storage.driver_sql import DriverConnection, Statement
from bot.storage.models import KeyValue

KEY_PREFIX = "rate:"

# The same SQL on SQLite and PostgreSQL. Both SET expressions see the row as it was, so the
# window test is the same for each.
_COUNT = Statement(
    "INSERT INTO kv_store (key, value, expires_at) VALUES (:rate_key, '1', :expires) "
    "ON CONFLICT (key) DO UPDATE SET "
    "value = CASE WHEN kv_store.expires_at <= :now THEN '1' "
    "ELSE CAST(CAST(kv_store.value AS INTEGER) + 1 AS TEXT) END, "
    "expires_at = CASE WHEN kv_store.expires_at <= :now THEN excluded.expires_at ELSE kv_store.expires_at END "
    "RETURNING CAST(value AS INTEGER) AS n"
)


def rate_key(openid: str) -> str:
    return KEY_PREFIX + openid


def count_message(conn: DriverConnection, *, openid: str, now: dt.datetime, window_seconds: int,
                  check: Callable[[int], bool]) -> None:
    """Count one message in the follower's current window (opening a new one if it ended), in the open
    transaction; `check` gets the count and must hold, or the transaction is a Conflict."""
    params = {"rate_key": rate_key(openid), "now": conn.stored_time(now),
              "expires": conn.stored_time(now + dt.timedelta(seconds=window_seconds))}
    conn.write(_COUNT, params, fetch=True, check=lambda rows: check(int(rows[0][0])))


def purge_expired_counts(*, session: Session, now: dt.datetime) -> int:
    """Delete the counters of windows that have ended (one row per follower who wrote); return how many.

    An ended window's row counts for nothing: the next message starts a new window whether the
    row is there or not, so this may run at any time beside the web workers.
    """
    result = session.execute(delete(KeyValue).where(KeyValue.key.startswith(KEY_PREFIX, autoescape=True),
                                                    KeyValue.expires_at <= now))
    return result.rowcount or 0


def count_below(*, session: Session, key: str, now: dt.datetime, expires: dt.datetime, cap: int) -> int | None:
    """Add one to a counter unless its window already holds `cap`; return the new count, or None when full.

    A window that has ended starts again at one. Each count moves the window's end to `expires`:
    a window that slides with every count, or a fixed one when every caller in it passes the same end.
    """
    insert = upsert_insert(session)
    count = cast(KeyValue.value, Integer)
    ended = KeyValue.expires_at <= now
    stmt = insert(KeyValue).values(key=key, value="1", expires_at=expires)
    stmt = stmt.on_conflict_do_update(
        index_elements=[KeyValue.key],
        set_={"value": case((ended, "1"), else_=cast(count + 1, Text)), "expires_at": stmt.excluded.expires_at},
        where=or_(ended, count < cap),
    ).returning(count)
    return session.execute(stmt).scalar_one_or_none()


def uncount(*, session: Session, key: str, now: dt.datetime) -> None:
    """Take one count back from a counter's current window (one that turned out not to count)."""
    count = cast(KeyValue.value, Integer)
    session.execute(update(KeyValue).where(KeyValue.key == key, KeyValue.expires_at > now, count > 0)
                    .values(value=cast(count - 1, Text)).execution_options(synchronize_session=False))
