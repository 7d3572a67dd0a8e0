"""Personal data past its retention period: when contact details may go, and removing them.

Names and phone numbers are kept for `privacy.retention_days` after the activity ends (for the
prizes); after that they are cleared while scores and attempts stay, anonymous under the openid.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from bot.storage.models import FinalDraw, FinalWinner, Follower, InboundMessage, Registration

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContactsBefore:
    """The contact details a purge at some cutoff would clear."""

    count: int
    newest: dt.datetime | None  # naive UTC contact time of the most recent one


@dataclass(frozen=True)
class PurgeResult:
    """What a purge cleared."""

    contacts: int  # followers whose name, phone and contact time were cleared
    replies: int  # stored replies cleared (they repeat names back to the follower)


def cutoff_utc(before: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Return the start of a local day as naive UTC, the form the database stores."""
    local = dt.datetime.combine(before, dt.time(0, 0), tzinfo=tz)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def retained_until(given: dt.date, *, activity_end: dt.date, retention_days: int) -> dt.date:
    """Return the last local day a contact given on `given` must be kept.

    Contacts given during the activity are kept `retention_days` after its last day; one given
    later (a late prize claim) is kept as long from the day it was given.
    """
    return max(given, activity_end) + dt.timedelta(days=retention_days)


def contacts_before(*, session: Session, before_utc: dt.datetime) -> ContactsBefore:
    """Count the contact details given before the cutoff and find the newest of them."""
    count, newest = session.execute(select(func.count(), func.max(Follower.contact_at))
                                    .where(Follower.contact_at < before_utc)).one()
    return ContactsBefore(count=count, newest=newest)


def purge_contacts(*, session: Session, before_utc: dt.datetime) -> PurgeResult:
    """Clear names, phone numbers and contact times given before the cutoff, and older stored replies."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))  # the old bytes are zeroed in the page, not left free
    contacts = session.execute(update(Follower).where(Follower.contact_at < before_utc)
                               .values(name=None, phone=None, contact_at=None)
                               .execution_options(synchronize_session=False)).rowcount
    # Every other registration field (unit, district, ID number, address) goes with them.
    session.execute(delete(Registration).where(Registration.updated_at < before_utc)
                    .execution_options(synchronize_session=False))
    session.execute(update(FinalWinner).where(FinalWinner.draw_id.in_(
        select(FinalDraw.id).where(FinalDraw.drawn_at < before_utc))).values(name="", phone="")
        .execution_options(synchronize_session=False))
    # Only WeChat's retries (seconds later) need a stored reply; older ones merely repeat names back.
    replies = session.execute(update(InboundMessage)
                              .where(InboundMessage.received_at < before_utc, InboundMessage.reply != "")
                              .values(reply="").execution_options(synchronize_session=False)).rowcount
    logger.info("purged contact details of %d follower(s) given before %s UTC; cleared %d stored replies",
                contacts, before_utc.isoformat(timespec="minutes"), replies)
    return PurgeResult(contacts=contacts, replies=replies)


def scrub_files(db) -> str:
    """After a purge, get the cleared values out of the database's files too; say what was done.

    SQLite keeps the old pages in its write-ahead log until a checkpoint, so the log is copied back
    and truncated. PostgreSQL keeps old row versions until VACUUM, so the two tables are vacuumed.
    """
    if db.is_sqlite:
        raw = db.engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
        try:
            cursor = raw.cursor()
            busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        if busy:
            return "数据库日志暂时有进程在读，旧内容会在下一次检查点后被覆盖；可在停服后再运行一次本命令。"
        return "数据库日志已写回并清空，文件中不再留有清除前的内容。"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM {Follower.__tablename__}, {InboundMessage.__tablename__}, "
                             f"{Registration.__tablename__}, {FinalWinner.__tablename__}")
    return "已对 followers、inbound_messages 表执行 VACUUM，清除前的旧行版本已回收。"
