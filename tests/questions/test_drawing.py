"""Drawing questions and shuffling options (pure)."""
from __future__ import annotations

import random

from questions.drawing import Candidate, draw, shuffle_options, to_original_letters
from questions.model import Question

POOL = [Candidate(id=i, qtype=("单选", "多选", "判断")[i % 3], category=("专利", "商标")[i % 2]) for i in range(30)]


def test_draw_is_distinct_and_sized():
    ids = draw(POOL, count=10, rng=random.Random(1))
    assert len(ids) == len(set(ids)) == 10


def test_draw_prefers_unseen_questions():
    seen = set(range(25))
    ids = draw(POOL, count=10, rng=random.Random(2), seen=seen)
    assert set(range(25, 30)) <= set(ids)


def test_draw_by_type_counts():
    ids = draw(POOL, count=6, rng=random.Random(3), by_type={"单选": 4, "判断": 2})
    types = [POOL[i].qtype for i in ids]
    assert types.count("单选") == 4 and types.count("判断") == 2


def test_draw_by_category_tops_up_a_short_group():
    pool = POOL[:3]  # categories 专利, 商标, 专利
    ids = draw(pool, count=3, rng=random.Random(4), by_category={"商标": 3})
    assert sorted(ids) == [0, 1, 2]


def test_shuffle_keeps_grading_right():
    question = Question("多选", "stem", ("甲", "乙", "丙", "丁"), ("A", "C"), points=10)
    for seed in range(20):
        shown, order = shuffle_options(question, random.Random(seed))
        assert sorted(shown.options) == sorted(question.options)
        assert {shown.options["ABCD".index(a)] for a in shown.answer} == {"甲", "丙"}
        assert to_original_letters("".join(shown.answer), order) == "AC"


def test_judge_and_fill_are_not_shuffled():
    question = Question("判断", "stem", (), (True,), points=10)
    assert shuffle_options(question, random.Random(1)) == (question, [])
