"""What the engine reads before deciding a turn: the facts about one follower and their quiz.

The base facts come in one read for every message. The rest are read only when a decision
needs them: `decide` asks for a fact it lacks by raising Missing, the engine reads it and
decides again, so the decision stays a pure function of what was read.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.quiz.rules import StandingKey


class Missing(Exception):
    """The decision needs facts that were not read yet (the engine reads them and decides again)."""

    def __init__(self, fact: str, arg: Any = None, *, more: tuple[str, ...] = ()):
        super().__init__(fact)
        self.fact = fact
        self.arg = arg
        self.more = more  # further facts (without argument) the same decision will need


@dataclass(frozen=True)
class FollowerFacts:
    openid: str
    state: str | None
    name: str | None
    phone: str | None
    last_message_at: dt.datetime | None
    subscribed: bool


@dataclass(frozen=True)
class AttemptFacts:
    id: int
    current_index: int
    total_questions: int
    last_activity_at: dt.datetime
    last_answer_create_time: int
    score: int
    correct_count: int
    max_score: int
    started_at: dt.datetime


@dataclass(frozen=True)
class ItemFacts:
    position: int
    snapshot: dict
    option_order: list[int]


@dataclass(frozen=True)
class RateWindow:
    """The follower's rate-limit window as stored: messages counted and when the window ends."""

    count: int
    expires_at: dt.datetime


@dataclass(frozen=True)
class Best:
    """A player's best ended attempt, and how many attempts they have ended."""

    key: StandingKey
    ended: int


@dataclass(frozen=True)
class Rank:
    """How many real players stand above a standing key, and how many real players there are."""

    ahead: int
    players: int


@dataclass
class Facts:
    """Everything a decision may use. Base facts are always read; the optional ones on demand."""

    stored_reply: str | None
    stored_create_time: int | None  # the CreateTime the stored reply was first rendered with
    follower: FollowerFacts | None
    attempt: AttemptFacts | None
    items: tuple[ItemFacts, ...]  # the attempt's current item, then the next one if any
    rate: RateWindow | None
    loaded: dict[str, Any] = field(default_factory=dict)

    def need(self, fact: str, arg: Any = None) -> Any:
        """Return an on-demand fact, or raise Missing so that the engine reads it."""
        key = fact if arg is None else (fact, arg)
        if key not in self.loaded:
            raise Missing(fact, arg)
        return self.loaded[key]

    def prefetch(self, *facts: str) -> None:
        """Ask at once for facts a decision is about to need, so that they are read in one go."""
        missing = tuple(fact for fact in facts if fact not in self.loaded)
        if missing:
            raise Missing(missing[0], more=missing[1:])

    def used(self) -> tuple[int, int]:
        """Attempts the player started in all and today (the active one included)."""
        return self.need("used")

    def best(self) -> Best | None:
        return self.need("best")

    def rank(self, key: StandingKey) -> Rank:
        return self.need("rank", key)

    def pool(self):
        """The quiz bank's current pool (bot.quiz.bank_pool.BankPool), or None if there is no such bank."""
        return self.need("pool")

    def seen(self) -> frozenset[int]:
        """Questions this player was already given."""
        return self.need("seen")

    def lectures(self) -> str:
        return self.need("lectures")

    def details(self) -> dict[str, str]:
        """The registration details stored besides name and mobile (bot.quiz.details), {} if none."""
        return self.need("details")

    def top(self) -> list:
        """The leaderboard's top rows (bot.quiz.leaderboard)."""
        return self.need("top")

    def prize(self) -> str | None:
        """The prize this follower won in the final draw in force (its tier), or None."""
        return self.need("prize")
