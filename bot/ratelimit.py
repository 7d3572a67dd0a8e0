"""Per-follower rate limit, shared by every worker through one counter row per openid.

The counter is a fixed window that opens at the follower's first message: one upsert either
starts a new window or adds one to the current one and returns the count, so the hot path costs
a single statement and concurrent workers never lose a count.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import DateTime, bindparam, delete, text
from sqlalchemy.orm import Session

from .config import RateLimitConfig
from .masking import short_openid
from .models import KeyValue

logger = logging.getLogger(__name__)

THROTTLED_TEXT = "操作太频繁，请稍后再试。"
KEY_PREFIX = "rate:"

# Events the platform sends once per real change (or about our own mass send): never throttled,
# so that a subscription, an unsubscription or a delivery report is always recorded.
_EXEMPT_EVENTS = frozenset({"subscribe", "unsubscribe", "masssendjobfinish"})


@dataclass(frozen=True)
class RateDecision:
    """Whether a message may be handled, and how many the follower sent in the current window."""

    allowed: bool
    count: int


# One statement, the same SQL on SQLite and PostgreSQL. Both SET expressions see the row as it
# was, so the window test is the same for each.
COUNT_SQL = (
    "INSERT INTO kv_store (key, value, expires_at) VALUES (:rate_key, '1', :expires) "
    "ON CONFLICT (key) DO UPDATE SET "
    "value = CASE WHEN kv_store.expires_at <= :now THEN '1' "
    "ELSE CAST(CAST(kv_store.value AS INTEGER) + 1 AS TEXT) END, "
    "expires_at = CASE WHEN kv_store.expires_at <= :now THEN excluded.expires_at ELSE kv_store.expires_at END "
    "RETURNING CAST(value AS INTEGER) AS n"
)
_COUNT = text(COUNT_SQL).bindparams(bindparam("now", type_=DateTime), bindparam("expires", type_=DateTime))


def counts_toward_limit(msg_type: str, event: str) -> bool:
    """Say whether a message or event is one a follower can flood the quiz with."""
    return msg_type != "event" or event not in _EXEMPT_EVENTS


def count_params(settings: RateLimitConfig, openid: str, now: dt.datetime) -> dict:
    """The parameters of COUNT_SQL for one message (times as naive UTC datetimes)."""
    return {"rate_key": KEY_PREFIX + openid, "now": now,
            "expires": now + dt.timedelta(seconds=settings.window_seconds)}


def decide(settings: RateLimitConfig, openid: str, count: int) -> RateDecision:
    """Say whether the count-th message in the window is allowed (and log the first one over)."""
    if count == settings.messages + 1:
        logger.warning("rate limit: %s sent over %d messages in %d s", short_openid(openid), settings.messages,
                       settings.window_seconds)
    return RateDecision(allowed=count <= settings.messages, count=count)


def admit(*, session: Session, settings: RateLimitConfig, openid: str, msg_type: str, event: str,
          now: dt.datetime, counted: int | None = None) -> RateDecision:
    """Count one message from a follower in the open transaction and say whether it is within the limit.

    `counted` is the count the message already got and committed on its way here (the quick
    answer on PostgreSQL counts in its own statement before falling back): it is not counted again.
    """
    if not settings.messages or not counts_toward_limit(msg_type, event):
        return RateDecision(allowed=True, count=0)
    if counted is not None:
        return RateDecision(allowed=counted <= settings.messages, count=counted)  # decide() logged it then
    count = int(session.execute(_COUNT, count_params(settings, openid, now)).scalar_one())
    return decide(settings, openid, count)


def purge_expired_counts(*, session: Session, now: dt.datetime) -> int:
    """Delete the counters of windows that have ended (one row per follower who wrote); return how many.

    An ended window's row counts for nothing: the next message starts a new window whether the
    row is there or not, so this may run at any time beside the web workers.
    """
    result = session.execute(delete(KeyValue).where(KeyValue.key.startswith(KEY_PREFIX, autoescape=True),
                                                    KeyValue.expires_at <= now))
    return result.rowcount or 0
