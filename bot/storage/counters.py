"""Per-follower message counters for the rate limit: one kv_store row per openid and window.

The counter is a fixed window that opens at the follower's first message: one upsert either
starts a new window or adds one to the current one and returns the count, so concurrent
workers never lose a count. The rule (how many are allowed) is bot.conversation.ratelimit's.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import delete
from sqlalchemy.orm import Session

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
