"""The fair-play rules as pure functions (bot.quiz.fairplay): every rule, with its evidence."""
from __future__ import annotations

import datetime as dt

from bot.quiz.fairplay import AttemptTiming, FairPlaySettings, answer_seconds, find_flags

SETTINGS = FairPlaySettings(min_median_seconds=2.0, min_answer_seconds=0.5, max_attempts_per_person=3,
                            max_accounts_per_contact=2)


def test_answer_times_run_from_the_start_then_from_each_answer():
    start = dt.datetime(2027, 4, 21, 2, 0, 0)
    answers = [start + dt.timedelta(seconds=s) for s in (5, 6.5, 20)]
    assert answer_seconds(start, answers) == (5.0, 1.5, 13.5)


def test_attempts_of_one_phone_on_several_accounts_are_counted_together():
    flags = find_flags(timings=[], attempts={"o-a": 2, "o-b": 2}, settings=SETTINGS, max_attempts=3,
                       contacts={"o-a": ("王五", "13800138000"), "o-b": ("王小五", "13800138000")})
    assert [(f.openid, f.reason, f.evidence) for f in flags] == [
        ("o-a", "答题次数过多", "手机号 138****8000 的 2 个账号共答题 4 次（上限 3 次）"),
        ("o-b", "答题次数过多", "手机号 138****8000 的 2 个账号共答题 4 次（上限 3 次）")]


def test_a_fast_attempt_is_named_once_per_player_by_its_first_occurrence():
    timings = [AttemptTiming("o-f", 1, 1, (3.0, 3.0, 3.0)), AttemptTiming("o-f", 2, 2, (0.4, 3.0, 3.0)),
               AttemptTiming("o-f", 3, 3, (0.1, 0.1, 0.1))]
    flags = find_flags(timings=timings, attempts={"o-f": 3}, contacts={}, settings=SETTINGS, max_attempts=3)
    assert [(f.reason, f.evidence.split("：")[0]) for f in flags] == [("答题过快", "第2次答题 3 题")]


def test_thresholds_of_zero_check_nothing():
    off = FairPlaySettings(min_median_seconds=0, min_answer_seconds=0, max_attempts_per_person=0,
                           max_accounts_per_contact=10)
    assert find_flags(timings=[AttemptTiming("o", 1, 1, (0.0, 0.0))], attempts={"o": 3}, contacts={},
                      settings=off, max_attempts=3) == []
