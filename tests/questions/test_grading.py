"""Reading what followers actually type, and grading it."""
from __future__ import annotations

import pytest

from questions.grading import grade, parse_answer
from questions.model import Question

SINGLE = Question("单选", "世界知识产权日是？", ("4月26日", "3月15日", "5月1日", "6月1日"), ("A",), points=10)
MULTI = Question("多选", "下列属于知识产权的有？", ("专利权", "商标权", "著作权", "物权"), ("A", "B", "C"), points=10)
JUDGE = Question("判断", "发明专利权期限为二十年。", (), (True,), points=10)
FILL = Question("填空", "外观设计专利权期限为____年。", (), ("15", "十五"), points=10)


@pytest.mark.parametrize("typed", ["a", "A", "Ａ", "ａ", "选A", " A ", "A。", "我选A", "答案A", "A项"])
def test_single_choice_forms(typed):
    assert parse_answer(SINGLE, typed).letters == "A"


@pytest.mark.parametrize("typed", ["AC", "A C", "a,c", "A、C", "Ａ，Ｃ", "CA", "a c", "A;C", "ACA"])
def test_multiple_choice_forms(typed):
    assert parse_answer(MULTI, typed).letters == "AC"


@pytest.mark.parametrize("typed", ["E", "AB", "hello", "", "   ", "1", "选", "A B Z"])
def test_single_choice_rejects(typed):
    assert parse_answer(SINGLE, typed) is None


@pytest.mark.parametrize("typed,truth", [("对", True), ("√", True), ("正确", True), ("T", True), ("t", True),
                                         ("是", True), ("错", False), ("×", False), ("错误", False), ("F", False),
                                         ("不对", False), ("对。", True)])
def test_judge_forms(typed, truth):
    assert parse_answer(JUDGE, typed).truth is truth


@pytest.mark.parametrize("typed", ["A", "也许", "对错"])
def test_judge_rejects(typed):
    assert parse_answer(JUDGE, typed) is None


@pytest.mark.parametrize("typed,right", [("15", True), (" １５ ", True), ("十五", True), ("15。", True),
                                         ("20", False)])
def test_fill_in_is_compared_after_trimming_and_folding(typed, right):
    parsed = parse_answer(FILL, typed)
    assert grade(FILL, parsed, points=10) == ((True, 10) if right else (False, 0))


def test_multiple_choice_needs_exactly_the_right_set():
    assert grade(MULTI, parse_answer(MULTI, "ABC"), points=10) == (True, 10)
    assert grade(MULTI, parse_answer(MULTI, "AB"), points=10) == (False, 0)
    assert grade(MULTI, parse_answer(MULTI, "ABCD"), points=10) == (False, 0)


def test_partial_credit_is_a_choice():
    assert grade(MULTI, parse_answer(MULTI, "AB"), points=10, partial_credit=True) == (False, 5)
    assert grade(MULTI, parse_answer(MULTI, "ABD"), points=10, partial_credit=True) == (False, 0)


def test_judge_grading():
    assert grade(JUDGE, parse_answer(JUDGE, "对"), points=10) == (True, 10)
    assert grade(JUDGE, parse_answer(JUDGE, "错"), points=10) == (False, 0)


@pytest.mark.parametrize("typed", ["10", "十", "10年", "十年", "１０ 年"])
def test_fill_in_accepts_the_unit_written_after_the_blank(typed):
    question = Question("填空", "实用新型专利权的期限为____年。", (), ("10", "十"), points=10)
    assert grade(question, parse_answer(question, typed), points=10) == (True, 10)
