"""How a question, its feedback and a result look in the chat."""
from __future__ import annotations

from questions.grading import parse_answer
from questions.model import Question
from questions.render import (REPLY_LIMIT_BYTES, format_duration, join_within_limit, render_feedback,
                              render_question)

SINGLE = Question("单选", "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日"), ("A",), "2001年起设立。", 10)


def test_question_layout():
    assert render_question(SINGLE, 1, 10) == ("第1/10题【单选】\n世界知识产权日是每年的哪一天？\n"
                                              "A. 4月26日\nB. 3月15日\n（请回复一个选项字母，如 A）")


def test_feedback_right_and_wrong():
    assert render_feedback(SINGLE, parse_answer(SINGLE, "A"), correct=True, points=10) == \
        "✅ 回答正确！+10分\n解析：2001年起设立。"
    assert render_feedback(SINGLE, parse_answer(SINGLE, "B"), correct=False, points=0) == \
        "❌ 回答错误（你的答案 B）。正确答案：A\n解析：2001年起设立。"


def test_feedback_and_next_question_fit_one_reply():
    long = Question("单选", "题" * 300, ("甲" * 50, "乙" * 50), ("A",), "解析" * 400, 10)
    feedback = render_feedback(long, parse_answer(long, "B"), correct=False, points=0)
    joined = join_within_limit(feedback, render_question(long, 2, 10))
    assert len(joined.encode("utf-8")) <= REPLY_LIMIT_BYTES
    assert joined.endswith(render_question(long, 2, 10))


def test_durations():
    assert format_duration(0) == "0秒"
    assert format_duration(312) == "5分12秒"
    assert format_duration(3725) == "1小时2分5秒"
