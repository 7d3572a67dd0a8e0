"""Final draws: a draw confirmed as final is recorded (rule, seed, the eligible list's digest, the winners)
and never changed; a later confirmation is a new record beside it, and the newest one is in force.

`record_final` is the one writer of final draws and their winners.
"""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.storage.models import FinalDraw, FinalWinner, WinnerNotice
from exports.winners import Draw

CONSOLE, CLI = "后台", "命令行"


def winners_digest(draw: Draw) -> str:
    """SHA-256 of "tier<TAB>rank<TAB>openid" lines: what a later check compares the record with."""
    h = hashlib.sha256()
    for w in draw.winners:
        h.update(f"{w.tier}\t{w.rank}\t{w.player.openid}\n".encode("utf-8"))
    return h.hexdigest()


def record_final(session: Session, draw: Draw, *, source: str, by: str, now: dt.datetime) -> FinalDraw:
    """Record a draw as final, with its winners; returns the record (its id is its number)."""
    row = FinalDraw(drawn_at=now, source=source, drawn_by=by[:64], rule=draw.rule, seed=draw.seed,
                    tiers=",".join(f"{t.name}:{t.count}" for t in draw.tiers), pass_score=draw.pass_score,
                    require_contact=draw.require_contact, eligible_count=len(draw.eligible),
                    eligible_digest=draw.digest, winners_digest=winners_digest(draw))
    session.add(row)
    session.flush()
    session.add_all(FinalWinner(draw_id=row.id, openid=w.player.openid, tier=w.tier, rank=w.rank, score=w.player.score,
                                name=w.player.name, phone=w.player.phone) for w in draw.winners)
    return row


def final_draws(session: Session) -> list[FinalDraw]:
    """Every final draw, newest first."""
    return list(session.scalars(select(FinalDraw).order_by(FinalDraw.id.desc())))


def in_force(session: Session) -> FinalDraw | None:
    """The newest final draw, the one in force."""
    return session.scalars(select(FinalDraw).order_by(FinalDraw.id.desc()).limit(1)).first()


def winners_of(session: Session, draw_id: int) -> list[FinalWinner]:
    return list(session.scalars(select(FinalWinner).where(FinalWinner.draw_id == draw_id).order_by(FinalWinner.rank)))


def notices_of(session: Session, draw_id: int) -> dict[int, list[WinnerNotice]]:
    """Every try at telling each winner of a final draw, oldest first, by winner id."""
    found: dict[int, list[WinnerNotice]] = {}
    for notice in session.scalars(select(WinnerNotice).join(FinalWinner, FinalWinner.id == WinnerNotice.winner_id)
                                  .where(FinalWinner.draw_id == draw_id).order_by(WinnerNotice.id)):
        found.setdefault(notice.winner_id, []).append(notice)
    return found


def count_final(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(FinalDraw)) or 0
