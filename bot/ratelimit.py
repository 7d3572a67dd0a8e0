"""Per-follower rate limit, shared by every worker through one counter row per openid.

The counter is a fixed window that opens at the follower's first message: one upsert either
starts a new window or adds one to the current one and returns the count, so the hot path costs
a single statement and concurrent workers never lose a count.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Integer, Text, case, cast
from sqlalchemy.orm import Session

from .config import RateLimitConfig
from .db import upsert_insert
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


def counts_toward_limit(msg_type: str, event: str) -> bool:
    """Say whether a message or event is one a follower can flood the quiz with."""
    return msg_type != "event" or event not in _EXEMPT_EVENTS


def admit(*, session: Session, settings: RateLimitConfig, openid: str, msg_type: str, event: str,
          now: dt.datetime) -> RateDecision:
    """Count one message from a follower in the open transaction and say whether it is within the limit."""
    if not settings.messages or not counts_toward_limit(msg_type, event):
        return RateDecision(allowed=True, count=0)
    insert = upsert_insert(session)
    window_over = KeyValue.expires_at <= now
    stmt = insert(KeyValue).values(key=KEY_PREFIX + openid, value="1",
                                   expires_at=now + dt.timedelta(seconds=settings.window_seconds))
    # Both SET expressions see the row as it was, so the window test is the same for each.
    stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
        "value": case((window_over, "1"), else_=cast(cast(KeyValue.value, Integer) + 1, Text)),
        "expires_at": case((window_over, stmt.excluded.expires_at), else_=KeyValue.expires_at),
    }).returning(KeyValue.value)
    count = int(session.execute(stmt).scalar_one())
    allowed = count <= settings.messages
    if count == settings.messages + 1:
        logger.warning("rate limit: %s sent over %d messages in %d s", short_openid(openid), settings.messages,
                       settings.window_seconds)
    return RateDecision(allowed=allowed, count=count)
