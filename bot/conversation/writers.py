"""The writers of the conversation's own state: the claimed message, the rate count, the follower.

Each runs inside the engine's write transaction on the driver connection and raises Conflict
when what it guards changed since the turn was read; the engine then decides the turn again.
"""
from __future__ import annotations

import datetime as dt

from bot.config import Config
from bot.conversation import ratelimit
from bot.conversation.changes import (ClaimMessage, CountMessage, RecordChannel, SetState, SetSubscription,
                                      TouchFollower)
from bot.storage import counters, signed_requests
from bot.storage.driver_sql import DriverConnection, Statement


_CLAIM = Statement("""
    INSERT INTO inbound_messages (dedupe_key, openid, msg_type, create_time, received_at, reply)
    VALUES (:key, :openid, :msg_type, :create_time, :now, :reply)
""")
_NEW_FOLLOWER = Statement("""
    INSERT INTO followers (openid, first_seen_at, subscribed, last_message_at)
    VALUES (:openid, :now, :subscribed, :last)
    ON CONFLICT (openid) DO UPDATE SET last_message_at = coalesce(excluded.last_message_at, followers.last_message_at)
""")
_TOUCH = Statement("UPDATE followers SET last_message_at = :now WHERE openid = :openid")
_SUBSCRIBE = Statement("UPDATE followers SET subscribed = :yes, subscribed_at = :now WHERE openid = :openid")
_UNSUBSCRIBE = Statement("UPDATE followers SET subscribed = :no, unsubscribed_at = :now WHERE openid = :openid")
_SCAN = Statement("INSERT INTO channel_scans (openid, scene, event, at) VALUES (:openid, :scene, :event, :now)")
_BROUGHT = Statement("""
    INSERT INTO follower_channels (openid, scene, at) VALUES (:openid, :scene, :now)
    ON CONFLICT (openid) DO NOTHING
""")
_SET_STATE = Statement("""
    UPDATE followers SET state = :new WHERE openid = :openid AND coalesce(state, '') = :old
""")


def claim_message(conn: DriverConnection, change: ClaimMessage, *, now: dt.datetime, config: Config) -> None:
    """Store the reply under the message's key; a copy committed first makes this fail on the unique key.

    The signed request that brought the message is taken with it: Replayed if it brought another message.
    """
    conn.write(_CLAIM, {"key": change.key, "openid": change.openid, "msg_type": change.msg_type,
                          "create_time": change.create_time, "now": conn.stored_time(now), "reply": change.reply})
    if change.signed:
        signed_requests.take(conn, signed=change.signed, message_key=change.key, now=now,
                             window_seconds=config.wechat.timestamp_window_seconds)


def count_message(conn: DriverConnection, change: CountMessage, *, now: dt.datetime, config: Config) -> None:
    """Count the message toward the rate limit; Conflict if other messages counted meanwhile changed the verdict.

    The count commits with the message's claim or not at all, so copies of one message count once.
    """
    settings = config.ratelimit

    def agrees(count: int) -> bool:
        ratelimit.log_first_over(settings, change.openid, count)
        return ratelimit.within(settings, count) == change.allowed

    counters.count_message(conn, openid=change.openid, now=now, window_seconds=settings.window_seconds, check=agrees)


def touch_follower(conn: DriverConnection, change: TouchFollower, *, now: dt.datetime, config: Config) -> None:
    """Create a new follower (safe when two messages race: the second only notes its message), or note
    their latest message."""
    at = conn.stored_time(now)
    if change.create:
        conn.write(_NEW_FOLLOWER, {"openid": change.openid, "now": at, "subscribed": change.subscribed_if_new,
                                     "last": at if change.last_message else None})
    elif change.last_message:
        conn.write(_TOUCH, {"openid": change.openid, "now": at})


def set_subscription(conn: DriverConnection, change: SetSubscription, *, now: dt.datetime, config: Config) -> None:
    """Record a follow or an unfollow, with its time."""
    conn.write(_SUBSCRIBE if change.subscribed else _UNSUBSCRIBE,
               {"openid": change.openid, "now": conn.stored_time(now), "yes": True, "no": False})


def record_channel(conn: DriverConnection, change: RecordChannel, *, now: dt.datetime, config: Config) -> None:
    """Count a follow or scan through a channel code, and note the channel that first brought the follower."""
    params = {"openid": change.openid, "scene": change.scene, "event": change.event, "now": conn.stored_time(now)}
    conn.write(_SCAN, params)
    conn.write(_BROUGHT, params)


def set_state(conn: DriverConnection, change: SetState, *, now: dt.datetime, config: Config) -> None:
    """Move the follower's conversation state; Conflict if it is no longer the state that was read."""
    conn.write(_SET_STATE, {"openid": change.openid, "old": change.old or "", "new": change.new},
               check=lambda changed: changed == 1)
