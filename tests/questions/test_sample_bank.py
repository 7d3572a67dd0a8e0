"""The shipped IP-week sample bank is complete and checks clean."""
from __future__ import annotations

from collections import Counter

from questions.importers import read_bank
from questions.samples import IP_WEEK


def test_sample_bank_checks_clean_with_every_type_and_explanations():
    report = read_bank(IP_WEEK)
    assert report.problems == []
    assert len(report.questions) >= 40
    counts = Counter(q.qtype for q in report.questions)
    assert set(counts) == {"单选", "多选", "判断", "填空"}
    assert all(q.explanation and q.category for q in report.questions)


def test_sample_bank_states_the_key_facts():
    stems = {q.stem: q for q in read_bank(IP_WEEK).questions}
    day = stems["世界知识产权日是每年的哪一天？"]
    assert day.options[ord(day.answer[0]) - ord("A")] == "4月26日"
    terms = {"依照2021年6月1日起施行的专利法，发明专利权的期限为多少年？": "20年",
             "依照现行专利法，实用新型专利权的期限为多少年？": "10年",
             "2020年修正的专利法将外观设计专利权的期限延长为多少年？": "15年"}
    for stem, years in terms.items():
        question = stems[stem]
        assert question.options[ord(question.answer[0]) - ord("A")] == years
    assert stems["知识产权维权援助与举报投诉电话是____。"].answer == ("12330",)
