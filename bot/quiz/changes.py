"""The quiz's state changes a decision asks for (plain data); each has exactly one writer (bot.quiz.writers)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class StoreContact:
    """Store (or correct) a qualified player's name and mobile and the other configured details."""

    openid: str
    name: str | None  # None with phone None: only `details` change
    phone: str | None
    details: tuple[tuple[str, str], ...] = ()  # (field, value) of bot.quiz.details.FIELDS


@dataclass(frozen=True)
class StartAttempt:
    openid: str
    bank_id: int
    local_day: dt.date
    items: tuple[dict, ...]
    max_score: int
    create_time: int


@dataclass(frozen=True)
class RecordAnswer:
    """Store the graded answer to item `index` of an attempt."""

    attempt_id: int
    index: int
    response: str
    original_choice: str | None
    correct: bool
    points: int


@dataclass(frozen=True)
class MoveAttempt:
    """Advance or end an attempt that is still active on question `index` (as read).

    The values are the attempt's new ones; the write only applies if nothing moved the attempt
    since it was read, else the turn is decided again from a fresh read.
    """

    attempt_id: int
    index: int
    next_index: int
    score: int
    correct_count: int
    last_activity_at: dt.datetime
    last_answer_create_time: int
    status: str  # "active" to advance; finished, expired or abandoned to end
    finished_at: dt.datetime | None = None
    duration_seconds: int | None = None


@dataclass(frozen=True)
class MarkBest:
    """Make `attempt_id` the player's best attempt (and no other)."""

    openid: str
    attempt_id: int
