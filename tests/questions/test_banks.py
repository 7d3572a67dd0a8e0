"""Storing banks: import, re-import without breaking attempts under way, list, load, sample bank."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.quiz.banks import ensure_sample_bank, import_bank, list_banks, load_questions
from bot.storage.models import Attempt, AttemptItem, Bank, Follower, QuestionRow
from questions.importers import read_bank
from questions.model import FILL, JUDGE, MULTIPLE, SINGLE, BankReport, Problem, Question
from questions.samples import IP_WEEK

QUESTIONS = [
    Question(SINGLE, "世界知识产权日？", ("4月26日", "3月15日"), ("A",), "2001年起。", 5, "综合"),
    Question(MULTIPLE, "专利类型？", ("发明", "实用新型", "商标"), ("A", "B"), "第二条。", 10, "专利"),
    Question(JUDGE, "商标有效期十年。", (), (True,), "第三十九条。", 10, "商标"),
    Question(JUDGE, "作品须登记才受保护。", (), (False,), "自动产生。", 10, "著作权"),
    Question(FILL, "维权援助电话？", (), ("12330", "一二三三零"), "12330。", 10, "综合"),
]


def report_of(questions):
    return BankReport(source="bank.xlsx", questions=list(questions),
                      places=[f"第{i}行" for i in range(2, len(questions) + 2)])


def test_import_stores_every_field_and_loads_it_back(bank_db):
    with bank_db.session() as session:
        result = import_bank(session=session, name="default", report=report_of(QUESTIONS), source="bank.xlsx")
    assert (result.bank, result.version, result.total, result.retired) == ("default", 1, 5, 0)
    assert result.by_type == {SINGLE: 1, MULTIPLE: 1, JUDGE: 2, FILL: 1}
    with bank_db.reader() as session:
        assert load_questions(session=session, bank_name="default") == QUESTIONS
        stored = session.scalars(select(QuestionRow).order_by(QuestionRow.position)).all()
    assert [row.answer for row in stored] == [["A"], ["A", "B"], [True], [False], ["12330", "一二三三零"]]
    assert [row.position for row in stored] == [1, 2, 3, 4, 5]


def test_reimport_retires_old_questions_and_attempts_keep_theirs(bank_db):
    with bank_db.session() as session:
        import_bank(session=session, name="default", report=report_of(QUESTIONS), source="v1.xlsx")
    with bank_db.session() as session:
        old = session.scalars(select(QuestionRow).where(QuestionRow.position == 1)).one()
        session.add(Follower(openid="o1"))
        session.flush()
        attempt = Attempt(openid="o1", bank_id=old.bank_id, local_day=dt.date(2027, 4, 21), total_questions=1)
        session.add(attempt)
        session.flush()
        session.add(AttemptItem(attempt_id=attempt.id, position=0, question_id=old.id,
                                snapshot={"stem": old.stem}))
        old_id = old.id
    with bank_db.session() as session:
        result = import_bank(session=session, name="default", report=report_of(QUESTIONS[:2]), source="v2.xlsx")
    assert (result.version, result.total, result.retired) == (2, 2, 5)
    with bank_db.reader() as session:
        assert load_questions(session=session, bank_name="default") == QUESTIONS[:2]
        item = session.scalars(select(AttemptItem)).one()
        assert item.question_id == old_id and session.get(QuestionRow, old_id).retired
        assert session.get(QuestionRow, old_id).stem == QUESTIONS[0].stem
        (summary,) = list_banks(session=session)
    assert (summary.name, summary.version, summary.total, summary.source) == ("default", 2, 2, "v2.xlsx")
    assert summary.by_type == {SINGLE: 1, MULTIPLE: 1}


def test_a_report_with_errors_is_refused_and_a_failed_import_leaves_nothing(bank_db):
    bad = report_of(QUESTIONS)
    bad.problems.append(Problem("error", "第2行", "没有答案"))
    with bank_db.session() as session, pytest.raises(ValueError):
        import_bank(session=session, name="default", report=bad, source="bad.xlsx")
    with pytest.raises(RuntimeError), bank_db.session() as session:
        import_bank(session=session, name="default", report=report_of(QUESTIONS), source="ok.xlsx")
        raise RuntimeError("the command failed after the insert")
    with bank_db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Bank)) == 0
        assert session.scalar(select(func.count()).select_from(QuestionRow)) == 0


def test_list_banks_counts_each_bank(bank_db):
    with bank_db.session() as session:
        import_bank(session=session, name="b", report=report_of(QUESTIONS[:1]), source="b.csv")
        import_bank(session=session, name="a", report=report_of(QUESTIONS), source="a.csv")
    with bank_db.reader() as session:
        assert [(b.name, b.total) for b in list_banks(session=session)] == [("a", 5), ("b", 1)]
        assert load_questions(session=session, bank_name="missing") == []


def test_ensure_sample_bank_imports_once(bank_db):
    with bank_db.session() as session:
        first = ensure_sample_bank(session=session, name="default")
    with bank_db.session() as session:
        assert ensure_sample_bank(session=session, name="default") is None
        loaded = load_questions(session=session, bank_name="default")
    assert first.total == len(loaded) >= 40
    assert loaded == read_bank(IP_WEEK).questions


def test_ten_thousand_questions_import_in_one_statement_batch(bank_db):
    many = [Question(SINGLE, f"第{i}题", ("甲", "乙"), ("A",), "解析", 10, "") for i in range(10_000)]
    with bank_db.session() as session:
        assert import_bank(session=session, name="big", report=report_of(many), source="big.xlsx").total == 10_000
    with bank_db.reader() as session:
        assert len(load_questions(session=session, bank_name="big")) == 10_000
