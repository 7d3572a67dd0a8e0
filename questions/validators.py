"""Rules a bank must pass before import: per-question checks and checks across the file."""
from __future__ import annotations

import re

from questions.render import REPLY_LIMIT_BYTES, render_question
from questions.model import CHOICE_TYPES, FILL, JUDGE, LETTERS, MAX_OPTIONS, MULTIPLE, SINGLE, Problem, Question

# WeChat shows a passive text reply only if it stays under about 2,000 bytes.
# The reply that carries a question also carries the feedback on the previous answer.
FEEDBACK_HEADROOM_BYTES = 600
FILE_PLACE = "整个文件"

_JUNK = re.compile(
    r"^第\s*\d+\s*页|共\s*\d+\s*页|^\d+\s*/\s*\d+$|^-\s*\d+\s*-$|问卷星|wjx\.|www\.|https?://"
    r"|^[\W_]{2,}$",  # a run of symbols; one alone may be a real option (GIFT's own example: ~ = \\)
    re.IGNORECASE,
)
_PLACES_SHOWN = 5


def estimate_message_bytes(question: Question) -> int:
    """Estimate the UTF-8 size of the reply that asks this question, feedback headroom included.

    Uses the chat rendering itself at its widest header (question 99 of 99).
    """
    return len(render_question(question, 99, 99).encode("utf-8")) + FEEDBACK_HEADROOM_BYTES


def looks_like_junk(option: str) -> bool:
    """Tell whether an option looks like page furniture copied with it (page numbers, URLs)."""
    return bool(_JUNK.search(option))


def check_question(question: Question, place: str) -> list[Problem]:
    """Check one question on its own and return what is wrong with it."""
    problems: list[Problem] = []

    def error(message: str) -> None:
        problems.append(Problem("error", place, message))

    def warning(message: str) -> None:
        problems.append(Problem("warning", place, message))

    if not question.stem:
        error("题目为空，请填写题干")
    if question.qtype in CHOICE_TYPES and len(question.options) > MAX_OPTIONS:
        # Past H there is no letter to show an option by or answer it with: the other checks name letters.
        error(f"这道题有 {len(question.options)} 个选项，最多支持 {MAX_OPTIONS} 个（A–{LETTERS[-1]}）；"
              f"微信里只能用字母 A–{LETTERS[-1]} 作答，请删去多余的选项")
        return problems
    if question.qtype in CHOICE_TYPES:
        _check_choice(question, error, warning)
    elif question.qtype == JUDGE:
        if not question.answer:
            error("没有答案，判断题请填写 对 或 错")
        elif question.answer not in ((True,), (False,)):
            error(f"判断题答案「{question.answer[0]}」无法识别，请填写 对 或 错（也可写 正确/错误、√/×）")
    elif question.qtype == FILL:
        if not question.answer:
            error("没有答案，填空题请填写正确答案，几个都算对的答案用 | 隔开")
        elif all(len(a) == 1 and a in LETTERS for a in question.answer):
            warning(f"答案「{'|'.join(question.answer)}」像选项字母，但这道题没有选项，被当作填空题；"
                    "如果是选择题，请补上选项")
    size = estimate_message_bytes(question)
    if size > REPLY_LIMIT_BYTES:
        # Sent anyway, the reply would be cut in the middle of the options.
        allowed = REPLY_LIMIT_BYTES - FEEDBACK_HEADROOM_BYTES
        error(f"题目和选项太长：在微信里约 {size - FEEDBACK_HEADROOM_BYTES} 字节，一道题最多 {allowed} 字节"
              f"（一条回复最多 {REPLY_LIMIT_BYTES} 字节，还要留出上一题的反馈），否则发给答题者时会被截断；"
              "请缩短题干或选项")
    return problems


def _check_choice(question: Question, error, warning) -> None:
    count = len(question.options)
    if count < 2:
        # Nothing else said about the options: "answer B has no option (only A)" beside it would contradict.
        error(f"选择题至少需要两个选项，现在只有 {count} 个")
        return
    for letter, text in zip(LETTERS, question.options):
        if not text:
            error(f"选项{letter}为空，请填写，或把后面的选项依次前移")
        elif looks_like_junk(text):
            warning(f"选项{letter}「{text}」像是复制时带进来的页码或网址，请确认")
    shown = f"A–{LETTERS[count - 1]}" if count >= 2 else "A"
    if not question.answer:
        error("没有答案，请填写正确选项的字母，如 A；多选题如 AC")
        return
    if not all(len(token) == 1 and token in LETTERS for token in question.answer):
        error(f"答案「{''.join(map(str, question.answer))}」不是选项字母，请填写 {shown} 中的字母")
        return
    missing = [token for token in question.answer if token not in LETTERS[:count]]
    if missing:
        error(f"答案「{''.join(missing)}」没有对应的选项（只有 {shown}），请改为已有选项的字母")
    if question.qtype == SINGLE and len(question.answer) > 1:
        error(f"单选题只能有一个答案，现在是「{''.join(question.answer)}」；如果是多选题，请把题型改为多选")
    if question.qtype == MULTIPLE and len(question.answer) == 1:
        warning(f"多选题只有一个正确答案「{question.answer[0]}」，请确认，或把题型改为单选")


def validate(questions: list[Question], places: list[str]) -> list[Problem]:
    """Check every question and the file as a whole (duplicates, missing explanations)."""
    problems: list[Problem] = []
    seen: dict[tuple, str] = {}
    for question, place in zip(questions, places):
        problems += check_question(question, place)
        first = seen.setdefault(question.key(), place) if question.stem else place
        if first != place:
            problems.append(Problem("error", place, f"与 {first} 的题目重复（题干和选项都相同），请删除其中一道"))
    return problems + explanation_problems(questions, places)


def explanation_problems(questions: list[Question], places: list[str]) -> list[Problem]:
    """Warn about questions without an explanation: one line each, or one line for many."""
    missing = [place for question, place in zip(questions, places) if not question.explanation]
    if len(missing) <= _PLACES_SHOWN:
        return [Problem("warning", place, "没有解析，答错时无法向答题者说明理由，建议补充「解析」")
                for place in missing]
    shown = "、".join(missing[:_PLACES_SHOWN])
    return [Problem("warning", FILE_PLACE, f"{len(missing)} 道题没有解析（{shown} 等），"
                                           "答错时无法向答题者说明理由，建议补充「解析」")]
