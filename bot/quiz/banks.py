"""Question banks in the database: import (replacing a bank's questions), list and load."""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from questions.importers import read_bank
from questions.model import JUDGE, BankReport, Question
from questions.samples import IP_WEEK

from bot.storage.models import Bank, QuestionRow, utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    """What an import did to a bank."""

    bank: str
    version: int
    total: int
    by_type: dict[str, int]
    retired: int  # questions of the previous version now retired


@dataclass(frozen=True)
class BankSummary:
    """A bank as `questions list` shows it."""

    name: str
    source: str
    version: int
    imported_at: dt.datetime
    total: int
    by_type: dict[str, int]


def fit_warnings(quiz, questions: list[Question]) -> list[str]:
    """Say where the quiz's bank cannot give the quiz the config asks for (pure; empty if it can).

    A bank smaller than an attempt makes shorter attempts; one whose best attempt scores below the
    pass score means nobody can qualify for a prize.
    """
    total, per = len(questions), quiz.questions_per_attempt
    if not total:
        return []
    warnings = []
    if total < per:
        warnings.append(f"题库只有 {total} 题，少于每次答题的 {per} 题（quiz.questions_per_attempt）："
                        f"每次答题将只有 {total} 题。")
    by_type = Counter(q.qtype for q in questions)
    for qtype, need in quiz.draw_types.items():
        if by_type[qtype] < need:
            warnings.append(f"quiz.draw_types 要求每次抽 {need} 道{qtype}题，题库只有 {by_type[qtype]} 道。")
    best = sum(sorted((q.points or quiz.default_points for q in questions), reverse=True)[:per])
    if best < quiz.pass_score:
        warnings.append(f"每次答题最多得 {best} 分，达不到获奖资格线 {quiz.pass_score} 分（quiz.pass_score）："
                        "没有人能获得抽奖资格。请补充题目或调低 quiz.pass_score。")
    return warnings


def import_bank(*, session: Session, name: str, report: BankReport, source: str,
                default_points: int = 10) -> ImportResult:
    """Store a clean report as the bank's new version, retiring its current questions.

    Runs in the caller's transaction: nothing is visible until it commits, and a failure
    leaves the previous version in place. Retired rows stay, so attempts keep their questions.
    """
    if not report.ok:
        raise ValueError(f"{source}: the report has {len(report.errors)} errors; refusing to import")
    bank = session.scalars(select(Bank).where(Bank.name == name).with_for_update()).one_or_none()
    retired = 0
    if bank is None:
        bank = Bank(name=name, source=source, imported_at=utcnow(), version=1)
        session.add(bank)
        session.flush()
    else:
        retired = session.execute(
            update(QuestionRow).where(QuestionRow.bank_id == bank.id, QuestionRow.retired.is_(False))
            .values(retired=True)).rowcount
        bank.version += 1
        bank.source = source
        bank.imported_at = utcnow()
    rows = [question_row(q, bank_id=bank.id, position=i, default_points=default_points)
            for i, q in enumerate(report.questions, 1)]
    if rows:
        session.execute(insert(QuestionRow), rows)
    session.flush()
    by_type = dict(Counter(q.qtype for q in report.questions))
    logger.info("imported bank %s version %d: %d questions, %d retired", name, bank.version, len(rows), retired)
    return ImportResult(bank=name, version=bank.version, total=len(rows), by_type=by_type, retired=retired)


def question_row(question: Question, *, bank_id: int, position: int, default_points: int) -> dict:
    """Return the column values that store a question."""
    return {
        "bank_id": bank_id,
        "position": position,
        "qtype": question.qtype,
        "stem": question.stem,
        "options": list(question.options),
        "answer": list(question.answer),
        "explanation": question.explanation,
        "points": question.points if question.points is not None else default_points,
        "category": question.category,
        "retired": False,
    }


def row_question(row: QuestionRow) -> Question:
    """Return the Question a stored row holds."""
    answer = tuple(bool(a) for a in row.answer) if row.qtype == JUDGE else tuple(row.answer)
    return Question(qtype=row.qtype, stem=row.stem, options=tuple(row.options or ()), answer=answer,
                    explanation=row.explanation or "", points=row.points, category=row.category or "")


def list_banks(*, session: Session) -> list[BankSummary]:
    """Return every bank with its active question counts by type, by name."""
    counts = session.execute(
        select(QuestionRow.bank_id, QuestionRow.qtype, func.count())
        .where(QuestionRow.retired.is_(False)).group_by(QuestionRow.bank_id, QuestionRow.qtype)).all()
    by_bank: dict[int, dict[str, int]] = {}
    for bank_id, qtype, count in counts:
        by_bank.setdefault(bank_id, {})[qtype] = count
    return [BankSummary(name=b.name, source=b.source, version=b.version, imported_at=b.imported_at,
                        total=sum(by_bank.get(b.id, {}).values()), by_type=by_bank.get(b.id, {}))
            for b in session.scalars(select(Bank).order_by(Bank.name))]


def load_questions(*, session: Session, bank_name: str) -> list[Question]:
    """Return a bank's active questions in file order (empty if there is no such bank)."""
    rows = session.scalars(
        select(QuestionRow).join(Bank).where(Bank.name == bank_name, QuestionRow.retired.is_(False))
        .order_by(QuestionRow.position))
    return [row_question(row) for row in rows]


def ensure_sample_bank(*, session: Session, name: str, default_points: int = 10) -> ImportResult | None:
    """Import the shipped IP-week sample bank as `name` unless a bank of that name exists."""
    if session.scalars(select(Bank.id).where(Bank.name == name)).first() is not None:
        return None
    report = read_bank(IP_WEEK, default_points=default_points)
    return import_bank(session=session, name=name, report=report, source=IP_WEEK.name,
                       default_points=default_points)
