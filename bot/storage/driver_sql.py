"""SQL run on the pool's own driver connection, for the conversation engine's turns.

SQLAlchemy spends tens of microseconds per statement building parameters, contexts and result
rows, and every message runs several statements, so the engine talks to the driver directly.
Consoles, exports and commands use sessions. Statements are written once with :name parameters
and adapted to the driver's style; values are stored exactly as SQLAlchemy stores them (SQLite
keeps datetimes as "YYYY-MM-DD HH:MM:SS.ffffff" text and JSON as text). Driver errors come back
as SQLAlchemy's exception types (IntegrityError, OperationalError, ...), and a lost connection is
invalidated, so callers handle them exactly as they do for a session.

Writes inside transaction() go through write(): on PostgreSQL they are pipelined (sent together,
their results read once before COMMIT), so a turn's writes cost one round trip and the COMMIT
another, whatever their number; each write's check then runs, and a failed one rolls back.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from sqlalchemy.exc import DBAPIError

logger = logging.getLogger(__name__)

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Conflict(Exception):
    """A guarded write found the row changed since it was read: the caller decides again from a fresh read."""


class Statement:
    """One SQL text with :name parameters, in both drivers' parameter styles."""

    def __init__(self, sql: str):
        self.sql = " ".join(sql.split())
        self.pyformat = _PARAM.sub(r"%(\1)s", self.sql)  # psycopg

    def for_driver(self, is_sqlite: bool) -> str:
        return self.sql if is_sqlite else self.pyformat


class DriverConnection:
    """A pooled connection used through its driver: reads outside any transaction, and one write transaction."""

    def __init__(self, db, raw):
        self._db = db
        self._raw = raw
        self._dialect = db.engine.dialect
        self.is_sqlite = db.is_sqlite
        self._pending: list | None = None  # pipelined writes awaiting their results (PostgreSQL)

    # Values in and out, as SQLAlchemy's DateTime and JSON types store them.
    def stored_time(self, value: dt.datetime) -> Any:
        """A naive UTC time as the column stores it (on SQLite the text SQLAlchemy writes)."""
        return value.isoformat(" ", "microseconds") if self.is_sqlite else value

    def stored_date(self, value: dt.date) -> Any:
        return value.isoformat() if self.is_sqlite else value

    def read_time(self, value: Any) -> dt.datetime | None:
        if value is None or isinstance(value, dt.datetime):
            return value
        return dt.datetime.fromisoformat(value)

    def read_json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def rows(self, statement: Statement, params: dict) -> list[tuple]:
        """Run a query and return all its rows as tuples."""
        return self._run(statement, params, fetch=True)

    def execute(self, statement: Statement, params: dict) -> int:
        """Run a statement and return how many rows it changed."""
        return self._run(statement, params, fetch=False)

    def execute_many(self, statement: Statement, rows: list[dict]) -> None:
        """Run a statement once per parameter set."""
        sql = statement.for_driver(self.is_sqlite)
        _trace(sql)
        cursor = self._raw.cursor()
        try:
            cursor.executemany(sql, rows)
        except self._dialect.loaded_dbapi.Error as exc:
            raise self._wrap(exc, sql, rows) from exc
        finally:
            cursor.close()

    def _run(self, statement: Statement, params: dict, *, fetch: bool):
        sql = statement.for_driver(self.is_sqlite)
        _trace(sql)
        cursor = self._raw.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall() if fetch else cursor.rowcount
        except self._dialect.loaded_dbapi.Error as exc:
            raise self._wrap(exc, sql, params) from exc
        finally:
            cursor.close()

    def _wrap(self, exc: Exception, sql: str, params) -> DBAPIError:
        invalid = self._dialect.is_disconnect(exc, self._raw.dbapi_connection, None)
        if invalid:
            self._raw.invalidate(exc)
        return DBAPIError.instance(sql, params, exc, self._dialect.loaded_dbapi.Error, hide_parameters=True,
                                   connection_invalidated=invalid, dialect=self._dialect)

    def _command(self, sql: str) -> None:
        _trace(sql)
        cursor = self._raw.cursor()
        try:
            cursor.execute(sql)
        except self._dialect.loaded_dbapi.Error as exc:
            raise self._wrap(exc, sql, None) from exc
        finally:
            cursor.close()

    def write(self, statement: Statement, params: dict, *, fetch: bool = False,
              check: Callable[[Any], bool] | None = None) -> None:
        """Run a write of the open transaction; `check` (given the rows or the row count) must hold,
        or the transaction is a Conflict. Pipelined on PostgreSQL: the check runs before COMMIT."""
        if self._pending is None:
            result = self._run(statement, params, fetch=fetch)
            if check is not None and not check(result):
                raise Conflict
            return
        sql = statement.for_driver(self.is_sqlite)
        _trace(sql)
        cursor = self._raw.cursor()
        try:
            cursor.execute(sql, params)
        except self._dialect.loaded_dbapi.Error as exc:
            cursor.close()
            raise self._wrap(exc, sql, params) from exc
        self._pending.append((cursor, fetch, check, sql, params))

    def _settle(self) -> None:
        """Read the pipelined writes' results and run their checks."""
        pending, self._pending = self._pending, []
        try:
            for cursor, fetch, check, sql, params in pending:
                try:
                    result = cursor.fetchall() if fetch else cursor.rowcount
                except self._dialect.loaded_dbapi.Error as exc:
                    raise self._wrap(exc, sql, params) from exc
                if check is not None and not check(result):
                    raise Conflict
        finally:
            for cursor, *_ in pending:
                cursor.close()

    @contextmanager
    def transaction(self) -> Iterator[DriverConnection]:
        """One write transaction (queued on SQLite like every writer); commits on success."""
        with self._db.writer_queue():
            if self.is_sqlite:
                self._command("BEGIN IMMEDIATE")
                try:
                    yield self
                except BaseException:
                    self._rollback()
                    raise
                self._command("COMMIT")
                return
            driver = self._raw.driver_connection
            try:
                with driver.pipeline() as pipeline:
                    self._pending = []
                    self.write(_BEGIN, {})
                    yield self
                    try:
                        pipeline.sync()
                    except self._dialect.loaded_dbapi.Error as exc:
                        raise self._wrap(exc, "COMMIT", None) from exc
                    self._settle()
            except BaseException:
                self._pending = None
                self._rollback()
                raise
            self._pending = None
            self._command("COMMIT")

    def _rollback(self) -> None:
        if not self._raw.is_valid:
            return
        try:
            self._command("ROLLBACK")
        except DBAPIError:
            pass  # the connection is gone; the server rolled back


_BEGIN = Statement("BEGIN")


def _trace(sql: str) -> None:
    """Log each statement's SQL (never its parameters) at DEBUG, as SQLAlchemy's echo would."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s", sql)


@contextmanager
def driver_connection(db) -> Iterator[DriverConnection]:
    """Check a connection out of the pool, in autocommit mode, and return it afterwards as it was.

    A failed connect comes back as SQLAlchemy's error type (OperationalError for a server that is down
    or never answers), as a session's would: Engine.raw_connection leaves the driver's own.
    """
    dialect = db.engine.dialect
    try:
        raw = db.engine.raw_connection()
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance("connect", None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  connection_invalidated=True, dialect=dialect) from exc
    driver = raw.driver_connection
    try:
        if not db.is_sqlite:
            driver.autocommit = True  # no BEGIN round trip before reads; transaction() says BEGIN itself
        try:
            yield DriverConnection(db, raw)
        finally:
            if not db.is_sqlite and raw.is_valid:
                try:
                    driver.autocommit = False
                except Exception:  # noqa: BLE001 - a broken connection is dropped, not returned
                    raw.invalidate()
    finally:
        raw.close()
