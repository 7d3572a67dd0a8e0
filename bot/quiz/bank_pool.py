"""A bank's active questions for drawing, read once per process and reused until the bank changes.

Question rows are never edited: an import retires them and adds new ones, and bumps the bank's
version and import time. So each quiz start costs one small query (the bank's id, version and
import time) instead of reading the bank again.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, false, select
from sqlalchemy.orm import Session

from questions.drawing import Candidate
from questions.model import Question

from bot.quiz.banks import row_question
from bot.storage.models import Bank, QuestionRow

_BANK = select(Bank.id, Bank.version, Bank.imported_at).where(Bank.name == bindparam("name"))
_ROWS = select(QuestionRow).where(QuestionRow.bank_id == bindparam("bank_id"), QuestionRow.retired == false())


@dataclass(frozen=True)
class BankPool:
    """One version of a bank: what drawing needs, and each question as stored (points 0 when unset)."""

    bank_id: int
    version: int
    imported_at: dt.datetime
    candidates: list[Candidate]
    questions: dict[int, Question]


_cache: dict[tuple[str, str], BankPool] = {}  # one assignment per new version: no lock needed


def active_pool(*, session: Session, database_url: str, name: str) -> BankPool | None:
    """Return the named bank's active questions (cached per database and bank version); None if no such bank."""
    bank = session.execute(_BANK, {"name": name}).first()
    if bank is None:
        return None
    key = (database_url, name)
    cached = _cache.get(key)
    if cached is not None and is_current(cached, *bank):
        return cached
    rows = session.scalars(_ROWS, {"bank_id": bank.id}).all()
    pool = BankPool(bank_id=bank.id, version=bank.version, imported_at=bank.imported_at,
                    candidates=[Candidate(id=r.id, qtype=r.qtype, category=r.category) for r in rows],
                    questions={r.id: row_question(r) for r in rows})
    _cache[key] = pool
    return pool


def cached_pool(*, database_url: str, name: str) -> BankPool | None:
    """Return the pool cached for the named bank, if any; the caller checks it is still current."""
    return _cache.get((database_url, name))


def is_current(pool: BankPool, bank_id: int, version: int, imported_at: dt.datetime) -> bool:
    """Say whether a cached pool is the bank as it is now."""
    return (pool.bank_id, pool.version, pool.imported_at) == (bank_id, version, imported_at)
