"""The rate limit rule: how many messages a follower may send in a window (pure functions).

The counter itself is bot.storage.counters; the engine counts each message in its write
transaction, with the message's claim, and decides again if the count it gets there no longer
agrees with the decision made here. So copies of one message on two workers count once.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.config import RateLimitConfig
from bot.masking import short_openid

logger = logging.getLogger(__name__)

THROTTLED_TEXT = "操作太频繁，请稍后再试。"

# Events the platform sends once per real change (or about our own mass send): never throttled,
# so that a subscription, an unsubscription or a delivery report is always recorded.
_EXEMPT_EVENTS = frozenset({"subscribe", "subscribe_scan", "unsubscribe", "masssendjobfinish"})


@dataclass(frozen=True)
class RateDecision:
    """Whether a message may be handled, and what the follower's count becomes as read (0: not counted)."""

    allowed: bool
    count: int


def counts_toward_limit(msg_type: str, event: str) -> bool:
    """Say whether a message or event is one a follower can flood the quiz with."""
    return msg_type != "event" or event not in _EXEMPT_EVENTS


def decide(settings: RateLimitConfig, *, msg_type: str, event: str, window_count: int | None,
           window_ends: dt.datetime | None, now: dt.datetime) -> RateDecision:
    """Say whether one more message is allowed, given the follower's window as read."""
    if not settings.messages or not counts_toward_limit(msg_type, event):
        return RateDecision(allowed=True, count=0)
    count = 1 if window_count is None or window_ends is None or window_ends <= now else window_count + 1
    return RateDecision(allowed=within(settings, count), count=count)


def within(settings: RateLimitConfig, count: int) -> bool:
    """Say whether the count-th message of a window is within the limit."""
    return count <= settings.messages


def log_first_over(settings: RateLimitConfig, openid: str, count: int) -> None:
    """Log the first message over the limit in a window (once, not for every one after it)."""
    if count == settings.messages + 1:
        logger.warning("rate limit: %s sent over %d messages in %d s", short_openid(openid), settings.messages,
                       settings.window_seconds)
