"""A player's standing is their best ended attempt: score, then less time, then earlier finish.

Ranks and player counts leave out the test accounts (quiz.testers): their scores count for
nothing. A tester is told where their attempt would rank among the real players.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from .models import Attempt

ENDED = ("finished", "expired", "abandoned")

# The one ordering for standings, ranks and `top` winners.
STANDING_ORDER = (Attempt.score.desc(), Attempt.duration_seconds.asc(), Attempt.finished_at.asc(), Attempt.id.asc())


@dataclass(frozen=True)
class Standing:
    """A player's best attempt and where it ranks."""

    attempt: Attempt
    rank: int
    players: int


# Built once; only their parameters change per call.
_BEST_OF = (select(Attempt.id).where(Attempt.openid == bindparam("openid"), Attempt.status.in_(ENDED))
            .order_by(*STANDING_ORDER).limit(1))
_MARK_BEST = (update(Attempt).where(Attempt.openid == bindparam("b_openid"),
                                    or_(Attempt.best.is_(True), Attempt.id == bindparam("best_id")))
              .values(best=Attempt.id == bindparam("best_id")))
_score, _duration, _finished, _id = (bindparam(name) for name in ("score", "duration", "finished", "id"))
_IS_AHEAD = or_(
    Attempt.score > _score,
    and_(Attempt.score == _score, Attempt.duration_seconds < _duration),
    and_(Attempt.score == _score, Attempt.duration_seconds == _duration, Attempt.finished_at < _finished),
    and_(Attempt.score == _score, Attempt.duration_seconds == _duration, Attempt.finished_at == _finished,
         Attempt.id < _id),
)
_TESTER = Attempt.openid.in_(bindparam("testers", expanding=True))
# Counted over every best attempt (the standings index), then the testers' few taken off.
_AHEAD = select(func.count()).select_from(Attempt).where(Attempt.best.is_(True), _IS_AHEAD)
_TESTERS_AHEAD = select(func.count()).select_from(Attempt).where(_TESTER, Attempt.best.is_(True), _IS_AHEAD)
_PLAYERS = select(func.count()).select_from(Attempt).where(Attempt.best.is_(True))
_TESTER_PLAYERS = select(func.count()).select_from(Attempt).where(_TESTER, Attempt.best.is_(True))


def refresh_best(*, session: Session, openid: str) -> int | None:
    """Mark the player's best ended attempt (and only it) as best; return its id."""
    best_id = session.scalar(_BEST_OF, {"openid": openid})
    session.execute(_MARK_BEST, {"b_openid": openid, "best_id": best_id if best_id is not None else -1})
    return best_id


def rank_of(*, session: Session, attempt: Attempt, testers: tuple[str, ...]) -> int:
    """Return the 1-based rank of a best attempt among the players who are not testers."""
    params = {"score": attempt.score, "duration": attempt.duration_seconds, "finished": attempt.finished_at,
              "id": attempt.id}
    ahead = session.scalar(_AHEAD, params)
    if testers:
        ahead -= session.scalar(_TESTERS_AHEAD, {**params, "testers": list(testers)})
    return ahead + 1


def player_count(*, session: Session, testers: tuple[str, ...]) -> int:
    """Return how many players (not testers) have an ended attempt."""
    players = session.scalar(_PLAYERS)
    if testers:
        players -= session.scalar(_TESTER_PLAYERS, {"testers": list(testers)})
    return players


def players_seen_by(openid: str, players: int, testers: tuple[str, ...]) -> int:
    """The player count a player is told: the real players, and a tester among them."""
    return players + (1 if openid in testers else 0)


def standing_of(*, session: Session, openid: str, testers: tuple[str, ...]) -> Standing | None:
    """Return a player's standing, or None if they have not finished an attempt."""
    best = session.scalars(select(Attempt).where(Attempt.openid == openid, Attempt.best.is_(True))).first()
    if best is None:
        return None
    players = players_seen_by(openid, player_count(session=session, testers=testers), testers)
    return Standing(attempt=best, rank=rank_of(session=session, attempt=best, testers=testers), players=players)
