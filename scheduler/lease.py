"""The scheduler lease: one row in the database that only one scheduler process may hold."""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError

from bot.storage.db import Database
from bot.storage.models import Lease, utcnow

logger = logging.getLogger(__name__)

LEASE_NAME = "scheduler"


@dataclass(frozen=True)
class LeaseState:
    """Who holds the lease after an attempt to take or renew it."""

    acquired: bool
    holder: str
    expires_at: dt.datetime  # naive UTC


def new_holder() -> str:
    """Name this process: host, pid and a random suffix (two schedulers in one process differ too)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def acquire_lease(*, db: Database, holder: str, seconds: int, name: str = LEASE_NAME) -> LeaseState:
    """Take or renew the lease if it is free, expired or already ours."""
    now = utcnow()
    expires = now + dt.timedelta(seconds=seconds)
    try:
        with db.session() as session:
            row = session.get(Lease, name, with_for_update=True)
            if row is None:
                session.add(Lease(name=name, holder=holder, expires_at=expires))
                return LeaseState(True, holder, expires)
            if row.holder != holder and row.expires_at > now:
                return LeaseState(False, row.holder, row.expires_at)
            row.holder, row.expires_at = holder, expires
            return LeaseState(True, holder, expires)
    except (IntegrityError, OperationalError) as exc:
        # Another process inserted the row first (or the database was briefly locked).
        logger.info("lease %s not taken: %s", name, type(exc).__name__)
        with db.reader() as session:
            row = session.get(Lease, name)
            if row is None:
                return LeaseState(False, "?", now)
            return LeaseState(row.holder == holder and row.expires_at > now, row.holder, row.expires_at)


def holds_lease(*, db: Database, holder: str, name: str = LEASE_NAME) -> bool:
    """Return True if holder has the lease and it has not expired."""
    with db.reader() as session:
        row = session.get(Lease, name)
        return row is not None and row.holder == holder and row.expires_at > utcnow()


def release_lease(*, db: Database, holder: str, name: str = LEASE_NAME) -> None:
    """Give the lease up so the next scheduler can start at once."""
    with db.session() as session:
        row = session.get(Lease, name, with_for_update=True)
        if row is not None and row.holder == holder:
            session.delete(row)
