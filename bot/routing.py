"""Message routing: which handler answers a message, declared in one place.

Order: events; then keywords (they work mid-quiz); then the conversation state (an active
attempt, or waiting for contact details); then configured replies; else a short help.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from sqlalchemy.orm import Session

from scheduler.delivery import record_delivery
from scheduler.lectures import lectures_text
from scheduler.plan import build_plan

from . import contact, quiz_flow
from .followers import touch_follower
from .models import Follower
from .outreach import (help_text, match_action, match_reply, menu_key, reply_by_id, schedule_text,
                       unknown_text, welcome_text)
from .replies import SILENT, Outgoing


@dataclass
class Turn:
    """One inbound message being handled: the open session and what arrived."""

    session: Session
    runtime: object  # bot.runtime.Runtime
    inbound: object  # bot.inbox.Inbound
    now: dt.datetime  # naive UTC

    @property
    def config(self):
        return self.runtime.config

    @property
    def openid(self) -> str:
        return self.inbound.openid

    @property
    def local_now(self) -> dt.datetime:
        return self.now.replace(tzinfo=dt.timezone.utc).astimezone(self.config.activity.tz)


Handler = Callable[[Turn, Follower], Outgoing]


def _help(turn: Turn, follower: Follower) -> Outgoing:
    return quiz_flow.with_quiz_reminder(turn, follower, help_text(turn.config))


def _schedule(turn: Turn, follower: Follower) -> Outgoing:
    return quiz_flow.with_quiz_reminder(turn, follower, schedule_text(turn.config, build_plan(turn.config)))


def _lectures(turn: Turn, follower: Follower) -> Outgoing:
    text = lectures_text(session=turn.session, config=turn.config, now=turn.now)
    return quiz_flow.with_quiz_reminder(turn, follower, text)


ACTIONS: dict[str, Handler] = {
    "help": _help,
    "schedule": _schedule,
    "lectures": _lectures,
    "quiz": quiz_flow.start,
    "rank": quiz_flow.standing,
    "quit": quiz_flow.quit_attempt,
    "contact": contact.ask,
}


def _run_key(turn: Turn, follower: Follower, key: str) -> Outgoing:
    """Run a menu key: an action name or a configured reply id."""
    if key in ACTIONS:
        return ACTIONS[key](turn, follower)
    text = reply_by_id(turn.config, key)
    return Outgoing(text=text) if text else Outgoing(text=unknown_text(turn.config))


def _event(turn: Turn, follower: Follower) -> Outgoing:
    inbound = turn.inbound
    if inbound.event in ("subscribe", "subscribe_scan"):
        follower.subscribed = True
        follower.subscribed_at = turn.now
        return Outgoing(text=welcome_text(turn.config, turn.local_now))
    if inbound.event == "unsubscribe":
        follower.subscribed = False
        follower.unsubscribed_at = turn.now
        return SILENT
    if inbound.event == "click":
        return _run_key(turn, follower, inbound.content)
    return SILENT


def route(turn: Turn) -> Outgoing:
    """Decide the reply to one message and make its changes in the open session."""
    inbound = turn.inbound
    if inbound.msg_type == "event" and inbound.event == "masssendjobfinish":
        # Sent by the platform about our own mass send, not by a follower.
        record_delivery(session=turn.session, fields=inbound.raw)
        return SILENT
    follower = touch_follower(session=turn.session, openid=turn.openid, now=turn.now,
                              is_event=inbound.msg_type == "event")
    if inbound.msg_type == "event":
        return _event(turn, follower)
    text = inbound.content if inbound.msg_type == "text" else ""
    action = match_action(turn.config, text) if text else None
    if action:
        return ACTIONS[action](turn, follower)
    key = menu_key(turn.config, text) if text else None
    if key:
        # Someone typed a menu button's label: do what the button does.
        return _run_key(turn, follower, key)
    attempt = quiz_flow.active_attempt(turn)
    if attempt is not None:
        return quiz_flow.answer(turn, follower, attempt, text)
    if text and contact.looks_like_contact(text) or follower.state == contact.STATE:
        return contact.receive(turn, follower, text)
    reply = match_reply(turn.config, text) if text else None
    return Outgoing(text=reply or unknown_text(turn.config))
