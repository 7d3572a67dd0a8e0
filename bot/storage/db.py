"""Engine and session factory; entry points own the session lifecycle."""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.models import Base

logger = logging.getLogger(__name__)


# WeChat waits 5 seconds for a reply; a turn stuck behind a lock must give up before that and
# answer "busy" (nothing stored), so the follower's resend is processed afresh.
DEFAULT_LOCK_WAIT_SECONDS = 3.0
# How often a queued SQLite writer retries the file lock: short, since the write it waits for
# takes well under a millisecond and every pause is idle time for the single writer (measured
# under load: 0.1 ms left the cores idle about a third less often than 0.5 ms, at no visible CPU).
WRITER_POLL_SECONDS = 0.0001


class LockWaitTimeout(OperationalError):
    """Raised when the SQLite writer queue is not reached within the lock wait."""

    def __init__(self, seconds: float):
        super().__init__(f"writer queue not reached within {seconds:g} s", None, TimeoutError())


class Database:
    """One engine and its session factories (write: serialized on SQLite; read: snapshot)."""

    def __init__(self, url: str, lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS):
        self.url = url
        self.lock_wait_seconds = lock_wait_seconds
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.lock_path: str | None = None
        self._held = threading.local()  # this thread's open lock file and how deeply it holds the lock
        if self.is_sqlite:
            path = parsed.database
            if path and path != ":memory:" and not path.startswith("file:"):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self.lock_path = f"{path}.writelock"
            self.engine = create_engine(url, connect_args={"timeout": lock_wait_seconds, "check_same_thread": False})
            _configure_sqlite(self.engine, lock_wait_seconds)
        else:
            connect_args = {}
            if parsed.get_backend_name() == "postgresql":
                connect_args = postgres_connect_args(lock_wait_seconds)
            # A worker waits for a free pooled connection no longer than for a lock.
            self.engine = create_engine(url, pool_size=5, max_overflow=10, pool_timeout=lock_wait_seconds,
                                        connect_args=connect_args)
            _ping_idle_connections(self.engine)
            _long_reads(self.engine)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        # Readers (exports, pages) must not take SQLite's write lock for the length of a long query.
        self.ReadSession = sessionmaker(self.engine.execution_options(sqlite_begin="DEFERRED", long_reads=True),
                                        expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open a session that commits on success and rolls back on error."""
        with self.writer_queue(), self.Session() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def writer_queue(self) -> Iterator[None]:
        """On a SQLite file, queue writers on an OS file lock.

        SQLite's own busy handler polls with sleeps of up to 100 ms, which shows up as long tail
        latency when several workers write; polling an flock every 0.1 ms (WRITER_POLL_SECONDS) hands the
        turn over quickly, and gives up after the lock wait like any other lock.
        """
        if self.lock_path is None:
            yield
            return
        held = self._held
        if getattr(held, "pid", None) != os.getpid():
            # Each thread (and each forked process: a copied handle would share the lock) opens its own.
            inherited = getattr(held, "handle", None)
            if inherited is not None:
                inherited.close()  # the parent's copy: closing it here leaves the parent's lock alone
            held.pid, held.depth, held.handle = os.getpid(), 0, open(self.lock_path, "a+b")  # noqa: SIM115
        if held.depth:  # a nested writer in the same thread already holds the lock
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
            return
        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            try:
                fcntl.flock(held.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockWaitTimeout(self.lock_wait_seconds) from None
                time.sleep(WRITER_POLL_SECONDS)
        held.depth = 1
        try:
            yield
        finally:
            held.depth = 0
            fcntl.flock(held.handle, fcntl.LOCK_UN)

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """Open a read-only session."""
        with self.ReadSession() as session:
            yield session

    def create_all(self) -> None:
        """Create missing tables; safe to run again."""
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        handle = getattr(self._held, "handle", None)
        if handle is not None and not getattr(self._held, "depth", 0):
            handle.close()
            self._held = threading.local()


# A console page or an export may read for longer than a follower's turn may take.
READER_STATEMENT_TIMEOUT_SECONDS = 120


def postgres_connect_args(lock_wait_seconds: float) -> dict:
    """Bound every wait on PostgreSQL, so that a follower gets the busy reply within WeChat's 5 seconds.

    - connect_timeout: a server that accepts the connection and never answers (libpq's minimum is 2 s);
    - lock_timeout: a row or table lock held by another transaction;
    - statement_timeout: a statement the server works on for too long (a turn's take milliseconds;
      readers raise theirs, _long_reads);
    - keepalives and tcp_user_timeout: a server or network that goes away under an open connection.
    """
    wait_ms = int(lock_wait_seconds * 1000)
    return {
        "connect_timeout": max(2, int(lock_wait_seconds + 0.999)),
        "options": f"-c lock_timeout={wait_ms} -c statement_timeout={wait_ms + 1000}",
        "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2,
        "tcp_user_timeout": wait_ms + 1000,
    }


def _long_reads(engine: Engine) -> None:
    """Give read sessions (pages, exports) READER_STATEMENT_TIMEOUT_SECONDS instead of a turn's bound."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("long_reads"):
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{READER_STATEMENT_TIMEOUT_SECONDS}s'")


# A pooled connection unused for longer than this is pinged before use (a database restart
# while the bot was quiet is found before a follower's message runs into it). Busy connections
# skip the round trip; if the server goes away under load, the failed statement invalidates the
# pool and that one message gets the "busy" reply.
IDLE_PING_SECONDS = 2.0


def _ping_idle_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling, only for connections that sat idle in the pool."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _on_connect_or_checkin(_dbapi_conn, record):
        record.info["checked_in"] = time.monotonic()  # a connection just opened needs no ping either

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):
        if time.monotonic() - record.info.get("checked_in", 0.0) < IDLE_PING_SECONDS:
            return
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            if not dbapi_conn.autocommit:
                dbapi_conn.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure: the pool replaces this connection
            raise DisconnectionError(str(exc)) from exc


def _configure_sqlite(engine: Engine, lock_wait_seconds: float) -> None:
    """Turn on WAL and foreign keys, and begin write transactions IMMEDIATE.

    A deferred transaction that reads then writes can fail with SQLITE_BUSY without waiting
    when another writer committed in between; taking the write lock at BEGIN makes writers
    queue on the busy timeout instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(lock_wait_seconds * 1000)}")
        try:
            cur.execute("PRAGMA journal_mode=WAL")
        except Exception:  # noqa: BLE001 - in-memory databases cannot use WAL
            logger.debug("WAL not available for this SQLite database")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def upsert_insert(session: Session):
    """Return the dialect's insert() that supports ON CONFLICT (PostgreSQL or SQLite)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def describe_db_error(exc: BaseException) -> str:
    """Return the first line of a database error for a log line (drivers append SQL and parameters)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
