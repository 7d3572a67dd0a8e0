"""Every error and warning check reports, with the place and the fix an organizer reads."""
from __future__ import annotations

from questions.model import FILL, JUDGE, MULTIPLE, SINGLE, Problem, Question
from questions.validators import (FILE_PLACE, REPLY_LIMIT_BYTES, check_question, estimate_message_bytes,
                                  looks_like_junk, validate)

PLACE = "题目!第5行"


def q(qtype=SINGLE, stem="世界知识产权日是哪一天？", options=("4月26日", "3月15日", "5月4日", "10月1日"),
      answer=("A",), explanation="2001年起设立。"):
    return Question(qtype, stem, tuple(options), tuple(answer), explanation, 10, "")


def messages(question):
    return [(p.level, p.message) for p in check_question(question, PLACE)]


def test_a_good_question_of_each_type_passes():
    for question in (q(), q(MULTIPLE, answer=("A", "C")), q(JUDGE, options=(), answer=(True,)),
                     q(FILL, options=(), answer=("12330",))):
        assert check_question(question, PLACE) == []


def test_no_answer_is_an_error_for_every_type():
    assert messages(q(answer=())) == [("error", "没有答案，请填写正确选项的字母，如 A；多选题如 AC")]
    assert messages(q(JUDGE, options=(), answer=())) == [("error", "没有答案，判断题请填写 对 或 错")]
    assert messages(q(FILL, options=(), answer=())) == [
        ("error", "没有答案，填空题请填写正确答案，几个都算对的答案用 | 隔开")]


def test_answer_letter_without_option():
    assert messages(q(answer=("E",))) == [
        ("error", "答案「E」没有对应的选项（只有 A–D），请改为已有选项的字母")]
    assert messages(q(answer=("不知道",))) == [("error", "答案「不知道」不是选项字母，请填写 A–D 中的字母")]


def test_true_false_answer_that_is_neither():
    assert messages(q(JUDGE, options=(), answer=("也许",))) == [
        ("error", "判断题答案「也许」无法识别，请填写 对 或 错（也可写 正确/错误、√/×）")]


def test_fewer_than_two_options():
    assert messages(q(options=("4月26日",), answer=("A",))) == [("error", "选择题至少需要两个选项，现在只有 1 个")]


def test_more_options_than_letters_is_one_error_not_a_crash():
    for count, answer in ((9, ("A",)), (30, ("Z",)), (12, ()), (9, ("A", "I"))):
        assert messages(q(options=[f"选项{n}" for n in range(count)], answer=answer)) == [
            ("error", f"这道题有 {count} 个选项，最多支持 8 个（A–H）；微信里只能用字母 A–H 作答，请删去多余的选项")]
    assert messages(q(MULTIPLE, stem="", options=["甲"] * 9, answer=("A", "B"))) == [
        ("error", "题目为空，请填写题干"),
        ("error", "这道题有 9 个选项，最多支持 8 个（A–H）；微信里只能用字母 A–H 作答，请删去多余的选项")]
    assert messages(q(options=[f"选项{n}" for n in range(8)], answer=("H",))) == []


def test_gap_in_options():
    assert ("error", "选项B为空，请填写，或把后面的选项依次前移") in messages(q(options=("甲", "", "丙")))


def test_empty_stem():
    assert messages(q(stem="")) == [("error", "题目为空，请填写题干")]


def test_single_choice_with_several_answers_and_multiple_with_one():
    assert messages(q(answer=("A", "C"))) == [
        ("error", "单选题只能有一个答案，现在是「AC」；如果是多选题，请把题型改为多选")]
    assert messages(q(MULTIPLE, answer=("B",))) == [
        ("warning", "多选题只有一个正确答案「B」，请确认，或把题型改为单选")]


def test_fill_answer_that_looks_like_a_letter_warns():
    assert [level for level, _ in messages(q(FILL, options=(), answer=("B",)))] == ["warning"]


def test_duplicate_question_in_the_file():
    problems = validate([q(), q(stem=" 世界知识产权日是哪一天？ "), q(options=("4月26日", "3月15日"))],
                        ["第2行", "第3行", "第4行"])
    assert problems == [Problem("error", "第3行", "与 第2行 的题目重复（题干和选项都相同），请删除其中一道")]


def test_a_question_over_the_wechat_reply_size_is_an_error_naming_the_bytes_allowed():
    """Sent anyway, it would reach followers cut off in the middle of its options."""
    long_stem = "专利" * 300
    size = estimate_message_bytes(q(stem=long_stem))
    assert size > REPLY_LIMIT_BYTES
    problems = check_question(q(stem=long_stem), PLACE)
    assert [(p.level, p.place) for p in problems] == [("error", PLACE)]
    assert problems[0].message.startswith(f"题目和选项太长：在微信里约 {size - 600} 字节，一道题最多 1400 字节"
                                          "（一条回复最多 2000 字节，还要留出上一题的反馈）")
    assert estimate_message_bytes(q()) < REPLY_LIMIT_BYTES


def test_options_that_look_like_page_junk():
    assert looks_like_junk("第 3 页") and looks_like_junk("共5页") and looks_like_junk("- 12 -")
    assert looks_like_junk("https://www.wjx.cn/vm/x.aspx") and looks_like_junk("……")
    assert not looks_like_junk("20") and not looks_like_junk("4月26日") and not looks_like_junk("10年")
    assert messages(q(options=("甲", "乙", "第 2 页"))) == [
        ("warning", "选项C「第 2 页」像是复制时带进来的页码或网址，请确认")]


def test_missing_explanations_warn_each_or_once_for_many():
    few = validate([q(explanation=""), q(stem="另一题", explanation="")], ["第2行", "第3行"])
    assert [(p.place, p.level) for p in few] == [("第2行", "warning"), ("第3行", "warning")]
    many = validate([q(stem=f"题{i}", explanation="") for i in range(8)], [f"第{i}行" for i in range(2, 10)])
    assert len(many) == 1 and many[0].place == FILE_PLACE
    assert many[0].message.startswith("8 道题没有解析（第2行、第3行、第4行、第5行、第6行 等）")
