"""Signed requests already used: one kv_store row per (timestamp, nonce), holding the message it brought.

WeChat signs a request's query string (token, timestamp, nonce), and in plaintext mode nothing
else, so a captured query string could carry any body until its timestamp leaves the window.
The first message claimed with a (timestamp, nonce) pair keeps it for the window; another
message with the same pair is a replay. A copy of the same message never reaches this: its
stored reply answers it before anything is written.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.storage.driver_sql import DriverConnection, Statement
from bot.storage.models import KeyValue

KEY_PREFIX = "signed:"

# Takes the pair unless another message holds it inside its window; returns a row only when taken.
_TAKE = Statement(
    "INSERT INTO kv_store (key, value, expires_at) VALUES (:signed_key, :message, :expires) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
    "WHERE kv_store.expires_at <= :now OR kv_store.value = excluded.value "
    "RETURNING 1"
)


class Replayed(Exception):
    """The request's signed (timestamp, nonce) already brought another message: refuse it."""


def take(conn: DriverConnection, *, signed: str, message_key: str, now: dt.datetime, window_seconds: int) -> None:
    """Record that `signed` brought `message_key`, in the open transaction; Replayed if it brought another."""
    params = {"signed_key": KEY_PREFIX + signed, "message": message_key[:200], "now": conn.stored_time(now),
              # Twice the window: a timestamp may be up to one window ahead of the clock as well as behind.
              "expires": conn.stored_time(now + dt.timedelta(seconds=2 * window_seconds))}

    def taken(rows) -> bool:
        if not rows:
            raise Replayed
        return True

    conn.write(_TAKE, params, fetch=True, check=taken)


def purge_expired(*, session: Session, now: dt.datetime) -> int:
    """Delete the pairs whose window has ended; return how many (safe beside the web workers)."""
    result = session.execute(delete(KeyValue).where(KeyValue.key.startswith(KEY_PREFIX, autoescape=True),
                                                    KeyValue.expires_at <= now))
    return result.rowcount or 0
