"""Fair-play review from the database: the flags of bot.quiz.fairplay for every real player, and clearances.

A clearance is a row of its own (FairPlayClearance), written by `clear` only: every clearing is kept
with who and when. A player is left out of draws while a flag stands without a clearance.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.quiz.fairplay import AttemptTiming, Flag, answer_seconds, fairplay_settings, find_flags
from bot.quiz.standings import ENDED, real_players
from bot.storage.models import Attempt, AttemptItem, FairPlayClearance, Follower, Registration


@dataclass(frozen=True)
class Reviewed:
    """A flagged player: the flags, their details and the latest clearance (None: waiting for review)."""

    openid: str
    name: str
    phone: str
    flags: tuple[Flag, ...]
    clearance: FairPlayClearance | None

    @property
    def cleared(self) -> bool:
        return self.clearance is not None


def review(session: Session, config: Config) -> list[Reviewed]:
    """Every flagged real player (test accounts never), with their latest clearance."""
    testers = config.quiz.testers
    ended = (select(Attempt.id, Attempt.openid, Attempt.started_at)
             .where(Attempt.status.in_(ENDED), real_players(Attempt.openid, testers))
             .order_by(Attempt.openid, Attempt.id))
    attempts = list(session.execute(ended))
    answered: dict[int, list[dt.datetime]] = defaultdict(list)
    items = (select(AttemptItem.attempt_id, AttemptItem.answered_at)
             .join(Attempt, Attempt.id == AttemptItem.attempt_id)
             .where(Attempt.status.in_(ENDED), AttemptItem.answered_at.is_not(None),
                    real_players(Attempt.openid, testers)))
    for attempt_id, at in session.execute(items):
        answered[attempt_id].append(at)
    counts: dict[str, int] = defaultdict(int)
    timings = []
    for attempt_id, openid, started_at in attempts:
        counts[openid] += 1
        timings.append(AttemptTiming(openid=openid, attempt_id=attempt_id, number=counts[openid],
                                     seconds=answer_seconds(started_at, answered.get(attempt_id, []))))
    contacts = {openid: (name or "", phone) for openid, name, phone in session.execute(
        select(Follower.openid, Follower.name, Follower.phone)
        .where(Follower.phone.is_not(None), real_players(Follower.openid, testers)))}
    id_numbers = dict(session.execute(select(Registration.openid, Registration.id_number)
                                      .where(Registration.id_number.is_not(None),
                                             real_players(Registration.openid, testers))).all())
    flags = find_flags(timings=timings, attempts=dict(counts), contacts=contacts,
                       settings=fairplay_settings(config), max_attempts=config.quiz.max_attempts,
                       id_numbers=id_numbers)
    by_player: dict[str, list[Flag]] = defaultdict(list)
    for flag in flags:
        by_player[flag.openid].append(flag)
    if not by_player:
        return []
    latest: dict[str, FairPlayClearance] = {}
    for row in session.scalars(select(FairPlayClearance).where(FairPlayClearance.openid.in_(sorted(by_player)))
                               .order_by(FairPlayClearance.id)):
        latest[row.openid] = row
    details = {openid: (name or "", phone or "") for openid, name, phone in session.execute(
        select(Follower.openid, Follower.name, Follower.phone).where(Follower.openid.in_(sorted(by_player))))}
    return [Reviewed(openid=openid, name=details.get(openid, ("", ""))[0], phone=details.get(openid, ("", ""))[1],
                     flags=tuple(found), clearance=latest.get(openid))
            for openid, found in sorted(by_player.items())]


def held_back(session: Session, config: Config) -> frozenset[str]:
    """The players left out of draws: flagged and not cleared."""
    return frozenset(r.openid for r in review(session, config) if not r.cleared)


def clear(session: Session, *, openid: str, by: str, note: str, address: str, now: dt.datetime) -> FairPlayClearance:
    """Record that staff member `by` cleared a flagged player (the one writer of clearances)."""
    row = FairPlayClearance(openid=openid, cleared_by=by[:64], cleared_at=now, note=note[:500], address=address[:64])
    session.add(row)
    return row


def draw_exclusions(session: Session, config: Config, excluded_openids, extra=frozenset()) -> frozenset[str]:
    """Who a draw leaves out, the same in the console and the CLI: export.exclude_openids, the test
    accounts, players held back for review, and `extra` (the CLI's --exclude file)."""
    return (frozenset(excluded_openids) | frozenset(config.quiz.testers) | held_back(session, config)
            | frozenset(extra))
