"""A player's standing is their best ended attempt: score, then less time, then earlier finish."""
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
_AHEAD = select(func.count()).select_from(Attempt).where(Attempt.best.is_(True), or_(
    Attempt.score > _score,
    and_(Attempt.score == _score, Attempt.duration_seconds < _duration),
    and_(Attempt.score == _score, Attempt.duration_seconds == _duration, Attempt.finished_at < _finished),
    and_(Attempt.score == _score, Attempt.duration_seconds == _duration, Attempt.finished_at == _finished,
         Attempt.id < _id),
))
_PLAYERS = select(func.count()).select_from(Attempt).where(Attempt.best.is_(True))


def refresh_best(*, session: Session, openid: str) -> int | None:
    """Mark the player's best ended attempt (and only it) as best; return its id."""
    best_id = session.scalar(_BEST_OF, {"openid": openid})
    session.execute(_MARK_BEST, {"b_openid": openid, "best_id": best_id if best_id is not None else -1})
    return best_id


def rank_of(*, session: Session, attempt: Attempt) -> int:
    """Return the 1-based rank of a best attempt among all players (one indexed count)."""
    return session.scalar(_AHEAD, {"score": attempt.score, "duration": attempt.duration_seconds,
                                   "finished": attempt.finished_at, "id": attempt.id}) + 1


def player_count(*, session: Session) -> int:
    """Return how many players have an ended attempt."""
    return session.scalar(_PLAYERS)


def standing_of(*, session: Session, openid: str) -> Standing | None:
    """Return a player's standing, or None if they have not finished an attempt."""
    best = session.scalars(select(Attempt).where(Attempt.openid == openid, Attempt.best.is_(True))).first()
    if best is None:
        return None
    return Standing(attempt=best, rank=rank_of(session=session, attempt=best), players=player_count(session=session))
