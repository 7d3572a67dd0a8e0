"""Failed staff logins, counted per client address and across all addresses per minute.

An attempt is counted before its password is checked, in one short write whose upserts refuse to
count past the limits (bot.storage.counters.count_below): however many requests arrive at once,
no more than the limits ever reach the password check. A correct password gives its count back.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.config import AdminConfig
from bot.storage.counters import count_below, uncount
from bot.storage.models import KeyValue

ADDRESS_PREFIX = "admin-fail:"
MINUTE_KEY = "admin-fail-minute"

ADDRESS = "address"
EVERYONE = "everyone"


@dataclass(frozen=True)
class Refusal:
    """Why logins are refused without a password check (one address, or everyone) and until when."""

    scope: str
    until: dt.datetime


class Refused(Exception):
    """The login may not check its password now; raised inside a transaction, it rolls the count back."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.scope)
        self.refusal = refusal


@dataclass(frozen=True)
class Reservation:
    """A counted attempt: the address's failures and this minute's, both counting this attempt, and when
    the address's count lapses (its lock-out ends, if this was the last failure allowed)."""

    failures: int
    minute_failures: int
    until: dt.datetime


def minute_end(now: dt.datetime) -> dt.datetime:
    """Return when the clock minute holding `now` ends (the global ceiling's window)."""
    return now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)


def _live_count(row: KeyValue | None, now: dt.datetime) -> int:
    if row is None or row.expires_at is None or row.expires_at <= now:
        return 0
    return int(row.value)


def check(*, session: Session, address: str, now: dt.datetime, admin: AdminConfig) -> None:
    """Raise Refused if the address is locked or this minute's ceiling is reached (a read, no lock)."""
    row = session.get(KeyValue, ADDRESS_PREFIX + address)
    if _live_count(row, now) >= admin.max_failed_logins:
        raise Refused(Refusal(ADDRESS, row.expires_at))
    row = session.get(KeyValue, MINUTE_KEY)
    if _live_count(row, now) >= admin.max_failed_logins_per_minute:
        raise Refused(Refusal(EVERYONE, row.expires_at))


def reserve(*, session: Session, address: str, now: dt.datetime, admin: AdminConfig) -> Reservation:
    """Count one attempt for the address and for this minute, in the open transaction; Refused if either is full.

    The address's failures lapse `lockout_minutes` after the last one. Raise Refused before the
    transaction commits: a refused attempt must leave neither count raised.
    """
    key = ADDRESS_PREFIX + address
    until = now + dt.timedelta(minutes=admin.lockout_minutes)
    failures = count_below(session=session, key=key, now=now, expires=until, cap=admin.max_failed_logins)
    if failures is None:
        raise Refused(Refusal(ADDRESS, session.get(KeyValue, key).expires_at))
    end = minute_end(now)
    minute_failures = count_below(session=session, key=MINUTE_KEY, now=now, expires=end,
                                  cap=admin.max_failed_logins_per_minute)
    if minute_failures is None:
        raise Refused(Refusal(EVERYONE, end))
    return Reservation(failures=failures, minute_failures=minute_failures, until=until)


def give_back(*, session: Session, address: str, now: dt.datetime) -> None:
    """After a correct password: forget the address's failures and return this minute's count."""
    row = session.get(KeyValue, ADDRESS_PREFIX + address)
    if row is not None:
        session.delete(row)
    uncount(session=session, key=MINUTE_KEY, now=now)
