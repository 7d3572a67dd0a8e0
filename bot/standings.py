"""A player's standing is their best ended attempt: score, then less time, then earlier finish."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
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


def refresh_best(*, session: Session, openid: str) -> Attempt | None:
    """Mark the player's best ended attempt (and only it) as best; return it."""
    best = session.scalars(select(Attempt).where(Attempt.openid == openid, Attempt.status.in_(ENDED))
                           .order_by(*STANDING_ORDER).limit(1)).first()
    session.execute(update(Attempt).where(Attempt.openid == openid, Attempt.best.is_(True))
                    .values(best=False))
    if best is not None:
        session.execute(update(Attempt).where(Attempt.id == best.id).values(best=True))
        best.best = True
    return best


def rank_of(*, session: Session, attempt: Attempt) -> int:
    """Return the 1-based rank of a best attempt among all players (one indexed count)."""
    better = or_(
        Attempt.score > attempt.score,
        and_(Attempt.score == attempt.score, Attempt.duration_seconds < attempt.duration_seconds),
        and_(Attempt.score == attempt.score, Attempt.duration_seconds == attempt.duration_seconds,
             Attempt.finished_at < attempt.finished_at),
        and_(Attempt.score == attempt.score, Attempt.duration_seconds == attempt.duration_seconds,
             Attempt.finished_at == attempt.finished_at, Attempt.id < attempt.id),
    )
    return session.scalar(select(func.count()).select_from(Attempt).where(Attempt.best.is_(True), better)) + 1


def player_count(*, session: Session) -> int:
    """Return how many players have an ended attempt."""
    return session.scalar(select(func.count()).select_from(Attempt).where(Attempt.best.is_(True)))


def standing_of(*, session: Session, openid: str) -> Standing | None:
    """Return a player's standing, or None if they have not finished an attempt."""
    best = session.scalars(select(Attempt).where(Attempt.openid == openid, Attempt.best.is_(True))).first()
    if best is None:
        return None
    return Standing(attempt=best, rank=rank_of(session=session, attempt=best), players=player_count(session=session))
