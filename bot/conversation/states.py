"""The follower's conversation states and the transitions between them, declared in one place.

A follower is always in exactly one state, derived from what is stored: an active attempt
means IN_QUIZ (or CONFIRM_QUIT while we wait for them to confirm ending it early); otherwise
Follower.state says whether we wait for prize details (AWAIT_CONTACT), else IDLE.

Keywords, menu buttons and events are answered in every state (decide.EVERY_STATE); the rest
of a message goes to its state's handler (decide.STATES). A handler names the state that
follows, and only the transitions listed in TRANSITIONS may happen.
"""
from __future__ import annotations

from bot.conversation.facts import Facts
from bot.quiz.registration import STATE as CONTACT_STATE

IDLE = "idle"
IN_QUIZ = "in_quiz"
CONFIRM_QUIT = "confirm_quit"
AWAIT_CONTACT = "await_contact"

TRANSITIONS: dict[str, frozenset[str]] = {
    IDLE: frozenset({IDLE, IN_QUIZ, AWAIT_CONTACT}),
    IN_QUIZ: frozenset({IN_QUIZ, CONFIRM_QUIT, IDLE, AWAIT_CONTACT}),
    CONFIRM_QUIT: frozenset({CONFIRM_QUIT, IN_QUIZ, IDLE, AWAIT_CONTACT}),
    AWAIT_CONTACT: frozenset({AWAIT_CONTACT, IDLE, IN_QUIZ}),
}

_QUIT_PREFIX = "quit:"


def state_of(facts: Facts) -> str:
    """Name the follower's state from the facts read."""
    stored = facts.follower.state if facts.follower else None
    if facts.attempt is not None:
        return CONFIRM_QUIT if stored == f"{_QUIT_PREFIX}{facts.attempt.id}" else IN_QUIZ
    if stored == CONTACT_STATE or (stored or "").startswith(CONTACT_STATE + ":"):
        return AWAIT_CONTACT
    return IDLE


def awaited(facts: Facts) -> str:
    """The registration field asked for while in AWAIT_CONTACT ("" for name and mobile)."""
    stored = (facts.follower.state if facts.follower else None) or ""
    return stored.partition(":")[2] if stored.startswith(CONTACT_STATE + ":") else ""


def stored_state(state: str, attempt_id: int | None, awaiting: str = "") -> str | None:
    """What Follower.state holds in `state` (a confirmation is tied to its attempt, so it never outlives it;
    while details are awaited, the field asked for)."""
    if state == CONFIRM_QUIT:
        return f"{_QUIT_PREFIX}{attempt_id}"
    if state == AWAIT_CONTACT:
        return f"{CONTACT_STATE}:{awaiting}" if awaiting else CONTACT_STATE
    return None
