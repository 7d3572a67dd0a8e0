"""The conversation's state changes a decision asks for (plain data); the quiz's are bot.quiz.changes.

Each has exactly one writer (bot.conversation.engine.WRITERS)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClaimMessage:
    """Store the message's reply under its dedupe key: a copy of the message gets this reply."""

    key: str
    openid: str
    msg_type: str
    create_time: int
    reply: str  # the reply text; "" for no reply
    signed: str = ""  # the request's "timestamp:nonce": no other message may be claimed with it


@dataclass(frozen=True)
class CountMessage:
    """Count the message in the follower's rate window; the count must still say what was decided."""

    openid: str
    allowed: bool  # the message was decided as within the limit


@dataclass(frozen=True)
class TouchFollower:
    """Create the follower if new, and note when they last wrote (to the minute it matters)."""

    openid: str
    create: bool
    subscribed_if_new: bool
    last_message: bool


@dataclass(frozen=True)
class SetSubscription:
    openid: str
    subscribed: bool


@dataclass(frozen=True)
class RecordChannel:
    """A follow or scan through a channel QR code: counted every time; the first one says who brought them."""

    openid: str
    scene: str
    event: str  # "subscribe" (a follow through the code) or "scan" (a follower scanning it)


@dataclass(frozen=True)
class SetState:
    """Move the follower's conversation state from `old` (as read) to `new`."""

    openid: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class RecordDelivery:
    """Store the delivery figures of a MASSSENDJOBFINISH event on the push it reports."""

    fields: dict
